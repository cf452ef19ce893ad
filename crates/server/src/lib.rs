//! Locrit's HTTP surfaces. Each is a thin adapter over [`locrit_core::Core`]:
//! - [`api`]: the clean, versioned JSON API (`/api/v2`), described by OpenAPI;
//! - [`compat`]: the original Locrit's routes, with its field names and messages;
//! - the original's Socket.IO chat (`/socket.io/`, namespaces `/` and `/chat`), with
//!   live rooms and memory events;
//! - [`openai`] and [`ollama_api`]: every Locrit as a model over the OpenAI
//!   chat-completions protocol (`/v1`) and Ollama's API (`/api/chat`, `/api/tags`…).
//!
//! Errors of every surface go through [`error::ApiError`], the one place where a
//! failure becomes a status and a JSON body.

pub mod api;
mod auth;
mod chat_clients;
pub mod compat;
mod error;
mod extract;
pub mod ollama_api;
pub mod openai;
mod rate_limit;
mod router;
mod socketio;

pub use auth::{CSRF_HEADER, INVITATION_HEADER, SESSION_COOKIE};
pub use error::ApiError;
pub use rate_limit::{PublicLimits, RateLimit};
pub use router::{ServerConfig, app, router, serve};
pub use socketio::{SocketIoCloser, SocketIoSettings};
