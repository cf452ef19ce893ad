//! Locrit CRUD and per-Locrit settings (§1.2), addressed by name.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::{Core, Error};
use locrit_domain::{AccessTo, LocritPatch, MemoryService, NewLocrit, OpenTo, PublicPage};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::json::{CompatJson, object, present, present_object};
use super::settings::locrit_settings;
use super::{failure, find_locrit, name_taken, not_found};
use crate::ApiError;
use crate::auth::Who;
use crate::extract::Path;

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/api/locrits", get(list))
        .route(
            "/api/locrits/{name}/config",
            get(show_config).put(update_config),
        )
        .route("/api/create-locrit", post(create))
        .route("/api/locrits/{name}/rename", post(rename))
        .route("/api/locrits/{name}/toggle", post(toggle))
        .route("/api/locrits/{name}/toggle-edit", post(toggle_edit))
        .route("/api/locrits/{name}/delete", post(delete))
        .route("/api/test-create", post(test_create))
}

type Reply = Result<Json<Value>, ApiError>;

async fn list(State(core): State<Core>, Who(requester): Who) -> Reply {
    const FAILED: &str = "Erreur lors de la récupération de la configuration des Locrits";
    let config = core.global_config().await.map_err(failure(FAILED))?;
    let locrits = core
        .managed_locrits(&requester)
        .await
        .map_err(failure(FAILED))?;
    let instances: Map<String, Value> = locrits
        .iter()
        .map(|l| (l.name.clone(), locrit_settings(l)))
        .collect();
    let default_settings = match config.locrit_defaults {
        Value::Null => locrit_core::GlobalConfig::default().locrit_defaults,
        defaults => defaults,
    };
    Ok(Json(json!({
        "success": true,
        "locrits": {"default_settings": default_settings, "instances": instances},
    })))
}

async fn show_config(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    const FAILED: &str = "Erreur lors de la récupération de la configuration du Locrit";
    let locrit = find_locrit(&core, &name, not_found(&name), FAILED).await?;
    Ok(Json(
        json!({"success": true, "settings": locrit_settings(&locrit)}),
    ))
}

/// What `PUT …/config` applies; absent fields keep their value, other keys are ignored
/// (the admin app sends some). `null` or `""` clears the nullable ones.
#[derive(Deserialize)]
struct ConfigUpdate {
    description: Option<String>,
    ollama_model: Option<String>,
    #[serde(default, deserialize_with = "present")]
    ollama_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    public_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_object")]
    public_page: Option<Option<PublicPage>>,
    #[serde(default, deserialize_with = "object")]
    open_to: Option<OpenTo>,
    #[serde(default, deserialize_with = "object")]
    access_to: Option<AccessTo>,
    memory_service: Option<MemoryService>,
    active: Option<bool>,
}

async fn update_config(
    State(core): State<Core>,
    Path(name): Path<String>,
    CompatJson(update): CompatJson<ConfigUpdate>,
) -> Reply {
    const FAILED: &str = "Erreur lors de la mise à jour de la configuration du Locrit.";
    let locrit = find_locrit(&core, &name, not_found(&name), FAILED).await?;
    let patch = LocritPatch {
        description: update.description,
        ollama_model: update.ollama_model,
        ollama_url: update.ollama_url,
        public_address: update.public_address,
        public_page: update.public_page,
        open_to: update.open_to,
        access_to: update.access_to,
        memory_service: update.memory_service,
        active: update.active,
        ..LocritPatch::default()
    };
    let locrit = core
        .update_locrit(locrit, patch)
        .await
        .map_err(failure(FAILED))?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Configuration du Locrit \"{name}\" sauvegardée avec succès !"),
        "settings": locrit_settings(&locrit),
    })))
}

/// The create request: flat permission flags, defaulting as in the original.
#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    description: Option<String>,
    model: Option<String>,
    public_address: Option<String>,
    ollama_url: Option<String>,
    memory_service: Option<MemoryService>,
    humans: Option<bool>,
    locrits: Option<bool>,
    invitations: Option<bool>,
    internet: Option<bool>,
    platform: Option<bool>,
    logs: Option<bool>,
    quick_memory: Option<bool>,
    full_memory: Option<bool>,
    llm_info: Option<bool>,
}

impl CreateRequest {
    /// Checks the required fields in the original's order.
    fn into_new_locrit(self) -> Result<NewLocrit, ApiError> {
        let name = required(self.name, "Le nom du Locrit est obligatoire")?;
        let description = required(self.description, "La description est obligatoire")?;
        let model = required(self.model, "Le modèle Ollama est obligatoire")?;
        Ok(NewLocrit {
            name,
            description,
            ollama_model: model,
            ollama_url: self.ollama_url.filter(|url| !url.trim().is_empty()),
            open_to: Some(OpenTo {
                humans: self.humans.unwrap_or(true),
                locrits: self.locrits.unwrap_or(true),
                invitations: self.invitations.unwrap_or(true),
                internet: self.internet.unwrap_or(false),
                platform: self.platform.unwrap_or(false),
            }),
            access_to: Some(AccessTo {
                logs: self.logs.unwrap_or(true),
                quick_memory: self.quick_memory.unwrap_or(true),
                full_memory: self.full_memory.unwrap_or(false),
                llm_info: self.llm_info.unwrap_or(true),
            }),
            memory_service: self.memory_service.unwrap_or_default(),
            public_address: self.public_address,
            active: false,
            ..NewLocrit::default()
        })
    }
}

/// A required text field, trimmed; absent, `null` or blank is a 400 with `message`.
fn required(value: Option<String>, message: &str) -> Result<String, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(ApiError::bad_request(message)),
    }
}

/// Like [`failure`], but a name conflict is the original's `existe déjà`, as a 409.
fn naming_failure(name: &str, failed: &'static str) -> impl Fn(Error) -> ApiError {
    move |error| match error {
        Error::Conflict(_) => name_taken(name),
        other => failure(failed)(other),
    }
}

async fn create(
    State(core): State<Core>,
    Who(requester): Who,
    CompatJson(request): CompatJson<CreateRequest>,
) -> Reply {
    const FAILED: &str = "Erreur lors de la création du Locrit.";
    let new = request.into_new_locrit()?;
    let name = new.name.clone();
    let locrit = core
        .create_locrit_for(new, &requester)
        .await
        .map_err(naming_failure(&name, FAILED))?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Locrit \"{}\" créé avec succès !", locrit.name),
        "locrit": {"name": locrit.name, "settings": locrit_settings(&locrit)},
    })))
}

#[derive(Deserialize)]
struct RenameRequest {
    new_name: Option<String>,
}

async fn rename(
    State(core): State<Core>,
    Path(name): Path<String>,
    CompatJson(request): CompatJson<RenameRequest>,
) -> Reply {
    const FAILED: &str = "Erreur lors du renommage du Locrit.";
    let new_name = required(request.new_name, "Le nouveau nom du Locrit est obligatoire")?;
    if new_name == name {
        return Err(ApiError::bad_request(
            "Le nouveau nom doit être différent de l'ancien",
        ));
    }
    // The original checks the new name before the old one.
    match core.locrit_named(&new_name).await {
        Ok(_) => return Err(name_taken(&new_name)),
        Err(Error::NotFound(_)) => {}
        Err(other) => return Err(failure(FAILED)(other)),
    }
    let locrit = find_locrit(&core, &name, not_found(&name), FAILED).await?;
    let patch = LocritPatch {
        name: Some(new_name.clone()),
        ..LocritPatch::default()
    };
    let locrit = core
        .update_locrit(locrit, patch)
        .await
        .map_err(naming_failure(&new_name, FAILED))?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Locrit \"{name}\" renommé en \"{}\" avec succès !", locrit.name),
        "old_name": name,
        "new_name": locrit.name,
    })))
}

async fn toggle(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    const FAILED: &str = "Erreur lors du changement de statut du Locrit.";
    let locrit = find_locrit(&core, &name, not_found(&name), FAILED).await?;
    let patch = LocritPatch {
        active: Some(!locrit.active),
        ..LocritPatch::default()
    };
    let locrit = core
        .update_locrit(locrit, patch)
        .await
        .map_err(failure(FAILED))?;
    let state = if locrit.active {
        "activé"
    } else {
        "désactivé"
    };
    Ok(Json(json!({
        "success": true,
        "active": locrit.active,
        "message": format!("Locrit \"{name}\" {state} !"),
    })))
}

/// "Edit" is `logs` and `full_memory` together: both are set to the same new value.
async fn toggle_edit(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    const FAILED: &str = "Erreur lors du changement du mode édition du Locrit.";
    let locrit = find_locrit(&core, &name, not_found(&name), FAILED).await?;
    let enabled = !(locrit.access_to.logs && locrit.access_to.full_memory);
    let access_to = AccessTo {
        logs: enabled,
        full_memory: enabled,
        ..locrit.access_to
    };
    let patch = LocritPatch {
        access_to: Some(access_to),
        ..LocritPatch::default()
    };
    let locrit = core
        .update_locrit(locrit, patch)
        .await
        .map_err(failure(FAILED))?;
    let state = if enabled { "activée" } else { "désactivée" };
    Ok(Json(json!({
        "success": true,
        "edit_enabled": enabled,
        "access_to": locrit.access_to,
        "message": format!("Édition édition {state} pour le Locrit \"{name}\""),
    })))
}

async fn delete(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    const FAILED: &str = "Erreur lors de la suppression du Locrit.";
    let locrit = find_locrit(&core, &name, format!("{}.", not_found(&name)), FAILED).await?;
    core.delete_locrit(&locrit).await.map_err(failure(FAILED))?;
    Ok(Json(
        json!({"success": true, "message": format!("Locrit \"{name}\" supprimé avec succès !")}),
    ))
}

async fn test_create() -> Json<Value> {
    Json(json!({"success": true, "message": "Test endpoint working"}))
}
