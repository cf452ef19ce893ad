//! Which engine serves a Locrit: the Ollama server at its `ollama_url`, or the
//! embedded engine when that is [`EMBEDDED_ENGINE`]. The one place the chat
//! engine, memory extraction and search get their model backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use locrit_domain::EMBEDDED_ENGINE;
use locrit_embedded::{CHAT_MODEL, EMBEDDING_MODEL, EmbeddedEngine};
use locrit_llm::{
    ChatRequest, ChatStream, LlmBackend, LlmError, ModelInfo, OllamaClient, Timeouts,
};
use tokio::sync::OnceCell;

use crate::Core;

/// The embedded engine, loaded from the models folder on first use.
#[derive(Default)]
pub(crate) struct EmbeddedState {
    models_dir: Option<PathBuf>,
    engine: OnceCell<Option<EmbeddedEngine>>,
    /// New Locrits that name no server go to the embedded engine.
    is_default: AtomicBool,
}

/// How long start-up waits for the default Ollama server to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which engine new Locrits get when they name no server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultEngine {
    /// The configured Ollama server answered (or no embedded models to fall back on).
    Ollama { url: String, reachable: bool },
    /// No Ollama server answered; the embedded models are present.
    Embedded,
}

impl Core {
    /// Lets Locrits use the embedded engine, with model files in `models_dir`
    /// (loaded when first needed).
    pub fn with_embedded_models(mut self, models_dir: PathBuf) -> Self {
        self.embedded = Arc::new(EmbeddedState {
            models_dir: Some(models_dir),
            ..EmbeddedState::default()
        });
        self
    }

    /// Decides, at start-up, the engine of new Locrits that name no server: the
    /// configured Ollama server if it answers, else the embedded engine if its
    /// models are present.
    pub async fn choose_default_engine(&self) -> crate::Result<DefaultEngine> {
        let url = self.global_config().await?.ollama.base_url;
        let probe = Timeouts {
            connect: PROBE_TIMEOUT,
            request: PROBE_TIMEOUT,
            ..Timeouts::default()
        };
        let reachable = OllamaClient::new(&url, probe).list_models().await.is_ok();
        let embedded = !reachable
            && self
                .embedded_engine()
                .await
                .is_some_and(|engine| engine.chat().is_some());
        self.embedded.is_default.store(embedded, Ordering::Relaxed);
        Ok(if embedded {
            DefaultEngine::Embedded
        } else {
            DefaultEngine::Ollama { url, reachable }
        })
    }

    /// True when new Locrits that name no server get the embedded engine.
    pub fn embedded_by_default(&self) -> bool {
        self.embedded.is_default.load(Ordering::Relaxed)
    }

    /// The model new Locrits that name no server get, when that is the embedded engine:
    /// it runs one chat model, the only one such a Locrit can use.
    pub fn embedded_default_model(&self) -> Option<&'static str> {
        self.embedded_by_default().then_some(CHAT_MODEL.name)
    }

    /// The embedded engine, if its models are in the models folder.
    pub async fn embedded_engine(&self) -> Option<&EmbeddedEngine> {
        let dir = self.embedded.models_dir.as_deref()?;
        self.embedded
            .engine
            .get_or_init(|| async {
                match EmbeddedEngine::load(dir).await {
                    Ok(engine) => engine,
                    Err(error) => {
                        tracing::error!(%error, "the embedded models cannot be loaded");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// The backend behind a Locrit's `ollama_url`. Without its models, the
    /// embedded engine is a backend whose every call says how to get them.
    pub async fn llm_backend(&self, url: &str, timeouts: Timeouts) -> Arc<dyn LlmBackend> {
        if url != EMBEDDED_ENGINE {
            return Arc::new(OllamaClient::new(url, timeouts));
        }
        match self.embedded_engine().await {
            Some(engine) => Arc::new(engine.clone()),
            None => Arc::new(NoEmbeddedModels),
        }
    }

    /// The backend a Locrit chats through at `url`, with the server's idle timeout
    /// (`ollama.timeout`): the one set of timeouts for turns and background chats.
    pub(crate) async fn chat_backend(&self, url: &str) -> crate::Result<Arc<dyn LlmBackend>> {
        let config = self.global_config().await?;
        let timeouts = Timeouts {
            idle: std::time::Duration::from_secs(config.ollama.timeout.max(1)),
            ..Timeouts::default()
        };
        Ok(self.llm_backend(url, timeouts).await)
    }

    /// The embedding model for the backend at `url`: the embedded engine has its own.
    pub(crate) fn embedding_model_for(url: &str, configured: String) -> String {
        if url == EMBEDDED_ENGINE {
            EMBEDDING_MODEL.name.to_owned()
        } else {
            configured
        }
    }
}

/// The embedded engine when its model files are missing.
struct NoEmbeddedModels;

impl NoEmbeddedModels {
    fn error() -> LlmError {
        LlmError::Connect(format!(
            "the embedded engine has no models: run `locrit models fetch` (it provides {} and {})",
            CHAT_MODEL.name, EMBEDDING_MODEL.name
        ))
    }
}

#[async_trait]
impl LlmBackend for NoEmbeddedModels {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Err(Self::error())
    }

    async fn context_length(&self, _model: &str) -> Result<Option<u32>, LlmError> {
        Err(Self::error())
    }

    async fn chat(&self, _request: ChatRequest) -> Result<ChatStream, LlmError> {
        Err(Self::error())
    }

    async fn embed(&self, _model: &str, _inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        Err(Self::error())
    }
}
