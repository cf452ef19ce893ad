//! The Ollama helpers (§1.8): list a server's models, test a URL, probe the global
//! server. They reach any URL a caller gives, so they stay together here, where an
//! owner-only guard can wrap them all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::Core;
use locrit_llm::LlmError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::failure;
use super::json::CompatJson;
use crate::ApiError;
use crate::auth::{Who, may_probe};
use crate::extract::Query;
use locrit_domain::Requester;

/// How many model names `test-ollama` shows.
const SHOWN_MODELS: usize = 5;

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route(
            "/api/ollama/models",
            get(models_by_query).post(models_by_body),
        )
        .route("/config/test-ollama", post(test))
        .route("/api/ollama/status", get(status))
}

type Reply = Result<Json<Value>, ApiError>;

/// The server a request names, as `ollama_url` or `base_url`; a trailing `/` is dropped.
#[derive(Deserialize, Default)]
struct Target {
    ollama_url: Option<String>,
    base_url: Option<String>,
}

impl Target {
    fn url(self) -> Option<String> {
        [self.ollama_url, self.base_url]
            .into_iter()
            .flatten()
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .find(|url| !url.is_empty())
    }
}

async fn models_by_query(
    State(core): State<Core>,
    Who(requester): Who,
    Query(target): Query<Target>,
) -> Reply {
    models(&core, &requester, target).await
}

async fn models_by_body(
    State(core): State<Core>,
    Who(requester): Who,
    CompatJson(target): CompatJson<Target>,
) -> Reply {
    models(&core, &requester, target).await
}

/// The models of the named server, else of the global one.
async fn models(core: &Core, requester: &Requester, target: Target) -> Reply {
    let url = match target.url() {
        Some(url) => url,
        None => global_url(core).await?,
    };
    may_probe(core, requester, &url).await?;
    let models = core.ollama_models(&url).await.map_err(|error| {
        let message = match error {
            LlmError::Protocol(_) => format!("Erreur serveur: {error}"),
            _ => format!("Impossible de se connecter au serveur Ollama: {error}"),
        };
        upstream(error, message).with_extra("models", json!([]))
    })?;
    // Each model as `{name, modified_at, size}`, by name.
    Ok(Json(
        json!({"success": true, "total_models": models.len(), "models": models}),
    ))
}

/// Tests the given URL; there is no fallback to the global server here.
async fn test(
    State(core): State<Core>,
    Who(requester): Who,
    CompatJson(target): CompatJson<Target>,
) -> Reply {
    let Some(url) = target.url() else {
        return Err(ApiError::bad_request(
            "URL Ollama requise. Chaque Locrit doit avoir son propre serveur Ollama configuré.",
        ));
    };
    may_probe(&core, &requester, &url).await?;
    let models = core.ollama_models(&url).await.map_err(|error| {
        let failed = match &error {
            LlmError::Connect(_) => {
                let details = error.to_string();
                upstream(error, "Impossible de se connecter au serveur Ollama. Vérifiez que le serveur est démarré.")
                    .with_extra("technical_details", details)
            }
            LlmError::Timeout(_) => upstream(error, "Timeout lors de la connexion au serveur Ollama."),
            LlmError::Status { .. } | LlmError::Protocol(_) => {
                let message = format!("Erreur de requête: {error}");
                upstream(error, message)
            }
        };
        failed.with_extra("tested_url", url.clone())
    })?;
    let names: Vec<&str> = models
        .iter()
        .take(SHOWN_MODELS)
        .map(|m| m.name.as_str())
        .collect();
    Ok(Json(json!({
        "success": true,
        "message": "Connexion réussie",
        "models": names,
        "total_models": models.len(),
        "tested_url": url,
    })))
}

/// Whether the global server answers.
async fn status(State(core): State<Core>) -> Reply {
    let url = global_url(&core).await?;
    Ok(Json(match core.ollama_models(&url).await {
        Ok(_) => json!({"success": true, "status": "connected", "base_url": url}),
        Err(error) => json!({
            "success": false,
            "status": "disconnected",
            "base_url": url,
            "error": format!("Impossible de se connecter au serveur Ollama: {error}"),
        }),
    }))
}

async fn global_url(core: &Core) -> Result<String, ApiError> {
    let config = core
        .global_config()
        .await
        .map_err(failure("Erreur serveur"))?;
    Ok(config.ollama_url())
}

/// An Ollama server failure: 504 when it timed out, 502 otherwise.
fn upstream(error: LlmError, message: impl Into<String>) -> ApiError {
    let status = match error {
        LlmError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut api = ApiError::from(error).with_message(message);
    api.status = status;
    api
}
