//! A bounded soak run against a real `locrit serve`: REST chat on two Locrits, a real
//! Socket.IO client streaming its turns, memory search and Locrit edits, all at once for
//! `LOCRIT_SOAK_SECONDS` (20 by default). At the end no request failed, every message
//! acknowledged is stored exactly once with its reply and nothing else is, and the
//! server's resident memory after the warm-up has stayed flat.
//!
//! `LOCRIT_SOAK_SECONDS=120 cargo test -p locrit --test soak -- --nocapture` prints the
//! figures.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use locrit_store::{MessagePage, SessionQuery, StoreConfig};
use locrit_testkit::FakeOllama;
use serde_json::{Value, json};

/// Memory is compared from this share of the run on: caches, pools and the allocator's
/// arenas fill up first.
const WARM_UP_SHARE: f64 = 0.25;
/// How much the resident memory may grow after the warm-up: allocator noise and caches
/// still settling are a few MiB; a leak of a message's worth per turn over thousands of
/// turns is more.
const RSS_GROWTH_FACTOR: f64 = 1.2;
const RSS_GROWTH_SLACK_KIB: u64 = 10 * 1024;

fn soak_duration() -> Duration {
    let seconds = std::env::var("LOCRIT_SOAK_SECONDS")
        .ok()
        .map(|s| {
            s.parse()
                .expect("LOCRIT_SOAK_SECONDS is a number of seconds")
        })
        .unwrap_or(20);
    Duration::from_secs(seconds)
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// What one worker did: the texts the server acknowledged, and every failure.
#[derive(Default)]
struct Tally {
    done: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: String, response: reqwest::Result<reqwest::Response>) {
        match success(response) {
            Ok(()) => self.done.push(what),
            Err(error) => self.failures.push(format!("{what}: {error}")),
        }
    }
}

fn success(response: reqwest::Result<reqwest::Response>) -> Result<(), String> {
    match response {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(response.status().to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// One REST client chatting in its own session until the deadline.
async fn rest_chat(http: reqwest::Client, locrit: String, worker: usize, until: Instant) -> Tally {
    let session = format!("rest{worker}");
    let sessions = format!("{locrit}/sessions");
    let opened = http
        .post(&sessions)
        .json(&json!({"id": session}))
        .send()
        .await;
    let mut tally = Tally::default();
    if let Err(error) = success(opened) {
        tally.failures.push(format!("open {session}: {error}"));
    }
    while Instant::now() < until {
        let text = format!(
            "rest {worker} message {}",
            tally.done.len() + tally.failures.len()
        );
        let sent = http
            .post(format!("{sessions}/{session}/messages"))
            .json(&json!({"content": text}))
            .send()
            .await;
        tally.record(text, sent);
    }
    tally
}

/// Searches a Locrit's memory, and edits both Locrits, until the deadline.
async fn search_and_edit(http: reqwest::Client, locrits: [String; 2], until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut round = 0;
    while Instant::now() < until {
        let locrit = &locrits[round % 2];
        let found = http
            .get(format!("{locrit}/search?q=message%20{round}&limit=10"))
            .send()
            .await;
        tally.record(format!("search {round}"), found);
        let edited = http
            .patch(locrit)
            .json(&json!({"description": format!("edited {round} times")}))
            .send()
            .await;
        tally.record(format!("edit {round}"), edited);
        round += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tally
}

/// Every user message's text in the store, with how often it is there, and the number
/// of complete replies.
async fn stored(data: &Path) -> (HashMap<String, usize>, usize) {
    let url = format!("sqlite://{}", data.join("locrit.db").display());
    let store = locrit_store::open(&StoreConfig::new(&url)).await.unwrap();
    let sessions = store.sessions(&SessionQuery::default()).await.unwrap();
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut replies = 0;
    for session in &sessions {
        let page = MessagePage::After {
            after: 0,
            limit: 100_000,
        };
        for message in store.messages(session.id, page).await.unwrap() {
            if message.role.as_str() == "user" {
                *users.entry(message.content).or_default() += 1;
            } else if message.status.as_str() == "complete" {
                replies += 1;
            }
        }
    }
    (users, replies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_loses_nothing_fails_nothing_and_keeps_memory_flat() {
    let duration = soak_duration();
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(2))
        .start()
        .await;
    let (server, _) = common::serve(data.path(), &fake.url(), &[]).await;
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let api = format!("{}/api/v2/locrits", server.base);
    let bob = format!(
        "{api}/{}",
        common::create_locrit(&http, &server.base, "Bob").await
    );
    let alice = format!(
        "{api}/{}",
        common::create_locrit(&http, &server.base, "Alice").await
    );

    let started = Instant::now();
    let until = started + duration;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soak/streaming_client.py");
    let socketio = tokio::process::Command::new(common::python())
        .arg(&script)
        .args([&server.base, "Bob", "socketio"])
        .arg(duration.as_secs().to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the Socket.IO client");
    let chats: Vec<_> = [&bob, &alice]
        .into_iter()
        .enumerate()
        .map(|(worker, locrit)| {
            tokio::spawn(rest_chat(http.clone(), locrit.clone(), worker, until))
        })
        .collect();
    let browsing = tokio::spawn(search_and_edit(http.clone(), [bob, alice], until));

    // Resident memory, each second.
    let mut samples = Vec::new();
    while Instant::now() < until {
        samples.push((started.elapsed(), rss_kib(pid)));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut acknowledged = Vec::new();
    let mut failures = Vec::new();
    for chat in chats {
        let tally = chat.await.unwrap();
        acknowledged.extend(tally.done);
        failures.extend(tally.failures);
    }
    let rest_turns = acknowledged.len();
    let browsing = browsing.await.unwrap();
    failures.extend(browsing.failures);
    let output = socketio.wait_with_output().await.unwrap();
    let socketio: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("the Socket.IO client's report: {output:?}"));
    for text in socketio["acknowledged"].as_array().unwrap() {
        acknowledged.push(text.as_str().unwrap().to_owned());
    }
    for error in socketio["errors"].as_array().unwrap() {
        failures.push(format!("socket.io: {error}"));
    }
    samples.push((started.elapsed(), rss_kib(pid)));
    drop(server);

    let warm_up = duration.mul_f64(WARM_UP_SHARE);
    let (_, warm) = *samples
        .iter()
        .find(|(at, _)| *at >= warm_up)
        .expect("a sample after the warm-up");
    let (_, end) = *samples.last().unwrap();
    let peak = samples.iter().map(|(_, kib)| *kib).max().unwrap();
    let socketio_turns = acknowledged.len() - rest_turns;
    println!(
        "soak: {} s; {rest_turns} REST turns, {socketio_turns} Socket.IO turns, {} searches \
         and edits; {} failures; RSS {} KiB at start, {warm} KiB after the warm-up ({} s), \
         {peak} KiB at peak, {end} KiB at the end",
        duration.as_secs(),
        browsing.done.len(),
        failures.len(),
        samples[0].1,
        warm_up.as_secs()
    );

    assert!(failures.is_empty(), "failures: {failures:#?}");
    assert!(rest_turns > 0 && socketio_turns > 0 && !browsing.done.is_empty());
    let (users, replies) = stored(data.path()).await;
    for text in &acknowledged {
        assert_eq!(users.get(text), Some(&1), "{text:?} stored once");
    }
    assert_eq!(
        users.len(),
        acknowledged.len(),
        "nothing stored that was not acknowledged"
    );
    assert_eq!(
        replies,
        acknowledged.len(),
        "one complete reply per message"
    );
    let limit = (warm as f64 * RSS_GROWTH_FACTOR) as u64 + RSS_GROWTH_SLACK_KIB;
    assert!(
        end <= limit,
        "resident memory grew from {warm} KiB to {end} KiB (limit {limit} KiB)"
    );
}
