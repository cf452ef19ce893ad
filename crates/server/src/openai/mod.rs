//! The OpenAI chat-completions protocol (`/v1`): every Locrit the caller may chat with
//! is a model named after it. Chat goes through the core like every other surface;
//! errors have OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`.

mod completions;
mod models;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{any, get, post};
use locrit_core::Core;
use serde_json::{Value, json};

use crate::ApiError;
use crate::error::{ErrorShape, Shaped};

pub fn router() -> Router<Core> {
    Router::new()
        .route("/v1/models", get(models::list))
        .route("/v1/models/{model}", get(models::show))
        .route("/v1/chat/completions", post(completions::create))
        // What this surface does not serve (embeddings, legacy completions…).
        .route("/v1/{*rest}", any(not_served))
}

async fn not_served() -> OpenAiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_url",
        "this route is not served",
    )
    .into()
}

pub struct OpenAi;

/// An error in OpenAI's shape.
pub type OpenAiError = Shaped<OpenAi>;

impl ErrorShape for OpenAi {
    fn body(error: &ApiError) -> Value {
        json!({"error": error_object(error)})
    }
}

/// The `error` object, also sent as an event when a stream fails.
fn error_object(error: &ApiError) -> Value {
    let kind = match error.status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::CONFLICT => "conflict_error",
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        status if status.is_server_error() => "server_error",
        _ => "invalid_request_error",
    };
    let code = match (error.status, error.code) {
        (StatusCode::NOT_FOUND, "not_found") => "model_not_found",
        (_, code) => code,
    };
    json!({
        "message": error.message,
        "type": kind,
        "param": error.field,
        "code": code,
    })
}
