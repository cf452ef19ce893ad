//! Turning reqwest failures and non-2xx answers into [`LlmError`]s.

use std::error::Error as _;

use reqwest::Response;

use super::wire::ErrorBody;
use crate::LlmError;

/// Longest slice of a non-JSON error body quoted in a `Status` message.
const MAX_QUOTED: usize = 300;

pub(crate) fn from_reqwest(e: reqwest::Error) -> LlmError {
    let message = describe(&e);
    // Timeout first: a connect timeout is also a connect error.
    if e.is_timeout() {
        LlmError::Timeout(message)
    } else if e.is_connect() || e.is_builder() {
        LlmError::Connect(message)
    } else {
        // Body errors, connections reset before or during the answer.
        LlmError::Protocol(message)
    }
}

/// reqwest's top-level message ("error sending request") hides the useful
/// part ("Connection refused") in its sources.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Passes 2xx answers through; turns others into `Status`, with Ollama's
/// `{"error": ...}` text when the body has one.
pub(super) async fn check_status(response: Response) -> Result<Response, LlmError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // The body only refines the message: failing to read it must not hide the status.
    let body = response.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(parsed) => parsed.error,
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text.chars().take(MAX_QUOTED).collect()
            }
        }
    };
    Err(LlmError::Status {
        status: status.as_u16(),
        message,
    })
}
