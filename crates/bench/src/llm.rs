//! The language model the figures are measured against: the project's fake Ollama
//! (answering at once, so what is left is Locrit's own cost), or a real Ollama server.

use locrit_testkit::{FakeOllama, Reply};
use serde_json::{Value, json};

/// Tokens in each of the fake's replies.
pub const FAKE_TOKENS: usize = 50;
/// The fake's model and its window, which bounds the history each prompt carries.
const FAKE_MODEL: &str = "llama3.2";
const FAKE_CONTEXT: u32 = 4096;
/// The server's default embedding model: with it, recall searches by meaning and the
/// embedding worker embeds every message, as on a server that has the model.
const EMBEDDING_MODEL: &str = "nomic-embed-text";

#[derive(Debug, Clone)]
pub enum LlmTarget {
    Fake,
    Ollama { url: String, model: String },
}

pub struct Llm {
    fake: Option<FakeOllama>,
    url: String,
    model: String,
}

impl Llm {
    pub async fn start(target: &LlmTarget) -> Self {
        match target {
            LlmTarget::Fake => {
                let fake = FakeOllama::start().await;
                fake.set_reply(Reply::Tokens(
                    (0..FAKE_TOKENS).map(|i| format!(" t{i}")).collect(),
                ));
                fake.add_model(FAKE_MODEL, FAKE_CONTEXT);
                fake.add_model(EMBEDDING_MODEL, None);
                Self {
                    url: fake.url(),
                    fake: Some(fake),
                    model: FAKE_MODEL.into(),
                }
            }
            LlmTarget::Ollama { url, model } => Self {
                fake: None,
                url: url.trim_end_matches('/').to_owned(),
                model: model.clone(),
            },
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn describe(&self) -> String {
        match self.fake {
            Some(_) => format!("fake Ollama, {FAKE_TOKENS}-token replies at once"),
            None => format!("Ollama at {}, model {}", self.url, self.model),
        }
    }

    /// The request the direct calls repeat: with the fake, the very chat request Locrit
    /// sent it last (persona, history, message), so both sides ask the model the same;
    /// with a real server, whose requests are not seen, a one-message request. Both
    /// stream, as Locrit asks its model to.
    pub fn reference_request(&self) -> Value {
        let recorded = self.fake.as_ref().and_then(|fake| {
            let requests = fake.requests();
            fake.clear_requests();
            // Memory extraction asks for structured (`format`) answers: not a chat turn.
            requests
                .into_iter()
                .rev()
                .find(|r| r.get("format").is_none())
        });
        recorded.unwrap_or_else(|| {
            json!({"model": self.model, "messages": [{"role": "user", "content": "hello"}], "stream": true})
        })
    }

    /// Forgets the requests seen so far (the fake keeps every one).
    pub fn forget_requests(&self) {
        if let Some(fake) = &self.fake {
            fake.clear_requests();
        }
    }
}
