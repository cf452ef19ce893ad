use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use crate::{ChatEvent, ChatRequest, LlmError, ModelInfo};

/// A streamed chat reply: zero or more `Delta`s, then exactly one `Done`, or
/// an `Err` after which the stream yields nothing more. Drop it to cancel.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

/// What the chat engine needs from a model server.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// Models the server has locally.
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError>;

    /// The model's trained context window, if the server reports one.
    async fn context_length(&self, model: &str) -> Result<Option<u32>, LlmError>;

    /// Starts a streamed chat completion. Errors known before the first token
    /// (unreachable server, unknown model, ...) are returned here; later ones
    /// arrive through the stream.
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError>;

    /// One embedding vector per input, in input order.
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError>;
}
