//! Locrit's embedded engine: a small chat model (SmolLM2-135M-Instruct) and a
//! sentence embedder (all-MiniLM-L6-v2) run in process with candle, so a
//! Locrit answers and remembers with no model server installed.
//!
//! [`EmbeddedEngine`] is one [`LlmBackend`] over both (a Locrit reaches it
//! with the reserved server address `embedded`, see locrit-core). Model files are fetched
//! and verified by [`fetch`] into a models folder (see [`catalog`]).

pub mod catalog;
mod chat;
mod embed;
pub mod fetch;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use locrit_llm::{ChatRequest, ChatStream, LlmBackend, LlmError, ModelInfo};

pub use catalog::{CHAT_MODEL, EMBEDDING_DIMENSIONS, EMBEDDING_MODEL, MODELS, ModelSpec};
pub use chat::EmbeddedChat;
pub use embed::EmbeddedEmbedder;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("the embedded model {0} is not in the models folder; run `locrit models fetch`")]
    Missing(&'static str),
    #[error("cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("the embedded model failed: {0}")]
    Inference(candle_core::Error),
}

/// Both embedded models, each loaded if its files are present.
#[derive(Clone)]
pub struct EmbeddedEngine {
    chat: Option<EmbeddedChat>,
    embedder: Option<EmbeddedEmbedder>,
}

impl EmbeddedEngine {
    /// Loads whatever models `models_dir` holds, off the async runtime.
    /// `None` when it holds neither.
    pub async fn load(models_dir: &Path) -> Result<Option<Self>, EmbeddedError> {
        let dir = models_dir.to_owned();
        tokio::task::spawn_blocking(move || {
            let chat = CHAT_MODEL
                .is_present(&dir)
                .then(|| EmbeddedChat::load(&dir))
                .transpose()?;
            let embedder = EMBEDDING_MODEL
                .is_present(&dir)
                .then(|| EmbeddedEmbedder::load(&dir))
                .transpose()?;
            Ok((chat.is_some() || embedder.is_some()).then_some(Self { chat, embedder }))
        })
        .await
        .expect("loading the embedded models panicked")
    }

    pub fn chat(&self) -> Option<&EmbeddedChat> {
        self.chat.as_ref()
    }

    pub fn embedder(&self) -> Option<&EmbeddedEmbedder> {
        self.embedder.as_ref()
    }
}

#[async_trait]
impl LlmBackend for EmbeddedEngine {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let mut models = Vec::new();
        if let Some(chat) = &self.chat {
            models.extend(chat.list_models().await?);
        }
        if let Some(embedder) = &self.embedder {
            models.extend(embedder.list_models().await?);
        }
        Ok(models)
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        match self.route(model)? {
            Route::Chat(chat) => chat.context_length(model).await,
            Route::Embed(embedder) => embedder.context_length(model).await,
        }
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        match self.route(&request.model)? {
            Route::Chat(chat) => chat.chat(request).await,
            Route::Embed(embedder) => embedder.chat(request).await,
        }
    }

    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        match self.route(model)? {
            Route::Chat(chat) => chat.embed(model, inputs).await,
            Route::Embed(embedder) => embedder.embed(model, inputs).await,
        }
    }
}

enum Route<'a> {
    Chat(&'a EmbeddedChat),
    Embed(&'a EmbeddedEmbedder),
}

impl EmbeddedEngine {
    fn route(&self, model: &str) -> Result<Route<'_>, LlmError> {
        match (&self.chat, &self.embedder) {
            (Some(chat), _) if model == CHAT_MODEL.name => Ok(Route::Chat(chat)),
            (_, Some(embedder)) if model == EMBEDDING_MODEL.name => Ok(Route::Embed(embedder)),
            _ => Err(unknown_model(model)),
        }
    }
}

/// Ollama's answer to an unknown model, with the way out.
fn unknown_model(model: &str) -> LlmError {
    LlmError::Status {
        status: 404,
        message: format!(
            "model '{model}' not found in the embedded engine (it runs {} and {}; \
             `locrit models fetch` downloads them)",
            CHAT_MODEL.name, EMBEDDING_MODEL.name
        ),
    }
}

fn bad_request(message: String) -> LlmError {
    LlmError::Status {
        status: 400,
        message,
    }
}

fn model_info(spec: &ModelSpec, size: Option<u64>) -> ModelInfo {
    ModelInfo {
        name: spec.name.to_owned(),
        modified_at: None,
        size,
    }
}
