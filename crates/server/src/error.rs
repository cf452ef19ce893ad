//! The one error type of every HTTP surface, and the one mapping from core errors to
//! statuses. Every error body has the same shape:
//! `{"success": false, "error": "<message>", "code": "<machine code>", "field"?: "<path>"}`
//! (the original's shapes A and B are subsets of it). A surface may add fields its
//! contract lists (the original's Ollama helpers add `tested_url`, `models`…).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use locrit_core::Error;
use locrit_core::chat::{TurnEnd, TurnError};
use locrit_domain::Message;
use locrit_llm::LlmError;
use locrit_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Further fields of the body, after the four above (which they never replace).
    pub extra: Map<String, Value>,
    /// When to try again, in seconds: the `Retry-After` header of a 429 or a busy store.
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always false.
    success: bool,
    /// What went wrong, for people.
    error: String,
    /// What went wrong, for programs.
    code: &'static str,
    /// The request field at fault, as a path (`open_to.humans`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            extra: Map::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds a field to the body (ignored if it is one of the four standard ones).
    pub fn with_extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// Tells the client when to try again (`Retry-After`, in seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error in another surface's words; status and code stay.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            Error::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            Error::Invalid(invalid) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                invalid.to_string(),
            )
            .with_field(invalid.field),
            Error::Unauthenticated(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            Error::Inactive => ApiError::new(
                StatusCode::BAD_REQUEST,
                "locrit_inactive",
                "the Locrit is inactive",
            ),
            Error::Denied(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string())
            }
            Error::NoModel => ApiError::new(StatusCode::BAD_REQUEST, "no_model", error.to_string()),
            Error::NoModelServer => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_model_server",
                error.to_string(),
            ),
            Error::Llm(llm) => llm.into(),
            Error::Store(store) => store.into(),
            Error::Io(io) => {
                tracing::error!(error = %io, "input/output failed");
                ApiError::internal()
            }
        }
    }
}

impl From<LlmError> for ApiError {
    fn from(error: LlmError) -> Self {
        let (status, code) = match &error {
            LlmError::Connect(_) => (StatusCode::SERVICE_UNAVAILABLE, "llm_unreachable"),
            LlmError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "llm_timeout"),
            LlmError::Status { .. } | LlmError::Protocol(_) => {
                (StatusCode::BAD_GATEWAY, "llm_failed")
            }
        };
        ApiError::new(status, code, format!("the model server failed: {error}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Busy
            | StoreError::Full(_)
            | StoreError::ReadOnly(_)
            | StoreError::Unavailable(_) => {
                tracing::warn!(%error, "the store refused a write");
                let (status, code) = match error {
                    StoreError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "store_busy"),
                    StoreError::Full(_) => (StatusCode::INSUFFICIENT_STORAGE, "store_full"),
                    StoreError::ReadOnly(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_read_only"),
                    _ => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
                };
                let refused = ApiError::new(status, code, error.to_string());
                // A lock held by another writer passes in moments; the other states
                // need the operator.
                if matches!(error, StoreError::Busy) {
                    refused.with_retry_after(1)
                } else {
                    refused
                }
            }
            StoreError::Corrupt(_) | StoreError::Database(_) => {
                // Details stay in the log: they may name tables or data.
                tracing::error!(%error, "store failure");
                ApiError::internal()
            }
        }
    }
}

/// The error of a turn that ended without a complete reply, naming what was stored:
/// `user_message_id`, and the `partial` reply (kept as `interrupted` or `cancelled`),
/// shown by the surface's `show`.
pub fn turn_failure(
    end: &TurnEnd,
    user_message: &Message,
    show: impl Fn(&Message) -> Value,
) -> ApiError {
    let (error, partial) = match end {
        TurnEnd::Completed(_) => unreachable!("a completed turn is no failure"),
        TurnEnd::Cancelled(partial) => (
            ApiError::new(StatusCode::CONFLICT, "cancelled", "the turn was cancelled"),
            partial,
        ),
        TurnEnd::Failed {
            error: TurnError::Llm(llm),
            partial,
        } => (ApiError::from(llm.clone()), partial),
        TurnEnd::Failed {
            error: TurnError::Store(fault),
            partial,
        } => (ApiError::from(StoreError::from(fault.clone())), partial),
    };
    error
        .with_extra("user_message_id", serde_json::json!(user_message.id))
        .with_extra("partial", partial.as_ref().map_or(Value::Null, show))
}

impl ApiError {
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

/// How another protocol words an error in its body (OpenAI, Ollama): the status stays
/// the one decided here, except that these protocols have no 422 (a request of the
/// wrong shape is a 400 there).
pub trait ErrorShape {
    fn body(error: &ApiError) -> Value;
}

/// An [`ApiError`] answered in the body shape of protocol `S`.
#[derive(Debug)]
pub struct Shaped<S>(pub ApiError, std::marker::PhantomData<S>);

impl<S> From<ApiError> for Shaped<S> {
    fn from(error: ApiError) -> Self {
        Self(error, std::marker::PhantomData)
    }
}

impl<S> From<Error> for Shaped<S> {
    fn from(error: Error) -> Self {
        ApiError::from(error).into()
    }
}

impl<S: ErrorShape> IntoResponse for Shaped<S> {
    fn into_response(self) -> Response {
        let mut status = self.0.status;
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            status = StatusCode::BAD_REQUEST;
        }
        with_retry_after(
            (status, Json(S::body(&self.0))).into_response(),
            self.0.retry_after,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        with_retry_after(self.body_response(), retry_after)
    }
}

fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl ApiError {
    fn body_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            error: self.message,
            code: self.code,
            field: self.field,
        };
        if self.extra.is_empty() {
            return (self.status, Json(body)).into_response();
        }
        let mut fields = match serde_json::to_value(body) {
            Ok(Value::Object(fields)) => fields,
            _ => unreachable!("an error body serialises to an object"),
        };
        for (key, value) in self.extra {
            fields.entry(key).or_insert(value);
        }
        (self.status, Json(Value::Object(fields))).into_response()
    }
}
