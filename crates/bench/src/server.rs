//! The server under test: `locrit serve` in a child process, as a user runs it, so its
//! memory is its own and nothing of the load generator runs in it.

use std::process::Stdio;

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Setup;

pub struct ServerProcess {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `locrit serve` on a free loopback port over `database_url`, with
    /// `ollama_url` as its Ollama server, and waits until it listens.
    pub async fn start(
        setup: &Setup,
        database_url: &str,
        ollama_url: &str,
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut child = Command::new(&setup.locrit_exe)
            .args(["serve", "--port", "0", "--database-url", database_url])
            .args([
                "--ollama-url",
                ollama_url,
                "--sqlite-sync",
                &setup.sqlite_sync,
            ])
            .arg("--data-dir")
            .arg(data_dir.path())
            // Only where it listens, and what goes wrong.
            .args(["--log-level", "warn,locrit::serve=info"])
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", setup.locrit_exe.display()))?;
        let pid = child.id().context("the server's pid")?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let base = loop {
            let Some(line) = lines.next_line().await? else {
                bail!("the server stopped before it listened");
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            show_trouble(&line);
        };
        // What goes wrong later is shown too, and the pipe never fills.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                show_trouble(&line);
            }
        });
        Ok(Self {
            child,
            pid,
            base,
            _data_dir: data_dir,
        })
    }

    pub fn memory(&self) -> ServerMemory {
        memory_of(self.pid)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

fn show_trouble(line: &str) {
    if line.contains("WARN") || line.contains("ERROR") {
        eprintln!("server: {line}");
    }
}

/// A process's resident memory in MiB: now (`VmRSS`) and at its peak (`VmHWM`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerMemory {
    pub rss_mib: f64,
    pub peak_mib: f64,
}

/// Reads `/proc/<pid>/status` (Linux); NaN elsewhere.
pub fn memory_of(pid: u32) -> ServerMemory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    ServerMemory {
        rss_mib: field("VmRSS:"),
        peak_mib: field("VmHWM:"),
    }
}

/// A server under test on a database of its own, with the bench Locrit, its sessions,
/// and an HTTP client with a connection for each.
pub struct Bench {
    pub database: locrit_testkit::TestDatabase,
    pub server: ServerProcess,
    pub http: reqwest::Client,
    pub locrit: BenchLocrit,
}

impl Bench {
    pub async fn start(
        setup: &Setup,
        llm: &crate::Llm,
        sessions: &[String],
    ) -> anyhow::Result<Self> {
        let database = setup.database().await;
        let server = ServerProcess::start(setup, database.url(), llm.url()).await?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(sessions.len())
            .build()?;
        let locrit = BenchLocrit::create(&http, &server, llm.model(), setup.memory).await?;
        for key in sessions {
            locrit.create_session(&http, key).await?;
        }
        Ok(Self {
            database,
            server,
            http,
            locrit,
        })
    }
}

/// Longest wait for the server's background work to end between two loads.
const IDLE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// The bench's Locrit on the server under test.
pub struct BenchLocrit {
    pub id: String,
    /// `http://…/api/v2/locrits/{id}`
    pub path: String,
}

impl BenchLocrit {
    /// Creates the active Locrit "Bench" on `model`; without `memory`, it neither
    /// recalls nor learns (`memory_service: disabled`).
    pub async fn create(
        http: &reqwest::Client,
        server: &ServerProcess,
        model: &str,
        memory: bool,
    ) -> anyhow::Result<Self> {
        let mut locrit =
            serde_json::json!({"name": "Bench", "ollama_model": model, "active": true});
        if !memory {
            locrit["memory_service"] = "disabled".into();
        }
        let url = format!("{}/api/v2/locrits", server.base);
        let created: serde_json::Value =
            checked(http.post(&url).json(&locrit)).await?.json().await?;
        let id = created["id"]
            .as_str()
            .context("the new Locrit's id")?
            .to_owned();
        Ok(Self {
            path: format!("{url}/{id}"),
            id,
        })
    }

    pub async fn create_session(&self, http: &reqwest::Client, key: &str) -> anyhow::Result<()> {
        let url = format!("{}/sessions", self.path);
        checked(http.post(url).json(&serde_json::json!({"id": key}))).await?;
        Ok(())
    }

    /// Waits until the Locrit has no memory extraction queued or running, so that a
    /// measured load does not share the server with the work the last one left.
    pub async fn until_idle(&self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + IDLE_PATIENCE;
        loop {
            let mut busy = false;
            for status in ["queued", "running"] {
                let url = format!("{}/jobs?status={status}&limit=1", self.path);
                let page: serde_json::Value = checked(http.get(url)).await?.json().await?;
                busy |= page["jobs"].as_array().is_some_and(|jobs| !jobs.is_empty());
            }
            if !busy {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("background jobs still running after {IDLE_PATIENCE:?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Messages stored for this Locrit, read from the store itself.
    pub async fn stored_messages(&self, database_url: &str) -> anyhow::Result<i64> {
        let store = locrit_store::open(&locrit_store::StoreConfig::new(database_url)).await?;
        Ok(store.locrit_stats(self.id.parse()?).await?.messages)
    }
}

/// Sends a request and fails unless it succeeded, with the answer's body.
pub async fn checked(request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
    let response = request.send().await?;
    if !response.status().is_success() {
        bail!(
            "{}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    Ok(response)
}
