//! The whole chain on the real embedded models: a Locrit on `ollama_url: "embedded"`
//! chats over SSE, its reply is stored with the model's counters, and semantic search
//! finds its messages with MiniLM vectors. Skipped (with a message) when the models are
//! absent: `scripts/fetch-models` fetches them.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestServer, sse_events};
use futures::StreamExt;
use locrit_domain::{NewMessage, NewSession, Role, SessionKind};
use locrit_embedded::{CHAT_MODEL, MODELS};
use locrit_testkit::models_dir;
use reqwest::StatusCode;
use serde_json::json;

fn models_present() -> bool {
    let dir = models_dir();
    let present = MODELS.iter().all(|spec| spec.is_present(&dir));
    if !present {
        eprintln!(
            "SKIPPED: the embedded models are not in {}; run scripts/fetch-models",
            dir.display()
        );
    }
    present
}

/// An active Locrit on the embedded engine, with one session; returns the session's path.
async fn embedded_locrit(server: &TestServer) -> (String, String) {
    let (status, locrit) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Tiny", "ollama_url": "embedded", "ollama_model": CHAT_MODEL.name,
                   "description": "A small local model", "active": true,
                   "access_to": {"full_memory": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{locrit}");
    let id = locrit["id"].as_str().unwrap().to_owned();
    let (status, session) = server
        .post(
            &format!("/api/v2/locrits/{id}/sessions"),
            json!({"id": "s1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    (id.clone(), format!("/api/v2/locrits/{id}/sessions/s1"))
}

#[tokio::test]
async fn a_locrit_on_the_embedded_model_streams_and_stores_its_reply() {
    if !models_present() {
        return;
    }
    let server = TestServer::start().await;
    let (_, session) = embedded_locrit(&server).await;
    let response = server
        .http
        .post(server.url(&format!("{session}/messages")))
        .header("accept", "text/event-stream")
        .json(&json!({"content": "What is the capital of France?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let events: Vec<_> = sse_events(response).collect().await;
    assert_eq!(events[0].event, "turn");
    let text: String = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert!(!text.trim().is_empty(), "the model said something");
    let done = events.last().unwrap();
    assert_eq!(done.event, "done", "{done:?}");
    let reply = &done.data["reply"];
    assert_eq!(reply["content"], json!(text));
    let stats = &reply["metadata"]["stats"];
    assert!(stats["eval_count"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["prompt_eval_count"].as_u64().unwrap() > 0, "{stats}");
    let (_, page) = server.get(&format!("{session}/messages")).await;
    let stored = page["messages"].as_array().unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(&stored[1], reply);
    // Nothing of this went to the fake Ollama: the embedded engine served it.
    assert!(server.ollama.requests().is_empty());
}

#[tokio::test]
async fn semantic_search_ranks_with_the_embedded_embedder() {
    if !models_present() {
        return;
    }
    let server = TestServer::start().await;
    let (id, _) = embedded_locrit(&server).await;
    let locrit = server.core.locrit(id.parse().unwrap()).await.unwrap();
    let session = server
        .core
        .store()
        .create_session(&NewSession {
            locrit_id: locrit.id,
            key: "pets".into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: None,
            metadata: json!({}),
        })
        .await
        .unwrap();
    let texts = [
        "My sister adopted a small grey kitten last week.",
        "The quarterly tax report is due on Friday.",
        "We repainted the kitchen a pale yellow.",
    ];
    let batch: Vec<NewMessage> = texts
        .iter()
        .map(|t| NewMessage::new(Role::User, *t))
        .collect();
    server
        .core
        .store()
        .append_messages(session.id, &batch)
        .await
        .unwrap();
    let worker = server.core.spawn_embedder();
    let path =
        format!("/api/v2/locrits/{id}/search?q=a%20young%20cat%20as%20a%20pet&mode=semantic");
    let body = poll_until(&server, &path, Duration::from_secs(60), |body| {
        body["semantic"]["indexed"].as_u64() >= Some(texts.len() as u64)
    })
    .await;
    assert_eq!(body["semantic"]["available"], true, "{body}");
    assert_eq!(body["semantic"]["model"], "all-minilm:l6-v2");
    assert_eq!(body["hits"][0]["content"], texts[0], "{body}");
    worker.abort();
}

/// Polls `path` until `done` holds for its body, for at most `within`.
async fn poll_until(
    server: &TestServer,
    path: &str,
    within: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "still waiting on {path}: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Memory on the real models: an exchange is learned from (the extraction asks the
/// 135M model for JSON with a schema: it either yields schema-valid memories, each
/// citing the exchange, or ends as a failed job that says why, never silently), both
/// messages get MiniLM vectors, and a later conversation recalls the exchange by its
/// meaning.
#[tokio::test]
async fn an_exchange_is_learned_from_embedded_and_recalled_in_another_conversation() {
    if !models_present() {
        return;
    }
    let server = TestServer::start().await;
    let (id, session) = embedded_locrit(&server).await;
    let (status, turn) = server
        .post(
            &format!("{session}/messages"),
            json!({"content": "My sister Lena adopted a grey kitten called Miso."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    let told = turn["user_message"]["id"].as_str().unwrap().to_owned();
    let answered = turn["reply"]["id"].as_str().unwrap().to_owned();

    let jobs = poll_until(
        &server,
        &format!("/api/v2/locrits/{id}/jobs"),
        Duration::from_secs(240),
        |body| {
            let jobs = body["jobs"].as_array().unwrap();
            !jobs.is_empty()
                && jobs
                    .iter()
                    .all(|j| j["status"] == "done" || j["status"] == "failed")
        },
    )
    .await;
    let job = &jobs["jobs"][0];
    assert_eq!(job["kind"], "extract_memories", "{job}");
    assert_eq!(job["payload"]["messages"], json!([told, answered]), "{job}");
    let (_, memories) = server.get(&format!("/api/v2/locrits/{id}/memories")).await;
    let memories = memories["memories"].as_array().unwrap();
    if job["status"] == "done" {
        for memory in memories {
            assert!(
                !memory["content"].as_str().unwrap().trim().is_empty(),
                "{memory}"
            );
            let importance = memory["importance"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&importance), "{memory}");
            let sources = memory["source_message_ids"].as_array().unwrap();
            assert!(
                sources
                    .iter()
                    .all(|s| *s == json!(told) || *s == json!(answered)),
                "a learned memory cites the exchange: {memory}"
            );
        }
    } else {
        let why = job["last_error"].as_str().unwrap_or_default();
        assert!(!why.is_empty(), "a failed extraction says why: {job}");
        assert_eq!(job["attempts"], job["max_attempts"], "{job}");
        assert!(memories.is_empty(), "nothing half-learned: {memories:?}");
    }

    // Both messages are embedded by MiniLM, then found by meaning from a new session.
    poll_until(
        &server,
        &format!("/api/v2/locrits/{id}/search?q=kitten&mode=semantic"),
        Duration::from_secs(60),
        |body| body["semantic"]["indexed"].as_u64() >= Some(2),
    )
    .await;
    let (status, session) = server
        .post(
            &format!("/api/v2/locrits/{id}/sessions"),
            json!({"id": "s2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let (status, later) = server
        .post(
            &format!("/api/v2/locrits/{id}/sessions/s2/messages"),
            json!({"content": "What kind of pet did my sister get?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{later}");
    let recalled = &later["reply"]["metadata"]["recall"]["messages"];
    assert!(
        recalled.as_array().unwrap().contains(&json!(told)),
        "the first conversation is recalled by meaning: {recalled}"
    );
}
