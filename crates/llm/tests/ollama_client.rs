//! OllamaClient against the in-process fake Ollama.

use std::time::{Duration, Instant};

use futures::StreamExt;
use locrit_llm::{
    ChatEvent, ChatMessage, ChatOptions, ChatRequest, ChatStats, ChatStream, LlmBackend, LlmError,
    OllamaClient, Timeouts,
};
use locrit_testkit::{
    DEFAULT_CONTEXT, Endpoint, FakeFailure, FakeModel, FakeOllama, Reply, tokenize,
    unused_local_url,
};
use serde_json::json;

/// Bounds every test so a hang fails instead of blocking the suite.
const TEST_LIMIT: Duration = Duration::from_secs(20);

fn client(fake: &FakeOllama) -> OllamaClient {
    OllamaClient::new(&fake.url(), Timeouts::default())
}

fn hello(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user("Hello there"),
        ],
    )
}

/// All deltas (concatenated) and the terminal item: the stats, or the error.
async fn drain(mut stream: ChatStream) -> (String, Result<ChatStats, LlmError>) {
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ChatEvent::Delta(delta)) => {
                assert!(!delta.is_empty(), "empty deltas must be skipped");
                text.push_str(&delta);
            }
            Ok(ChatEvent::Done(stats)) => {
                assert!(stream.next().await.is_none(), "nothing may follow Done");
                return (text, Ok(stats));
            }
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing may follow an error");
                return (text, Err(e));
            }
        }
    }
    panic!("stream ended without Done or an error (got {text:?})");
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test took too long")
}

#[tokio::test]
async fn lists_models() {
    let fake = FakeOllama::start().await;
    fake.add_model("qwen2:7b", 32768);
    // The chat engine holds the backend as a trait object.
    let backend: std::sync::Arc<dyn LlmBackend> = std::sync::Arc::new(client(&fake));
    let models = within(backend.list_models()).await.unwrap();
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["llama3.2:latest", "qwen2:7b"]);
    assert!(models.iter().all(|m| m.size.is_some_and(|s| s > 0)));
    assert!(models[0].modified_at.is_some());
}

#[tokio::test]
async fn reads_context_length_under_the_architecture_key() {
    let fake = FakeOllama::start().await;
    fake.add_fake_model(FakeModel::new("qwen2:7b", 32768).with_architecture("qwen2"));
    fake.add_model("noctx", None);
    let client = client(&fake);
    assert_eq!(
        within(client.context_length("llama3.2")).await.unwrap(),
        Some(DEFAULT_CONTEXT)
    );
    assert_eq!(
        within(client.context_length("qwen2:7b")).await.unwrap(),
        Some(32768)
    );
    assert_eq!(within(client.context_length("noctx")).await.unwrap(), None);
    assert_eq!(
        within(client.context_length("ghost")).await.unwrap_err(),
        LlmError::Status {
            status: 404,
            message: "model 'ghost' not found".into()
        }
    );
    assert_eq!(
        fake.requests_on(Endpoint::Show)[1],
        json!({"model": "qwen2:7b"})
    );
}

#[tokio::test]
async fn streamed_chat_concatenates_to_the_reply_and_ends_with_stats() {
    let fake = FakeOllama::start().await;
    let reply = "General Kenobi! You are a bold one.";
    fake.set_reply(reply);
    let stream = within(client(&fake).chat(hello("llama3.2"))).await.unwrap();
    let (text, stats) = within(drain(stream)).await;
    let stats = stats.unwrap();
    assert_eq!(text, reply);
    assert_eq!(stats.eval_count, Some(tokenize(reply).len() as u64));
    assert_eq!(stats.done_reason.as_deref(), Some("stop"));
    // "You are terse." + "Hello there": five words.
    assert_eq!(stats.prompt_eval_count, Some(5));
    assert!(stats.total_duration.is_some_and(|t| t > 0));
}

#[tokio::test]
async fn default_reply_depends_on_the_last_user_message() {
    let fake = FakeOllama::start().await;
    let mut request = hello("llama3.2");
    request.messages.push(ChatMessage::assistant("Hi."));
    request
        .messages
        .push(ChatMessage::user("What is a Locrit?"));
    let (text, stats) = within(drain(client(&fake).chat(request).await.unwrap())).await;
    assert_eq!(text, "You said: What is a Locrit?");
    assert!(stats.is_ok());
}

#[tokio::test]
async fn each_delta_is_one_streamed_token_and_empty_ones_are_skipped() {
    let fake = FakeOllama::start().await;
    let pieces = ["Bon", "", "jour", " à", " tous"];
    fake.set_reply(Reply::Tokens(
        pieces.iter().map(|s| s.to_string()).collect(),
    ));
    let mut stream = within(client(&fake).chat(hello("llama3.2"))).await.unwrap();
    let mut deltas = Vec::new();
    while let Some(Ok(ChatEvent::Delta(d))) = within(stream.next()).await {
        deltas.push(d);
    }
    assert_eq!(deltas, ["Bon", "jour", " à", " tous"]);
}

#[tokio::test]
async fn sends_options_format_and_messages_in_order() {
    let fake = FakeOllama::start().await;
    let client = client(&fake);
    let mut first = hello("llama3.2");
    first.options = ChatOptions {
        num_ctx: Some(2048),
        stop: vec!["\nUser:".into()],
        ..ChatOptions::default()
    };
    first.format = Some(json!("json"));
    let second = ChatRequest::new("llama3.2", vec![ChatMessage::user("Second")]);
    within(drain(client.chat(first).await.unwrap()))
        .await
        .1
        .unwrap();
    within(drain(client.chat(second).await.unwrap()))
        .await
        .1
        .unwrap();

    // The fake keeps structured (`format`) requests apart from conversation turns.
    let structured = fake.requests_on(Endpoint::StructuredChat);
    let requests = fake.requests();
    assert_eq!((structured.len(), requests.len()), (1, 1));
    assert_eq!(
        structured[0],
        json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello there"},
            ],
            "stream": true,
            "options": {"num_ctx": 2048, "stop": ["\nUser:"]},
            "format": "json",
        })
    );
    // No options set: no `options` object at all.
    assert_eq!(
        requests[0],
        json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Second"}],
            "stream": true,
        })
    );
}

#[tokio::test]
async fn num_predict_limits_the_reply() {
    let fake = FakeOllama::start().await;
    fake.set_reply("one two three four five");
    let mut request = hello("llama3.2");
    request.options.num_predict = Some(2);
    let (text, stats) = within(drain(client(&fake).chat(request).await.unwrap())).await;
    let stats = stats.unwrap();
    assert_eq!(text, "one two");
    assert_eq!(stats.done_reason.as_deref(), Some("length"));
    assert_eq!(stats.eval_count, Some(2));
}

#[tokio::test]
async fn unknown_model_is_a_404_with_ollamas_message() {
    let fake = FakeOllama::start().await;
    let err = within(client(&fake).chat(hello("nope")))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        LlmError::Status {
            status: 404,
            message: "model \"nope\" not found, try pulling it first".into()
        }
    );
    assert_eq!(err.kind(), "status");
}

#[tokio::test]
async fn http_500_knob_is_a_status_error_once() {
    let fake = FakeOllama::start().await;
    fake.fail_next(FakeFailure::Http(500, "out of memory".into()));
    let client = client(&fake);
    let err = within(client.chat(hello("llama3.2"))).await.err().unwrap();
    assert_eq!(
        err,
        LlmError::Status {
            status: 500,
            message: "out of memory".into()
        }
    );
    // One-shot: the next call works.
    let (_, stats) = within(drain(client.chat(hello("llama3.2")).await.unwrap())).await;
    assert!(stats.is_ok());
}

#[tokio::test]
async fn persistent_knob_applies_until_cleared() {
    let fake = FakeOllama::start().await;
    fake.fail_always_on(Endpoint::Tags, FakeFailure::Http(503, "busy".into()));
    let client = client(&fake);
    for _ in 0..2 {
        let err = within(client.list_models()).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Status { status: 503, .. }),
            "{err:?}"
        );
    }
    fake.clear_failures();
    assert!(within(client.list_models()).await.is_ok());
}

#[tokio::test]
async fn non_json_error_bodies_are_quoted() {
    let fake = FakeOllama::start().await;
    let client = OllamaClient::new(&format!("{}/nowhere/", fake.url()), Timeouts::default());
    assert!(client.base_url().ends_with("/nowhere"));
    let err = within(client.list_models()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::Status {
            status: 404,
            message: "404 page not found".into()
        }
    );
}

#[tokio::test]
async fn cut_mid_stream_gives_deltas_then_a_protocol_error() {
    let fake = FakeOllama::start().await;
    fake.set_reply("alpha beta gamma delta");
    fake.fail_next(FakeFailure::CutAfter(2));
    let (text, end) = within(drain(client(&fake).chat(hello("llama3.2")).await.unwrap())).await;
    assert_eq!(text, "alpha beta");
    // A real cut (no terminating chunk), not a clean end of body.
    match end {
        Err(LlmError::Protocol(message)) => {
            assert!(message.starts_with("chat stream cut: "), "{message}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_ending_without_done_is_a_protocol_error() {
    let fake = FakeOllama::start().await;
    fake.set_reply("alpha beta gamma");
    fake.fail_next(FakeFailure::EndAfter(2));
    let (text, end) = within(drain(client(&fake).chat(hello("llama3.2")).await.unwrap())).await;
    assert_eq!(text, "alpha beta");
    assert_eq!(
        end.unwrap_err(),
        LlmError::Protocol("stream ended before done".into())
    );
}

#[tokio::test]
async fn mid_stream_error_line_is_a_500_with_its_message() {
    let fake = FakeOllama::start().await;
    fake.set_reply("alpha beta");
    // What Ollama sends when generation fails after the 200 header.
    fake.fail_next(FakeFailure::ErrorLineAfter(
        1,
        "llama runner process has terminated".into(),
    ));
    let (text, end) = within(drain(client(&fake).chat(hello("llama3.2")).await.unwrap())).await;
    assert_eq!(text, "alpha");
    assert_eq!(
        end.unwrap_err(),
        LlmError::Status {
            status: 500,
            message: "llama runner process has terminated".into()
        }
    );
}

#[tokio::test]
async fn malformed_line_is_a_protocol_error() {
    let fake = FakeOllama::start().await;
    fake.set_reply("alpha beta gamma");
    fake.fail_next(FakeFailure::MalformedAfter(1));
    let (text, end) = within(drain(client(&fake).chat(hello("llama3.2")).await.unwrap())).await;
    assert_eq!(text, "alpha");
    match end {
        Err(LlmError::Protocol(message)) => assert!(message.contains("malformed"), "{message}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error() {
    let client = OllamaClient::new(&unused_local_url(), Timeouts::default());
    let err = within(client.list_models()).await.unwrap_err();
    assert!(matches!(err, LlmError::Connect(_)), "{err:?}");
    let err = within(client.chat(hello("llama3.2"))).await.err().unwrap();
    assert_eq!(err.kind(), "connect", "{err:?}");
}

#[tokio::test]
async fn server_gone_after_shutdown_is_a_connect_error() {
    let fake = FakeOllama::start().await;
    let client = client(&fake);
    assert!(within(client.list_models()).await.is_ok());
    fake.shutdown().await;
    let err = within(client.list_models()).await.unwrap_err();
    assert!(matches!(err, LlmError::Connect(_)), "{err:?}");
}

fn short_idle() -> Timeouts {
    Timeouts {
        idle: Duration::from_millis(200),
        request: Duration::from_millis(300),
        ..Timeouts::default()
    }
}

#[tokio::test]
async fn gap_between_chunks_longer_than_idle_is_a_timeout() {
    let fake = FakeOllama::start().await;
    fake.set_token_delay(Duration::from_millis(1500));
    let client = OllamaClient::new(&fake.url(), short_idle());
    let started = Instant::now();
    let stream = within(client.chat(hello("llama3.2"))).await.unwrap();
    let (text, end) = within(drain(stream)).await;
    assert_eq!(text, "");
    assert!(matches!(end, Err(LlmError::Timeout(_))), "{end:?}");
    assert!(started.elapsed() < Duration::from_millis(1200));
}

#[tokio::test]
async fn slow_first_byte_is_a_timeout_for_chat_and_plain_calls() {
    let fake = FakeOllama::start().await;
    let client = OllamaClient::new(&fake.url(), short_idle());
    fake.fail_next(FakeFailure::Delay(Duration::from_millis(1500)));
    let err = within(client.chat(hello("llama3.2"))).await.err().unwrap();
    assert!(matches!(err, LlmError::Timeout(_)), "{err:?}");
    fake.fail_next_on(
        Endpoint::Tags,
        FakeFailure::Delay(Duration::from_millis(1500)),
    );
    let err = within(client.list_models()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout(_)), "{err:?}");
    // A delay within the limits is fine.
    fake.fail_next(FakeFailure::Delay(Duration::from_millis(50)));
    assert!(
        within(drain(client.chat(hello("llama3.2")).await.unwrap()))
            .await
            .1
            .is_ok()
    );
}

#[tokio::test]
async fn dropping_the_stream_aborts_the_request() {
    let fake = FakeOllama::start().await;
    fake.set_reply("word ".repeat(500));
    fake.set_token_delay(Duration::from_millis(10));
    let mut stream = within(client(&fake).chat(hello("llama3.2"))).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(
            within(stream.next()).await,
            Some(Ok(ChatEvent::Delta(_)))
        ));
    }
    drop(stream);
    // The fake sees the client leave well before its 5 s of tokens are out.
    let started = Instant::now();
    while fake.aborted_streams() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "request not aborted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.aborted_streams(), 1);
    within(fake.shutdown()).await;
}

#[tokio::test]
async fn embeds_with_the_fakes_dimension() {
    let fake = FakeOllama::start().await;
    let client = client(&fake);
    let inputs: Vec<String> = [
        "the cat sat on the mat",
        "a cat on a mat",
        "stock prices fell",
    ]
    .map(String::from)
    .to_vec();
    let vectors = within(client.embed("llama3.2", &inputs)).await.unwrap();
    assert_eq!(vectors.len(), 3);
    assert!(vectors.iter().all(|v| v.len() == 384));
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    assert_eq!(
        fake.requests_on(Endpoint::Embed),
        [json!({"model": "llama3.2", "input": inputs})]
    );

    fake.set_embed_dim(16);
    let vectors = within(client.embed("llama3.2", &inputs[..1]))
        .await
        .unwrap();
    assert_eq!(vectors[0].len(), 16);
    assert!(
        within(client.embed("llama3.2", &[]))
            .await
            .unwrap()
            .is_empty()
    );
    let err = within(client.embed("ghost", &inputs)).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Status { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbled_json_answers_are_protocol_errors() {
    let fake = FakeOllama::start().await;
    let client = client(&fake);
    fake.fail_next_on(Endpoint::Show, FakeFailure::MalformedAfter(0));
    let err = within(client.context_length("llama3.2")).await.unwrap_err();
    assert!(matches!(err, LlmError::Protocol(_)), "{err:?}");
    fake.fail_next_on(Endpoint::Embed, FakeFailure::CutAfter(0));
    let err = within(client.embed("llama3.2", &["x".into()]))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Protocol(_)), "{err:?}");
}
