//! The server as a whole: its counters and model server for a dashboard, and the import
//! of an original `config.yaml`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use locrit_core::{Core, ImportReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiError;
use crate::auth::{Who, require_admin};
use crate::error::ErrorBody;
use crate::extract::{JsonBody, Query};

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/status", get(status))
        .route("/api/v2/import/config", post(import_config))
}

#[derive(Deserialize, IntoParams)]
pub struct StatusQuery {
    /// Count the messages written since this instant (RFC 3339, e.g. the client's local
    /// midnight); the start of the day in UTC when absent.
    since: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct ServerStatus {
    locrits: i64,
    active_locrits: i64,
    /// Live sessions (not deleted).
    sessions: i64,
    messages: i64,
    /// Messages written since `since`.
    messages_since: i64,
    since: DateTime<Utc>,
    ollama: OllamaStatus,
    new_locrits: NewLocritEngine,
    store: StoreStatus,
}

/// The engine a new Locrit gets when it names no server.
#[derive(Serialize, ToSchema)]
pub struct NewLocritEngine {
    /// `embedded` when no Ollama server answered at start-up and the embedded models
    /// are present; `ollama` otherwise (the server-wide default server).
    engine: &'static str,
    /// The model such a Locrit gets: the embedded engine runs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'static str>,
}

impl NewLocritEngine {
    fn of(core: &Core) -> Self {
        let model = core.embedded_default_model();
        Self {
            engine: if model.is_some() {
                "embedded"
            } else {
                "ollama"
            },
            model,
        }
    }
}

/// Whether the store takes writes: checked on each call with a write that is rolled back.
#[derive(Serialize, ToSchema)]
pub struct StoreStatus {
    writable: bool,
    /// Why not, as the error code a write gets now (`store_busy`, `store_full`,
    /// `store_read_only`, `store_unavailable`); absent when writable.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    /// The same, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl StoreStatus {
    async fn check(core: &Core) -> Self {
        match core.check_store_writable().await {
            Ok(()) => Self {
                writable: true,
                code: None,
                error: None,
            },
            Err(error) => {
                let refused = ApiError::from(error);
                Self {
                    writable: false,
                    code: Some(refused.code),
                    error: Some(refused.message),
                }
            }
        }
    }
}

/// The global Ollama server, and whether it answered just now.
#[derive(Serialize, ToSchema)]
pub struct OllamaStatus {
    url: String,
    reachable: bool,
    /// How many models it serves; absent when it did not answer.
    models: Option<usize>,
}

/// Counters of every Locrit together, the global Ollama server's state, and whether the
/// store takes writes (reads go on when it does not).
#[utoipa::path(operation_id = "server_status", get, path = "/api/v2/status", tag = "server",
    params(StatusQuery), responses((status = 200, body = ServerStatus),
        (status = 400, description = "Malformed `since`", body = ErrorBody)))]
pub async fn status(
    State(core): State<Core>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<ServerStatus>, ApiError> {
    let since = query.since.unwrap_or_else(start_of_today);
    let stats = core.server_stats(since).await?;
    let url = core.global_config().await?.ollama_url();
    let models = core.ollama_models(&url).await.ok().map(|m| m.len());
    Ok(Json(ServerStatus {
        locrits: stats.locrits,
        active_locrits: stats.active_locrits,
        sessions: stats.sessions,
        messages: stats.messages,
        messages_since: stats.messages_since,
        since,
        ollama: OllamaStatus {
            url,
            reachable: models.is_some(),
            models,
        },
        new_locrits: NewLocritEngine::of(&core),
        store: StoreStatus::check(&core).await,
    }))
}

fn start_of_today() -> DateTime<Utc> {
    Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |midnight| midnight.and_utc())
}

#[derive(Deserialize, ToSchema)]
pub struct ConfigFile {
    /// The text of an original Locrit's `config.yaml`.
    yaml: String,
}

/// Imports an original `config.yaml`, as `locrit import-config` does: its Locrits and
/// its global settings. Importing the same file again changes nothing.
#[utoipa::path(operation_id = "import_config", post, path = "/api/v2/import/config", tag = "server",
    request_body = ConfigFile, responses(
        (status = 200, description = "What happened to each Locrit of the file: `{locrits: [{name, outcome: created|updated|skipped, reason}], config_updated}`", body = Object),
        (status = 422, description = "Not a valid config.yaml", body = ErrorBody)))]
pub async fn import_config(
    State(core): State<Core>,
    Who(requester): Who,
    JsonBody(file): JsonBody<ConfigFile>,
) -> Result<Json<ImportReport>, ApiError> {
    require_admin(&requester)?;
    Ok(Json(core.import_config(&file.yaml).await?))
}
