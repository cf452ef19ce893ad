//! Running the `locrit` binary as a user does.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn locrit() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_locrit"));
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
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
/// lines so far.
pub fn serve(data: &Path, ollama_url: &str, args: &[&str]) -> (Server, Vec<String>) {
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
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
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
    (Server { child, base }, seen)
}
