//! Throughput of the embedded models, called directly (no Locrit around them).
//!
//!   cargo run --release -p locrit-embedded --example bench [MODELS_DIR]
//!
//! Prints the chat model's time to first token and tokens/s (greedy, 128
//! tokens, 3 runs) and the embedder's sentences/s one at a time and in batches.

use std::path::PathBuf;
use std::time::Instant;

use futures::StreamExt;
use locrit_embedded::{CHAT_MODEL, EMBEDDING_MODEL, EmbeddedChat, EmbeddedEmbedder};
use locrit_llm::{ChatEvent, ChatMessage, ChatOptions, ChatRequest, LlmBackend};

const RUNS: usize = 3;
const TOKENS: i32 = 128;

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/models"), PathBuf::from);
    let loading = Instant::now();
    let chat = EmbeddedChat::load(&dir).expect("chat model (scripts/fetch-models)");
    println!("chat model loaded in {:.2?}", loading.elapsed());
    for run in 1..=RUNS {
        let request = ChatRequest {
            options: ChatOptions {
                num_predict: Some(TOKENS),
                ..ChatOptions::default()
            },
            ..ChatRequest::new(
                CHAT_MODEL.name,
                vec![ChatMessage::user(
                    "Write a long story about a lighthouse keeper.",
                )],
            )
        };
        let started = Instant::now();
        let mut stream = chat.chat(request).await.unwrap();
        let mut first = None;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                ChatEvent::Delta(_) => {
                    first.get_or_insert_with(|| started.elapsed());
                }
                ChatEvent::Done(stats) => {
                    let tokens = stats.eval_count.unwrap_or(0);
                    let seconds = stats.eval_duration.unwrap_or(1) as f64 / 1e9;
                    println!(
                        "chat run {run}: first token {:.0?}, {tokens} tokens, {:.1} tokens/s \
                         (prompt {} tokens in {:.0} ms)",
                        first.unwrap_or_default(),
                        tokens as f64 / seconds,
                        stats.prompt_eval_count.unwrap_or(0),
                        stats.prompt_eval_duration.unwrap_or(0) as f64 / 1e6,
                    );
                }
            }
        }
    }

    let embedder = EmbeddedEmbedder::load(&dir).expect("embedding model (scripts/fetch-models)");
    let sentences: Vec<String> = (0..128)
        .map(|i| format!("Sentence number {i} says something about the weather and the sea."))
        .collect();
    let started = Instant::now();
    for sentence in &sentences[..32] {
        embedder
            .embed(EMBEDDING_MODEL.name, std::slice::from_ref(sentence))
            .await
            .unwrap();
    }
    println!(
        "embedder, one at a time: {:.1} sentences/s",
        32.0 / started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    embedder
        .embed(EMBEDDING_MODEL.name, &sentences)
        .await
        .unwrap();
    println!(
        "embedder, batches of 32: {:.1} sentences/s",
        sentences.len() as f64 / started.elapsed().as_secs_f64()
    );
}
