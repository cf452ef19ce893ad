//! The server killed with SIGKILL in the middle of many chat turns, again and again:
//! after each restart every exchange the server acknowledged is there once, nothing is
//! stored twice, each session's order has no gap, and `locrit doctor` finds no fault.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::locrit;
use locrit_store::{MessagePage, SessionQuery, StoreConfig};
use locrit_testkit::FakeOllama;
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
        let (mut server, _) = common::serve(data.path(), &fake.url(), &[]);
        if round == 0 {
            let created: serde_json::Value = http
                .post(format!("{}/api/v2/locrits", server.base))
                .json(&json!({"name": "Bob", "ollama_model": "llama3.2", "active": true}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            bob = created["id"].as_str().unwrap().to_owned();
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
