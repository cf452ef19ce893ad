//! [`OllamaClient`]: the [`LlmBackend`] for an Ollama server.

mod errors;

pub(crate) use errors::from_reqwest;
mod stream;
mod wire;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::errors::check_status;
use crate::{ChatRequest, ChatStream, LlmBackend, LlmError, ModelInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// A whole non-streaming call (tags, show, embed).
    pub request: Duration,
    /// For chat: the wait for the response head (which, with Ollama, includes
    /// loading the model) and the longest gap between two streamed chunks.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OllamaClient {
    http: reqwest::Client,
    base_url: String,
    timeouts: Timeouts,
}

impl OllamaClient {
    /// A client for the Ollama server at `base_url` (e.g.
    /// `http://127.0.0.1:11434`), on a process-wide connection pool.
    pub fn new(base_url: &str, timeouts: Timeouts) -> Self {
        Self::with_http(shared_http(timeouts.connect), base_url, timeouts)
    }

    /// Like [`new`](Self::new) on a caller-provided `reqwest::Client`. That
    /// client's own connect timeout applies, not `timeouts.connect`.
    pub fn with_http(http: reqwest::Client, base_url: &str, timeouts: Timeouts) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeouts,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A non-streaming call, bounded as a whole by `timeouts.request`.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, LlmError> {
        let response = request
            .timeout(self.timeouts.request)
            .send()
            .await
            .map_err(from_reqwest)?;
        let body = check_status(response)
            .await?
            .bytes()
            .await
            .map_err(from_reqwest)?;
        serde_json::from_slice(&body)
            .map_err(|e| LlmError::Protocol(format!("invalid JSON from {path}: {e}")))
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, LlmError> {
        self.call(self.http.post(self.url(path)).json(body), path)
            .await
    }
}

#[async_trait]
impl LlmBackend for OllamaClient {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let path = "/api/tags";
        let tags: wire::TagsResponse = self.call(self.http.get(self.url(path)), path).await?;
        Ok(tags.into_models())
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        let show: wire::ShowResponse = self.post("/api/show", &wire::ShowBody { model }).await?;
        Ok(show.context_length())
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        let idle = self.timeouts.idle;
        let send = self
            .http
            .post(self.url("/api/chat"))
            .json(&wire::ChatBody::streaming(&request))
            .send();
        let head = async { check_status(send.await.map_err(from_reqwest)?).await };
        let response = tokio::time::timeout(idle, head)
            .await
            .map_err(|_| LlmError::Timeout(format!("no answer to /api/chat within {idle:?}")))??;
        Ok(stream::chat_stream(response, idle))
    }

    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let body = wire::EmbedBody {
            model,
            input: inputs,
        };
        let response: wire::EmbedResponse = self.post("/api/embed", &body).await?;
        if response.embeddings.len() != inputs.len() {
            return Err(LlmError::Protocol(format!(
                "/api/embed returned {} embeddings for {} inputs",
                response.embeddings.len(),
                inputs.len()
            )));
        }
        Ok(response.embeddings)
    }
}

/// One pooled `reqwest::Client` per distinct connect timeout, so clients
/// created per request or per test share connections and TLS setup.
fn shared_http(connect: Duration) -> reqwest::Client {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    clients
        .entry(connect)
        .or_insert_with(|| {
            reqwest::Client::builder()
                .connect_timeout(connect)
                .user_agent(concat!("locrit/", env!("CARGO_PKG_VERSION")))
                .build()
                // Only fails if the TLS backend cannot initialise; a default
                // client is the best remaining option.
                .unwrap_or_default()
        })
        .clone()
}
