//! The embedded chat model behind [`LlmBackend`].

mod model;
mod text;
mod worker;

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use async_trait::async_trait;
use locrit_llm::{ChatEvent, ChatRequest, ChatStream, LlmBackend, LlmError, ModelInfo};
use tokio_stream::wrappers::ReceiverStream;

use crate::catalog::CHAT_MODEL;
use crate::{EmbeddedError, bad_request, model_info, unknown_model};
use model::ChatModel;
use worker::Job;

/// Replies to a structured-output request are buffered and checked; this
/// bounds a small model that never closes its JSON.
const JSON_REPLY_MAX_TOKENS: usize = 512;
/// Streamed events waiting for a slow reader before the generator waits too.
const EVENT_BUFFER: usize = 64;

type EventStream = ReceiverStream<Result<ChatEvent, LlmError>>;

/// SmolLM2 run in process. Cheap to clone: the model is loaded once and
/// shared; generations queue for its one worker thread.
#[derive(Clone)]
pub struct EmbeddedChat {
    inner: Arc<Inner>,
}

struct Inner {
    model: Arc<ChatModel>,
    jobs: mpsc::Sender<Job>,
    size: Option<u64>,
}

impl EmbeddedChat {
    /// Loads the GGUF file of [`CHAT_MODEL`] from `models_dir`. Blocking
    /// (about half a second): call it from `spawn_blocking`.
    pub fn load(models_dir: &Path) -> Result<Self, EmbeddedError> {
        let path = CHAT_MODEL.file_in(models_dir, CHAT_MODEL.files[0].name);
        if !path.is_file() {
            return Err(EmbeddedError::Missing(CHAT_MODEL.name));
        }
        let (model, weights) = ChatModel::load(&path)?;
        let model = Arc::new(model);
        let jobs = worker::spawn(model.clone(), weights);
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                jobs,
                size: CHAT_MODEL.size_on_disk(models_dir),
            }),
        })
    }

    /// The model's name, as Locrits use it.
    pub fn name(&self) -> &'static str {
        CHAT_MODEL.name
    }

    fn job(&self, request: &ChatRequest) -> Result<(Job, EventStream), LlmError> {
        let model = &self.inner.model;
        let prompt = model
            .render(&request.messages)
            .map_err(|e| bad_request(format!("the chat template failed: {e}")))?;
        let prompt = model
            .encode(&prompt)
            .map_err(|e| bad_request(format!("cannot tokenize the prompt: {e}")))?;
        let window = request.options.num_ctx.map_or(model.context_length, |n| {
            (n as usize).min(model.context_length)
        });
        if prompt.len() >= window {
            return Err(bad_request(format!(
                "the prompt is {} tokens, the context window {window}",
                prompt.len()
            )));
        }
        let room = window - prompt.len();
        let json_only = request.format.is_some();
        let asked = match request.options.num_predict {
            Some(n) if n > 0 => n as usize,
            _ if json_only => JSON_REPLY_MAX_TOKENS,
            _ => room,
        };
        let (events, receiver) = tokio::sync::mpsc::channel(EVENT_BUFFER);
        let job = Job {
            prompt,
            max_tokens: asked.min(room),
            temperature: request.options.temperature.map(f64::from),
            seed: request.options.seed.map(|seed| seed as u64),
            stops: request.options.stop.clone(),
            json_only,
            events,
            queued_at: Instant::now(),
        };
        Ok((job, ReceiverStream::new(receiver)))
    }
}

#[async_trait]
impl LlmBackend for EmbeddedChat {
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(vec![model_info(&CHAT_MODEL, self.inner.size)])
    }

    async fn context_length(&self, model: &str) -> Result<Option<u32>, LlmError> {
        if model != CHAT_MODEL.name {
            return Err(unknown_model(model));
        }
        Ok(Some(self.inner.model.context_length as u32))
    }

    /// Structured output (`format`) cannot be enforced while decoding: the
    /// reply is buffered and released only if it parses as JSON, otherwise
    /// the stream ends with an error that says so.
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        if request.model != CHAT_MODEL.name {
            return Err(unknown_model(&request.model));
        }
        let (job, stream) = self.job(&request)?;
        self.inner
            .jobs
            .send(job)
            .map_err(|_| LlmError::Protocol("the embedded chat thread has stopped".into()))?;
        Ok(Box::pin(stream))
    }

    async fn embed(&self, model: &str, _inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        Err(bad_request(format!(
            "{model} is a chat model; embeddings come from the embedded embedder"
        )))
    }
}
