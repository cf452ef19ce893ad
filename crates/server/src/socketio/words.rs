//! The contract's words for a refused or failed Socket.IO turn (§2.4). Session mode has
//! its own English strings; conversation mode uses the ConversationReply strings of the
//! HTTP routes, with the Socket.IO gate's word for a Locrit closed to humans.

use locrit_core::Error;
use locrit_core::chat::TurnError;
use locrit_domain::Denied;
use locrit_llm::LlmError;

use crate::ApiError;
use crate::compat::turn::{Family, refusal};

pub(super) const NAME_AND_MESSAGE_REQUIRED: &str = "Locrit name and message required";
pub(super) const SESSION_OR_CONVERSATION_REQUIRED: &str =
    "Either conversation_id or session_id is required";
pub(super) const NAME_AND_SESSION_REQUIRED: &str = "Locrit name and session ID required";
pub(super) const STOP_TARGET_REQUIRED: &str = "Locrit name and session ID, or turn_id, required";
pub(super) const NAME_REQUIRED: &str = "Locrit name required";
pub(super) const LOCRIT_NOT_FOUND: &str = "Locrit not found";
pub(super) const NOT_FOR_HUMANS: &str = "Locrit not accessible for humans";
pub(super) const NOTHING_RUNNING: &str = "No generation running";
pub(super) const BAD_KEY: &str = "This API key is not valid (unknown or revoked)";
pub(super) const NO_CHAT_SCOPE: &str = "This API key lacks the chat scope";
/// The memory routes' word for a Locrit without `access_to.full_memory` (§1.5).
pub(super) const FULL_MEMORY_REQUIRED: &str = "Accès à la mémoire complète requis";

/// Why a session-mode turn did not start.
pub(super) fn session_refusal(locrit: &str, error: Error) -> String {
    match error {
        Error::NotFound("Locrit") => LOCRIT_NOT_FOUND.to_owned(),
        Error::Inactive => "Locrit is inactive".to_owned(),
        Error::Denied(Denied::NotOpenToHumans) => NOT_FOR_HUMANS.to_owned(),
        Error::NoModelServer => {
            format!("Ollama service unavailable: Locrit '{locrit}' has no 'ollama_url' configured")
        }
        Error::NoModel => "No model configured for this Locrit".to_owned(),
        Error::Llm(LlmError::Connect(_)) => {
            "Ollama service unavailable - connection failed".to_owned()
        }
        Error::Llm(llm) => generation_failed(&llm),
        Error::Invalid(invalid) => invalid.to_string(),
        other => ApiError::from(other).message,
    }
}

/// Why a conversation-mode turn did not start.
pub(super) fn conversation_refusal(locrit: &str, error: Error) -> String {
    match error {
        Error::Denied(Denied::NotOpenToHumans) => NOT_FOR_HUMANS.to_owned(),
        Error::Invalid(invalid) => invalid.to_string(),
        other => refusal(Family::Conversation, locrit, other).message,
    }
}

/// A turn that failed after the model started: the model's failure, or the store's
/// (which says why: full, read-only…).
pub(super) fn turn_failed(error: &TurnError) -> String {
    generation_failed(error)
}

fn generation_failed(detail: &dyn std::fmt::Display) -> String {
    format!("Error generating response: {detail}")
}
