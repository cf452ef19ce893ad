use locrit_domain::{Denied, ValidationError};
use locrit_llm::LlmError;
use locrit_store::StoreError;
use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation did not happen. Each HTTP surface turns these into its own words,
/// but the status of each kind is decided once, in the server's error module.
#[derive(Debug, Error)]
pub enum Error {
    /// The named thing does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It would clash with something that exists: a Locrit name already taken.
    #[error("{0}")]
    Conflict(String),
    /// The input breaks a rule; names the field.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The request carries no valid credentials (or wrong ones, when signing in).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The Locrit exists but is switched off.
    #[error("the Locrit is inactive")]
    Inactive,
    /// The caller may not do this with this Locrit (its `open_to` and `access_to`
    /// flags, or an owner-only operation).
    #[error("{}", denied_message(*.0))]
    Denied(Denied),
    /// The Locrit has no model to answer with.
    #[error("no model is configured for this Locrit")]
    NoModel,
    /// The Locrit has no Ollama server to call.
    #[error("no Ollama server is configured for this Locrit")]
    NoModelServer,
    /// The model server failed or could not be reached.
    #[error("the model server failed: {0}")]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing a file or a stream (an archive) failed.
    #[error("input/output failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<Denied> for Error {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Inactive => Error::Inactive,
            other => Error::Denied(other),
        }
    }
}

fn denied_message(denied: Denied) -> &'static str {
    match denied {
        Denied::OwnerOnly => "only the Locrit's owner may do this",
        Denied::NotShared(_) => "the Locrit's owner does not share this",
        _ => "the Locrit is not open to this caller",
    }
}
