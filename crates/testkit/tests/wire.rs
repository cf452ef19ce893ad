//! The fake's wire format, checked with a plain HTTP client.

use std::time::Duration;

use futures::StreamExt;
use locrit_testkit::{
    DEFAULT_CONTEXT, Endpoint, FakeFailure, FakeOllama, OLLAMA_VERSION, Reply, fake_embedding,
    tokenize, unused_local_url,
};
use serde_json::{Value, json};

async fn get(fake: &FakeOllama, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{}{path}", fake.url())).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post(fake: &FakeOllama, path: &str, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", fake.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn ndjson(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n'), "NDJSON lines end with a newline");
    text.lines().map(parse).collect()
}

fn chat_body(content: &str) -> Value {
    json!({"model": "llama3.2", "messages": [{"role": "user", "content": content}]})
}

#[tokio::test]
async fn tags_version_and_root() {
    let fake = FakeOllama::builder().model("qwen2:7b", 32768).start().await;
    let (status, body) = get(&fake, "/api/tags").await;
    assert_eq!(status, 200);
    let tags = parse(&body);
    let models = tags["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let first = &models[0];
    assert_eq!(first["name"], "llama3.2:latest");
    assert_eq!(first["model"], "llama3.2:latest");
    assert_eq!(first["digest"].as_str().unwrap().len(), 64);
    assert!(first["size"].as_u64().unwrap() > 0);
    assert!(first["modified_at"].is_string());
    assert_eq!(first["details"]["format"], "gguf");
    assert_eq!(first["details"]["family"], "llama");

    assert_eq!(
        parse(&get(&fake, "/api/version").await.1),
        json!({"version": OLLAMA_VERSION})
    );
    assert_eq!(get(&fake, "/").await, (200, "Ollama is running".into()));
    assert_eq!(
        get(&fake, "/api/nope").await,
        (404, "404 page not found".into())
    );
    assert_eq!(fake.requests_on(Endpoint::Tags), [Value::Null]);
}

#[tokio::test]
async fn show_reports_context_length_under_the_architecture() {
    let fake = FakeOllama::builder()
        .without_default_model()
        .model("m", None)
        .start()
        .await;
    fake.add_model("llama3.2:latest", 8192);
    let (status, body) = post(&fake, "/api/show", json!({"model": "llama3.2"})).await;
    assert_eq!(status, 200);
    let show = parse(&body);
    assert_eq!(show["model_info"]["general.architecture"], "llama");
    assert_eq!(show["model_info"]["llama.context_length"], 8192);
    for key in ["modelfile", "parameters", "template"] {
        assert!(show[key].is_string(), "{key}");
    }
    assert_eq!(show["details"]["quantization_level"], "Q4_K_M");

    let show = parse(
        &post(&fake, "/api/show", json!({"name": "m:latest"}))
            .await
            .1,
    );
    assert!(show["model_info"].get("llama.context_length").is_none());
    assert_eq!(
        post(&fake, "/api/show", json!({"model": "x"})).await,
        (404, r#"{"error":"model 'x' not found"}"#.into())
    );
    assert_eq!(
        post(&fake, "/api/show", json!({})).await,
        (400, r#"{"error":"model is required"}"#.into())
    );
    assert!(fake.remove_model("llama3.2"));
    assert_eq!(
        post(&fake, "/api/show", json!({"model": "llama3.2"}))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn streamed_chat_lines() {
    let fake = FakeOllama::start().await;
    fake.set_reply("Hi there, friend.");
    let response = reqwest::Client::new()
        .post(format!("{}/api/chat", fake.url()))
        .json(&chat_body("one two three"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines = ndjson(&response.text().await.unwrap());
    let (last, deltas) = lines.split_last().unwrap();
    assert_eq!(deltas.len(), 3);
    for (line, token) in deltas.iter().zip(["Hi", " there,", " friend."]) {
        assert_eq!(line["model"], "llama3.2");
        assert!(line["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            line["message"],
            json!({"role": "assistant", "content": token})
        );
        assert_eq!(line["done"], false);
    }
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"], json!({"role": "assistant", "content": ""}));
    assert_eq!(last["eval_count"], 3);
    assert_eq!(last["prompt_eval_count"], 3);
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(last[key].as_u64().is_some(), "{key}");
    }
}

#[tokio::test]
async fn non_streamed_chat_is_one_object() {
    let fake = FakeOllama::builder().reply(Reply::echo()).start().await;
    let mut body = chat_body("repeat after me");
    body["stream"] = json!(false);
    let (status, text) = post(&fake, "/api/chat", body).await;
    assert_eq!(status, 200);
    let answer = parse(&text);
    assert_eq!(answer["message"]["content"], "repeat after me");
    assert_eq!(answer["done"], true);
    assert_eq!(answer["eval_count"], 3);
}

#[tokio::test]
async fn chat_options_stop_num_predict_and_load() {
    let fake = FakeOllama::start().await;
    fake.set_reply("Sure. User: do it");
    let mut body = chat_body("x");
    body["stream"] = json!(false);
    body["options"] = json!({"stop": ["User:"]});
    let answer = parse(&post(&fake, "/api/chat", body.clone()).await.1);
    assert_eq!(answer["message"]["content"], "Sure. ");
    assert_eq!(answer["done_reason"], "stop");

    body["options"] = json!({"num_predict": 1});
    let answer = parse(&post(&fake, "/api/chat", body).await.1);
    assert_eq!(answer["message"]["content"], "Sure.");
    assert_eq!(answer["done_reason"], "length");

    let lines = ndjson(
        &post(&fake, "/api/chat", json!({"model": "llama3.2"}))
            .await
            .1,
    );
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["done_reason"], "load");
}

#[tokio::test]
async fn chat_errors() {
    let fake = FakeOllama::start().await;
    assert_eq!(
        post(
            &fake,
            "/api/chat",
            json!({"model": "ghost", "messages": []})
        )
        .await,
        (
            404,
            r#"{"error":"model \"ghost\" not found, try pulling it first"}"#.into()
        )
    );
    assert_eq!(
        post(&fake, "/api/chat", json!({"messages": []})).await.0,
        400
    );
    fake.fail_next(FakeFailure::ModelNotFound);
    assert_eq!(post(&fake, "/api/chat", chat_body("hi")).await.0, 404);
    fake.fail_next(FakeFailure::Http(503, "busy".into()));
    assert_eq!(
        post(&fake, "/api/chat", chat_body("hi")).await,
        (503, r#"{"error":"busy"}"#.into())
    );
    assert_eq!(post(&fake, "/api/chat", chat_body("hi")).await.0, 200);
    // Failed requests are recorded too.
    assert_eq!(fake.requests().len(), 5);
}

#[tokio::test]
async fn stream_failures() {
    let fake = FakeOllama::start().await;
    fake.set_reply("a b c d");

    fake.fail_next(FakeFailure::ErrorLineAfter(1, "runner died".into()));
    let lines = ndjson(&post(&fake, "/api/chat", chat_body("hi")).await.1);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], json!({"error": "runner died"}));

    fake.fail_next(FakeFailure::EndAfter(2));
    let lines = ndjson(&post(&fake, "/api/chat", chat_body("hi")).await.1);
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["done"] == false));

    fake.fail_next(FakeFailure::MalformedAfter(0));
    let text = post(&fake, "/api/chat", chat_body("hi")).await.1;
    assert!(serde_json::from_str::<Value>(text.trim()).is_err());

    fake.fail_next(FakeFailure::CutAfter(2));
    let response = reqwest::Client::new()
        .post(format!("{}/api/chat", fake.url()))
        .json(&chat_body("hi"))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the connection must be cut, not closed cleanly");
    assert_eq!(String::from_utf8(received).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn token_delay_paces_the_stream() {
    let fake = FakeOllama::builder()
        .reply("a b c d e")
        .token_delay(Duration::from_millis(60))
        .start()
        .await;
    let started = std::time::Instant::now();
    post(&fake, "/api/chat", chat_body("hi")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn embed_accepts_a_string_or_a_list() {
    let fake = FakeOllama::builder().embed_dim(32).start().await;
    let answer = parse(
        &post(
            &fake,
            "/api/embed",
            json!({"model": "llama3.2", "input": "hello world"}),
        )
        .await
        .1,
    );
    assert_eq!(answer["model"], "llama3.2");
    let embeddings: Vec<Vec<f32>> = serde_json::from_value(answer["embeddings"].clone()).unwrap();
    assert_eq!(embeddings, [fake_embedding("hello world", 32)]);
    let norm: f32 = embeddings[0].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4);

    let answer = parse(
        &post(
            &fake,
            "/api/embed",
            json!({"model": "llama3.2", "input": ["a", "b c"]}),
        )
        .await
        .1,
    );
    assert_eq!(answer["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(answer["prompt_eval_count"], 3);
    assert_eq!(
        post(
            &fake,
            "/api/embed",
            json!({"model": "llama3.2", "input": 3})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(&fake, "/api/embed", json!({"model": "ghost", "input": "x"})).await,
        (
            404,
            r#"{"error":"model \"ghost\" not found, try pulling it first"}"#.into()
        )
    );
}

#[tokio::test]
async fn failures_target_their_endpoint_and_one_shots_are_used_up() {
    let fake = FakeOllama::start().await;
    fake.fail_next_on(Endpoint::Embed, FakeFailure::Http(500, "e1".into()));
    fake.fail_always_on(Endpoint::Embed, FakeFailure::Http(502, "e2".into()));
    let body = json!({"model": "llama3.2", "input": "x"});
    assert_eq!(post(&fake, "/api/chat", chat_body("hi")).await.0, 200);
    assert_eq!(post(&fake, "/api/embed", body.clone()).await.0, 500);
    assert_eq!(post(&fake, "/api/embed", body.clone()).await.0, 502);
    assert_eq!(post(&fake, "/api/embed", body.clone()).await.0, 502);
    fake.clear_failures();
    assert_eq!(post(&fake, "/api/embed", body).await.0, 200);
}

#[tokio::test]
async fn shutdown_cuts_streams_and_frees_the_port() {
    let fake = FakeOllama::builder()
        .reply("x ".repeat(100))
        .token_delay(Duration::from_millis(100))
        .start()
        .await;
    let url = fake.url();
    let response = reqwest::Client::new()
        .post(format!("{url}/api/chat"))
        .json(&chat_body("hi"))
        .send()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), fake.shutdown())
        .await
        .expect("shutdown must not wait for the stream");
    assert!(response.text().await.is_err());
    assert!(reqwest::get(format!("{url}/api/tags")).await.is_err());
    assert!(
        reqwest::get(format!("{}/", unused_local_url()))
            .await
            .is_err()
    );
}

#[test]
fn defaults_are_documented_values() {
    assert_eq!(DEFAULT_CONTEXT, 4096);
    assert_eq!(tokenize("a b").len(), 2);
}
