//! LLM client side of Locrit, and the client of other Locrit servers ([`PeerClient`]).
//!
//! The chat engine is written against [`LlmBackend`]; [`OllamaClient`] is the
//! implementation that talks to an Ollama server over HTTP. Streaming replies
//! are [`ChatStream`]s: dropping one aborts the underlying HTTP request, which
//! is how a generation is cancelled.

mod backend;
mod error;
mod ollama;
mod peer;
mod types;

pub use backend::{ChatStream, LlmBackend};
pub use error::LlmError;
pub use ollama::{OllamaClient, Timeouts};
pub use peer::{PeerClient, PeerMessage, PeerReply};
pub use types::{ChatEvent, ChatMessage, ChatOptions, ChatRequest, ChatStats, ModelInfo, Role};
