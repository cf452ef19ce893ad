//! The original Locrit's chat routes (contract §1.3, §1.4, §1.7), over real HTTP with a
//! fake Ollama: every transport stores both turns, keeps history per session, survives
//! restarts and faults, and words its errors exactly as the contract does.

use crate::common;

use std::time::Duration;

use common::{TestServer, read, segment};
use futures::StreamExt;
use locrit_core::GlobalConfigChanges;
use locrit_domain::{Message, MessageStatus, Role};
use locrit_store::MessagePage;
use locrit_testkit::{FakeFailure, Reply, unused_local_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WEB_KEY: &str = "web_anonymous_user_Bob Technique";

/// Creates an active Locrit (description "Expert"), then applies `settings`.
async fn locrit(server: &TestServer, name: &str, settings: Value) {
    server.create_active_locrit(name, settings).await;
}

fn chat_path(name: &str) -> String {
    format!("/api/locrits/{}/chat", segment(name))
}

fn v1_path(name: &str) -> String {
    format!("/api/v1/locrits/{}/chat", segment(name))
}

async fn chat(server: &TestServer, name: &str, body: Value) -> (StatusCode, Value) {
    server.post(&chat_path(name), body).await
}

/// Every stored message of a Locrit's session, by key, in order.
async fn stored(server: &TestServer, name: &str, key: &str) -> Vec<Message> {
    let locrit = server.core.locrit_named(name).await.unwrap();
    let session = server.core.session(&locrit, key).await.unwrap();
    let page = MessagePage::Before {
        before: None,
        limit: 1000,
    };
    server.core.messages(&session, page).await.unwrap()
}

fn summary(messages: &[Message]) -> Vec<(Role, &str, MessageStatus)> {
    messages
        .iter()
        .map(|m| (m.role, m.content.as_str(), m.status))
        .collect()
}

/// The `(role, content)` pairs of the `index`-th prompt the fake model received.
fn prompt(server: &TestServer, index: usize) -> Vec<(String, String)> {
    let requests = server.ollama.requests();
    requests[index]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap().to_owned();
            (text("role"), text("content"))
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect()
}

fn assert_error(response: &(StatusCode, Value), status: StatusCode, message: &str) {
    let (got, body) = response;
    assert_eq!(
        (*got, body["error"].as_str()),
        (status, Some(message)),
        "{body}"
    );
}

fn is_rfc3339_with_offset(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with("+00:00"))
}

/// Posts and returns the raw SSE body, checking the stream's headers.
async fn sse_body(server: &TestServer, path: &str, body: Value) -> String {
    let response = server
        .http
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert!(header("content-type").starts_with("text/event-stream"));
    assert_eq!(header("cache-control"), "no-cache");
    response.text().await.unwrap()
}

/// The frames of an SSE body: each is one `data: <json>` line ended by a blank line.
fn frames(raw: &str) -> Vec<Value> {
    assert!(
        raw.ends_with("\n\n"),
        "the last frame ends with a blank line: {raw:?}"
    );
    raw.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|frame| {
            let data = frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("a data frame: {frame:?}"));
            assert!(!data.contains('\n'), "one line per frame: {frame:?}");
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

fn chunks(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .filter(|f| f["done"] == json!(false))
        .map(|f| f["chunk"].as_str().unwrap())
        .collect()
}

async fn create_conversation(server: &TestServer, name: &str, user: &str) -> String {
    let (status, body) = server
        .post(
            "/api/conversations/create",
            json!({"locrit_name": name, "user_id": user, "metadata": {"source": "platform"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["locrit_name"], name);
    assert_eq!(body["session_id"], body["conversation_id"]);
    assert!(is_rfc3339_with_offset(&body["created_at"]), "{body}");
    body["conversation_id"].as_str().unwrap().to_owned()
}

async fn say(server: &TestServer, cid: &str, text: &str) -> (StatusCode, Value) {
    server
        .post(
            &format!("/api/conversations/{cid}/message"),
            json!({"message": text}),
        )
        .await
}

async fn history(server: &TestServer, cid: &str, limit: u32) -> Vec<Value> {
    let (status, body) = server
        .get(&format!("/api/conversations/{cid}?limit={limit}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["messages"].as_array().unwrap().clone()
}

fn contents(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn rest_chat_stores_both_turns_and_recalls_them_across_requests_and_restarts() {
    let server = TestServer::start().await;
    locrit(&server, "Bob Technique", json!({})).await;
    let (status, first) = chat(
        &server,
        "Bob Technique",
        json!({"message": "My name is TestUser"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["success"], true);
    assert_eq!(first["response"], "You said: My name is TestUser");
    assert_eq!(first["locrit_name"], "Bob Technique");
    assert_eq!(first["model"], "llama3.2");
    assert_eq!(first["session_id"], WEB_KEY);
    assert!(is_rfc3339_with_offset(&first["timestamp"]), "{first}");

    let (status, second) = chat(
        &server,
        "Bob Technique",
        json!({"message": "What is my name?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        prompt(&server, 1),
        pairs(&[
            ("system", "Tu es Bob Technique, un Locrit. Expert"),
            ("user", "My name is TestUser"),
            ("assistant", "You said: My name is TestUser"),
            ("user", "What is my name?"),
        ]),
        "persona first, the first exchange, the current message exactly once"
    );

    let messages = stored(&server, "Bob Technique", WEB_KEY).await;
    assert_eq!(
        summary(&messages),
        [
            (Role::User, "My name is TestUser", MessageStatus::Complete),
            (
                Role::Assistant,
                "You said: My name is TestUser",
                MessageStatus::Complete
            ),
            (Role::User, "What is my name?", MessageStatus::Complete),
            (
                Role::Assistant,
                "You said: What is my name?",
                MessageStatus::Complete
            ),
        ]
    );
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(messages[0].user_id.as_deref(), Some("anonymous_user"));
    assert_eq!(json!(messages[2].id), second["user_message_id"]);
    assert_eq!(json!(messages[3].id), second["message_id"]);

    let server = server.restart().await;
    assert_eq!(stored(&server, "Bob Technique", WEB_KEY).await, messages);
    let (status, _) = chat(&server, "Bob Technique", json!({"message": "Still there?"})).await;
    assert_eq!(status, StatusCode::OK);
    let after = prompt(&server, 2);
    assert_eq!(
        after.len(),
        6,
        "system, four earlier turns, the new one: {after:?}"
    );
    assert_eq!(after[1].1, "My name is TestUser");
}

#[tokio::test]
async fn rest_chat_checks_input_then_the_locrit_in_the_contract_order() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let path = chat_path("Bob");
    let missing = server
        .send_raw(Method::POST, &path, "application/json", "")
        .await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "Message requis");
    assert_error(
        &chat(&server, "Bob", json!({})).await,
        StatusCode::BAD_REQUEST,
        "Message requis",
    );
    assert_error(
        &chat(&server, "Nobody", json!({"message": null})).await,
        StatusCode::BAD_REQUEST,
        "Message requis",
    );
    assert_error(
        &chat(&server, "Nobody", json!({"message": " \n "})).await,
        StatusCode::BAD_REQUEST,
        "Message vide",
    );
    let (status, body) = server
        .send_raw(Method::POST, &path, "application/json", "{\"message\": ")
        .await;
    assert_eq!(
        (status, body["success"].as_bool()),
        (StatusCode::BAD_REQUEST, Some(false))
    );
    let (status, _) = chat(&server, "Bob", json!({"message": 42})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(
        &chat(&server, "Nobody", json!({"message": "hi"})).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
    assert_error(
        &chat(&server, "bob", json!({"message": "hi"})).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );

    locrit(&server, "Off", json!({"active": false, "ollama_model": ""})).await;
    assert_error(
        &chat(&server, "Off", json!({"message": "hi"})).await,
        StatusCode::BAD_REQUEST,
        "Locrit inactif",
    );
    locrit(
        &server,
        "NoModel",
        json!({"ollama_model": "", "ollama_url": null}),
    )
    .await;
    assert_error(
        &chat(&server, "NoModel", json!({"message": "hi"})).await,
        StatusCode::BAD_REQUEST,
        "Aucun modèle configuré pour ce Locrit",
    );
    locrit(&server, "NoUrl", json!({"ollama_url": null})).await;
    assert_error(
        &chat(&server, "NoUrl", json!({"message": "hi"})).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Ollama non disponible: Locrit 'NoUrl' n'a pas de 'ollama_url' configuré",
    );
    assert!(
        server.ollama.requests().is_empty(),
        "no refused turn reached the model"
    );
}

#[tokio::test]
async fn rest_chat_model_faults_keep_the_user_message_and_invent_no_reply() {
    let server = TestServer::start().await;
    locrit(&server, "Bob Technique", json!({})).await;

    server
        .ollama
        .fail_next(FakeFailure::Http(500, "model crashed".into()));
    let (status, body) = chat(&server, "Bob Technique", json!({"message": "one"})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(
        body["error"],
        "Erreur de génération: the model server answered HTTP 500: model crashed"
    );
    let messages = stored(&server, "Bob Technique", WEB_KEY).await;
    assert_eq!(
        summary(&messages),
        [(Role::User, "one", MessageStatus::Complete)]
    );

    server.ollama.set_reply(Reply::Tokens(
        ["Bon", "jour", " à", " tous"].map(String::from).to_vec(),
    ));
    server.ollama.fail_next(FakeFailure::CutAfter(2));
    let (status, body) = chat(&server, "Bob Technique", json!({"message": "two"})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Erreur de génération: "),
        "{body}"
    );
    assert_eq!(body["partial"]["content"], "Bonjour");
    assert_eq!(body["partial"]["status"], "interrupted");
    let messages = stored(&server, "Bob Technique", WEB_KEY).await;
    assert_eq!(
        summary(&messages)[1..],
        [
            (Role::User, "two", MessageStatus::Complete),
            (Role::Assistant, "Bonjour", MessageStatus::Interrupted),
        ]
    );
    assert_eq!(body["user_message_id"], json!(messages[1].id));
    assert_eq!(body["partial"]["id"], json!(messages[2].id));

    server
        .core
        .save_global_config(GlobalConfigChanges {
            ollama_timeout: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    server
        .ollama
        .fail_next(FakeFailure::Delay(Duration::from_secs(3)));
    let (status, body) = chat(&server, "Bob Technique", json!({"message": "three"})).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Erreur de génération: "),
        "{body}"
    );

    let (status, _) = server
        .put(
            &format!("/api/locrits/{}/config", segment("Bob Technique")),
            json!({"ollama_url": unused_local_url()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &chat(&server, "Bob Technique", json!({"message": "four"})).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Ollama non disponible - connexion échouée",
    );
    let messages = stored(&server, "Bob Technique", WEB_KEY).await;
    assert_eq!(
        summary(&messages)[3..],
        [
            (Role::User, "three", MessageStatus::Complete),
            (Role::User, "four", MessageStatus::Complete),
        ],
        "every user message kept, no reply invented"
    );
}

#[tokio::test]
async fn sse_frames_are_blank_line_separated_and_make_the_stored_reply() {
    let server = TestServer::start().await;
    locrit(&server, "Bob Technique", json!({})).await;
    chat(&server, "Bob Technique", json!({"message": "first"})).await;
    server.ollama.set_reply(Reply::Tokens(
        ["Bon", "jour", "", " !"].map(String::from).to_vec(),
    ));
    let raw = sse_body(
        &server,
        &format!("{}/stream", chat_path("Bob Technique")),
        json!({"message": "second"}),
    )
    .await;
    let frames = frames(&raw);
    assert_eq!(
        chunks(&frames),
        ["Bon", "jour", " !"],
        "no empty chunk: {raw}"
    );
    assert_eq!(frames[0], json!({"chunk": "Bon", "done": false}));
    let done = frames.last().unwrap();
    assert_eq!(done["done"], true, "{raw}");
    assert!(done.get("error").is_none(), "{raw}");

    let messages = stored(&server, "Bob Technique", WEB_KEY).await;
    assert_eq!(
        summary(&messages)[2..],
        [
            (Role::User, "second", MessageStatus::Complete),
            (Role::Assistant, "Bonjour !", MessageStatus::Complete),
        ],
        "the same session as the REST chat"
    );
    assert_eq!(done["user_message_id"], json!(messages[2].id));
    assert_eq!(done["message_id"], json!(messages[3].id));
    assert_eq!(
        prompt(&server, 1),
        pairs(&[
            ("system", "Tu es Bob Technique, un Locrit. Expert"),
            ("user", "first"),
            ("assistant", "You said: first"),
            ("user", "second"),
        ])
    );
}

#[tokio::test]
async fn sse_checks_the_locrit_before_the_body_and_ends_a_cut_stream_with_an_error_frame() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    locrit(&server, "Off", json!({"active": false})).await;
    locrit(&server, "NoModel", json!({"ollama_model": ""})).await;
    let stream = |name: &str| format!("{}/stream", chat_path(name));
    let cases = [
        (
            "Nobody",
            json!({}),
            StatusCode::NOT_FOUND,
            "Locrit non trouvé",
        ),
        ("Off", json!({}), StatusCode::BAD_REQUEST, "Locrit inactif"),
        ("Bob", json!({}), StatusCode::BAD_REQUEST, "Message requis"),
        (
            "Bob",
            json!({"message": "  "}),
            StatusCode::BAD_REQUEST,
            "Message vide",
        ),
        (
            "NoModel",
            json!({"message": "hi"}),
            StatusCode::BAD_REQUEST,
            "Aucun modèle configuré pour ce Locrit",
        ),
    ];
    for (name, body, status, message) in cases {
        assert_error(&server.post(&stream(name), body).await, status, message);
    }

    server.ollama.set_reply(Reply::Tokens(
        ["a", "b", "c", "d"].map(String::from).to_vec(),
    ));
    server.ollama.fail_next(FakeFailure::CutAfter(2));
    let raw = sse_body(&server, &stream("Bob"), json!({"message": "go"})).await;
    let frames = frames(&raw);
    assert_eq!(chunks(&frames), ["a", "b"]);
    let end = frames.last().unwrap();
    assert_eq!(end["done"], true);
    assert!(
        end["error"]
            .as_str()
            .unwrap()
            .starts_with("Erreur de génération: "),
        "{raw}"
    );
    let messages = stored(&server, "Bob", "web_anonymous_user_Bob").await;
    assert_eq!(
        summary(&messages),
        [
            (Role::User, "go", MessageStatus::Complete),
            (Role::Assistant, "ab", MessageStatus::Interrupted),
        ]
    );
}

#[tokio::test]
async fn a_client_leaving_mid_stream_does_not_lose_the_reply() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let tokens: Vec<String> = (0..30).map(|i| format!("<{i}>")).collect();
    server.ollama.set_reply(Reply::Tokens(tokens.clone()));
    server.ollama.set_token_delay(Duration::from_millis(20));
    let response = server
        .http
        .post(server.url(&format!("{}/stream", chat_path("Bob"))))
        .json(&json!({"message": "long answer please"}))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("<2>") {
        seen.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    drop(body); // the client goes away after a few chunks

    let expected: String = tokens.concat();
    let mut messages = Vec::new();
    for _ in 0..100 {
        messages = stored(&server, "Bob", "web_anonymous_user_Bob").await;
        if messages.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        summary(&messages),
        [
            (Role::User, "long answer please", MessageStatus::Complete),
            (Role::Assistant, expected.as_str(), MessageStatus::Complete),
        ]
    );
}

#[tokio::test]
async fn conversations_store_every_exchange_in_order_and_survive_restarts() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let cid = create_conversation(&server, "Bob", "alice").await;

    let (status, reply) = say(&server, &cid, "hello").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["success"], true);
    assert_eq!(reply["response"], "You said: hello");
    assert_eq!(reply["conversation_id"], cid.as_str());
    assert_eq!(reply["locrit_name"], "Bob");
    assert_eq!(reply["model"], "llama3.2");
    assert_eq!(reply["message_count"], 2);
    assert!(is_rfc3339_with_offset(&reply["timestamp"]), "{reply}");

    let messages = history(&server, &cid, 50).await;
    assert_eq!(messages.len(), 2);
    let first = messages[0].as_object().unwrap();
    for key in [
        "id",
        "role",
        "content",
        "timestamp",
        "session_id",
        "user_id",
        "metadata",
        "edited_at",
    ] {
        assert!(first.contains_key(key), "Message has {key}: {first:?}");
    }
    assert_eq!(
        (&messages[0]["role"], &messages[1]["role"]),
        (&json!("user"), &json!("assistant"))
    );
    assert_eq!(messages[0]["session_id"], cid.as_str());
    assert_eq!(messages[0]["user_id"], "alice");
    assert_eq!(messages[0]["edited_at"], Value::Null);
    assert!(is_rfc3339_with_offset(&messages[0]["timestamp"]));
    assert_eq!(messages[0]["id"], reply["user_message_id"]);
    assert_eq!(messages[1]["id"], reply["message_id"]);

    for i in 1..20 {
        let (status, reply) = say(&server, &cid, &format!("m{i}")).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["message_count"], 2 * (i + 1));
    }
    let all = history(&server, &cid, 100).await;
    assert_eq!(all.len(), 40);
    let expected: Vec<String> = (0..20)
        .flat_map(|i| {
            let text = if i == 0 {
                "hello".to_owned()
            } else {
                format!("m{i}")
            };
            [text.clone(), format!("You said: {text}")]
        })
        .collect();
    assert_eq!(contents(&all), expected);
    let seqs: Vec<i64> = all.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert_eq!(
        contents(&history(&server, &cid, 3).await),
        ["You said: m18", "m19", "You said: m19"]
    );
    assert_eq!(
        prompt(&server, 19).len(),
        40,
        "the last prompt: system, 38 earlier turns, the message"
    );

    let (status, info) = server.get(&format!("/api/conversations/{cid}/info")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert!(info.get("messages").is_none(), "{info}");
    assert_eq!(info["message_count"], 40);
    assert_eq!(info["locrit_name"], "Bob");
    assert_eq!(info["user_id"], "alice");
    assert_eq!(info["metadata"], json!({"source": "platform"}));
    assert!(is_rfc3339_with_offset(&info["last_activity"]));

    let server = server.restart().await;
    assert_eq!(history(&server, &cid, 100).await, all);
    let (status, reply) = say(&server, &cid, "after restart").await;
    assert_eq!(
        (status, &reply["message_count"]),
        (StatusCode::OK, &json!(42))
    );
}

#[tokio::test]
async fn conversations_are_isolated_and_listed_per_user_most_recent_first() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    locrit(&server, "Pixie", json!({})).await;
    let a = create_conversation(&server, "Bob", "alice").await;
    let b = create_conversation(&server, "Bob", "alice").await;
    let c = create_conversation(&server, "Pixie", "alice").await;
    create_conversation(&server, "Pixie", "carol").await;
    say(&server, &a, "secret of A").await;
    say(&server, &b, "hello from B").await;
    say(&server, &c, "hello from C").await;
    say(&server, &a, "again A").await;

    assert_eq!(
        contents(&history(&server, &b, 50).await),
        ["hello from B", "You said: hello from B"]
    );
    assert_eq!(
        contents(&history(&server, &c, 50).await),
        ["hello from C", "You said: hello from C"]
    );
    for index in [1, 2] {
        let seen: String = prompt(&server, index)
            .iter()
            .map(|(_, c)| c.as_str())
            .collect();
        assert!(
            !seen.contains("secret"),
            "another conversation leaked: {seen}"
        );
    }
    assert_eq!(prompt(&server, 2)[0].1, "Tu es Pixie, un Locrit. Expert");
    assert_eq!(prompt(&server, 3).len(), 4, "A's own history only");

    let (status, list) = server.get("/api/conversations?user_id=alice").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["success"], true);
    assert_eq!(list["count"], 3);
    let ids: Vec<&str> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [a.as_str(), c.as_str(), b.as_str()],
        "most recent activity first"
    );
    let entry = &list["conversations"][0];
    assert_eq!(entry["status"], "active");
    assert_eq!(entry["message_count"], 4);
    assert_eq!(entry["user_id"], "alice");
    let (_, pixie) = server
        .get("/api/conversations?user_id=alice&locrit_name=Pixie")
        .await;
    assert_eq!(pixie["count"], 1);
    assert_eq!(pixie["conversations"][0]["conversation_id"], c.as_str());
    let (_, none) = server
        .get("/api/conversations?user_id=alice&locrit_name=Nobody")
        .await;
    assert_eq!(none["count"], 0);
    assert_error(
        &server.get("/api/conversations").await,
        StatusCode::BAD_REQUEST,
        "user_id parameter is required",
    );
}

#[tokio::test]
async fn a_deleted_conversation_is_gone_everywhere_for_ever() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let cid = create_conversation(&server, "Bob", "alice").await;
    say(&server, &cid, "hello").await;
    let (status, body) = server.delete(&format!("/api/conversations/{cid}")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"success": true, "message": "Conversation deleted"})
        )
    );
    let server = server.restart().await;
    for _ in 0..2 {
        let gone = StatusCode::NOT_FOUND;
        let not_found = "Conversation not found";
        assert_error(&say(&server, &cid, "revive?").await, gone, not_found);
        assert_error(
            &server.get(&format!("/api/conversations/{cid}")).await,
            gone,
            not_found,
        );
        assert_error(
            &server.get(&format!("/api/conversations/{cid}/info")).await,
            gone,
            not_found,
        );
        assert_error(
            &server.delete(&format!("/api/conversations/{cid}")).await,
            gone,
            not_found,
        );
        let through_chat = chat(
            &server,
            "Bob",
            json!({"message": "revive?", "conversation_id": cid}),
        )
        .await;
        assert_error(&through_chat, gone, not_found);
        assert_eq!(through_chat.1["success"], false);
        let through_v1 = server
            .post(
                &v1_path("Bob"),
                json!({"message": "revive?", "conversation_id": cid}),
            )
            .await;
        assert_error(&through_v1, gone, not_found);
    }
    let (_, list) = server.get("/api/conversations?user_id=alice").await;
    assert_eq!(list["count"], 0);
    assert_eq!(
        server.ollama.requests().len(),
        1,
        "nothing reached the model after the delete"
    );
}

#[tokio::test]
async fn conversation_api_validates_input_and_the_locrit() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    locrit(&server, "Off", json!({"active": false})).await;
    let create = |body| server.post("/api/conversations/create", body);
    assert_error(
        &create(json!({})).await,
        StatusCode::BAD_REQUEST,
        "locrit_name is required",
    );
    assert_error(
        &create(json!({"locrit_name": "Nobody"})).await,
        StatusCode::NOT_FOUND,
        "Locrit not found or inactive",
    );
    assert_error(
        &create(json!({"locrit_name": "Off"})).await,
        StatusCode::NOT_FOUND,
        "Locrit not found or inactive",
    );
    let (status, body) = create(json!({"locrit_name": "Bob"})).await;
    assert_eq!(status, StatusCode::OK);
    let cid = body["conversation_id"].as_str().unwrap();
    let (_, info) = server.get(&format!("/api/conversations/{cid}/info")).await;
    assert_eq!(info["user_id"], "anonymous");

    let send = format!("/api/conversations/{cid}/message");
    assert_error(
        &server.post(&send, json!({})).await,
        StatusCode::BAD_REQUEST,
        "message is required",
    );
    assert_error(
        &server.post(&send, json!({"message": "\t"})).await,
        StatusCode::BAD_REQUEST,
        "message cannot be empty",
    );
    let (status, _) = server
        .send_raw(Method::POST, &send, "application/json", "not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(
        &say(&server, "no-such-conversation", "hi").await,
        StatusCode::NOT_FOUND,
        "Conversation not found",
    );
    let (status, _) = server
        .get(&format!("/api/conversations/{cid}?limit=abc"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .get(&format!("/api/conversations/{cid}?limit=-1"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for bad in ["bad\u{7}id", "a\nb"] {
        let (status, body) = chat(
            &server,
            "Bob",
            json!({"message": "hi", "conversation_id": bad}),
        )
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("conversation_id")),
            "{body}"
        );
    }
    let (status, _) = chat(
        &server,
        "Bob",
        json!({"message": "hi", "conversation_id": "x".repeat(257)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(server.ollama.requests().is_empty());
}

#[tokio::test]
async fn conversation_mode_failures_use_the_conversation_reply_words() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let cid = create_conversation(&server, "Bob", "alice").await;

    server
        .ollama
        .fail_next(FakeFailure::Http(500, "model crashed".into()));
    let (status, body) = say(&server, &cid, "one").await;
    assert_eq!(
        (status, body["success"].as_bool()),
        (StatusCode::BAD_GATEWAY, Some(false)),
        "{body}"
    );
    assert_eq!(
        body["error"],
        "Error generating response: the model server answered HTTP 500: model crashed"
    );
    let messages = history(&server, &cid, 50).await;
    assert_eq!(
        contents(&messages),
        ["one"],
        "the user's message kept, no reply invented"
    );

    let config = "/api/locrits/Bob/config";
    server
        .put(config, json!({"ollama_url": unused_local_url()}))
        .await;
    assert_error(
        &say(&server, &cid, "two").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Ollama service not available - connection failed",
    );
    server.put(config, json!({"ollama_url": null})).await;
    assert_error(
        &say(&server, &cid, "three").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Ollama service not available: Locrit 'Bob' has no 'ollama_url' configured",
    );
    server
        .put(
            config,
            json!({"ollama_url": server.ollama.url(), "ollama_model": ""}),
        )
        .await;
    assert_error(
        &say(&server, &cid, "four").await,
        StatusCode::BAD_REQUEST,
        "No model configured for this Locrit",
    );
    server
        .put(config, json!({"ollama_model": "llama3.2", "active": false}))
        .await;
    let inactive = say(&server, &cid, "five").await;
    assert_error(&inactive, StatusCode::BAD_REQUEST, "Locrit is inactive");
    assert_eq!(inactive.1["success"], false);
    server.put(config, json!({"active": true})).await;
    let (status, reply) = say(&server, &cid, "six").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["message_count"], 4,
        "one, two, six and its reply: {reply}"
    );
}

#[tokio::test]
async fn rest_chat_in_conversation_mode_answers_a_conversation_reply_for_its_own_locrit_only() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    locrit(&server, "Pixie", json!({})).await;
    let cid = create_conversation(&server, "Bob", "alice").await;
    let (status, reply) = chat(
        &server,
        "Bob",
        json!({"message": "hello", "conversation_id": cid}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["success"], true);
    assert_eq!(reply["conversation_id"], cid.as_str());
    assert_eq!(reply["message_count"], 2);
    assert_eq!(reply["response"], "You said: hello");

    let stolen = chat(
        &server,
        "Pixie",
        json!({"message": "psst", "conversation_id": cid}),
    )
    .await;
    assert_error(&stolen, StatusCode::NOT_FOUND, "Conversation not found");
    let raw = server
        .post(
            &format!("{}/stream", chat_path("Pixie")),
            json!({"message": "psst", "conversation_id": cid}),
        )
        .await;
    assert_error(&raw, StatusCode::NOT_FOUND, "Conversation not found");
    assert_eq!(
        contents(&history(&server, &cid, 50).await),
        ["hello", "You said: hello"],
        "nothing stored through another Locrit's URL"
    );

    let (status, _) = chat(
        &server,
        "Bob",
        json!({"message": "empty id is session mode", "conversation_id": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored(&server, "Bob", "web_anonymous_user_Bob").await.len(),
        2
    );
}

#[tokio::test]
async fn v1_legacy_chat_keeps_one_history_per_sender_with_the_prompt_additions() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let (status, reply) = server
        .post(
            &v1_path("Bob"),
            json!({"message": "Salut", "sender_name": "Pixie", "context": "projet X"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["success"], true);
    assert_eq!(reply["response"], "You said: Salut");
    assert_eq!(reply["locrit_name"], "Bob");
    assert_eq!(reply["model"], "llama3.2");
    assert_eq!(reply["sender_acknowledged"], "Pixie");
    assert_eq!(reply["mode"], "legacy");
    assert_eq!(reply["session_id"], "v1_locrit_Pixie");
    assert!(is_rfc3339_with_offset(&reply["timestamp"]));
    assert_eq!(
        prompt(&server, 0),
        pairs(&[
            (
                "system",
                "Tu es Bob, un Locrit. Expert\n\nTu es en train de communiquer avec Pixie, un autre Locrit.\n\nContexte de la conversation: projet X",
            ),
            ("user", "Salut"),
        ])
    );

    // Without a JSON content type, and with the defaults: sender "Locrit externe".
    let response = server
        .http
        .post(server.url(&v1_path("Bob")))
        .header("content-type", "text/plain")
        .body(r#"{"message": "Bonjour"}"#)
        .send()
        .await
        .unwrap();
    let (status, reply) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["sender_acknowledged"], "Locrit externe");

    let (status, _) = server
        .post(
            &v1_path("Bob"),
            json!({"message": "Tu te souviens ?", "sender_name": "Pixie"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        prompt(&server, 2),
        pairs(&[
            (
                "system",
                "Tu es Bob, un Locrit. Expert\n\nTu es en train de communiquer avec Pixie, un autre Locrit."
            ),
            ("user", "Salut"),
            ("assistant", "You said: Salut"),
            ("user", "Tu te souviens ?"),
        ]),
        "Pixie's own history only, not the other sender's"
    );

    let (status, _) = server
        .post(
            &v1_path("Bob"),
            json!({"message": "Hello", "sender_name": "Alice", "sender_type": "human"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        prompt(&server, 3),
        pairs(&[
            ("system", "Tu es Bob, un Locrit. Expert"),
            ("user", "Hello")
        ])
    );
    assert_eq!(
        summary(&stored(&server, "Bob", "v1_human_Alice").await),
        [
            (Role::User, "Hello", MessageStatus::Complete),
            (Role::Assistant, "You said: Hello", MessageStatus::Complete),
        ]
    );
    assert_eq!(stored(&server, "Bob", "v1_locrit_Pixie").await.len(), 4);

    let server = server.restart().await;
    assert_eq!(stored(&server, "Bob", "v1_locrit_Pixie").await.len(), 4);
}

#[tokio::test]
async fn v1_chat_applies_the_senders_gate_in_both_modes() {
    let server = TestServer::start().await;
    locrit(
        &server,
        "Bob",
        json!({"open_to": {"humans": true, "locrits": false}}),
    )
    .await;
    locrit(
        &server,
        "Pixie",
        json!({"open_to": {"humans": false, "locrits": true}}),
    )
    .await;
    locrit(&server, "Off", json!({"active": false})).await;
    let server = &server;
    let post =
        |name: &'static str, body: Value| async move { server.post(&v1_path(name), body).await };

    assert_error(
        &post("Bob", json!({})).await,
        StatusCode::BAD_REQUEST,
        "Message requis",
    );
    assert_error(
        &post("Bob", json!({"message": " "})).await,
        StatusCode::BAD_REQUEST,
        "Message vide",
    );
    assert_error(
        &post("Nobody", json!({"message": "hi"})).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
    assert_error(
        &post("Off", json!({"message": "hi"})).await,
        StatusCode::BAD_REQUEST,
        "Locrit inactif",
    );
    assert_error(
        &post("Bob", json!({"message": "hi", "sender_type": "locrit"})).await,
        StatusCode::FORBIDDEN,
        "Locrit non accessible aux autres Locrits",
    );
    assert_error(
        &post("Pixie", json!({"message": "hi", "sender_type": "human"})).await,
        StatusCode::FORBIDDEN,
        "Locrit non accessible depuis le web",
    );
    let (status, _) = post("Bob", json!({"message": "hi", "sender_type": "human"})).await;
    assert_eq!(status, StatusCode::OK);

    let bob = create_conversation(server, "Bob", "alice").await;
    let locrit_sender = post("Bob", json!({"message": "hi", "conversation_id": bob})).await;
    assert_error(
        &locrit_sender,
        StatusCode::FORBIDDEN,
        "Locrit non accessible aux autres Locrits",
    );
    assert_eq!(locrit_sender.1["success"], false);
    let (status, reply) = post(
        "Bob",
        json!({"message": "hi", "conversation_id": bob, "sender_type": "human", "sender_name": "Alice"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["conversation_id"], bob.as_str());
    assert_eq!(reply["message_count"], 2);
    assert_error(
        &post("Pixie", json!({"message": "hi", "conversation_id": bob})).await,
        StatusCode::NOT_FOUND,
        "Conversation not found",
    );
    assert_eq!(
        server.ollama.requests().len(),
        2,
        "only the two allowed turns reached the model"
    );
}

#[tokio::test]
async fn v1_stream_uses_the_sse_framing_and_the_senders_session() {
    let server = TestServer::start().await;
    locrit(&server, "Bob", json!({})).await;
    let path = format!("{}/stream", v1_path("Bob"));
    let raw = sse_body(
        &server,
        &path,
        json!({"message": "un deux trois", "sender_name": "Pixie"}),
    )
    .await;
    let frames = frames(&raw);
    assert_eq!(chunks(&frames).concat(), "You said: un deux trois");
    let messages = stored(&server, "Bob", "v1_locrit_Pixie").await;
    assert_eq!(
        summary(&messages),
        [
            (Role::User, "un deux trois", MessageStatus::Complete),
            (
                Role::Assistant,
                "You said: un deux trois",
                MessageStatus::Complete
            ),
        ]
    );
    assert_eq!(
        frames.last().unwrap(),
        &json!({"done": true, "message_id": messages[1].id, "user_message_id": messages[0].id})
    );
    assert_eq!(
        prompt(&server, 0)[0].1,
        "Tu es Bob, un Locrit. Expert\n\nTu es en train de communiquer avec Pixie, un autre Locrit."
    );
    assert_error(
        &server.post(&path, json!({})).await,
        StatusCode::BAD_REQUEST,
        "Message requis",
    );
    assert_error(
        &server
            .post(
                &format!("{}/stream", v1_path("Nobody")),
                json!({"message": "hi"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
}
