//! The global configuration (§1.9): read it, and save the keys the admin app and the
//! legacy page post, under their original names and aliases.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::{Core, GlobalConfig, GlobalConfigChanges};
use serde_json::{Map, Value, json};

use super::failure;
use super::json::{CompatJson, JsonOrForm};
use crate::ApiError;
use crate::auth::{Who, require_admin};

const SAVE_FAILED: &str = "Erreur lors de la sauvegarde de la configuration.";

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/api/config", get(show))
        .route("/api/config/save", post(save_json))
        .route("/config/save", post(save_json_or_form))
}

async fn show(State(core): State<Core>) -> Result<Json<Value>, ApiError> {
    let config = core.global_config().await.map_err(failure(
        "Erreur lors de la récupération de la configuration",
    ))?;
    let default_model = match config.ollama.default_model.trim() {
        "" => GlobalConfig::default().ollama.default_model,
        model => model.to_owned(),
    };
    Ok(Json(json!({
        "success": true,
        "config": {
            "ollama": {
                "base_url": config.ollama_url(),
                "default_model": default_model,
                "timeout": config.ollama.timeout,
            },
            "network": config.network,
            "memory": config.memory,
            "ui": config.ui,
        },
    })))
}

async fn save_json(
    State(core): State<Core>,
    Who(requester): Who,
    CompatJson(fields): CompatJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&requester)?;
    save(&core, &fields).await
}

/// The legacy page posted a form here; it gets the same JSON answer (no redirect).
async fn save_json_or_form(
    State(core): State<Core>,
    Who(requester): Who,
    JsonOrForm(fields): JsonOrForm,
) -> Result<Json<Value>, ApiError> {
    require_admin(&requester)?;
    save(&core, &fields).await
}

async fn save(core: &Core, fields: &Map<String, Value>) -> Result<Json<Value>, ApiError> {
    core.save_global_config(changes(fields)?)
        .await
        .map_err(failure(SAVE_FAILED))?;
    Ok(Json(
        json!({"success": true, "message": "Configuration sauvegardée avec succès !"}),
    ))
}

/// The recognised keys; others are ignored, as the original did.
fn changes(fields: &Map<String, Value>) -> Result<GlobalConfigChanges, ApiError> {
    let ollama_base_url = text(fields, &["ollama_base_url", "ollama_url"])?;
    if let Some(url) = &ollama_base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(
            ApiError::bad_request("L'URL Ollama doit commencer par http:// ou https://")
                .with_field(given_key(fields, &["ollama_base_url", "ollama_url"])),
        );
    }
    Ok(GlobalConfigChanges {
        ollama_base_url,
        ollama_default_model: text(fields, &["ollama_default_model", "default_model"])?,
        ollama_timeout: integer(fields, "ollama_timeout")?,
        ollama_embedding_model: text(fields, &["ollama_embedding_model", "embedding_model"])?,
        api_port: integer(fields, "api_port")?,
        api_host: text(fields, &["api_host"])?,
        ui_theme: text(fields, &["ui_theme"])?,
        refresh_interval: integer(fields, "refresh_interval")?,
    })
}

/// The first of `keys` given with a value (not `null`).
fn given_key<'a>(fields: &Map<String, Value>, keys: &[&'a str]) -> &'a str {
    keys.iter()
        .copied()
        .find(|key| fields.get(*key).is_some_and(|v| !v.is_null()))
        .unwrap_or(keys[0])
}

/// A text setting under its name or an alias, trimmed; blank means "not given".
fn text(fields: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, ApiError> {
    let key = given_key(fields, keys);
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Some(_) => Err(
            ApiError::bad_request(format!("La valeur de \"{key}\" doit être un texte"))
                .with_field(key),
        ),
    }
}

/// An integer setting, as a JSON number or as digits (form values are text).
fn integer<T: TryFrom<u64>>(fields: &Map<String, Value>, key: &str) -> Result<Option<T>, ApiError> {
    let number = match fields.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match number.and_then(|n| T::try_from(n).ok()) {
        Some(value) => Ok(Some(value)),
        None => Err(ApiError::bad_request(format!(
            "La valeur de \"{key}\" doit être un nombre entier valide"
        ))
        .with_field(key)),
    }
}
