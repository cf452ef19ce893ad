//! Several `locrit serve` processes on one PostgreSQL store (the PostgreSQL suite:
//! `LOCRIT_TEST_POSTGRES_URL` set, `--ignored`), started together on a fresh schema (so
//! they run its migrations at once): a client of one server follows a turn
//! running on another, a server killed mid-turn leaves its reply marked interrupted for
//! the others to see, and turns sent through different servers into one session keep
//! one order.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use futures::StreamExt;
use locrit_testkit::{Endpoint, FakeFailure, FakeOllama, Reply, TestDatabase};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

struct Cluster {
    servers: Vec<Server>,
    /// Each server's data folder, kept while it runs.
    dirs: Vec<tempfile::TempDir>,
    http: reqwest::Client,
    db: TestDatabase,
}

impl Cluster {
    /// Starts `count` servers at once on a fresh schema: they migrate it together.
    async fn start(count: usize, fake: &FakeOllama) -> Self {
        let db = TestDatabase::postgres().await;
        let dirs: Vec<_> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let url = fake.url();
        let args = ["--database-url", db.url()];
        let servers = futures::future::join_all(
            dirs.iter()
                .map(|dir| common::serve(dir.path(), &url, &args)),
        )
        .await
        .into_iter()
        .map(|(server, _)| server)
        .collect();
        Self {
            servers,
            dirs,
            http: reqwest::Client::new(),
            db,
        }
    }

    /// Starts one more server on the cluster's database.
    async fn add(&mut self, fake: &FakeOllama, args: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec!["--database-url", self.db.url()];
        all.extend_from_slice(args);
        let (server, _) = common::serve(dir.path(), &fake.url(), &all).await;
        self.servers.push(server);
        self.dirs.push(dir);
    }

    fn url(&self, server: usize, path: &str) -> String {
        format!("{}{path}", self.servers[server].base)
    }

    /// A Locrit with a session `s`, made through server 0.
    async fn locrit(&self) -> String {
        let id = common::create_locrit(&self.http, &self.servers[0].base, "Bob").await;
        let opened = self
            .http
            .post(self.url(0, &format!("/api/v2/locrits/{id}/sessions")))
            .json(&json!({"id": "s"}))
            .send()
            .await
            .unwrap();
        assert!(opened.status().is_success());
        id
    }

    /// Sends a message into session `s` through `server`; the (successful) answer.
    async fn send(&self, server: usize, locrit: &str, body: Value) -> reqwest::Response {
        let url = self.url(
            server,
            &format!("/api/v2/locrits/{locrit}/sessions/s/messages"),
        );
        let sent = self.http.post(url).json(&body).send().await.unwrap();
        assert!(sent.status().is_success(), "{}", sent.status());
        sent
    }

    async fn messages(&self, server: usize, locrit: &str) -> Vec<Value> {
        let path = format!("/api/v2/locrits/{locrit}/sessions/s/messages?limit=500");
        let page = common::get_json(&self.http, self.url(server, &path)).await;
        page["messages"].as_array().cloned().unwrap_or_default()
    }
}

/// An SSE body's events: (event name, data as JSON).
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    name = rest.trim().to_owned();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = serde_json::from_str(rest.trim()).ok();
                }
            }
            Some((name, data?))
        })
        .collect()
}

fn deltas_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
#[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_client_of_one_server_follows_a_turn_sent_through_another() {
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(40))
        .start()
        .await;
    let cluster = Cluster::start(2, &fake).await;
    let bob = cluster.locrit().await;
    let text = "tell the other server everything you know about lighthouses";

    // Sent through server 1, streamed back to its caller.
    let sent = cluster
        .send(1, &bob, json!({"content": text, "stream": true}))
        .await;
    let mut body = sent.bytes_stream();
    let mut seen = String::new();
    let turn_id = loop {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
        if let Some((_, data)) = sse_events(&seen)
            .into_iter()
            .find(|(_, d)| d["turn_id"].is_string())
        {
            break data["turn_id"].as_str().unwrap().to_owned();
        }
    };
    let caller = tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        seen
    });

    // Followed on server 0, from its first delta, while it runs on server 1.
    let deadline = Instant::now() + Duration::from_secs(10);
    let followed = loop {
        let response = cluster
            .http
            .get(cluster.url(0, &format!("/api/v2/turns/{turn_id}/events")))
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            break response.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "server 0 never heard of the turn"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let followed = sse_events(&followed);
    let expected = format!("You said: {text}");
    assert_eq!(
        deltas_text(&followed),
        expected,
        "every delta, in order, once"
    );
    let (end, data) = followed.last().unwrap();
    assert_eq!(end, "done");
    assert_eq!(data["reply"]["content"], expected.as_str());
    let indexes: Vec<u64> = followed
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, d)| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..indexes.len() as u64).collect::<Vec<_>>());

    let direct = sse_events(&caller.await.unwrap());
    assert_eq!(deltas_text(&direct), expected);
    // Both servers read the same stored exchange.
    assert_eq!(
        cluster.messages(0, &bob).await,
        cluster.messages(1, &bob).await
    );
}

/// The same with a real Socket.IO client (python-socketio) in the session's room on
/// server 0, the turn sent through server 2's REST API.
#[tokio::test]
#[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_socket_io_client_of_one_server_streams_a_turn_sent_through_another() {
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(20))
        .start()
        .await;
    let cluster = Cluster::start(3, &fake).await;
    let bob = cluster.locrit().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/follower.py");
    let mut follower = tokio::process::Command::new(common::python())
        .args([script, &cluster.servers[0].base, "Bob", "s"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("joined"));

    let text = "a question for whoever listens";
    cluster.send(2, &bob, json!({"content": text})).await;
    let followed: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let expected = format!("You said: {text}");
    assert_eq!(followed["end"], "chat_complete", "{followed}");
    let chunks: Vec<&str> = followed["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(chunks.len() > 1, "streamed in pieces: {chunks:?}");
    assert_eq!(chunks.concat(), expected);
    assert_eq!(followed["data"]["response"], expected.as_str());
}

#[tokio::test]
#[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_server_killed_mid_turn_leaves_its_reply_marked_interrupted() {
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(150))
        .reply("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four")
        .start()
        .await;
    let mut cluster = Cluster::start(2, &fake).await;
    let bob = cluster.locrit().await;
    let sent = cluster
        .send(1, &bob, json!({"content": "count slowly", "stream": true}))
        .await;
    // Past the first stored checkpoints (one a second), well before the end (~4 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let streaming = cluster.messages(0, &bob).await;
    assert_eq!(
        streaming.len(),
        2,
        "the reply is stored while it streams: {streaming:?}"
    );
    assert_eq!(streaming[1]["status"], "streaming");
    cluster.servers[1].child.kill().unwrap();
    cluster.servers[1].child.wait().unwrap();
    drop(sent);

    // Server 0 marks it interrupted once its lease runs out, keeping what arrived.
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let messages = cluster.messages(0, &bob).await;
        if messages[1]["status"] != "streaming" {
            break messages[1].clone();
        }
        assert!(Instant::now() < deadline, "the cut reply was never marked");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(reply["status"], "interrupted");
    let text = reply["content"].as_str().unwrap();
    assert!(text.starts_with("one two"), "{text:?}");
    assert!(
        !text.contains("twenty-four"),
        "cut before its end: {text:?}"
    );
    assert_eq!(reply["role"], "assistant");
    assert_eq!(
        cluster.messages(0, &bob).await.len(),
        2,
        "nothing else stored"
    );
}

/// A job held by a live server stays with it (its lease renewed while it runs, longer
/// than the lease itself); once that server is killed, another takes the job over when
/// the lease runs out, and runs it to its end, once.
#[tokio::test]
#[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_killed_server_s_job_is_taken_over_by_another() {
    let fake = FakeOllama::start().await;
    fake.set_structured_reply(Reply::Text(
        json!({"memories": [{"content": "Alice likes tea", "importance": 0.5}],
               "concepts": [], "relations": []})
        .to_string(),
    ));
    // The first extraction waits on the model until its server is killed, far longer
    // than a job's lease (2 s), however slowly the second server starts; the one that
    // takes it over is answered at once.
    fake.fail_next_on(
        Endpoint::StructuredChat,
        FakeFailure::Delay(Duration::from_secs(600)),
    );
    let lease = ["--job-lease", "2"];
    let mut cluster = Cluster::start(0, &fake).await;
    cluster.add(&fake, &lease).await;
    let bob = cluster.locrit().await;
    cluster
        .send(0, &bob, json!({"content": "I am Alice and I like tea"}))
        .await;
    let extractions = || fake.requests_on(Endpoint::StructuredChat).len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while extractions() == 0 {
        assert!(Instant::now() < deadline, "the extraction never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A second server, while the first runs the job past its lease: it does not take it.
    cluster.add(&fake, &lease).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        extractions(),
        1,
        "a renewed lease keeps the job with its server"
    );
    cluster.servers[0].child.kill().unwrap();
    cluster.servers[0].child.wait().unwrap();

    let jobs = cluster.url(1, &format!("/api/v2/locrits/{bob}/jobs"));
    let deadline = Instant::now() + Duration::from_secs(40);
    let job = loop {
        let listed: Value = cluster
            .http
            .get(&jobs)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed = listed
            .as_array()
            .or_else(|| listed["jobs"].as_array())
            .cloned();
        if let Some(job) = listed.and_then(|jobs| jobs.first().cloned())
            && job["status"] == "done"
        {
            break job;
        }
        assert!(Instant::now() < deadline, "the job was never taken over");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(job["attempts"], 2, "cut once, run again once: {job}");
    assert_eq!(extractions(), 2);
    let memories: Value = cluster
        .http
        .get(cluster.url(1, &format!("/api/v2/locrits/{bob}/memories")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let learned = memories.to_string().matches("Alice likes tea").count();
    assert_eq!(learned, 1, "learned once: {memories}");
}

#[tokio::test]
#[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn turns_through_different_servers_into_one_session_keep_one_order() {
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(2))
        .start()
        .await;
    let cluster = Cluster::start(3, &fake).await;
    let bob = cluster.locrit().await;
    let turns = (0..24).map(|n| {
        let url = cluster.url(n % 3, &format!("/api/v2/locrits/{bob}/sessions/s/messages"));
        let http = cluster.http.clone();
        async move {
            let text = format!("message number {n}");
            let response = http
                .post(url)
                .json(&json!({"content": text}))
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{}",
                response.text().await.unwrap()
            );
            text
        }
    });
    let sent = futures::future::join_all(turns).await;

    let messages = cluster.messages(0, &bob).await;
    for server in 1..3 {
        assert_eq!(
            cluster.messages(server, &bob).await,
            messages,
            "one order for every server"
        );
    }
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=48).collect::<Vec<i64>>(), "no gap, no repeat");
    for text in &sent {
        let asked: Vec<&Value> = messages
            .iter()
            .filter(|m| m["content"] == text.as_str())
            .collect();
        assert_eq!(asked.len(), 1, "{text} stored once");
        let id = &asked[0]["id"];
        let answers: Vec<&Value> = messages
            .iter()
            .filter(|m| {
                m["metadata"]["answers"]
                    .as_array()
                    .is_some_and(|a| a.contains(id))
            })
            .collect();
        assert_eq!(answers.len(), 1, "{text} answered once");
        assert_eq!(answers[0]["content"], format!("You said: {text}").as_str());
        assert!(
            answers[0]["seq"].as_i64() > asked[0]["seq"].as_i64(),
            "after its question"
        );
    }
}
