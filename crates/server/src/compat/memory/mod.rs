//! The Memory Explorer API (§1.5): what a Locrit remembers, read and corrected by its
//! owner, in the §4 shapes. Every route checks, in order: the Locrit (404 `Locrit non
//! trouvé`), its gate (403), then its own input; query and body are therefore read as
//! raw text and parsed only after the first two checks. Unknown ids are 404 with the
//! route's "non trouvé(e)" words; bad numbers are 400; nothing is 200 with `{error}`.
//! Search ([`search`]) is the core's ranked hybrid search, over messages.

mod concepts;
mod records;
mod search;

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use locrit_core::{Core, Error, MemorySummary};
use locrit_domain::{Locrit, Memory, MemoryService, Session};
use locrit_store::LocritStats;
use serde_json::{Value, json};
use uuid::Uuid;

use super::settings::timestamp;
use super::turn::{RawBody, client_id, message_json};
use super::{failure, find_locrit};
use crate::ApiError;
use crate::extract::Path;
use concepts::concept_json;

const LOCRIT_NOT_FOUND: &str = "Locrit non trouvé";
const FULL_REQUIRED: &str = "Accès à la mémoire complète requis";
const SUMMARY_FULL_REQUIRED: &str = "Accès à la mémoire complète non autorisé pour ce Locrit";
const MEMORY_REQUIRED: &str = "Accès à la mémoire requis";
const SESSION_NOT_FOUND: &str = "Session non trouvée";
const MESSAGE_NOT_FOUND: &str = "Message non trouvé";
const MEMORY_NOT_FOUND: &str = "Mémoire non trouvée";
const IMPORTANCE_RANGE: &str = "L'importance doit être entre 0.0 et 1.0";
/// A read failed: the shared wording (no route lists its own).
const READ_FAILED: &str = "internal error";

const DEFAULT_RESULTS: u32 = 10;
const MAX_RESULTS: u32 = 50;
/// What a caller with quick access only may see of a search.
const QUICK_RESULTS: u32 = 5;
const DEFAULT_MESSAGES: u32 = 100;
const MAX_MESSAGES: u32 = 500;

pub(super) fn routes() -> Router<Core> {
    const BASE: &str = "/api/locrits/{name}/memory";
    let at = |path: &str| format!("{BASE}{path}");
    Router::new()
        .route(&at("/summary"), get(summary))
        .route(&at("/search"), get(search::search_get).post(search::search_post))
        .route(&at("/stats"), get(stats))
        .route(&at("/sessions"), get(records::sessions))
        .route(
            &at("/sessions/{sid}"),
            get(records::session).delete(records::delete_session),
        )
        .route(
            &at("/sessions/{sid}/messages"),
            get(records::session_messages),
        )
        .route(
            &at("/messages/{id}"),
            get(records::message)
                .put(records::edit_message)
                .delete(records::delete_message),
        )
        .route(
            &at("/memories"),
            get(records::memories).post(records::add_memory),
        )
        .route(&at("/memories/{id}"), delete(records::delete_memory))
        .route(&at("/concepts"), get(concepts::concepts))
        .route(&at("/concepts/details"), get(concepts::concept_details))
        .route(
            &at("/concepts/{concept}/related"),
            get(concepts::related_concepts),
        )
        .route(
            &at("/concepts/{concept}"),
            axum::routing::put(concepts::update_concept).delete(concepts::delete_concept),
        )
        .route(&at("/clear"), delete(clear))
        // §1.11: the admin chat page's "delete conversation"; v1 memory routes had no
        // gate (§1.12), so this alias checks none of the `access_to` flags.
        .route(
            "/api/v1/locrits/{name}/memory/sessions/{sid}",
            delete(records::delete_session_v1),
        )
}

type Reply = Result<Json<Value>, ApiError>;

/// Which `access_to` flag a route needs, and the words of its 403.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// `full_memory`.
    Full(&'static str),
    /// `quick_memory` or `full_memory`.
    Quick(&'static str),
    /// No flag (the v1 alias).
    Open,
}

const FULL: Gate = Gate::Full(FULL_REQUIRED);

/// The Locrit named in the path, if the route's gate lets the caller in.
async fn gated(
    core: &Core,
    name: &str,
    gate: Gate,
    failed: &'static str,
) -> Result<Locrit, ApiError> {
    let locrit = find_locrit(core, name, LOCRIT_NOT_FOUND.to_owned(), failed).await?;
    let access = &locrit.access_to;
    let refused = match gate {
        Gate::Full(words) => (!access.full_memory).then_some(words),
        Gate::Quick(words) => (!access.full_memory && !access.quick_memory).then_some(words),
        Gate::Open => None,
    };
    match refused {
        Some(words) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            words,
        )),
        None => Ok(locrit),
    }
}

/// A core error in this route's words: `not_found` for a missing thing, `failed` for
/// an internal failure.
fn route_error(not_found: &'static str, failed: &'static str) -> impl Fn(Error) -> ApiError {
    move |error| match error {
        Error::NotFound(_) => ApiError::not_found(not_found),
        other => failure(failed)(other),
    }
}

/// A live session of the Locrit, by the key clients know.
async fn find_session(core: &Core, locrit: &Locrit, sid: &str) -> Result<Session, ApiError> {
    client_id("session_id", sid)?;
    core.session(locrit, sid)
        .await
        .map_err(route_error(SESSION_NOT_FOUND, READ_FAILED))
}

/// An id from a path: one that is not a UUID names nothing.
fn path_id(id: &str, not_found: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(not_found))
}

fn done(message: &str) -> Json<Value> {
    Json(json!({"success": true, "message": message}))
}

// ---- summary and stats -------------------------------------------------------------

async fn summary(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    let locrit = gated(&core, &name, Gate::Full(SUMMARY_FULL_REQUIRED), READ_FAILED).await?;
    let summary = core
        .memory_summary(&locrit)
        .await
        .map_err(failure(READ_FAILED))?;
    Ok(Json(summary_json(&locrit, &summary)))
}

async fn stats(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    let locrit = gated(&core, &name, Gate::Quick(MEMORY_REQUIRED), READ_FAILED).await?;
    let stats = core
        .memory_stats(&locrit)
        .await
        .map_err(failure(READ_FAILED))?;
    let access_level = if locrit.access_to.full_memory {
        "full"
    } else {
        "quick"
    };
    Ok(Json(json!({
        "locrit_name": locrit.name,
        "statistics": statistics_json(&locrit, stats),
        "access_level": access_level,
    })))
}

/// The Summary (§4.2); a zeroed one, `memory_type: "disabled"`, when memory is off.
fn summary_json(locrit: &Locrit, summary: &MemorySummary) -> Value {
    let stats = summary.enabled.then_some(summary.stats);
    json!({
        "locrit_name": locrit.name,
        "statistics": statistics_json(locrit, stats),
        "recent_messages": summary.recent_messages.iter().map(message_json).collect::<Vec<_>>(),
        "sessions": summary.sessions.iter().map(session_json).collect::<Vec<_>>(),
        "top_concepts": summary.top_concepts.iter().map(concept_json).collect::<Vec<_>>(),
    })
}

/// Statistics (§4.1); `None` is a disabled memory: all zero.
fn statistics_json(locrit: &Locrit, stats: Option<LocritStats>) -> Value {
    let memory_type = match (stats, locrit.memory_service) {
        (None, _) | (_, MemoryService::Disabled) => "disabled".to_owned(),
        (_, MemoryService::PlaintextFile) => "simple_file".to_owned(),
        (_, service) => serde_json::to_value(service)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    };
    let stats = stats.unwrap_or_default();
    json!({
        "total_messages": stats.messages,
        "total_sessions": stats.sessions,
        "total_concepts": stats.concepts,
        "total_users": stats.users,
        "total_memories": stats.memories,
        "memory_type": memory_type,
        "locrit_name": locrit.name,
    })
}

/// A Session (§4.1): `id` is the key clients know, `name` defaults to it.
fn session_json(session: &Session) -> Value {
    json!({
        "id": session.key,
        "name": session.name.clone().unwrap_or_else(|| session.key.clone()),
        "topic": session.topic,
        "created_at": timestamp(session.created_at),
        "updated_at": timestamp(session.updated_at),
        "user_id": session.user_id,
        "message_count": session.message_count,
        "kind": session.kind,
        "status": session.status,
        "metadata": session.metadata,
    })
}

/// A MemoryItem (§4.1), with the rest of what is stored.
pub(crate) fn memory_json(memory: &Memory) -> Value {
    let mut value = serde_json::to_value(memory).unwrap_or_default();
    value["created_at"] = json!(timestamp(memory.created_at));
    value["last_accessed"] = json!(memory.last_accessed.map(timestamp));
    value
}

/// `limit`: a positive integer, `default` when absent, at most `max`.
fn limit(text: &Option<String>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = text.as_deref() else {
        return Ok(default);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(u32::try_from(n).unwrap_or(max).min(max)),
        _ => Err(ApiError::bad_request("limit must be a positive integer").with_field("limit")),
    }
}

/// A number, or a numeric string (as Python's `float()` read it).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
}

// ---- clear -------------------------------------------------------------------------

/// Wipes the whole memory; the body must say `{"confirm": true}`.
async fn clear(State(core): State<Core>, Path(name): Path<String>, body: RawBody) -> Reply {
    const REQUIRED: &str = "Confirmation requise pour supprimer toute la mémoire";
    const FAILED: &str = "Échec de la suppression de toute la mémoire";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let confirmed = body
        .parse::<Value>()
        .ok()
        .flatten()
        .is_some_and(|body| body.get("confirm") == Some(&Value::Bool(true)));
    if !confirmed {
        return Err(ApiError::bad_request(REQUIRED).with_field("confirm"));
    }
    core.clear_memory(&locrit).await.map_err(failure(FAILED))?;
    Ok(done("Toute la mémoire a été supprimée avec succès"))
}
