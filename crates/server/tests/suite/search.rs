//! The search routes: `GET /api/v2/locrits/{id}/search` and the original's
//! `GET|POST /api/locrits/<name>/memory/search`: shapes, filters, snippets, semantic
//! availability, and every bad parameter answered as JSON.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestServer, segment};
use locrit_domain::{NewMemory, NewMessage, NewSession, Role, SessionKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const NAME: &str = "Pixie";
const EMBEDDER: &str = "nomic-embed-text";

/// A server with one Locrit holding two sessions and a memory.
async fn seeded() -> (TestServer, Uuid) {
    let server = TestServer::start().await;
    server
        .create_active_locrit(NAME, json!({"access_to": {"full_memory": true}}))
        .await;
    let locrit = server.core.locrit_named(NAME).await.unwrap();
    let store = server.core.store();
    for (key, messages) in [
        (
            "morning",
            vec![
                (Role::User, "<b>tea</b> & scones, with more tea"),
                (Role::Assistant, "Tea is a fine choice"),
            ],
        ),
        ("evening", vec![(Role::User, "coffee, not tea")]),
    ] {
        let session = store
            .create_session(&NewSession {
                locrit_id: locrit.id,
                key: key.into(),
                kind: SessionKind::Chat,
                name: None,
                user_id: None,
                metadata: json!({}),
            })
            .await
            .unwrap();
        let batch: Vec<NewMessage> = messages
            .into_iter()
            .map(|(role, text)| NewMessage::new(role, text))
            .collect();
        store.append_messages(session.id, &batch).await.unwrap();
    }
    server
        .core
        .add_memory(
            &locrit,
            NewMemory {
                content: "Alice drinks tea every day".into(),
                importance: 0.5,
                metadata: json!({}),
                ..NewMemory::default()
            },
        )
        .await
        .unwrap();
    (server, locrit.id)
}

fn contents(hits: &Value) -> Vec<&str> {
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["content"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn clean_search_ranks_filters_and_pages() {
    let (server, id) = seeded().await;
    let search = |query: &str| {
        let path = format!("/api/v2/locrits/{id}/search?{query}");
        let server = &server;
        async move { server.get(&path).await }
    };

    let (status, body) = search("q=tea&mode=keyword").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 4, "{body}");
    let first = &hits[0];
    assert_eq!(first["content"], "<b>tea</b> & scones, with more tea");
    assert_eq!(first["kind"], "message");
    assert_eq!(first["session_key"], "morning");
    assert_eq!(first["role"], "user");
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(first["id"].as_str().unwrap().parse::<Uuid>().is_ok());
    assert!(first["created_at"].is_string());
    assert_eq!(
        first["snippet"],
        "&lt;b&gt;<mark>tea</mark>&lt;/b&gt; &amp; scones, with more <mark>tea</mark>"
    );
    let memory = hits.iter().find(|h| h["kind"] == "memory").unwrap();
    assert_eq!(memory["session_key"], Value::Null);
    assert_eq!(body["semantic"], Value::Null, "keyword mode asks no model");
    assert_eq!(body["next_cursor"], Value::Null);

    // Filters.
    let (_, body) = search("q=tea&mode=keyword&session=evening").await;
    assert_eq!(contents(&body["hits"]), ["coffee, not tea"]);
    let (_, body) = search("q=tea&mode=keyword&role=assistant").await;
    assert_eq!(contents(&body["hits"]), ["Tea is a fine choice"]);
    let (_, body) = search("q=tea&mode=keyword&kind=memory").await;
    assert_eq!(contents(&body["hits"]), ["Alice drinks tea every day"]);
    let (_, body) = search("q=tea&mode=keyword&since=2999-01-01T00:00:00Z").await;
    assert_eq!(body["hits"], json!([]));
    let (_, body) = search("q=tea&mode=keyword&until=2999-01-01T00:00:00Z").await;
    assert_eq!(body["hits"].as_array().unwrap().len(), 4);

    // Pages: the cursor leads to the next one, without repeats.
    let (_, page1) = search("q=tea&mode=keyword&limit=3").await;
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = search(&format!("q=tea&mode=keyword&limit=3&cursor={cursor}")).await;
    assert_eq!(page2["hits"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next_cursor"], Value::Null);
    let all: Vec<&str> = contents(&page1["hits"])
        .into_iter()
        .chain(contents(&page2["hits"]))
        .collect();
    let (_, whole) = search("q=tea&mode=keyword").await;
    assert_eq!(all, contents(&whole["hits"]));

    // Hybrid with no embedding model: keyword hits, and why semantic search is missing.
    let (status, body) = search("q=tea").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hits"].as_array().unwrap().len(), 4);
    assert_eq!(body["semantic"]["available"], false);
    assert_eq!(body["semantic"]["model"], EMBEDDER);
    assert!(
        body["semantic"]["reason"]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    // Hostile words are words.
    for q in ["%22", "*", "NEAR(tea", "tea%22%20OR%20%22x", "%27%3B--"] {
        let (status, body) = search(&format!("q={q}")).await;
        assert_eq!(status, StatusCode::OK, "q={q}: {body}");
    }
    let long = "tea%20".repeat(2000);
    let (status, _) = search(&format!("q={long}&mode=keyword")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn clean_search_refuses_bad_parameters_as_json() {
    let (server, id) = seeded().await;
    let cases = [
        ("", StatusCode::BAD_REQUEST),
        ("q=%20", StatusCode::UNPROCESSABLE_ENTITY),
        ("q=tea&mode=fuzzy", StatusCode::BAD_REQUEST),
        ("q=tea&limit=0", StatusCode::BAD_REQUEST),
        ("q=tea&limit=101", StatusCode::BAD_REQUEST),
        ("q=tea&limit=ten", StatusCode::BAD_REQUEST),
        ("q=tea&role=owner", StatusCode::BAD_REQUEST),
        ("q=tea&kind=concept", StatusCode::BAD_REQUEST),
        ("q=tea&since=yesterday", StatusCode::BAD_REQUEST),
        ("q=tea&cursor=abc", StatusCode::BAD_REQUEST),
        ("q=tea&cursor=5000", StatusCode::UNPROCESSABLE_ENTITY),
        ("q=tea&unknown=1", StatusCode::BAD_REQUEST),
        (
            "q=tea&since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (query, expected) in cases {
        let (status, body) = server
            .get(&format!("/api/v2/locrits/{id}/search?{query}"))
            .await;
        assert_eq!(status, expected, "{query}: {body}");
        assert_eq!(body["success"], false, "{query}: {body}");
        assert!(body["error"].is_string(), "{query}: {body}");
    }
    let (status, body) = server
        .get(&format!("/api/v2/locrits/{}/search?q=tea", Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = server.get("/api/v2/locrits/not-a-uuid/search?q=tea").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn semantic_search_over_http_once_the_worker_has_embedded() {
    let (server, id) = seeded().await;
    server.ollama.add_model(EMBEDDER, None);
    let worker = server.core.spawn_embedder();
    let locrit = server.core.locrit(id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server
        .core
        .store()
        .embeddings(locrit.id, EMBEDDER, None)
        .await
        .unwrap()
        .len()
        < 4
    {
        assert!(Instant::now() < deadline, "the worker embedded nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = server
        .get(&format!(
            "/api/v2/locrits/{id}/search?q=Alice%20drinks%20coffee&mode=semantic&limit=2"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["semantic"]["available"], true, "{body}");
    assert_eq!(body["semantic"]["indexed"], 4);
    assert_eq!(body["semantic"]["reason"], Value::Null);
    assert_eq!(body["hits"][0]["content"], "Alice drinks tea every day");
    assert_eq!(body["hits"].as_array().unwrap().len(), 2);
    assert!(body["next_cursor"].is_string());
    worker.abort();
}

#[tokio::test]
async fn original_search_route_answers_get_and_post_in_its_shape() {
    let (server, _) = seeded().await;
    let path = format!("/api/locrits/{}/memory/search", segment(NAME));
    let (status, got) = server.get(&format!("{path}?q=tea&limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, posted) = server.post(&path, json!({"q": "tea", "limit": 2})).await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_eq!(got["results"], posted["results"]);
    assert_eq!(posted["query"], "tea");
    assert_eq!(posted["total"], 2);
    assert_eq!(posted["access_level"], "full");
    // Messages only (the contract's results are messages), with a snippet and a score.
    let first = &posted["results"][0];
    assert_eq!(first["content"], "<b>tea</b> & scones, with more tea");
    assert_eq!(first["session_id"], "morning");
    assert!(
        first["snippet"]
            .as_str()
            .unwrap()
            .starts_with("&lt;b&gt;<mark>tea</mark>")
    );
    assert!(first["similarity_score"].is_number());
    assert_eq!(posted["semantic"]["available"], false);

    let (_, keyword) = server.get(&format!("{path}?q=tea&mode=keyword")).await;
    assert_eq!(keyword["mode"], "keyword");
    assert_eq!(keyword["semantic"], Value::Null);
    assert_eq!(keyword["total"], 3);

    for (status, body) in [
        server.get(&format!("{path}?q=tea&mode=fuzzy")).await,
        server.post(&path, json!({"limit": 2})).await,
        server.post(&path, json!({"q": "tea", "limit": "x"})).await,
        server
            .send_raw(
                reqwest::Method::POST,
                &path,
                "application/json",
                "{not json",
            )
            .await,
    ] {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
}
