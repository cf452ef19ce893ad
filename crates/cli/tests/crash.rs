//! The server killed with SIGKILL in the middle of many chat turns, again and again:
//! after each restart every exchange the server acknowledged is there once, nothing is
//! stored twice, each session's order has no gap, and `locrit doctor` finds no fault; a
//! reply cut mid-stream is kept, marked interrupted.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::locrit;
use locrit_store::{MessagePage, SessionQuery, StoreConfig};
use locrit_testkit::{FakeFailure, FakeOllama};
use serde_json::json;

const ROUNDS: usize = 5;
const CLIENTS: usize = 12;

#[tokio::test]
async fn sigkill_mid_turns_loses_nothing_acknowledged_and_duplicates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(3))
        .start()
        .await;
    let http = reqwest::Client::new();
    // Each message's text, and whether the server answered it (both sides stored).
    let mut sent: HashMap<String, bool> = HashMap::new();
    let mut bob = String::new();
    for round in 0..ROUNDS {
        let (mut server, _) = common::serve(data.path(), &fake.url(), &[]).await;
        if round == 0 {
            bob = common::create_locrit(&http, &server.base, "Bob").await;
        }
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let text = format!("round {round} client {client} says hello at length");
            let sessions = format!("{}/api/v2/locrits/{bob}/sessions", server.base);
            let http = http.clone();
            // Each client its own session, so the turns run side by side.
            clients.push(tokio::spawn(async move {
                let key = format!("r{round}c{client}");
                let opened = http.post(&sessions).json(&json!({"id": key})).send().await;
                let answered = match opened {
                    Ok(response) if response.status().is_success() => {
                        let url = format!("{sessions}/{key}/messages");
                        let body = json!({"content": text});
                        match http.post(url).json(&body).send().await {
                            Ok(response) => response.status().is_success(),
                            Err(_) => false,
                        }
                    }
                    _ => false,
                };
                (text, answered)
            }));
        }
        // Kill at a different point of the turns each round: before, during, after.
        tokio::time::sleep(Duration::from_millis(40 + 90 * round as u64)).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for client in clients {
            let (text, answered) = client.await.unwrap();
            sent.insert(text, answered);
        }
    }
    assert!(
        sent.values().any(|answered| *answered),
        "some turns completed"
    );
    assert!(
        sent.values().any(|answered| !answered),
        "some turns were cut"
    );

    // Everything in the store, read directly.
    let url = format!("sqlite://{}", data.path().join("locrit.db").display());
    let store = locrit_store::open(&StoreConfig::new(&url)).await.unwrap();
    let bob = store.locrit_by_name("Bob").await.unwrap().unwrap();
    let sessions = store
        .sessions(&SessionQuery {
            locrit_id: Some(bob.id),
            ..SessionQuery::default()
        })
        .await
        .unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    let mut replies = 0;
    for session in &sessions {
        let page = MessagePage::After {
            after: 0,
            limit: 10_000,
        };
        let messages = store.messages(session.id, page).await.unwrap();
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
        let expected: Vec<i64> = (1..=messages.len() as i64).collect();
        assert_eq!(seqs, expected, "no gap, no repeat in {}", session.key);
        for message in messages {
            if message.role.as_str() == "user" {
                *stored.entry(message.content).or_default() += 1;
            } else {
                replies += 1;
            }
        }
    }
    for (text, answered) in &sent {
        let copies = stored.get(text).copied().unwrap_or(0);
        assert!(copies <= 1, "{text:?} stored {copies} times");
        if *answered {
            assert_eq!(copies, 1, "acknowledged, then lost: {text:?}");
        }
    }
    let acknowledged = sent.values().filter(|a| **a).count();
    assert!(
        replies >= acknowledged,
        "{replies} replies for {acknowledged} answered turns"
    );
    drop(store);

    let doctor = locrit()
        .args(["doctor", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        doctor.status.success(),
        "{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );
}

/// A reply cut by SIGKILL mid-stream is not lost with the process: what was stored of
/// it while it streamed is there after a restart, marked interrupted once its lease ran
/// out, after its question, and the conversation goes on.
#[tokio::test]
async fn a_reply_cut_by_sigkill_is_kept_and_marked_interrupted() {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOllama::builder()
        .token_delay(Duration::from_millis(150))
        .reply("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four")
        .start()
        .await;
    let http = reqwest::Client::new();
    let (mut server, _) = common::serve(data.path(), &fake.url(), &[]).await;
    let messages = bob_s_session(&http, &server.base).await;
    let cut = http
        .post(format!("{}{messages}", server.base))
        .json(&json!({"content": "count slowly", "stream": true}))
        .send()
        .await
        .unwrap();
    assert!(cut.status().is_success());
    // Past the first checkpoints (one a second), well before the end (~4 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(cut);

    let (server, _) = common::serve(data.path(), &fake.url(), &[]).await;
    let read = || read_messages(&http, &server.base, &messages);
    // The question and what arrived of its reply.
    let stored = once_marked(read, 2, |stored| stored[1]["status"] != "streaming").await;
    assert_eq!(stored[0]["content"], "count slowly");
    assert_eq!(stored[1]["status"], "interrupted");
    let text = stored[1]["content"].as_str().unwrap();
    assert!(text.starts_with("one two"), "{text:?}");
    assert!(!text.contains("twenty-four"), "{text:?}");

    // The conversation goes on after it, and the cut reply is in the next prompt.
    fake.set_token_delay(Duration::ZERO);
    let next = http
        .post(format!("{}{messages}", server.base))
        .json(&json!({"content": "go on"}))
        .send()
        .await
        .unwrap();
    assert!(next.status().is_success());
    assert_eq!(read().await.len(), 4);
    let prompt = fake.requests().last().unwrap().clone();
    assert!(prompt.to_string().contains(text), "{prompt}");
}

/// A question whose server is killed before its reply began (the model slow to start)
/// is kept, and marked unanswered by the restarted server once its lease ran out; no
/// reply is invented for it.
#[tokio::test]
async fn a_question_cut_before_its_reply_began_is_kept_and_marked_unanswered() {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOllama::start().await;
    fake.fail_next(FakeFailure::Delay(Duration::from_secs(60)));
    let http = reqwest::Client::new();
    let (mut server, _) = common::serve(data.path(), &fake.url(), &[]).await;
    let messages = bob_s_session(&http, &server.base).await;
    let asking = tokio::spawn(
        http.post(format!("{}{messages}", server.base))
            .json(&json!({"content": "are you there?"}))
            .send(),
    );
    // The question is stored, the model has not answered yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while read_messages(&http, &server.base, &messages)
        .await
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(asking.await.unwrap().is_err(), "never acknowledged");

    let (server, _) = common::serve(data.path(), &fake.url(), &[]).await;
    let read = || read_messages(&http, &server.base, &messages);
    // The question alone.
    let stored = once_marked(read, 1, |stored| {
        stored[0]["metadata"]["unanswered"].is_string()
    })
    .await;
    assert_eq!(stored[0]["content"], "are you there?");
}

/// The messages `read` gives, `count` of them each time, once `marked` holds of them
/// (a restarted server settles cut turns when their lease has run out): within 30 s.
async fn once_marked<F: Future<Output = Vec<serde_json::Value>>>(
    read: impl Fn() -> F,
    count: usize,
    marked: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored = read().await;
        assert_eq!(stored.len(), count, "{stored:?}");
        if marked(&stored) {
            return stored;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never marked: {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates the Locrit Bob and its session `s`; the path of the session's messages.
async fn bob_s_session(http: &reqwest::Client, base: &str) -> String {
    let created = common::create_locrit(http, base, "Bob").await;
    let sessions = format!("/api/v2/locrits/{created}/sessions");
    let opened = http
        .post(format!("{base}{sessions}"))
        .json(&json!({"id": "s"}))
        .send()
        .await
        .unwrap();
    assert!(opened.status().is_success());
    format!("{sessions}/s/messages")
}

async fn read_messages(http: &reqwest::Client, base: &str, path: &str) -> Vec<serde_json::Value> {
    let page = common::get_json(http, format!("{base}{path}")).await;
    page["messages"].as_array().unwrap().clone()
}
