//! The OpenAI surface (`/v1`) with the official `openai` Python SDK (see
//! `chat_clients/driver.rs`) against a real server and the fake Ollama: models, chat
//! with and without streaming, usage, each message stored once in its session, the
//! protocol's errors; and bad input over plain HTTP.

use crate::chat_clients as driver;
use crate::common;

use std::time::Duration;

use common::TestServer;
use driver::{BOB, ELODIE, echoed, run, setup, transcripts};
use futures::StreamExt;
use locrit_testkit::{Endpoint, FakeFailure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn conversation(server: &TestServer, command: Value) -> Vec<Value> {
    driver::conversation(server, "openai", command).await
}

#[tokio::test]
async fn the_sdk_s_api_key_is_checked_and_its_scopes_hold() {
    let (server, [reader, chatter, made_up]) = driver::setup_with_keys().await;
    let models = |key: &str| run(&server.base, json!({"op": "openai.models", "api_key": key}));
    for key in [made_up.as_str(), "unused"] {
        let refused = models(key).await;
        assert_eq!(
            refused["error"]["class"], "AuthenticationError",
            "{refused}"
        );
        assert_eq!(refused["error"]["status"], 401);
    }
    assert_eq!(models(&reader).await, json!({"ids": [BOB]}));
    let turns = json!({"model": BOB, "turns": ["hello"]});
    let mut command = turns.clone();
    command["api_key"] = reader.clone().into();
    command["op"] = "openai.conversation".into();
    let refused = run(&server.base, command).await;
    assert_eq!(
        refused["error"]["class"], "PermissionDeniedError",
        "{refused}"
    );
    assert_eq!(refused["error"]["status"], 403);
    assert!(transcripts(&server, BOB).await.is_empty(), "nothing stored");
    let mut command = turns;
    command["api_key"] = chatter.into();
    let replies = conversation(&server, command).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(transcripts(&server, BOB).await.len(), 1, "one session");
}

#[tokio::test]
async fn models_are_the_active_locrits_by_name_and_others_are_the_sdk_s_not_found() {
    let server = setup().await;
    let listed = run(&server.base, json!({"op": "openai.models"})).await;
    assert_eq!(
        listed,
        json!({"ids": [BOB, ELODIE]}),
        "not the inactive one"
    );
    for name in [BOB, ELODIE] {
        let shown = run(&server.base, json!({"op": "openai.model", "model": name})).await;
        assert_eq!(shown, json!({"id": name}));
    }
    for name in ["Nobody", "Dormant"] {
        let shown = run(&server.base, json!({"op": "openai.model", "model": name})).await;
        assert_eq!(shown["error"]["class"], "NotFoundError", "{shown}");
        assert_eq!(shown["error"]["status"], 404);
        assert_eq!(shown["error"]["body"]["code"], "model_not_found", "{shown}");
    }
}

#[tokio::test]
async fn a_conversation_without_streaming_stores_each_message_once_with_usage() {
    let server = setup().await;
    let texts = ["hello there", "how are you?", "bye"];
    let turns = conversation(&server, json!({"model": BOB, "turns": texts})).await;
    for (turn, text) in turns.iter().zip(texts) {
        assert_eq!(turn["reply"], format!("You said: {text}"), "{turn}");
        assert_eq!(turn["finish_reason"], "stop");
        let usage = &turn["usage"];
        let completion = format!("You said: {text}").split_whitespace().count();
        assert_eq!(usage["completion_tokens"], completion, "{usage}");
        let prompt = usage["prompt_tokens"].as_u64().unwrap();
        assert!(prompt > 0);
        assert_eq!(usage["total_tokens"], prompt + completion as u64);
    }
    let key = turns[0]["session"].as_str().unwrap();
    assert!(turns.iter().all(|t| t["session"] == key), "one session");
    let stored = transcripts(&server, BOB).await;
    assert_eq!(stored, [(key.to_owned(), echoed(&texts))]);
}

#[tokio::test]
async fn a_streamed_conversation_with_names_beyond_ascii_and_usage_when_asked() {
    let server = setup().await;
    let texts = ["bonjour à toi", "ça va ?"];
    let turns = conversation(
        &server,
        json!({"model": ELODIE, "turns": texts, "stream": true, "include_usage": true}),
    )
    .await;
    for (turn, text) in turns.iter().zip(texts) {
        assert_eq!(turn["reply"], format!("You said: {text}"), "{turn}");
        assert_eq!(turn["finish_reason"], "stop");
        // The role, a chunk a word, the finish, the usage.
        let words = format!("You said: {text}").split_whitespace().count();
        assert_eq!(turn["chunks"], words + 3, "{turn}");
        assert!(turn["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        assert_eq!(turn["usage"]["completion_tokens"], words);
    }
    let stored = transcripts(&server, ELODIE).await;
    let key = turns[0]["session"].as_str().unwrap().to_owned();
    assert_eq!(stored, [(key, echoed(&texts))]);

    let turns = conversation(
        &server,
        json!({"model": BOB, "turns": ["hi"], "stream": true}),
    )
    .await;
    assert_eq!(turns[0]["usage"], Value::Null, "no usage unless asked");
    assert_eq!(turns[0]["reply"], "You said: hi");
}

#[tokio::test]
async fn chatting_with_an_unknown_or_inactive_model_is_the_sdk_s_not_found() {
    let server = setup().await;
    for (model, stream) in [("Nobody", false), ("Nobody", true), ("Dormant", false)] {
        let result = run(
            &server.base,
            json!({"op": "openai.conversation", "model": model, "turns": ["hi"], "stream": stream}),
        )
        .await;
        assert_eq!(result["error"]["class"], "NotFoundError", "{result}");
        assert_eq!(result["error"]["status"], 404);
    }
    assert!(transcripts(&server, "Dormant").await.is_empty());
}

#[tokio::test]
async fn conversations_of_two_users_a_named_session_and_a_regeneration() {
    let server = setup().await;
    // The same words from two users: two sessions, each continued.
    for user in ["alice", "bob"] {
        conversation(
            &server,
            json!({"model": BOB, "turns": ["hi", "more"], "user": user}),
        )
        .await;
    }
    let stored = transcripts(&server, BOB).await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(_, m)| *m == echoed(&["hi", "more"])));

    // A named session: the store holds the history, whatever the client resends.
    let named = json!({"model": ELODIE, "turns": ["one", "two"], "headers": {"X-Locrit-Session": "my chat"}});
    let turns = conversation(&server, named).await;
    assert!(turns.iter().all(|t| t["session"] == "my chat"));
    assert_eq!(
        transcripts(&server, ELODIE).await,
        [("my chat".to_owned(), echoed(&["one", "two"]))]
    );

    // The same request twice (a retry, or "regenerate"): the second forks, and no
    // session holds a message twice.
    let history = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "You said: hi"},
    ]);
    let again = json!({"model": BOB, "history": history, "turns": ["again"], "user": "alice"});
    let first = conversation(&server, again.clone()).await;
    let second = conversation(&server, again).await;
    assert_ne!(first[0]["session"], second[0]["session"]);
    let stored = transcripts(&server, BOB).await;
    let of = |turns: &[Value]| {
        let key = turns[0]["session"].as_str().unwrap();
        stored.iter().find(|(k, _)| k == key).unwrap().1.clone()
    };
    assert_eq!(of(&first), echoed(&["hi", "again"]));
    assert_eq!(of(&second), echoed(&["hi", "again"]));
    let kept = stored.iter().filter(|(_, m)| *m == echoed(&["hi", "more"]));
    assert_eq!(kept.count(), 2, "the first sessions are untouched");
    assert_eq!(stored.len(), 4);
}

#[tokio::test]
async fn a_conversation_is_found_again_after_a_restart() {
    let server = setup().await;
    let first = conversation(&server, json!({"model": BOB, "turns": ["before"]})).await;
    let server = server.restart().await;
    let history = json!([
        {"role": "user", "content": "before"},
        {"role": "assistant", "content": first[0]["reply"]},
    ]);
    let turns = conversation(
        &server,
        json!({"model": BOB, "history": history, "turns": ["after"], "stream": true}),
    )
    .await;
    assert_eq!(turns[0]["session"], first[0]["session"]);
    let stored = transcripts(&server, BOB).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, echoed(&["before", "after"]));
}

/// Posts a raw body to the completions route.
async fn post_raw(
    server: &TestServer,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    server
        .send_raw(Method::POST, "/v1/chat/completions", content_type, body)
        .await
}

#[tokio::test]
async fn bad_requests_are_answered_in_openai_s_error_shape() {
    let server = setup().await;
    let cases: Vec<(String, StatusCode, Option<&str>)> = vec![
        ("{not json".into(), StatusCode::BAD_REQUEST, None),
        (json!({"model": BOB}).to_string(), StatusCode::BAD_REQUEST, None),
        (json!({"messages": [{"role": "user", "content": "hi"}]}).to_string(), StatusCode::BAD_REQUEST, None),
        (json!({"model": BOB, "messages": []}).to_string(), StatusCode::BAD_REQUEST, Some("messages")),
        (
            json!({"model": BOB, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}).to_string(),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            json!({"model": BOB, "messages": [{"role": "tool", "content": "42"}, {"role": "user", "content": "hi"}]}).to_string(),
            StatusCode::BAD_REQUEST,
            Some("messages[0].role"),
        ),
        (
            json!({"model": BOB, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}).to_string(),
            StatusCode::BAD_REQUEST,
            Some("messages[0].content"),
        ),
        (format!("{{\"model\": \"{BOB}\", \"messages\": [{{\"role\": \"user\", \"content\": \"{}\"}}]}}", "x".repeat(2 * 1024 * 1024)), StatusCode::PAYLOAD_TOO_LARGE, None),
    ];
    for (body, status, param) in cases {
        let (got, answer) = post_raw(&server, "application/json", body.clone()).await;
        let shown = &body[..body.len().min(120)];
        assert_eq!(got, status, "{shown}: {answer}");
        let error = &answer["error"];
        assert_eq!(error["type"], "invalid_request_error", "{shown}: {answer}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        assert!(
            error.get("code").is_some() && error.get("param").is_some(),
            "{answer}"
        );
        if let Some(param) = param {
            assert_eq!(error["param"], param, "{shown}: {answer}");
        }
    }
    assert!(transcripts(&server, BOB).await.is_empty(), "nothing stored");
    let (status, answer) = server.post("/v1/embeddings", json!({"input": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["type"], "not_found_error", "{answer}");

    // Text parts are read; a client that sends no JSON content type is still understood.
    let parts = json!({"model": BOB, "messages": [{"role": "user", "content": [{"type": "text", "text": "in parts"}]}]});
    let (status, answer) = post_raw(&server, "text/plain", parts.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "You said: in parts"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_does_not_stop_the_reply() {
    let server = setup().await;
    server.ollama.set_token_delay(Duration::from_millis(40));
    let body = json!({"model": BOB, "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]});
    let response = server
        .http
        .post(server.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut bytes = response.bytes_stream();
    let first = bytes.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("chat.completion.chunk"));
    drop(bytes);
    // The reply is completed and stored all the same.
    let expected = echoed(&["one two three four five six"]);
    for _ in 0..100 {
        let stored = transcripts(&server, BOB).await;
        if stored.first().is_some_and(|(_, m)| *m == expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the reply was not stored: {:?}",
        transcripts(&server, BOB).await
    );
}

#[tokio::test]
async fn model_failures_are_openai_errors_before_and_during_a_stream() {
    let server = setup().await;
    server
        .ollama
        .fail_next_on(Endpoint::Chat, FakeFailure::Http(500, "no GPU".into()));
    let command = json!({"op": "openai.conversation", "model": BOB, "turns": ["hi"]});
    let result = run(&server.base, command).await;
    assert_eq!(result["error"]["class"], "InternalServerError", "{result}");
    assert_eq!(result["error"]["status"], 502);
    assert_eq!(result["error"]["body"]["type"], "server_error", "{result}");
    assert_eq!(result["error"]["body"]["code"], "llm_failed");

    server.ollama.fail_next_on(
        Endpoint::Chat,
        FakeFailure::ErrorLineAfter(2, "out of memory".into()),
    );
    let command = json!({"op": "openai.conversation", "model": BOB, "turns": ["one two three"], "stream": true});
    let result = run(&server.base, command).await;
    assert_eq!(result["error"]["class"], "APIError", "{result}");
    assert!(result.to_string().contains("out of memory"), "{result}");
    // What arrived is stored, marked.
    let stored = transcripts(&server, BOB).await;
    let last = stored.last().unwrap().1.last().unwrap().clone();
    assert_eq!(last, ("assistant".to_owned(), "You said:".to_owned()));
}
