/// Why a call to the model server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LlmError {
    /// The server could not be reached (refused, DNS failure, bad URL).
    #[error("cannot reach the model server: {0}")]
    Connect(String),
    /// Connecting, a non-streaming call, or the gap between two streamed
    /// chunks took too long.
    #[error("the model server timed out: {0}")]
    Timeout(String),
    /// The server answered with an error. `message` is Ollama's own
    /// `{"error": ...}` text when it sent one.
    #[error("the model server answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// The answer could not be understood: malformed JSON/NDJSON, a stream
    /// that ended without its final `done` object, a connection cut mid-reply.
    #[error("unexpected answer from the model server: {0}")]
    Protocol(String),
}

impl LlmError {
    /// A stable, machine-readable name for the variant (for logs and API
    /// error codes).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Timeout(_) => "timeout",
            Self::Status { .. } => "status",
            Self::Protocol(_) => "protocol",
        }
    }
}
