//! Running the `locrit` binary as a user does.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where no package index answers: a test never downloads the embedded models
/// (`serve` tries to when no Ollama server answers and they are absent).
pub const NO_INDEX: &str = "http://127.0.0.1:9/simple/";

pub fn locrit() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_locrit"));
    command
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("LOCRIT_MODELS_INDEX", NO_INDEX);
    command
}

/// A running `locrit serve`; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `locrit serve` on a free port with `ollama_url` as the global Ollama server
/// and `args` besides, reads where it listens from its log, and returns that log's
/// lines so far. The log is read off the runtime: a fake Ollama on the test's runtime
/// must answer the server while it starts.
pub async fn serve(data: &Path, ollama_url: &str, args: &[&str]) -> (Server, Vec<String>) {
    let mut child = locrit()
        .args([
            "serve",
            "--port",
            "0",
            "--ollama-url",
            ollama_url,
            "--data-dir",
        ])
        .arg(data)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (base, seen) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("the server logs where it listens")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            seen.push(line);
        };
        std::thread::spawn(move || lines.for_each(drop)); // keep the pipe drained
        (base, seen)
    })
    .await
    .unwrap();
    (Server { child, base }, seen)
}

/// The Python with python-socketio: `LOCRIT_TEST_PYTHON`, else `target/py-venv`.
#[allow(dead_code)] // not every test binary drives a Python client
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("LOCRIT_TEST_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with python-socketio: `export LOCRIT_TEST_PYTHON=\"$(./scripts/py-venv)\"`"
    );
    venv
}

/// Creates an active Locrit on the fake's `llama3.2` through the API; its id.
#[allow(dead_code)] // not every test binary makes one
pub async fn create_locrit(http: &reqwest::Client, base: &str, name: &str) -> String {
    let created: serde_json::Value = http
        .post(format!("{base}/api/v2/locrits"))
        .json(&serde_json::json!({"name": name, "ollama_model": "llama3.2", "active": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().expect("created").to_owned()
}

/// The JSON body of a GET.
#[allow(dead_code)] // not every test binary reads one
pub async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}
