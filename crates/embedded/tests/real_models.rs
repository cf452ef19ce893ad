//! The embedded engine on the real models. Skipped (with a message) when the
//! model files are absent: `scripts/fetch-models` puts them in
//! `target/models` (or set `LOCRIT_MODELS_DIR`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::StreamExt;
use locrit_embedded::{
    CHAT_MODEL, EMBEDDING_DIMENSIONS, EMBEDDING_MODEL, EmbeddedChat, EmbeddedEmbedder,
};
use locrit_llm::{
    ChatEvent, ChatMessage, ChatOptions, ChatRequest, ChatStats, LlmBackend, LlmError,
};

fn models_dir() -> PathBuf {
    std::env::var_os("LOCRIT_MODELS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models"),
        PathBuf::from,
    )
}

/// Loaded once for all tests (each test has its own runtime; the generation
/// thread does not depend on one).
fn chat() -> Option<&'static EmbeddedChat> {
    static CHAT: OnceLock<Option<EmbeddedChat>> = OnceLock::new();
    CHAT.get_or_init(|| {
        let dir = models_dir();
        if !CHAT_MODEL.is_present(&dir) {
            eprintln!(
                "SKIPPED: {} not in {}; run scripts/fetch-models",
                CHAT_MODEL.name,
                dir.display()
            );
            return None;
        }
        Some(EmbeddedChat::load(&dir).expect("load the chat model"))
    })
    .as_ref()
}

fn embedder() -> Option<&'static EmbeddedEmbedder> {
    static EMBEDDER: OnceLock<Option<EmbeddedEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let dir = models_dir();
            if !EMBEDDING_MODEL.is_present(&dir) {
                eprintln!(
                    "SKIPPED: {} not in {}; run scripts/fetch-models",
                    EMBEDDING_MODEL.name,
                    dir.display()
                );
                return None;
            }
            Some(EmbeddedEmbedder::load(&dir).expect("load the embedding model"))
        })
        .as_ref()
}

fn request(text: &str, options: ChatOptions) -> ChatRequest {
    ChatRequest {
        options,
        ..ChatRequest::new(CHAT_MODEL.name, vec![ChatMessage::user(text)])
    }
}

fn predict(n: i32) -> ChatOptions {
    ChatOptions {
        num_predict: Some(n),
        ..ChatOptions::default()
    }
}

/// The deltas and the final counters of a complete reply.
async fn complete(chat: &EmbeddedChat, request: ChatRequest) -> (Vec<String>, ChatStats) {
    let mut stream = chat.chat(request).await.expect("chat starts");
    let mut deltas = Vec::new();
    while let Some(event) = stream.next().await {
        match event.expect("no error mid-stream") {
            ChatEvent::Delta(text) => deltas.push(text),
            ChatEvent::Done(stats) => {
                assert!(stream.next().await.is_none(), "nothing after Done");
                return (deltas, stats);
            }
        }
    }
    panic!("the stream ended without Done");
}

#[tokio::test]
async fn a_reply_streams_in_pieces_and_ends_with_counters() {
    let Some(chat) = chat() else { return };
    let (deltas, stats) =
        complete(chat, request("What is the capital of France?", predict(40))).await;
    assert!(deltas.len() > 1, "streamed in several pieces: {deltas:?}");
    assert!(deltas.iter().all(|d| !d.is_empty()));
    assert!(
        !deltas.concat().contains("<|im_"),
        "no control tokens in the text"
    );
    let generated = stats.eval_count.expect("eval_count");
    assert!((1..=40).contains(&generated), "{stats:?}");
    assert!(stats.prompt_eval_count.expect("prompt_eval_count") > 5);
    assert!(stats.eval_duration.expect("eval_duration") > 0);
    assert!(stats.total_duration.expect("total_duration") >= stats.eval_duration.unwrap());
    assert!(matches!(
        stats.done_reason.as_deref(),
        Some("stop" | "length")
    ));
}

#[tokio::test]
async fn greedy_decoding_repeats_itself_exactly() {
    let Some(chat) = chat() else { return };
    let prompt = "Name three colours.";
    let (first, _) = complete(chat, request(prompt, predict(24))).await;
    let (second, _) = complete(chat, request(prompt, predict(24))).await;
    assert_eq!(first.concat(), second.concat());
    assert!(!first.concat().trim().is_empty());
}

#[tokio::test]
async fn num_predict_caps_the_reply() {
    let Some(chat) = chat() else { return };
    let (_, stats) = complete(
        chat,
        request("Tell me a long story about a dragon.", predict(5)),
    )
    .await;
    assert_eq!(stats.eval_count, Some(5));
    assert_eq!(stats.done_reason.as_deref(), Some("length"));
}

#[tokio::test]
async fn a_stop_sequence_ends_the_reply_before_it() {
    let Some(chat) = chat() else { return };
    let prompt = "Tell me a long story about a dragon.";
    let (free, _) = complete(chat, request(prompt, predict(30))).await;
    let free = free.concat();
    // Stop on the second word the model says anyway: the reply is cut just before it.
    let word = free
        .split_whitespace()
        .nth(1)
        .expect("a few words")
        .to_owned();
    let options = ChatOptions {
        stop: vec![word.clone()],
        ..predict(30)
    };
    let (cut, stats) = complete(chat, request(prompt, options)).await;
    let cut = cut.concat();
    assert!(!cut.contains(&word), "{cut:?} still has {word:?}");
    assert!(
        free.starts_with(&cut),
        "{cut:?} is not the start of {free:?}"
    );
    assert_eq!(stats.done_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn dropping_the_stream_stops_the_generation() {
    let Some(chat) = chat() else { return };
    let mut long = chat
        .chat(request(
            "Write a very long essay about the sea.",
            predict(2000),
        ))
        .await
        .unwrap();
    assert!(matches!(long.next().await, Some(Ok(ChatEvent::Delta(_)))));
    drop(long);
    // The next request waits for the one generation thread: it is served
    // quickly only if the dropped one stopped (2000 tokens take over a minute).
    let started = Instant::now();
    let (_, stats) = complete(chat, request("Hi", predict(3))).await;
    assert_eq!(stats.eval_count, Some(3));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_context_window_comes_from_the_model() {
    let Some(chat) = chat() else { return };
    let window = chat.context_length(CHAT_MODEL.name).await.unwrap();
    assert!(window.is_some_and(|n| n >= 2048), "{window:?}");
    let too_long = "word ".repeat(5000);
    let Err(LlmError::Status { status, .. }) = chat.chat(request(&too_long, predict(5))).await
    else {
        panic!("a prompt longer than the window is refused");
    };
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_unknown_model_is_a_404_like_ollama() {
    let Some(chat) = chat() else { return };
    let mut bad = request("Hi", predict(3));
    bad.model = "llama3:8b".into();
    let Err(LlmError::Status { status, message }) = chat.chat(bad).await else {
        panic!("unknown model accepted");
    };
    assert_eq!(status, 404);
    assert!(message.contains("llama3:8b"));
}

#[tokio::test]
async fn a_json_format_request_yields_json_or_says_it_cannot() {
    let Some(chat) = chat() else { return };
    let mut asked = request(
        "Reply with a JSON object with a key \"city\" set to \"Paris\".",
        predict(60),
    );
    asked.format = Some(serde_json::json!({"type": "object"}));
    let mut stream = chat.chat(asked).await.unwrap();
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(ChatEvent::Delta(delta)) => text.push_str(&delta),
            Ok(ChatEvent::Done(_)) => break,
            Err(error) => {
                assert!(error.to_string().contains("cannot constrain"), "{error}");
                return;
            }
        }
    }
    serde_json::from_str::<serde_json::Value>(&text).expect("released text is JSON");
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn embeddings_are_normalised_384_dimension_vectors() {
    let Some(embedder) = embedder() else { return };
    let vectors = embedder
        .embed(EMBEDDING_MODEL.name, &["hello world".into(), "".into()])
        .await
        .unwrap();
    assert_eq!(vectors.len(), 2);
    for vector in &vectors {
        assert_eq!(vector.len(), EMBEDDING_DIMENSIONS);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    }
}

#[tokio::test]
async fn a_paraphrase_ranks_above_an_unrelated_sentence() {
    let Some(embedder) = embedder() else { return };
    let texts: Vec<String> = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply on Monday.",
    ]
    .map(String::from)
    .to_vec();
    let v = embedder.embed(EMBEDDING_MODEL.name, &texts).await.unwrap();
    let paraphrase = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(paraphrase > unrelated + 0.3, "{paraphrase} vs {unrelated}");
    // The published similarity for this pair with all-MiniLM-L6-v2.
    assert!((paraphrase - 0.7553).abs() < 0.01, "{paraphrase}");
}

#[tokio::test]
async fn batching_does_not_change_a_vector() {
    let Some(embedder) = embedder() else { return };
    let short = "Cats sleep a lot.".to_string();
    let long = "A much longer sentence that makes the batch pad the short one.".to_string();
    let alone = embedder
        .embed(EMBEDDING_MODEL.name, std::slice::from_ref(&short))
        .await
        .unwrap();
    let batched = embedder
        .embed(EMBEDDING_MODEL.name, &[long, short])
        .await
        .unwrap();
    let similarity = cosine(&alone[0], &batched[1]);
    assert!(similarity > 0.9999, "{similarity}");
}
