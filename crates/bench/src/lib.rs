//! Locrit's performance figures, measured the same way by `locrit bench` and the
//! criterion benches of this crate: chat turns against a direct LLM call (issue 3),
//! streaming to many Socket.IO connections (issue 4), history and search latency on a
//! large store (issue 5). Each scenario prints a human table and returns its figures
//! as JSON, with the targets they are held to.
//!
//! Chat and streaming run against a real `locrit serve` child process (its memory is
//! its own), with load generator and LLM in this process. The LLM is the project's
//! fake Ollama (instant, 50-token replies) or a real Ollama server.

pub mod chat;
pub mod history;
pub mod stream;

mod dataset;
mod llm;
mod measure;
mod server;
mod socketio;

use std::path::PathBuf;

pub use dataset::{DataSet, load_dataset};
pub use llm::{Llm, LlmTarget};
pub use measure::Latency;
pub use server::{ServerMemory, memory_of};

/// What every scenario that runs a server needs to know.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The `locrit` binary that runs the server (`locrit serve`).
    pub locrit_exe: PathBuf,
    /// A PostgreSQL server to store into (a fresh schema, dropped after); else SQLite.
    pub postgres: Option<String>,
    /// `full` (the default: an fsync per commit) or `normal`.
    pub sqlite_sync: String,
    /// Seconds each measured cell runs.
    pub seconds: f64,
    /// Whether the bench Locrit has its memory (recall into the prompt, extraction after
    /// each turn), as a Locrit has by default.
    pub memory: bool,
}

impl Setup {
    pub fn store_name(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    async fn database(&self) -> locrit_testkit::TestDatabase {
        match &self.postgres {
            Some(url) => locrit_testkit::TestDatabase::postgres_at(url).await,
            None => locrit_testkit::TestDatabase::sqlite(),
        }
    }
}

/// What a server run was measured under, as its report states it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conditions {
    pub store: &'static str,
    pub sqlite_sync: String,
    pub llm: String,
    pub memory: bool,
    pub seconds_per_cell: f64,
}

impl Conditions {
    fn of(setup: &Setup, llm: &Llm) -> Self {
        Self {
            store: setup.store_name(),
            sqlite_sync: setup.sqlite_sync.clone(),
            llm: llm.describe(),
            memory: setup.memory,
            seconds_per_cell: setup.seconds,
        }
    }
}

impl std::fmt::Display for Conditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let memory = if self.memory { "on" } else { "off" };
        write!(
            f,
            "{} store ({} sync), {}, memory {memory}, {} s per cell",
            self.store, self.sqlite_sync, self.llm, self.seconds_per_cell
        )
    }
}

/// A figure held to a target, as the report and the JSON show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    pub figure: String,
    pub target: String,
    pub value: f64,
    pub unit: &'static str,
    pub pass: bool,
}

impl Target {
    fn at_most(figure: impl Into<String>, value: f64, limit: f64, unit: &'static str) -> Self {
        let target = format!("≤ {limit} {unit}");
        Self::held(figure.into(), value, unit, target, value <= limit)
    }

    fn at_least(figure: impl Into<String>, value: f64, floor: f64, unit: &'static str) -> Self {
        let target = format!("≥ {floor} {unit}");
        Self::held(figure.into(), value, unit, target, value >= floor)
    }

    fn held(figure: String, value: f64, unit: &'static str, target: String, pass: bool) -> Self {
        Self {
            figure,
            target,
            value,
            unit,
            pass,
        }
    }
}

fn print_targets(targets: &[Target]) {
    for target in targets {
        let verdict = if target.pass { "pass" } else { "FAIL" };
        println!(
            "  {verdict:<4}  {:<52} {:>10.2} {:<6} (target {})",
            target.figure, target.value, target.unit, target.target
        );
    }
}
