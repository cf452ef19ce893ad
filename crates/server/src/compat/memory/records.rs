//! Sessions, messages and standalone memories: list, read, edit, delete.

use axum::Json;
use axum::extract::State;
use locrit_core::Core;
use locrit_domain::NewMemory;
use locrit_store::{MemoryQuery, MessagePage};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    DEFAULT_MESSAGES, FULL, Gate, IMPORTANCE_RANGE, MAX_MESSAGES, MEMORY_NOT_FOUND,
    MESSAGE_NOT_FOUND, READ_FAILED, Reply, SESSION_NOT_FOUND, done, find_session, gated, limit,
    memory_json, number, path_id, route_error, session_json,
};
use crate::ApiError;
use crate::compat::failure;
use crate::compat::turn::{RawBody, message_json};
use crate::extract::{Path, Query};

pub(super) async fn sessions(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let sessions = core
        .memory_sessions(&locrit)
        .await
        .map_err(failure(READ_FAILED))?;
    Ok(Json(json!({
        "sessions": sessions.iter().map(session_json).collect::<Vec<_>>(),
        "total": sessions.len(),
    })))
}

pub(super) async fn session(
    State(core): State<Core>,
    Path((name, sid)): Path<(String, String)>,
) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let session = find_session(&core, &locrit, &sid).await?;
    Ok(Json(json!({"session": session_json(&session)})))
}

#[derive(Deserialize)]
pub(super) struct LimitQuery {
    limit: Option<String>,
}

/// The last `limit` messages of a session, in chronological order.
pub(super) async fn session_messages(
    State(core): State<Core>,
    Path((name, sid)): Path<(String, String)>,
    Query(query): Query<LimitQuery>,
) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let limit = limit(&query.limit, DEFAULT_MESSAGES, MAX_MESSAGES)?;
    let session = find_session(&core, &locrit, &sid).await?;
    let page = MessagePage::Before {
        before: None,
        limit,
    };
    let messages = core
        .messages(&session, page)
        .await
        .map_err(failure(READ_FAILED))?;
    Ok(Json(json!({
        "session_id": session.key,
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
        "total": messages.len(),
        "message_count": session.message_count,
    })))
}

pub(super) async fn delete_session(
    State(core): State<Core>,
    Path((name, sid)): Path<(String, String)>,
) -> Reply {
    remove_session(&core, &name, &sid, FULL).await
}

pub(super) async fn delete_session_v1(
    State(core): State<Core>,
    Path((name, sid)): Path<(String, String)>,
) -> Reply {
    remove_session(&core, &name, &sid, Gate::Open).await
}

/// Deletes a session with its messages.
pub(super) async fn remove_session(core: &Core, name: &str, sid: &str, gate: Gate) -> Reply {
    const FAILED: &str = "Échec de la suppression de la session";
    let locrit = gated(core, name, gate, FAILED).await?;
    let session = find_session(core, &locrit, sid).await?;
    core.delete_session(&session)
        .await
        .map_err(route_error(SESSION_NOT_FOUND, FAILED))?;
    Ok(done("Session supprimée avec succès"))
}

// ---- messages ----------------------------------------------------------------------

pub(super) async fn message(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let id = path_id(&id, MESSAGE_NOT_FOUND)?;
    let message = core
        .message(&locrit, id)
        .await
        .map_err(route_error(MESSAGE_NOT_FOUND, READ_FAILED))?;
    Ok(Json(json!({"message": message_json(&message)})))
}

#[derive(Deserialize)]
pub(super) struct EditBody {
    content: Option<Value>,
}

pub(super) async fn edit_message(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
    body: RawBody,
) -> Reply {
    const REQUIRED: &str = "Nouveau contenu requis";
    const FAILED: &str = "Échec de la modification du message";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let body: Option<EditBody> = body.parse().map_err(|e| e.with_message(REQUIRED))?;
    let content = match body.and_then(|b| b.content) {
        Some(Value::String(text)) if !text.trim().is_empty() => text,
        _ => return Err(ApiError::bad_request(REQUIRED).with_field("content")),
    };
    let id = path_id(&id, MESSAGE_NOT_FOUND)?;
    core.edit_message(&locrit, id, &content)
        .await
        .map_err(route_error(MESSAGE_NOT_FOUND, FAILED))?;
    Ok(done("Message modifié avec succès"))
}

pub(super) async fn delete_message(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    const FAILED: &str = "Échec de la suppression du message";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let id = path_id(&id, MESSAGE_NOT_FOUND)?;
    core.delete_message(&locrit, id)
        .await
        .map_err(route_error(MESSAGE_NOT_FOUND, FAILED))?;
    Ok(done("Message supprimé avec succès"))
}

// ---- standalone memories -----------------------------------------------------------

pub(super) async fn memories(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let memories = core
        .memories(&locrit, &MemoryQuery::default())
        .await
        .map_err(failure(READ_FAILED))?;
    Ok(Json(json!({
        "memories": memories.iter().map(memory_json).collect::<Vec<_>>(),
        "total": memories.len(),
    })))
}

pub(super) async fn add_memory(
    State(core): State<Core>,
    Path(name): Path<String>,
    body: RawBody,
) -> Reply {
    const FAILED: &str = "Échec de l'ajout de la mémoire";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let memory = new_memory(&body)?;
    let memory = core
        .add_memory(&locrit, memory)
        .await
        .map_err(failure(FAILED))?;
    Ok(Json(json!({
        "success": true,
        "memory_id": memory.id,
        "message": "Mémoire ajoutée avec succès",
    })))
}

/// A memory to add, as the original read it: `content` required, `importance` a
/// number (or a numeric string, as Python's `float()` took it) from 0 to 1, 0.5 when
/// absent, `metadata` an object.
fn new_memory(body: &RawBody) -> Result<NewMemory, ApiError> {
    const REQUIRED: &str = "Contenu de la mémoire requis";
    let fields: Map<String, Value> = body
        .parse()
        .map_err(|e| e.with_message(REQUIRED))?
        .ok_or_else(|| ApiError::bad_request(REQUIRED))?;
    let content = match fields.get("content") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
        _ => return Err(ApiError::bad_request(REQUIRED).with_field("content")),
    };
    let importance = match fields.get("importance") {
        None | Some(Value::Null) => Some(0.5),
        Some(value) => number(value),
    };
    let importance = importance
        .filter(|i| (0.0..=1.0).contains(i))
        .ok_or_else(|| ApiError::bad_request(IMPORTANCE_RANGE).with_field("importance"))?;
    let metadata = match fields.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(metadata)) => Value::Object(metadata.clone()),
        Some(_) => {
            return Err(ApiError::bad_request("metadata must be an object").with_field("metadata"));
        }
    };
    Ok(NewMemory {
        content,
        importance,
        metadata,
        ..NewMemory::default()
    })
}

pub(super) async fn delete_memory(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    const FAILED: &str = "Échec de la suppression de la mémoire";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let id = path_id(&id, MEMORY_NOT_FOUND)?;
    core.delete_memory(&locrit, id)
        .await
        .map_err(route_error(MEMORY_NOT_FOUND, FAILED))?;
    Ok(done("Mémoire supprimée avec succès"))
}
