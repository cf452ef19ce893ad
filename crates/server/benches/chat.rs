//! Chat turns through Locrit's REST API against the same requests sent straight to the
//! (instant) fake Ollama (the last request Locrit sent, history included), measured in
//! one run, at concurrency 1, 8 and 32.
//!
//! `cargo bench -p locrit-server --bench chat` prints a table and writes
//! `target/bench-chat.json`. `LOCRIT_BENCH_SECONDS` sets the time per cell (default 5);
//! `LOCRIT_BENCH_POSTGRES_URL` runs it on PostgreSQL instead of SQLite;
//! `LOCRIT_BENCH_SQLITE_SYNC=normal` measures SQLite without an fsync per commit;
//! `LOCRIT_BENCH_CONTEXT` sets the model's window (default 4096), which bounds the
//! history each Locrit prompt carries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use locrit_core::{Core, GlobalConfigChanges};
use locrit_server::{ServerConfig, router, serve};
use locrit_store::{SqliteSync, StoreConfig};
use locrit_testkit::{FakeOllama, Reply, TestDatabase};
use serde_json::{Value, json};

const TOKENS: usize = 50;

#[derive(Debug, Clone, serde::Serialize)]
struct Cell {
    target: &'static str,
    concurrency: usize,
    turns: usize,
    turns_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Runs `concurrency` workers for `seconds`, each calling `turn(worker)` in a loop.
async fn measure<F, Fut>(target: &'static str, concurrency: usize, seconds: f64, turn: F) -> Cell
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let turn = Arc::new(turn);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers = (0..concurrency).map(|worker| {
        let turn = turn.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                turn(worker).await;
                latencies.push(start.elapsed());
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Cell {
        target,
        concurrency,
        turns: latencies.len(),
        turns_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

#[tokio::main]
async fn main() {
    let seconds: f64 = std::env::var("LOCRIT_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let (db, backend) = match std::env::var("LOCRIT_BENCH_POSTGRES_URL") {
        Ok(url) => (TestDatabase::postgres_at(&url).await, "postgres"),
        Err(_) => (TestDatabase::sqlite(), "sqlite"),
    };
    let ollama = FakeOllama::start().await;
    ollama.set_reply(Reply::Tokens(
        (0..TOKENS).map(|i| format!(" t{i}")).collect(),
    ));
    // The model's window bounds how much history each Locrit prompt carries.
    let context: u32 = std::env::var("LOCRIT_BENCH_CONTEXT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4096);
    ollama.add_model("llama3.2", context);
    let sqlite_sync = match std::env::var("LOCRIT_BENCH_SQLITE_SYNC").as_deref() {
        Ok("normal") => SqliteSync::Normal,
        _ => SqliteSync::Full,
    };
    let store = locrit_store::open(&StoreConfig {
        max_connections: 16,
        sqlite_sync,
        ..StoreConfig::new(db.url())
    })
    .await
    .unwrap();
    let core = Core::new(store.clone());
    core.save_global_config(GlobalConfigChanges {
        ollama_base_url: Some(ollama.url()),
        ..Default::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(
        listener,
        router(core.clone(), &ServerConfig::default()),
        std::future::pending(),
    ));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let locrit: Value = http
        .post(format!("{base}/api/v2/locrits"))
        .json(&json!({"name": "Bench", "ollama_model": "llama3.2", "active": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let locrit_path = format!("{base}/api/v2/locrits/{}", locrit["id"].as_str().unwrap());
    for worker in 0..32 {
        http.post(format!("{locrit_path}/sessions"))
            .json(&json!({"id": format!("w{worker}")}))
            .send()
            .await
            .unwrap();
    }

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut cells = Vec::new();
    for concurrency in [1, 8, 32] {
        let (http_locrit, path, acked) = (http.clone(), locrit_path.clone(), acknowledged.clone());
        let locrit_cell = measure("Locrit REST chat", concurrency, seconds, move |worker| {
            let (http, url, acked) = (
                http_locrit.clone(),
                format!("{path}/sessions/w{worker}/messages"),
                acked.clone(),
            );
            async move {
                let response = http
                    .post(&url)
                    .json(&json!({"content": "hello"}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let reply: Value = response.json().await.unwrap();
                assert!(reply["reply"]["id"].is_string());
                acked.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
        // The reference: the very request Locrit last sent (persona, history, message),
        // sent straight to the fake.
        let request = ollama.requests().pop().expect("Locrit called the model");
        ollama.clear_requests();
        let (http_direct, url) = (http.clone(), format!("{}/api/chat", ollama.url()));
        let direct_cell = measure("direct fake Ollama", concurrency, seconds, move |_| {
            let (http, url, body) = (http_direct.clone(), url.clone(), request.clone());
            async move {
                let text = http
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert!(text.contains("\"done\":true"));
            }
        })
        .await;
        cells.extend([direct_cell, locrit_cell]);
    }

    println!(
        "\nchat turns, {TOKENS}-token replies, {backend} store ({sqlite_sync:?} sync), window {context}, {seconds} s per cell"
    );
    println!(
        "{:<22} {:>5} {:>8} {:>10} {:>9} {:>9}",
        "target", "conc.", "turns", "turns/s", "p50 ms", "p99 ms"
    );
    for cell in &cells {
        println!(
            "{:<22} {:>5} {:>8} {:>10.1} {:>9.2} {:>9.2}",
            cell.target,
            cell.concurrency,
            cell.turns,
            cell.turns_per_second,
            cell.p50_ms,
            cell.p99_ms
        );
    }
    println!(
        "\n{:>5} {:>22} {:>24}",
        "conc.", "overhead p50 (ms)", "throughput vs direct"
    );
    for pair in cells.chunks(2) {
        let (direct, locrit) = (&pair[0], &pair[1]);
        println!(
            "{:>5} {:>22.2} {:>23.0}%",
            direct.concurrency,
            locrit.p50_ms - direct.p50_ms,
            100.0 * locrit.turns_per_second / direct.turns_per_second
        );
    }
    // Every acknowledged turn must be durable: two stored messages each.
    let stats = store
        .locrit_stats(locrit["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    let acked = acknowledged.load(Ordering::Relaxed) as i64;
    println!(
        "\nacknowledged turns: {acked}; stored messages: {} (expected {})",
        stats.messages,
        2 * acked
    );
    assert_eq!(
        stats.messages,
        2 * acked,
        "every acknowledged turn is stored"
    );
    let report =
        json!({"backend": backend, "tokens": TOKENS, "seconds_per_cell": seconds, "cells": cells});
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-chat.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("written to {}", path.display());
}
