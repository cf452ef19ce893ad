//! `locrit bench`: the project's performance figures on this machine (the measuring is
//! `locrit-bench`'s), a table on stdout and every figure in a JSON file.

use std::time::Duration;

use anyhow::{Context, ensure};
use clap::ValueEnum;
use locrit_bench::history::HistoryOptions;
use locrit_bench::{Llm, LlmTarget, Setup, chat, history, stream};
use serde_json::{Value, json};

use crate::args::{BenchArgs, BenchScenario};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    ensure!(
        args.seconds > 0.0 && args.seconds.is_finite(),
        "--seconds must be a positive number"
    );
    ensure!(
        !args.concurrency.is_empty() && !args.concurrency.contains(&0),
        "--concurrency takes counts of 1 or more"
    );
    ensure!(
        args.connections > 0 && args.chatting > 0 && args.messages > 0 && args.samples > 0,
        "--connections, --chatting, --messages and --samples must be 1 or more"
    );
    let setup = Setup {
        locrit_exe: std::env::current_exe().context("where this binary is")?,
        postgres: args.postgres.clone(),
        sqlite_sync: args
            .sqlite_sync
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default(),
        seconds: args.seconds,
        memory: !args.no_memory,
    };
    let target = match (&args.ollama, &args.model) {
        (Some(url), Some(model)) => LlmTarget::Ollama {
            url: url.clone(),
            model: model.clone(),
        },
        _ => LlmTarget::Fake,
    };
    let runs = |scenario| args.scenario == scenario || args.scenario == BenchScenario::All;

    let mut report = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
    });
    if runs(BenchScenario::Chat) || runs(BenchScenario::Stream) {
        let llm = Llm::start(&target).await;
        if runs(BenchScenario::Chat) {
            report["chat"] = chat::run(&setup, &llm, &args.concurrency).await?;
        }
        if runs(BenchScenario::Stream) {
            report["stream"] = stream::run(
                &setup,
                &llm,
                args.connections,
                args.chatting,
                Duration::from_millis(args.pause_ms),
            )
            .await?;
        }
    }
    if runs(BenchScenario::History) {
        let options = HistoryOptions {
            messages: args.messages,
            dim: args.dim,
            samples: args.samples,
            hybrid: !args.no_hybrid,
            dataset_dir: &args.dataset_dir,
            postgres: args.postgres.as_deref(),
        };
        report["history"] = history::run(&options).await?;
    }
    report["load_average_after"] = load_average();
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.json, text)
        .with_context(|| format!("cannot write {}", args.json.display()))?;
    println!("\nfigures written to {}", args.json.display());
    Ok(())
}

/// What the figures depend on: the machine is shared, so its load is part of the record.
fn machine() -> Value {
    json!({
        "cores": std::thread::available_parallelism().map(usize::from).ok(),
        "os": std::env::consts::OS,
        "load_average_before": load_average(),
        "locrit_version": env!("CARGO_PKG_VERSION"),
    })
}

/// The 1, 5 and 15-minute load averages (Linux), or null.
fn load_average() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            let averages: Vec<f64> = text
                .split_whitespace()
                .take(3)
                .filter_map(|v| v.parse().ok())
                .collect();
            json!(averages)
        })
        .unwrap_or(Value::Null)
}
