//! The original Locrit's HTTP contract (`../shared/reference/locrit-wire-contract.md`),
//! with its field names and messages, and its defects fixed.
//!
//! Handlers are thin: they check what the contract checks, in its order, call
//! [`Core`], and word the answer. Errors are [`ApiError`]s with the original's French
//! messages; statuses come from the shared mapping, except where the contract wants
//! another (400 for a validation failure, which the clean API answers with 422).

pub(crate) mod chat;
mod config;
pub(crate) mod conversations;
mod health;
mod json;
mod locrits;
pub(crate) mod memory;
mod ollama;
pub(crate) mod public;
pub(crate) mod settings;
pub(crate) mod turn;
mod v1;

use axum::Router;
use axum::http::StatusCode;
use locrit_core::{Core, Error};
use locrit_domain::Locrit;

use crate::ApiError;
use crate::rate_limit::PublicLimits;

pub fn router(public_limits: &PublicLimits) -> Router<Core> {
    Router::new()
        .merge(health::routes())
        .merge(locrits::routes())
        .merge(config::routes())
        .merge(ollama::routes())
        .merge(chat::routes())
        .merge(conversations::routes())
        .merge(memory::routes())
        .merge(v1::routes())
        .merge(public::routes(public_limits))
}

/// Turns a core error into this surface's error. `failed` is the route's message for
/// an internal failure (the original's 500 text); other errors keep their message.
fn failure(failed: &'static str) -> impl Fn(Error) -> ApiError {
    move |error| {
        let mut api = ApiError::from(error);
        if api.status == StatusCode::UNPROCESSABLE_ENTITY {
            api.status = StatusCode::BAD_REQUEST;
        }
        if api.status == StatusCode::INTERNAL_SERVER_ERROR {
            api = api.with_message(failed);
        }
        api
    }
}

/// The Locrit with exactly this name; a 404 with `not_found` when there is none.
async fn find_locrit(
    core: &Core,
    name: &str,
    not_found: String,
    failed: &'static str,
) -> Result<Locrit, ApiError> {
    core.locrit_named(name).await.map_err(|error| match error {
        Error::NotFound(_) => ApiError::not_found(not_found),
        other => failure(failed)(other),
    })
}

/// The 404 message of most Locrit routes (delete adds a period).
fn not_found(name: &str) -> String {
    format!("Locrit \"{name}\" non trouvé")
}

/// A 409 for a name already taken, as create and rename answer it.
fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("Un Locrit avec le nom \"{name}\" existe déjà"),
    )
}
