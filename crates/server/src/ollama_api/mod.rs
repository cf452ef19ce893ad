//! Ollama's own API, served by Locrit (`/api/tags`, `/api/show`, `/api/chat`,
//! `/api/version`): a client told that Locrit is its "Ollama server" sees every Locrit
//! the caller may chat with as a model. Not to be confused with `compat::ollama`, the
//! original's helpers that query the real Ollama servers Locrits run on.
//! Errors have Ollama's shape, `{"error": "<message>"}`.

mod chat;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::Core;
use locrit_domain::Locrit;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::auth::Who;
use crate::chat_clients;
use crate::error::{ErrorShape, Shaped};
use crate::extract::AnyJson;

/// The Ollama release whose API this surface follows (clients check it).
const OLLAMA_API_VERSION: &str = "0.12.6";

/// The paths of Ollama's API served here; their errors are in Ollama's shape.
pub const PATHS: [&str; 4] = ["/api/version", "/api/tags", "/api/show", "/api/chat"];

pub fn router() -> Router<Core> {
    let [version_path, tags_path, show_path, chat_path] = PATHS;
    Router::new()
        .route(version_path, get(version))
        .route(tags_path, get(tags))
        .route(show_path, post(show))
        .route(chat_path, post(chat::chat))
}

pub struct Ollama;

/// An error in Ollama's shape.
pub type OllamaError = Shaped<Ollama>;

impl ErrorShape for Ollama {
    fn body(error: &ApiError) -> Value {
        json!({"error": error.message})
    }
}

async fn version() -> Json<Value> {
    Json(json!({"version": OLLAMA_API_VERSION}))
}

/// What describes a Locrit as a model in the listing and in `show`.
fn details(locrit: &Locrit) -> Value {
    json!({
        "parent_model": locrit.ollama_model,
        "format": "locrit",
        "family": "locrit",
        "families": ["locrit"],
        "parameter_size": "",
        "quantization_level": "",
    })
}

async fn tags(State(core): State<Core>, Who(requester): Who) -> Result<Json<Value>, OllamaError> {
    let models: Vec<Value> = chat_clients::models(&core, &requester)
        .await?
        .iter()
        .map(|locrit| {
            json!({
                "name": locrit.name,
                "model": locrit.name,
                "modified_at": locrit.updated_at,
                "size": 0,
                "digest": locrit.id.simple().to_string(),
                "details": details(locrit),
            })
        })
        .collect();
    Ok(Json(json!({"models": models})))
}

#[derive(Deserialize)]
struct ShowRequest {
    /// `name` in older clients.
    #[serde(alias = "name")]
    model: String,
}

async fn show(
    State(core): State<Core>,
    Who(requester): Who,
    body: Result<AnyJson<ShowRequest>, ApiError>,
) -> Result<Json<Value>, OllamaError> {
    let AnyJson(request) = body?;
    let (locrit, _) = chat_clients::model(&core, &requester, &request.model).await?;
    Ok(Json(json!({
        "license": "",
        "modelfile": format!("# The Locrit {:?}, answering with {}", locrit.name, locrit.ollama_model),
        "parameters": "",
        "template": "",
        "system": locrit.description,
        "details": details(&locrit),
        "model_info": {
            "general.architecture": "locrit",
            "locrit.base_model": locrit.ollama_model,
        },
        "capabilities": ["completion"],
        "modified_at": locrit.updated_at,
    })))
}
