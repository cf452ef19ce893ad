//! What a Locrit remembers, through the clean API: memories, messages, concepts, jobs,
//! the summary and wiping it; their pages, errors and the extraction that feeds them.

use crate::common;

use std::time::Duration;

use common::TestServer;
use locrit_testkit::Reply;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An active Locrit; returns its path `/api/v2/locrits/<id>`.
async fn locrit(server: &TestServer) -> String {
    let (status, locrit) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Bob", "ollama_model": "llama3.2", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{locrit}");
    format!("/api/v2/locrits/{}", locrit["id"].as_str().unwrap())
}

/// Sends one message in session `s`; returns (user message id, reply id).
async fn say(server: &TestServer, bob: &str, text: &str) -> (String, String) {
    server
        .post(&format!("{bob}/sessions"), json!({"id": "s"}))
        .await;
    let (status, turn) = server
        .post(
            &format!("{bob}/sessions/s/messages"),
            json!({"content": text}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{turn}");
    let id = |key: &str| turn[key]["id"].as_str().unwrap().to_owned();
    (id("user_message"), id("reply"))
}

/// Polls `path` until `done` holds for its body.
async fn eventually(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached the expected state")
}

#[tokio::test]
async fn memories_are_added_paged_edited_pinned_superseded_and_deleted() {
    let server = TestServer::start().await;
    let bob = locrit(&server).await;
    let memories = format!("{bob}/memories");

    let (status, lyon) = server
        .post(
            &memories,
            json!({"content": "Alice lives in Lyon", "importance": 0.6, "tags": ["home"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lyon}");
    assert_eq!(
        (lyon["pinned"].clone(), lyon["superseded_by"].clone()),
        (json!(false), Value::Null)
    );
    let (status, paris) = server
        .post(
            &memories,
            json!({"content": "Alice lives in Paris", "supersedes": [lyon["id"]], "pinned": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paris}");
    assert_eq!(paris["importance"], json!(0.5), "the default importance");
    let (_, lyon) = server
        .get(&format!("{memories}/{}", lyon["id"].as_str().unwrap()))
        .await;
    assert_eq!(lyon["superseded_by"], paris["id"]);

    for n in 0..3 {
        server
            .post(&memories, json!({"content": format!("fact {n}")}))
            .await;
    }
    let (_, first) = server.get(&format!("{memories}?limit=2")).await;
    let contents = |page: &Value| -> Vec<String> {
        page["memories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(contents(&first), ["fact 2", "fact 1"]);
    let next = first["next"].as_str().unwrap();
    let (_, second) = server
        .get(&format!("{memories}?limit=2&before={next}"))
        .await;
    assert_eq!(contents(&second), ["fact 0", "Alice lives in Paris"]);
    let (_, last) = server
        .get(&format!(
            "{memories}?limit=2&before={}",
            second["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (contents(&last), last["next"].clone()),
        (vec!["Alice lives in Lyon".to_owned()], Value::Null)
    );
    let (_, current) = server.get(&format!("{memories}?current=true")).await;
    assert_eq!(
        current["memories"].as_array().unwrap().len(),
        4,
        "the superseded one is left out"
    );

    let paris_path = format!("{memories}/{}", paris["id"].as_str().unwrap());
    let (status, edited) = server
        .patch(
            &paris_path,
            json!({"content": "Alice lives in Paris 11e", "pinned": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["content"].clone(), edited["pinned"].clone()),
        (json!("Alice lives in Paris 11e"), json!(false))
    );
    assert!(edited["updated_at"].is_string());

    for (body, field) in [
        (json!({"importance": 1.5}), "importance"),
        (json!({"content": "  "}), "content"),
        (json!({}), "memory"),
        (json!({"metadata": [1]}), "metadata"),
    ] {
        let (status, error) = server.patch(&paris_path, body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert_eq!(error["field"], json!(field), "{body}: {error}");
    }
    let (status, error) = server.patch(&paris_path, json!({"colour": "red"})).await;
    assert!(
        status.is_client_error() && error["success"] == json!(false),
        "{status} {error}"
    );
    let (status, error) = server
        .post(
            &memories,
            json!({"content": "x", "supersedes": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    assert_eq!(server.delete(&paris_path).await.0, StatusCode::NO_CONTENT);
    let (status, error) = server.delete(&paris_path).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, error) = server.get(&format!("{memories}/not-a-uuid")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _) = server.get(&format!("{memories}?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_memory_of_one_locrit_is_not_reachable_through_another() {
    let server = TestServer::start().await;
    let bob = locrit(&server).await;
    let (_, eve) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Eve", "ollama_model": "m"}),
        )
        .await;
    let eve = format!("/api/v2/locrits/{}", eve["id"].as_str().unwrap());
    let (_, memory) = server
        .post(&format!("{bob}/memories"), json!({"content": "secret"}))
        .await;
    let through_eve = format!("{eve}/memories/{}", memory["id"].as_str().unwrap());
    assert_eq!(server.get(&through_eve).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.patch(&through_eve, json!({"pinned": true})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.delete(&through_eve).await.0, StatusCode::NOT_FOUND);
    let (user, _) = say(&server, &bob, "hello").await;
    assert_eq!(
        server.get(&format!("{eve}/messages/{user}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.delete(&format!("{eve}/messages/{user}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn extraction_feeds_memories_and_concepts_and_a_deleted_source_invalidates() {
    let server = TestServer::start().await;
    server.ollama.set_structured_reply(Reply::Text(
        json!({
            "memories": [{"content": "Alice plays the cello", "importance": 0.9}],
            "concepts": [{"name": "Alice", "type": "person"}, {"name": "cello", "type": "instrument"}],
            "relations": [{"from": "Alice", "to": "cello", "relation": "plays"}]
        })
        .to_string(),
    ));
    let bob = locrit(&server).await;
    let (user, reply) = say(&server, &bob, "I play the cello").await;

    let jobs = eventually(&server, &format!("{bob}/jobs"), |b| {
        b["jobs"][0]["status"] == "done"
    })
    .await;
    assert_eq!(jobs["jobs"][0]["kind"], "extract_memories");
    let (_, memories) = server.get(&format!("{bob}/memories")).await;
    let memory = &memories["memories"][0];
    assert_eq!(memory["content"], "Alice plays the cello");
    assert_eq!(memory["source_message_ids"], json!([user, reply]));

    let (_, concepts) = server.get(&format!("{bob}/concepts?limit=1")).await;
    assert_eq!(concepts["concepts"].as_array().unwrap().len(), 1);
    let after = concepts["next"].as_str().unwrap();
    let (_, rest) = server.get(&format!("{bob}/concepts?after={after}")).await;
    assert_eq!(
        (
            rest["concepts"].as_array().unwrap().len(),
            rest["next"].clone()
        ),
        (1, Value::Null)
    );
    let (_, all) = server.get(&format!("{bob}/concepts")).await;
    let alice = all["concepts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Alice")
        .unwrap();
    let alice_path = format!("{bob}/concepts/{}", alice["id"].as_str().unwrap());
    let (status, related) = server.get(&format!("{alice_path}/related?depth=2")).await;
    assert_eq!(status, StatusCode::OK, "{related}");
    assert_eq!(related["related"][0]["concept"]["name"], "cello");
    assert_eq!(related["related"][0]["relation"], "plays");
    assert_eq!(
        server.get(&format!("{alice_path}/related?depth=9")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, renamed) = server
        .patch(&alice_path, json!({"description": "a cellist"}))
        .await;
    assert_eq!(
        (status, renamed["description"].clone()),
        (StatusCode::OK, json!("a cellist"))
    );

    let (status, summary) = server.get(&format!("{bob}/memory")).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(
        summary["statistics"],
        json!({"messages": 2, "sessions": 1, "memories": 1, "concepts": 2, "users": 0})
    );
    assert_eq!(
        summary["recent_messages"][0]["id"],
        json!(reply),
        "newest first"
    );

    let (status, edited) = server
        .patch(
            &format!("{bob}/messages/{user}"),
            json!({"content": "I play the viola"}),
        )
        .await;
    assert_eq!(
        (status, edited["content"].clone()),
        (StatusCode::OK, json!("I play the viola"))
    );
    for id in [&user, &reply] {
        assert_eq!(
            server.delete(&format!("{bob}/messages/{id}")).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let (_, memories) = server.get(&format!("{bob}/memories")).await;
    assert!(
        memories["memories"][0]["invalidated_at"].is_string(),
        "{memories}"
    );
    let (_, current) = server.get(&format!("{bob}/memories?current=true")).await;
    assert_eq!(current["memories"], json!([]));
    assert_eq!(server.delete(&alice_path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(server.delete(&alice_path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_failed_extraction_is_listed_with_its_error_and_can_be_retried() {
    let server = TestServer::start().await;
    server
        .ollama
        .set_structured_reply("I cannot answer in JSON, sorry");
    let bob = locrit(&server).await;
    say(&server, &bob, "hello").await;
    let failed = eventually(&server, &format!("{bob}/jobs?status=failed"), |b| {
        b["jobs"].as_array().is_some_and(|j| !j.is_empty())
    })
    .await;
    let job = &failed["jobs"][0];
    assert_eq!(job["attempts"], json!(3));
    assert!(
        job["last_error"].as_str().unwrap().contains("not valid"),
        "{job}"
    );

    let retry = format!("{bob}/jobs/{}/retry", job["id"].as_str().unwrap());
    server.ollama.set_structured_reply(Reply::Text(
        json!({"memories": [], "concepts": [], "relations": []}).to_string(),
    ));
    let (status, queued) = server.post(&retry, json!({})).await;
    assert_eq!(
        (status, queued["status"].clone()),
        (StatusCode::OK, json!("queued"))
    );
    eventually(&server, &format!("{bob}/jobs?status=done"), |b| {
        b["jobs"].as_array().is_some_and(|j| j.len() == 1)
    })
    .await;
    let (status, error) = server.post(&retry, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, _) = server.get(&format!("{bob}/jobs?status=lost")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn clearing_needs_a_confirmation_and_wipes_everything() {
    let server = TestServer::start().await;
    let bob = locrit(&server).await;
    say(&server, &bob, "hello").await;
    server
        .post(&format!("{bob}/memories"), json!({"content": "a fact"}))
        .await;
    let clear = format!("{bob}/memory/clear");
    let (status, error) = server.post(&clear, json!({"confirm": false})).await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("confirm"))
    );
    let (status, _) = server.post(&clear, json!({})).await;
    assert!(status.is_client_error());
    let (_, summary) = server.get(&format!("{bob}/memory")).await;
    assert_eq!(
        summary["statistics"]["memories"],
        json!(1),
        "nothing wiped without a yes"
    );
    assert_eq!(
        server.post(&clear, json!({"confirm": true})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, summary) = server.get(&format!("{bob}/memory")).await;
    assert_eq!(
        summary["statistics"],
        json!({"messages": 0, "sessions": 0, "memories": 0, "concepts": 0, "users": 0})
    );
}

#[tokio::test]
async fn a_reply_tells_which_memories_it_was_given() {
    let server = TestServer::start().await;
    let bob = locrit(&server).await;
    let (_, memory) = server
        .post(
            &format!("{bob}/memories"),
            json!({"content": "Alice plays the cello"}),
        )
        .await;
    let (_, reply) = say(&server, &bob, "Which instrument does Alice play?").await;
    let prompt = server.ollama.requests().pop().unwrap()["messages"][0]["content"].clone();
    assert!(
        prompt.as_str().unwrap().contains("- Alice plays the cello"),
        "{prompt}"
    );

    let why = format!("{bob}/messages/{reply}/recall");
    let (status, sources) = server.get(&why).await;
    assert_eq!(status, StatusCode::OK, "{sources}");
    assert_eq!(sources["memories"][0]["id"], memory["id"]);
    assert_eq!(sources["deleted"], json!([]));
    server
        .delete(&format!(
            "{bob}/memories/{}",
            memory["id"].as_str().unwrap()
        ))
        .await;
    let (_, sources) = server.get(&why).await;
    assert_eq!(
        (sources["memories"].clone(), sources["deleted"].clone()),
        (json!([]), json!([memory["id"]]))
    );
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(
        server
            .get(&format!("{bob}/messages/{unknown}/recall"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
