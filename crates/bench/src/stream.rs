//! Issue 4: many Socket.IO connections on one server, some of them chatting at once
//! with streamed replies: turns/s and time to first chunk through Socket.IO and the
//! clean API's SSE against the same request streamed straight from the model, the
//! server's memory, and no turn lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::measure::{Latency, Run, closed_loop};
use crate::server::{Bench, ServerMemory, checked};
use crate::socketio::Socket;
use crate::{Conditions, Llm, Setup, Target, print_targets};

/// Connections opened at once while the load builds up.
const OPENING: usize = 32;

/// How many talk at once, and the pause each takes between a reply and their next
/// message (none: the server saturated).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Load {
    pub concurrency: usize,
    pub pause_ms: u64,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pause_ms {
            0 => write!(f, "{} chatting", self.concurrency),
            pause => write!(f, "{} chatting, {pause} ms pauses", self.concurrency),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Cell {
    pub target: &'static str,
    #[serde(flatten)]
    pub load: Load,
    pub turns: usize,
    pub turns_per_second: f64,
    pub first_chunk: Latency,
}

impl Cell {
    fn of<S>(target: &'static str, load: Load, run: &Run<S>) -> Self {
        Self {
            target,
            load,
            turns: run.turns.len(),
            turns_per_second: run.turns_per_second(),
            first_chunk: Latency::of(run.first_chunks.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Added {
    #[serde(flatten)]
    pub load: Load,
    pub socketio_vs_direct_p50_ms: f64,
    pub socketio_vs_direct_p99_ms: f64,
    pub sse_vs_direct_p50_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub conditions: Conditions,
    pub connections: usize,
    pub chatting: usize,
    pub opening_seconds: f64,
    pub cells: Vec<Cell>,
    pub added_to_first_chunk: Vec<Added>,
    pub answered_turns: usize,
    pub stored_messages: i64,
    pub idle_connections_dropped: usize,
    pub server_memory_start: ServerMemory,
    pub server_memory_connected: ServerMemory,
    pub server_memory_end: ServerMemory,
    pub targets: Vec<Target>,
}

/// Measures with `connections` open: one chatting, then `chatting` at once without a
/// pause (the server saturated), then with `pause` between a reply and the next message.
/// Each Locrit cell starts once the memory extraction the last one queued has ended.
pub async fn run(
    setup: &Setup,
    llm: &Llm,
    connections: usize,
    chatting: usize,
    pause: Duration,
) -> anyhow::Result<Value> {
    let chatting = chatting.clamp(1, connections.max(1));
    let sessions: Vec<String> = (0..chatting).map(|id| format!("sse_{id}")).collect();
    let Bench {
        database,
        server,
        http,
        locrit,
    } = Bench::start(setup, llm, &sessions).await?;
    let server_memory_start = server.memory();

    let opened = Instant::now();
    let sockets: Vec<anyhow::Result<Socket>> = futures::stream::iter(0..connections.max(1))
        .map(|_| Socket::connect(&server.base))
        .buffer_unordered(OPENING)
        .collect()
        .await;
    let opening = opened.elapsed();
    let mut sockets = sockets.into_iter();
    let mut talkers = Vec::with_capacity(chatting);
    for (id, socket) in sockets.by_ref().take(chatting).enumerate() {
        talkers.push(join(socket?, id).await?);
    }
    // The others stay connected and answer pings, as idle tabs do; an event or a
    // closed connection ends their task.
    let mut idle = Vec::new();
    for socket in sockets {
        let mut socket = socket?;
        idle.push(tokio::spawn(async move { socket.next_event().await }));
    }
    let server_memory_connected = server.memory();

    let mut cells = Vec::new();
    let mut answered = 0;
    let loads = [
        (1, Duration::ZERO),
        (chatting, Duration::ZERO),
        (chatting, pause),
    ];
    for (n, think) in loads {
        let load = Load {
            concurrency: n,
            pause_ms: think.as_millis() as u64,
        };
        locrit.until_idle(&http).await?;
        let rest = talkers.split_off(n);
        let run = closed_loop(talkers, setup.seconds, think, socketio_turn).await?;
        answered += run.turns.len();
        cells.push(Cell::of("Locrit Socket.IO", load, &run));
        talkers = run.states.into_iter().chain(rest).collect();

        locrit.until_idle(&http).await?;
        let urls = (0..n)
            .map(|id| format!("{}/sessions/sse_{id}/messages", locrit.path))
            .collect();
        let client = http.clone();
        let run = closed_loop(urls, setup.seconds, think, move |url| {
            sse_turn(client.clone(), url)
        })
        .await?;
        answered += run.turns.len();
        cells.push(Cell::of("Locrit SSE (v2)", load, &run));

        let (client, url) = (http.clone(), Arc::new(format!("{}/api/chat", llm.url())));
        let body = Arc::new(llm.reference_request());
        let run = closed_loop(vec![(); n], setup.seconds, think, move |()| {
            direct_turn(client.clone(), url.clone(), body.clone())
        })
        .await?;
        cells.push(Cell::of("direct model stream", load, &run));
    }
    let server_memory_end = server.memory();
    let idle_connections_dropped = idle.iter().filter(|task| task.is_finished()).count();
    idle.iter().for_each(|task| task.abort());
    server.stop().await?;
    let stored_messages = locrit.stored_messages(database.url()).await?;

    let added_to_first_chunk = cells
        .chunks(3)
        .map(|cell| Added {
            load: cell[0].load,
            socketio_vs_direct_p50_ms: cell[0].first_chunk.p50_ms - cell[2].first_chunk.p50_ms,
            socketio_vs_direct_p99_ms: cell[0].first_chunk.p99_ms - cell[2].first_chunk.p99_ms,
            sse_vs_direct_p50_ms: cell[1].first_chunk.p50_ms - cell[2].first_chunk.p50_ms,
        })
        .collect();
    let mut report = Report {
        conditions: Conditions::of(setup, llm),
        connections,
        chatting,
        opening_seconds: opening.as_secs_f64(),
        cells,
        added_to_first_chunk,
        answered_turns: answered,
        stored_messages,
        idle_connections_dropped,
        server_memory_start,
        server_memory_connected,
        server_memory_end,
        targets: Vec::new(),
    };
    report.targets = targets(&report);
    print(&report);
    Ok(serde_json::to_value(&report)?)
}

/// Joins the room of its session, as the original's chat page does on connect.
async fn join(mut socket: Socket, id: usize) -> anyhow::Result<(Socket, String)> {
    let session = format!("bench_{id}");
    let room = json!({"locrit_name": "Bench", "session_id": session});
    socket.emit("join_chat", room).await?;
    while socket.next_event().await?.0 != "joined_chat" {}
    Ok((socket, session))
}

type Talker = (Socket, String);

/// One streamed turn over Socket.IO: every chunk must arrive, in order, and add up to
/// the stored reply.
async fn socketio_turn(
    (mut socket, session): Talker,
) -> anyhow::Result<(Talker, Option<Duration>)> {
    let sent = Instant::now();
    let message =
        json!({"locrit_name": "Bench", "session_id": session, "message": "hello", "stream": true});
    socket.emit("chat_message", message).await?;
    let (mut text, mut first) = (String::new(), None);
    loop {
        let (event, data) = socket.next_event().await?;
        match event.as_str() {
            "chat_chunk" => {
                first.get_or_insert_with(|| sent.elapsed());
                text.push_str(data["content"].as_str().unwrap_or_default());
            }
            "chat_complete" => {
                ensure!(data["status"] == "completed", "turn not completed: {data}");
                ensure!(
                    data["response"] == text.as_str(),
                    "chunks lost: {text:?} vs {data}"
                );
                break;
            }
            "error" => bail!("turn failed: {data}"),
            _ => {}
        }
    }
    ensure!(first.is_some(), "a turn without a chunk");
    Ok(((socket, session), first))
}

/// One streamed turn over the clean API's SSE: time to its first `delta` event.
async fn sse_turn(
    http: reqwest::Client,
    url: String,
) -> anyhow::Result<(String, Option<Duration>)> {
    let sent = Instant::now();
    let body = json!({"content": "hello", "stream": true});
    let mut stream = checked(http.post(&url).json(&body)).await?.bytes_stream();
    let (mut text, mut first) = (String::new(), None);
    while let Some(bytes) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&bytes?));
        if first.is_none() && text.contains("event: delta") {
            first = Some(sent.elapsed());
        }
    }
    ensure!(
        text.contains("event: done"),
        "the stream did not end: {text}"
    );
    ensure!(first.is_some(), "a turn without a delta");
    Ok((url, first))
}

/// The same request streamed straight from the model: time to its first line.
async fn direct_turn(
    http: reqwest::Client,
    url: Arc<String>,
    body: Arc<Value>,
) -> anyhow::Result<((), Option<Duration>)> {
    let sent = Instant::now();
    let mut stream = checked(http.post(url.as_str()).json(&*body))
        .await?
        .bytes_stream();
    let (mut first, mut last) = (None, Vec::new());
    while let Some(bytes) = stream.next().await {
        first.get_or_insert_with(|| sent.elapsed());
        last = bytes?.to_vec();
    }
    ensure!(
        String::from_utf8_lossy(&last).contains("\"done\":true"),
        "the model did not finish"
    );
    Ok(((), first))
}

/// Issue 4's targets, with every chatter talking, paced and saturated: under 2 ms added
/// to the first chunk at p50; no turn lost and no idle connection dropped, the server
/// under 200 MB.
fn targets(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    for added in report.added_to_first_chunk.iter().skip(1) {
        targets.push(Target::at_most(
            format!("added to 1st chunk p50, Socket.IO, {}", added.load),
            added.socketio_vs_direct_p50_ms,
            2.0,
            "ms",
        ));
    }
    let lost = (2 * report.answered_turns as i64 - report.stored_messages) as f64;
    targets.push(Target::at_most(
        "answered messages not stored",
        lost,
        0.0,
        "msgs",
    ));
    let dropped = report.idle_connections_dropped as f64;
    targets.push(Target::at_most(
        "idle connections dropped",
        dropped,
        0.0,
        "conns",
    ));
    let peak = report.server_memory_end.peak_mib;
    targets.push(Target::at_most(
        "server peak RSS (VmHWM)",
        peak,
        200.0,
        "MiB",
    ));
    targets
}

fn print(report: &Report) {
    println!(
        "\nstreaming: {} connections ({:.1} s to open), {} chatting, {}",
        report.connections, report.opening_seconds, report.chatting, report.conditions
    );
    println!(
        "{:<20} {:>5} {:>8} {:>7} {:>9} {:>17} {:>17}",
        "target", "conc.", "pause", "turns", "turns/s", "1st chunk p50", "1st chunk p99"
    );
    for cell in &report.cells {
        println!(
            "{:<20} {:>5} {:>5} ms {:>7} {:>9.1} {:>14.2} ms {:>14.2} ms",
            cell.target,
            cell.load.concurrency,
            cell.load.pause_ms,
            cell.turns,
            cell.turns_per_second,
            cell.first_chunk.p50_ms,
            cell.first_chunk.p99_ms
        );
    }
    for added in &report.added_to_first_chunk {
        println!(
            "added to the first chunk, {}: Socket.IO {:.2} ms p50 / {:.2} ms p99, SSE {:.2} ms p50",
            added.load,
            added.socketio_vs_direct_p50_ms,
            added.socketio_vs_direct_p99_ms,
            added.sse_vs_direct_p50_ms
        );
    }
    let (start, connected, end) = (
        report.server_memory_start,
        report.server_memory_connected,
        report.server_memory_end,
    );
    println!(
        "server RSS: {:.1} MiB at start, {:.1} MiB connected, {:.1} MiB after the load, peak {:.1} MiB",
        start.rss_mib, connected.rss_mib, end.rss_mib, end.peak_mib
    );
    println!(
        "turns answered {}, stored messages {} (expected {}), idle connections dropped {}",
        report.answered_turns,
        report.stored_messages,
        2 * report.answered_turns,
        report.idle_connections_dropped
    );
    print_targets(&report.targets);
}
