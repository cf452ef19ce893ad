//! Issue 3: chat turns through the REST API (`POST /api/v2/locrits/{id}/sessions/{s}/messages`,
//! one session per client, the whole reply as JSON) against the same requests sent
//! straight to the model, measured in one run at each concurrency. Every acknowledged
//! turn must have left two stored messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::ensure;
use serde::Serialize;
use serde_json::{Value, json};

use crate::measure::{Latency, Run, closed_loop};
use crate::server::{Bench, ServerMemory, checked};
use crate::{Conditions, Llm, Setup, Target, print_targets};

/// One side of a cell: Locrit, or the model called directly.
#[derive(Debug, Serialize)]
pub struct Side {
    pub turns: usize,
    pub turns_per_second: f64,
    #[serde(flatten)]
    pub latency: Latency,
}

impl<S> From<&Run<S>> for Side {
    fn from(run: &Run<S>) -> Self {
        Self {
            turns: run.turns.len(),
            turns_per_second: run.turns_per_second(),
            latency: Latency::of(run.turns.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Cell {
    pub concurrency: usize,
    pub direct: Side,
    pub locrit: Side,
    /// Locrit's p50 minus the direct call's.
    pub overhead_p50_ms: f64,
    /// Locrit's turns/s over the direct calls'.
    pub throughput_vs_direct: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub conditions: Conditions,
    pub cells: Vec<Cell>,
    pub acknowledged_turns: usize,
    pub stored_messages: i64,
    pub server_memory: ServerMemory,
    pub targets: Vec<Target>,
}

pub async fn run(setup: &Setup, llm: &Llm, concurrency: &[usize]) -> anyhow::Result<Value> {
    let most = concurrency.iter().copied().max().unwrap_or(1);
    let sessions: Vec<String> = (0..most).map(|w| format!("w{w}")).collect();
    let Bench {
        database,
        server,
        http,
        locrit,
    } = Bench::start(setup, llm, &sessions).await?;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut cells = Vec::new();
    for &n in concurrency {
        llm.forget_requests();
        let urls = (0..n)
            .map(|w| format!("{}/sessions/w{w}/messages", locrit.path))
            .collect();
        let (client, acked) = (http.clone(), acknowledged.clone());
        let through_locrit =
            closed_loop(urls, setup.seconds, Duration::ZERO, move |url: String| {
                let (http, acked) = (client.clone(), acked.clone());
                async move {
                    let body = json!({"content": "hello"});
                    let reply: Value = checked(http.post(&url).json(&body)).await?.json().await?;
                    ensure!(reply["reply"]["id"].is_string(), "no stored reply: {reply}");
                    acked.fetch_add(1, Ordering::Relaxed);
                    Ok((url, None))
                }
            })
            .await?;

        let (client, reference) = (http.clone(), Arc::new(llm.reference_request()));
        let url = Arc::new(format!("{}/api/chat", llm.url()));
        let direct = closed_loop(vec![(); n], setup.seconds, Duration::ZERO, move |()| {
            let (http, url, body) = (client.clone(), url.clone(), reference.clone());
            async move {
                let text = checked(http.post(url.as_str()).json(&*body))
                    .await?
                    .text()
                    .await?;
                ensure!(
                    text.contains("\"done\":true"),
                    "the model did not finish: {text}"
                );
                Ok(((), None))
            }
        })
        .await?;
        let (direct, locrit) = (Side::from(&direct), Side::from(&through_locrit));
        cells.push(Cell {
            concurrency: n,
            overhead_p50_ms: locrit.latency.p50_ms - direct.latency.p50_ms,
            throughput_vs_direct: locrit.turns_per_second / direct.turns_per_second,
            direct,
            locrit,
        });
    }
    let server_memory = server.memory();
    server.stop().await?;
    let stored_messages = locrit.stored_messages(database.url()).await?;
    let acknowledged_turns = acknowledged.load(Ordering::Relaxed);

    let report = Report {
        conditions: Conditions::of(setup, llm),
        targets: targets(&cells, acknowledged_turns, stored_messages),
        cells,
        acknowledged_turns,
        stored_messages,
        server_memory,
    };
    print(&report);
    Ok(serde_json::to_value(&report)?)
}

/// Issue 3's targets: under 1 ms added per turn at p50 (unloaded: concurrency 1), at
/// least half the direct throughput at the highest concurrency, every turn durable.
fn targets(cells: &[Cell], acknowledged: usize, stored: i64) -> Vec<Target> {
    let mut targets = Vec::new();
    if let Some(first) = cells.first() {
        let figure = format!("overhead per turn p50, concurrency {}", first.concurrency);
        targets.push(Target::at_most(figure, first.overhead_p50_ms, 1.0, "ms"));
    }
    if let Some(last) = cells.last() {
        let figure = format!("throughput vs direct, concurrency {}", last.concurrency);
        let percent = 100.0 * last.throughput_vs_direct;
        targets.push(Target::at_least(figure, percent, 50.0, "%"));
    }
    let lost = (2 * acknowledged as i64 - stored) as f64;
    targets.push(Target::at_most(
        "acknowledged messages not stored",
        lost,
        0.0,
        "msgs",
    ));
    targets
}

fn print(report: &Report) {
    println!("\nchat turns (REST), {}", report.conditions);
    println!(
        "{:>5} {:>14} {:>12} {:>14} {:>12} {:>12} {:>14} {:>10}",
        "conc.",
        "direct turn/s",
        "direct p50",
        "Locrit turn/s",
        "Locrit p50",
        "Locrit p99",
        "overhead p50",
        "vs direct"
    );
    for cell in &report.cells {
        println!(
            "{:>5} {:>14.1} {:>9.2} ms {:>14.1} {:>9.2} ms {:>9.2} ms {:>11.2} ms {:>9.0}%",
            cell.concurrency,
            cell.direct.turns_per_second,
            cell.direct.latency.p50_ms,
            cell.locrit.turns_per_second,
            cell.locrit.latency.p50_ms,
            cell.locrit.latency.p99_ms,
            cell.overhead_p50_ms,
            100.0 * cell.throughput_vs_direct
        );
    }
    println!(
        "acknowledged turns {}, stored messages {} (expected {}); server RSS {:.1} MiB, peak {:.1} MiB",
        report.acknowledged_turns,
        report.stored_messages,
        2 * report.acknowledged_turns,
        report.server_memory.rss_mib,
        report.server_memory.peak_mib
    );
    print_targets(&report.targets);
}
