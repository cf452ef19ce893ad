//! Ollama's API served by Locrit (`/api/tags`, `/api/show`, `/api/chat`,
//! `/api/version`) with the official `ollama` Python SDK (see `chat_clients/driver.rs`)
//! against a real server and the fake Ollama; and bad input over plain HTTP.

use crate::chat_clients as driver;
use crate::common;

use common::TestServer;
use driver::{BOB, ELODIE, echoed, run, setup, transcripts};
use locrit_testkit::{Endpoint, FakeFailure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn conversation(server: &TestServer, command: Value) -> Vec<Value> {
    driver::conversation(server, "ollama", command).await
}

#[tokio::test]
async fn the_sdk_lists_and_shows_the_active_locrits_as_models() {
    let server = setup().await;
    let version = run(&server.base, json!({"op": "ollama.version"})).await;
    assert!(
        version["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{version}"
    );
    let listed = run(&server.base, json!({"op": "ollama.models"})).await;
    assert_eq!(
        listed,
        json!({"models": [BOB, ELODIE]}),
        "not the inactive one"
    );
    let shown = run(&server.base, json!({"op": "ollama.show", "model": ELODIE})).await;
    assert_eq!(
        shown,
        json!({"family": "locrit", "parent_model": "llama3.2"})
    );
    for model in ["Nobody", "Dormant"] {
        let shown = run(&server.base, json!({"op": "ollama.show", "model": model})).await;
        assert_eq!(shown["error"]["class"], "ResponseError", "{shown}");
        assert_eq!(shown["error"]["status"], 404);
        assert!(
            shown["error"]["body"].as_str().unwrap().contains(model),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn streamed_and_whole_conversations_store_each_message_once_with_counters() {
    let server = setup().await;
    for (model, stream) in [(BOB, true), (ELODIE, false)] {
        let texts = ["hello there", "ça va ?", "bye"];
        let turns = conversation(
            &server,
            json!({"model": model, "turns": texts, "stream": stream}),
        )
        .await;
        for (turn, text) in turns.iter().zip(texts) {
            let reply = format!("You said: {text}");
            assert_eq!(turn["reply"], reply, "{turn}");
            assert_eq!(turn["done"], true);
            assert_eq!(turn["done_reason"], "stop");
            let words = reply.split_whitespace().count();
            assert_eq!(turn["eval_count"], words, "{turn}");
            assert!(turn["prompt_eval_count"].as_u64().unwrap() > 0);
            // Streamed: a line a word, then the final one.
            assert_eq!(turn["pieces"], if stream { words + 1 } else { 1 });
        }
        let stored = transcripts(&server, model).await;
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(stored[0].1, echoed(&texts));
    }
}

#[tokio::test]
async fn chatting_with_an_unknown_or_inactive_model_is_the_sdk_s_404() {
    let server = setup().await;
    for (model, stream) in [("Nobody", true), ("Nobody", false), ("Dormant", true)] {
        let result = run(
            &server.base,
            json!({"op": "ollama.conversation", "model": model, "turns": ["hi"], "stream": stream}),
        )
        .await;
        assert_eq!(result["error"]["class"], "ResponseError", "{result}");
        assert_eq!(result["error"]["status"], 404);
    }
    assert!(transcripts(&server, "Dormant").await.is_empty());
}

#[tokio::test]
async fn bad_requests_are_answered_in_ollama_s_error_shape() {
    let server = setup().await;
    let user = json!({"role": "user", "content": "hi"});
    let cases: Vec<(String, StatusCode)> =
        vec![
        ("{not json".into(), StatusCode::BAD_REQUEST),
        (json!({"model": BOB}).to_string(), StatusCode::BAD_REQUEST),
        (json!({"messages": [user]}).to_string(), StatusCode::BAD_REQUEST),
        (json!({"model": BOB, "messages": []}).to_string(), StatusCode::BAD_REQUEST),
        (
            json!({"model": BOB, "messages": [user, {"role": "assistant", "content": "yo"}]})
                .to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"model": BOB, "messages": [{"role": "tool", "content": "42"}, user]})
                .to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"model": BOB, "messages": [{"role": "user", "content": "x".repeat(2 << 20)}]})
                .to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, status) in cases {
        let (got, answer) = server
            .send_raw(Method::POST, "/api/chat", "application/json", body.clone())
            .await;
        let shown = &body[..body.len().min(120)];
        assert_eq!(got, status, "{shown}: {answer}");
        let message = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(!message.is_empty());
        assert_eq!(
            answer.as_object().unwrap().len(),
            1,
            "only `error`: {answer}"
        );
    }
    let (status, answer) = server
        .send_raw(Method::POST, "/api/show", "application/json", "{}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"].is_string());
    assert!(transcripts(&server, BOB).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn curl_style_requests_stream_ndjson_and_name_their_session() {
    let server = setup().await;
    // Like `curl -d`: a form content type, and streaming by default.
    let body = json!({"model": BOB, "messages": [{"role": "user", "content": "one two"}]});
    let response = server
        .http
        .post(server.url("/api/chat"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-locrit-session", "from curl")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(response.headers()["x-locrit-session"], "from curl");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let reply: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(reply, "You said: one two");
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert!(lines[..lines.len() - 1].iter().all(|l| l["done"] == false));
    assert_eq!(
        transcripts(&server, BOB).await,
        [("from curl".to_owned(), echoed(&["one two"]))]
    );
}

#[tokio::test]
async fn model_failures_are_ollama_errors_before_and_during_a_stream() {
    let server = setup().await;
    server
        .ollama
        .fail_next_on(Endpoint::Chat, FakeFailure::Http(500, "no GPU".into()));
    let command =
        json!({"op": "ollama.conversation", "model": BOB, "turns": ["hi"], "stream": false});
    let result = run(&server.base, command).await;
    assert_eq!(result["error"]["class"], "ResponseError", "{result}");
    assert_eq!(result["error"]["status"], 502);
    assert!(
        result["error"]["body"].as_str().unwrap().contains("no GPU"),
        "{result}"
    );

    server.ollama.fail_next_on(
        Endpoint::Chat,
        FakeFailure::ErrorLineAfter(2, "out of memory".into()),
    );
    let command = json!({"op": "ollama.conversation", "model": BOB, "turns": ["one two three"], "stream": true});
    let result = run(&server.base, command).await;
    assert_eq!(result["error"]["class"], "ResponseError", "{result}");
    assert!(
        result["error"]["body"]
            .as_str()
            .unwrap()
            .contains("out of memory"),
        "{result}"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_does_not_stop_the_reply() {
    let server = setup().await;
    server
        .ollama
        .set_token_delay(std::time::Duration::from_millis(40));
    let text = "one two three four five six";
    let body = json!({"model": BOB, "messages": [{"role": "user", "content": text}]});
    let response = server
        .http
        .post(server.url("/api/chat"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut lines = response.bytes_stream();
    futures::StreamExt::next(&mut lines).await.unwrap().unwrap();
    drop(lines);
    for _ in 0..100 {
        if transcripts(&server, BOB).await.first().map(|s| &s.1) == Some(&echoed(&[text])) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the reply was not stored: {:?}",
        transcripts(&server, BOB).await
    );
}

#[tokio::test]
async fn the_client_s_bearer_key_is_checked_and_its_scopes_hold() {
    let (server, [reader, chatter, made_up]) = driver::setup_with_keys().await;
    let bearer = |key: &str| json!({"Authorization": format!("Bearer {key}")});
    let refused = run(
        &server.base,
        json!({"op": "ollama.models", "headers": bearer(&made_up)}),
    )
    .await;
    assert_eq!(refused["error"]["status"], 401, "{refused}");
    let listed = run(
        &server.base,
        json!({"op": "ollama.models", "headers": bearer(&reader)}),
    )
    .await;
    assert_eq!(listed, json!({"models": [BOB]}));
    let chat = |key: &str| json!({"model": BOB, "turns": ["hello"], "headers": bearer(key)});
    let mut command = chat(&reader);
    command["op"] = "ollama.conversation".into();
    let refused = run(&server.base, command).await;
    assert_eq!(refused["error"]["status"], 403, "{refused}");
    assert!(transcripts(&server, BOB).await.is_empty(), "nothing stored");
    let replies = conversation(&server, chat(&chatter)).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
}

#[tokio::test]
async fn a_cross_site_form_post_from_a_browser_is_refused() {
    let server = setup().await;
    let body = json!({"model": BOB, "messages": [{"role": "user", "content": "hi"}]});
    // A page elsewhere does not get local trust: it is anonymous, so refused at once.
    // A page of an allowed origin still cannot post a form (it must ask CORS first).
    let cases = [
        ("http://evil.example", StatusCode::UNAUTHORIZED),
        ("http://localhost:5173", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ];
    for path in ["/api/chat", "/v1/chat/completions"] {
        for (origin, expected) in cases {
            let response = server
                .http
                .post(server.url(path))
                .header("origin", origin)
                .header("content-type", "text/plain")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let (status, answer) = common::read(response).await;
            assert_eq!(status, expected, "{path} from {origin}: {answer}");
            assert!(answer["error"].is_string() || answer["error"].is_object());
        }
    }
    assert!(transcripts(&server, BOB).await.is_empty(), "nothing stored");
}
