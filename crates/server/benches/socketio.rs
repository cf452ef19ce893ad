//! Socket.IO under load: 1,000 connections on one server, 100 of them chatting at once
//! (50-token replies from the instant fake Ollama), against the same 100 streams asked
//! of the fake Ollama directly, in the same run. Reports turns/s, time to first chunk
//! (p50/p99) and the server's memory (RSS), and checks that no turn was lost.
//!
//! `cargo bench -p locrit-server --bench socketio` prints a table and writes
//! `target/bench-socketio.json`. `LOCRIT_BENCH_SECONDS` sets the time per cell (default
//! 5), `LOCRIT_BENCH_CONNECTIONS` and `LOCRIT_BENCH_CHATTING` the load (1000, 100),
//! `LOCRIT_BENCH_SQLITE_SYNC=normal` measures SQLite without an fsync per commit.
//!
//! The server runs in a child process (this program, started again with
//! `LOCRIT_BENCH_SERVER_DB`), so its RSS is its own. The load clients speak Engine.IO
//! v4 / Socket.IO v5 over WebSocket with a few lines of tokio-tungstenite: 1,000
//! python-socketio clients would need more than this machine's two cores, and the
//! protocol itself is tested with python-socketio in `tests/socketio.rs`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use locrit_core::{Core, GlobalConfigChanges};
use locrit_server::{ServerConfig, router, serve};
use locrit_store::{SqliteSync, StoreConfig};
use locrit_testkit::{FakeOllama, Reply, TestDatabase};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const TOKENS: usize = 50;
/// Turns one chatting client makes at most in a cell.
const MAX_TURNS: usize = 10_000;
const NAMESPACE: &str = "/chat";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sqlite_sync() -> SqliteSync {
    match std::env::var("LOCRIT_BENCH_SQLITE_SYNC").as_deref() {
        Ok("normal") => SqliteSync::Normal,
        _ => SqliteSync::Full,
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match std::env::var("LOCRIT_BENCH_SERVER_DB") {
        Ok(database) => runtime.block_on(server(database)),
        Err(_) => runtime.block_on(bench()),
    }
}

/// The child process: a Locrit server on a loopback port, printed on stdout.
async fn server(database: String) {
    let store = locrit_store::open(&StoreConfig {
        max_connections: 16,
        sqlite_sync: sqlite_sync(),
        ..StoreConfig::new(&database)
    })
    .await
    .unwrap();
    let core = Core::new(store);
    let ollama = std::env::var("LOCRIT_BENCH_OLLAMA").unwrap();
    core.save_global_config(GlobalConfigChanges {
        ollama_base_url: Some(ollama),
        ..Default::default()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    let app = router(core, &ServerConfig::default());
    serve(listener, app, std::future::pending()).await.unwrap();
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Socket.IO client on `/chat`, past the `connected` event.
async fn connect(address: &str) -> Ws {
    let url = format!("ws://{address}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = connect_async(url).await.expect("a WebSocket");
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'), "{open}");
    ws.send(Message::text(format!("40{NAMESPACE},")))
        .await
        .unwrap();
    loop {
        let (event, _) = next_event(&mut ws).await;
        if event == "connected" {
            return ws;
        }
    }
}

/// The next Socket.IO event on `/chat`, answering pings on the way.
async fn next_event(ws: &mut Ws) -> (String, Value) {
    let prefix = format!("42{NAMESPACE},");
    loop {
        let message = ws.next().await.expect("open").expect("a frame");
        let Ok(text) = message.to_text() else {
            continue;
        };
        if text == "2" {
            ws.send(Message::text("3")).await.unwrap();
        } else if let Some(event) = text.strip_prefix(&prefix) {
            let mut event: Vec<Value> = serde_json::from_str(event).unwrap();
            let data = event.pop().unwrap_or(Value::Null);
            let name = event.first().and_then(Value::as_str).unwrap_or("");
            return (name.to_owned(), data);
        } else if text.starts_with(&format!("40{NAMESPACE},")) {
            return ("(namespace)".into(), Value::Null);
        }
    }
}

async fn emit(ws: &mut Ws, event: &str, data: Value) {
    let packet = format!("42{NAMESPACE},{}", json!([event, data]));
    ws.send(Message::text(packet)).await.unwrap();
}

/// Time to first chunk and whole turn, of every turn a worker made.
#[derive(Default)]
struct Samples {
    first_chunk: Vec<Duration>,
    turns: usize,
}

/// One chatting client: joins its session's room, then sends and reads whole turns.
async fn chat(mut ws: Ws, id: usize, start: Arc<Barrier>, seconds: f64) -> (Ws, Samples) {
    let session = format!("bench_{id}");
    let expected: String = (0..TOKENS).map(|i| format!(" t{i}")).collect();
    start.wait().await;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut samples = Samples::default();
    while Instant::now() < deadline && samples.turns < MAX_TURNS {
        let sent = Instant::now();
        let message = json!({"locrit_name": "Bench", "session_id": session, "message": "hello", "stream": true});
        emit(&mut ws, "chat_message", message).await;
        let mut text = String::new();
        let mut first = None;
        loop {
            let (event, data) = next_event(&mut ws).await;
            match event.as_str() {
                "chat_chunk" => {
                    first.get_or_insert_with(|| sent.elapsed());
                    text.push_str(data["content"].as_str().unwrap());
                }
                "chat_complete" => {
                    assert_eq!(data["status"], "completed");
                    assert_eq!(data["response"], expected.as_str(), "the stored reply");
                    assert_eq!(text, expected, "every chunk arrived, in order");
                    break;
                }
                "error" => panic!("turn failed: {data}"),
                _ => {}
            }
        }
        samples.first_chunk.push(first.expect("at least one chunk"));
        samples.turns += 1;
    }
    (ws, samples)
}

/// Joins the room of its session, as the original's chat page does on connect.
async fn join(mut ws: Ws, id: usize) -> Ws {
    let session = format!("bench_{id}");
    let room = json!({"locrit_name": "Bench", "session_id": session});
    emit(&mut ws, "join_chat", room).await;
    while next_event(&mut ws).await.0 != "joined_chat" {}
    ws
}

/// One worker on the clean API's SSE chat (the same engine, another transport): time
/// to its first `delta` event.
async fn sse(http: reqwest::Client, url: String, start: Arc<Barrier>, seconds: f64) -> Samples {
    start.wait().await;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut samples = Samples::default();
    while Instant::now() < deadline && samples.turns < MAX_TURNS {
        let sent = Instant::now();
        let body = json!({"content": "hello", "stream": true});
        let response = http.post(&url).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let mut stream = response.bytes_stream();
        let (mut text, mut first) = (String::new(), None);
        while let Some(bytes) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&bytes.unwrap()));
            if first.is_none() && text.contains("event: delta") {
                first = Some(sent.elapsed());
            }
        }
        assert!(text.contains("event: done"), "{text}");
        samples.first_chunk.push(first.expect("a delta"));
        samples.turns += 1;
    }
    samples
}

/// One worker streaming straight from the fake Ollama: time to its first line.
async fn direct(http: reqwest::Client, url: String, start: Arc<Barrier>, seconds: f64) -> Samples {
    start.wait().await;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut samples = Samples::default();
    let body = json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hello"}], "stream": true});
    while Instant::now() < deadline && samples.turns < MAX_TURNS {
        let sent = Instant::now();
        let response = http.post(&url).json(&body).send().await.unwrap();
        let mut stream = response.bytes_stream();
        let mut first = None;
        let mut last = Vec::new();
        while let Some(bytes) = stream.next().await {
            first.get_or_insert_with(|| sent.elapsed());
            last = bytes.unwrap().to_vec();
        }
        assert!(String::from_utf8_lossy(&last).contains("\"done\":true"));
        samples.first_chunk.push(first.unwrap());
        samples.turns += 1;
    }
    samples
}

#[derive(Debug, serde::Serialize)]
struct Cell {
    target: &'static str,
    concurrency: usize,
    turns: usize,
    turns_per_second: f64,
    first_chunk_p50_ms: f64,
    first_chunk_p99_ms: f64,
}

fn cell(target: &'static str, samples: Vec<Samples>, elapsed: Duration) -> Cell {
    let concurrency = samples.len();
    let turns = samples.iter().map(|s| s.turns).sum();
    let mut latencies: Vec<Duration> = samples.into_iter().flat_map(|s| s.first_chunk).collect();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    Cell {
        target,
        concurrency,
        turns,
        turns_per_second: turns as f64 / elapsed.as_secs_f64(),
        first_chunk_p50_ms: percentile(0.50),
        first_chunk_p99_ms: percentile(0.99),
    }
}

/// The resident memory of a process, in MiB (`VmRSS` or `VmHWM`, the peak).
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn bench() {
    let seconds: f64 = env_or("LOCRIT_BENCH_SECONDS", 5.0);
    let connections: usize = env_or("LOCRIT_BENCH_CONNECTIONS", 1000);
    let chatting: usize = env_or("LOCRIT_BENCH_CHATTING", 100).min(connections);
    let ollama = FakeOllama::start().await;
    ollama.set_reply(Reply::Tokens(
        (0..TOKENS).map(|i| format!(" t{i}")).collect(),
    ));
    ollama.add_model("llama3.2", 4096);
    let db = TestDatabase::sqlite();

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env("LOCRIT_BENCH_SERVER_DB", db.url())
        .env("LOCRIT_BENCH_OLLAMA", ollama.url())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines
        .next_line()
        .await
        .unwrap()
        .expect("the server's address");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(chatting)
        .build()
        .unwrap();
    let locrit: Value = http
        .post(format!("http://{address}/api/v2/locrits"))
        .json(&json!({"name": "Bench", "ollama_model": "llama3.2", "active": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rss_start = memory_mib(pid, "VmRSS:");

    let opened = Instant::now();
    let sockets: Vec<Ws> = futures::stream::iter(0..connections)
        .map(|_| connect(&address))
        .buffer_unordered(32)
        .collect()
        .await;
    let opening = opened.elapsed();
    let mut sockets = sockets.into_iter();
    let talkers: Vec<Ws> = sockets.by_ref().take(chatting).collect();
    // The others stay connected and answer pings, as idle tabs do.
    let idle: Vec<_> = sockets
        .map(|mut ws| tokio::spawn(async move { next_event(&mut ws).await }))
        .collect();
    let rss_connected = memory_mib(pid, "VmRSS:");
    let mut socket_turns = 0;

    let locrit_path = format!(
        "http://{address}/api/v2/locrits/{}",
        locrit["id"].as_str().unwrap()
    );
    for id in 0..chatting {
        let session = json!({"id": format!("sse_{id}")});
        let url = format!("{locrit_path}/sessions");
        let response = http.post(url).json(&session).send().await.unwrap();
        assert!(response.status().is_success());
    }
    let mut talkers: Vec<Ws> =
        futures::future::join_all(talkers.into_iter().enumerate().map(|(id, ws)| join(ws, id)))
            .await;

    let mut cells = Vec::new();
    for concurrency in [1, chatting] {
        // Direct: the same number of concurrent streams, straight from the fake Ollama.
        let start = Arc::new(Barrier::new(concurrency));
        let url = format!("{}/api/chat", ollama.url());
        let workers: Vec<_> = (0..concurrency)
            .map(|_| tokio::spawn(direct(http.clone(), url.clone(), start.clone(), seconds)))
            .collect();
        let began = Instant::now();
        let samples = futures::future::join_all(workers).await;
        let samples = samples.into_iter().map(Result::unwrap).collect();
        cells.push(cell("direct fake Ollama", samples, began.elapsed()));

        // The same engine through the clean API's SSE.
        let start = Arc::new(Barrier::new(concurrency));
        let workers: Vec<_> = (0..concurrency)
            .map(|id| {
                let url = format!("{locrit_path}/sessions/sse_{id}/messages");
                tokio::spawn(sse(http.clone(), url, start.clone(), seconds))
            })
            .collect();
        let began = Instant::now();
        let samples = futures::future::join_all(workers).await;
        let samples = samples.into_iter().map(Result::unwrap).collect();
        cells.push(cell("Locrit SSE (v2)", samples, began.elapsed()));

        // Through Locrit's Socket.IO, with every other connection open.
        let start = Arc::new(Barrier::new(concurrency));
        let rest = talkers.split_off(concurrency);
        let workers: Vec<_> = talkers
            .into_iter()
            .enumerate()
            .map(|(id, ws)| tokio::spawn(chat(ws, id, start.clone(), seconds)))
            .collect();
        let began = Instant::now();
        let done = futures::future::join_all(workers).await;
        let elapsed = began.elapsed();
        let (sockets, samples): (Vec<Ws>, Vec<Samples>) =
            done.into_iter().map(Result::unwrap).unzip();
        socket_turns += samples.iter().map(|s| s.turns).sum::<usize>();
        cells.push(cell("Locrit Socket.IO", samples, elapsed));
        talkers = sockets.into_iter().chain(rest).collect();
    }
    let rss_loaded = memory_mib(pid, "VmRSS:");
    let rss_peak = memory_mib(pid, "VmHWM:");
    for task in &idle {
        assert!(!task.is_finished(), "an idle connection was dropped");
        task.abort();
    }
    child.kill().await.unwrap();

    // Every turn answered is stored: two messages each.
    let store = locrit_store::open(&StoreConfig::new(db.url()))
        .await
        .unwrap();
    let id = locrit["id"].as_str().unwrap().parse().unwrap();
    let stats = store.locrit_stats(id).await.unwrap();
    let sse_turns: usize = cells
        .iter()
        .filter(|c| c.target == "Locrit SSE (v2)")
        .map(|c| c.turns)
        .sum();
    let answered = (socket_turns + sse_turns) as i64;

    println!(
        "\nSocket.IO: {connections} connections ({opening:.1?} to open), {chatting} chatting, {TOKENS}-token replies, SQLite ({:?} sync), {seconds} s per cell",
        sqlite_sync()
    );
    println!(
        "{:<20} {:>5} {:>7} {:>9} {:>16} {:>16}",
        "target", "conc.", "turns", "turns/s", "1st chunk p50 ms", "1st chunk p99 ms"
    );
    for cell in &cells {
        println!(
            "{:<20} {:>5} {:>7} {:>9.1} {:>16.2} {:>16.2}",
            cell.target,
            cell.concurrency,
            cell.turns,
            cell.turns_per_second,
            cell.first_chunk_p50_ms,
            cell.first_chunk_p99_ms
        );
    }
    let mut added = Vec::new();
    println!(
        "\n{:>5} {:>26} {:>26}",
        "conc.", "Socket.IO − direct p50/p99", "Socket.IO − SSE p50/p99"
    );
    for triple in cells.chunks(3) {
        let (direct, sse, socket) = (&triple[0], &triple[1], &triple[2]);
        let vs_direct = (
            socket.first_chunk_p50_ms - direct.first_chunk_p50_ms,
            socket.first_chunk_p99_ms - direct.first_chunk_p99_ms,
        );
        let vs_sse = (
            socket.first_chunk_p50_ms - sse.first_chunk_p50_ms,
            socket.first_chunk_p99_ms - sse.first_chunk_p99_ms,
        );
        println!(
            "{:>5} {:>15.2} / {:>8.2} {:>15.2} / {:>8.2}",
            socket.concurrency, vs_direct.0, vs_direct.1, vs_sse.0, vs_sse.1
        );
        added.push(json!({
            "concurrency": socket.concurrency,
            "vs_direct_ms": {"p50": vs_direct.0, "p99": vs_direct.1},
            "vs_sse_ms": {"p50": vs_sse.0, "p99": vs_sse.1},
        }));
    }
    println!(
        "server RSS: {rss_start:.1} MiB at start, {rss_connected:.1} MiB with {connections} connections, {rss_loaded:.1} MiB after the load, peak {rss_peak:.1} MiB"
    );
    println!(
        "turns answered: {answered}; stored messages: {} (expected {})",
        stats.messages,
        2 * answered
    );
    assert_eq!(stats.messages, 2 * answered, "no turn lost");
    let report = json!({
        "connections": connections,
        "chatting": chatting,
        "tokens": TOKENS,
        "seconds_per_cell": seconds,
        "cells": cells,
        "added_to_first_chunk": added,
        "rss_mib": {"start": rss_start, "connected": rss_connected, "after_load": rss_loaded, "peak": rss_peak},
        "turns": answered,
        "stored_messages": stats.messages,
    });
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-socketio.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("written to {}", path.display());
}
