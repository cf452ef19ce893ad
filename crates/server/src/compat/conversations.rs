//! The conversation API (§1.4): a conversation is a session of kind `conversation`
//! whose key is its id. Everything is read from the store, so it all survives a
//! restart; a deleted conversation is 404 everywhere, for ever.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::{Core, Error, NewSessionSpec};
use locrit_domain::{
    Caller, Locrit, Reading, Requester, Session, SessionKind, SessionStatus, may_chat, may_read,
};
use locrit_store::{MessagePage, SessionQuery};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::chat::conversation_turn;
use super::settings::timestamp;
use super::turn::{
    CONVERSATION_NOT_FOUND, Family, RawBody, client_id, conversation_record, conversation_reply,
    finish, message_json, message_text, refusal, start,
};
use crate::ApiError;
use crate::auth::{Who, acting_user, invitation, may_enter};
use crate::extract::{Path, Query};

const DEFAULT_HISTORY: u32 = 50;

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/api/conversations", get(list))
        .route("/api/conversations/create", post(create))
        .route("/api/conversations/{cid}", get(history).delete(delete))
        .route("/api/conversations/{cid}/message", post(send))
        .route("/api/conversations/{cid}/info", get(info))
}

type Reply = Result<Json<Value>, ApiError>;

/// A live conversation the requester may use, its Locrit, and what the requester is to
/// that Locrit; 404 `Conversation not found` otherwise.
async fn conversation(
    core: &Core,
    requester: &Requester,
    headers: &HeaderMap,
    cid: &str,
) -> Result<(Locrit, Session, Caller), ApiError> {
    client_id("conversation_id", cid)?;
    let not_found = |error| refusal(Family::Conversation, "", error);
    let session = core.conversation(cid).await.map_err(not_found)?;
    let locrit = core.locrit(session.locrit_id).await.map_err(not_found)?;
    let caller = core
        .caller(requester, &locrit, invitation(headers))
        .await
        .map_err(not_found)?;
    if !may_enter(requester, caller, &session) {
        return Err(ApiError::not_found(CONVERSATION_NOT_FOUND));
    }
    Ok((locrit, session, caller))
}

/// The conversation `cid` of the Locrit named `name`: a conversation of another
/// Locrit is `Conversation not found`, as if it did not exist.
pub(crate) async fn conversation_of(
    core: &Core,
    name: &str,
    cid: &str,
) -> Result<(Locrit, Session), ApiError> {
    client_id("conversation_id", cid)?;
    let locrit = core.locrit_named(name).await.map_err(|error| match error {
        Error::NotFound(_) => ApiError::not_found("Locrit not found"),
        other => refusal(Family::Conversation, name, other),
    })?;
    let session = core
        .conversation(cid)
        .await
        .map_err(|error| refusal(Family::Conversation, name, error))?;
    if session.locrit_id != locrit.id {
        return Err(ApiError::not_found(CONVERSATION_NOT_FOUND));
    }
    Ok((locrit, session))
}

#[derive(Deserialize)]
struct CreateBody {
    locrit_name: Option<String>,
    user_id: Option<String>,
    metadata: Option<Map<String, Value>>,
}

async fn create(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    body: RawBody,
) -> Reply {
    const REFUSED: &str = "Locrit not found or inactive";
    let body: CreateBody = body.parse()?.ok_or_else(required)?;
    let Some(name) = body.locrit_name.filter(|n| !n.trim().is_empty()) else {
        return Err(required());
    };
    let refused = |error| match error {
        Error::NotFound(_) | Error::Inactive => ApiError::not_found(REFUSED),
        other => refusal(Family::Conversation, &name, other),
    };
    let locrit = core.locrit_named(&name).await.map_err(refused)?;
    let caller = core
        .caller(&requester, &locrit, invitation(&headers))
        .await
        .map_err(refused)?;
    may_chat(&locrit, caller).map_err(|denied| refused(denied.into()))?;
    let user = acting_user(&requester, caller, body.user_id);
    let spec = NewSessionSpec {
        key: Uuid::new_v4().to_string(),
        kind: SessionKind::Conversation,
        name: None,
        user_id: Some(user.unwrap_or_else(|| "anonymous".into())),
        metadata: Value::Object(body.metadata.unwrap_or_default()),
    };
    let session = core.create_session(&locrit, spec).await.map_err(refused)?;
    Ok(Json(json!({
        "success": true,
        "conversation_id": session.key,
        "session_id": session.key,
        "locrit_name": locrit.name,
        "created_at": timestamp(session.created_at),
    })))
}

fn required() -> ApiError {
    ApiError::bad_request("locrit_name is required")
}

#[derive(Deserialize)]
struct MessageBody {
    message: Option<String>,
}

async fn send(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: RawBody,
) -> Reply {
    const REQUIRED: &str = "message is required";
    let body: Option<MessageBody> = body.parse()?;
    let message = body.and_then(|b| b.message);
    let text = message_text(message, REQUIRED, "message cannot be empty")?;
    let (locrit, session, caller) = conversation(&core, &requester, &headers, &cid).await?;
    let request = conversation_turn(&requester, caller, locrit, session, text)?;
    let turn = start(&core, Family::Conversation, request).await?;
    let reply = finish(&turn, Family::Conversation).await?;
    Ok(Json(conversation_reply(&core, &turn, &reply).await))
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<u32>,
}

/// The conversation with its last `limit` messages, oldest first.
async fn history(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(cid): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Reply {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY);
    if limit == 0 {
        return Err(ApiError::bad_request("limit must be a positive integer").with_field("limit"));
    }
    let (locrit, session, caller) = conversation(&core, &requester, &headers, &cid).await?;
    may_read(&locrit, caller, Reading::Logs)
        .map_err(|denied| ApiError::from(locrit_core::Error::from(denied)))?;
    let page = MessagePage::Before {
        before: None,
        limit,
    };
    let messages = core
        .messages(&session, page)
        .await
        .map_err(|error| refusal(Family::Conversation, &locrit.name, error))?;
    let mut body = conversation_record(&session, &locrit);
    body.insert(
        "messages".into(),
        messages.iter().map(message_json).collect(),
    );
    Ok(Json(Value::Object(body)))
}

/// The conversation of the path, if the requester may use it (see [`conversation`]).
struct Entered {
    locrit: Locrit,
    session: Session,
}

impl FromRequestParts<Core> for Entered {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, core: &Core) -> Result<Self, ApiError> {
        let Who(requester) = Who::from_request_parts(parts, core).await?;
        let Path(cid) = Path::<String>::from_request_parts(parts, core).await?;
        let (locrit, session, _) = conversation(core, &requester, &parts.headers, &cid).await?;
        Ok(Self { locrit, session })
    }
}

async fn info(Entered { locrit, session }: Entered) -> Reply {
    Ok(Json(Value::Object(conversation_record(&session, &locrit))))
}

async fn delete(State(core): State<Core>, Entered { locrit, session }: Entered) -> Reply {
    core.delete_conversation(&session)
        .await
        .map_err(|error| refusal(Family::Conversation, &locrit.name, error))?;
    Ok(Json(
        json!({"success": true, "message": "Conversation deleted"}),
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    user_id: Option<String>,
    locrit_name: Option<String>,
}

/// A user's active conversations, most recent activity first. A signed-in person
/// lists only their own, whatever `user_id` they name.
async fn list(
    State(core): State<Core>,
    Who(requester): Who,
    Query(query): Query<ListQuery>,
) -> Reply {
    let Some(mut user_id) = query.user_id.filter(|u| !u.is_empty()) else {
        return Err(ApiError::bad_request("user_id parameter is required"));
    };
    if !requester.is_admin()
        && let Some(me) = requester.user_id()
    {
        user_id = me;
    }
    let failed = |error| refusal(Family::Conversation, "", error);
    let locrits: HashMap<Uuid, Locrit> = core
        .locrits()
        .await
        .map_err(failed)?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let locrit_id = match query.locrit_name.filter(|n| !n.is_empty()) {
        Some(name) => match locrits.values().find(|l| l.name == name) {
            Some(locrit) => Some(locrit.id),
            None => {
                return Ok(Json(
                    json!({"success": true, "conversations": [], "count": 0}),
                ));
            }
        },
        None => None,
    };
    let sessions = core
        .sessions(&SessionQuery {
            locrit_id,
            user_id: Some(user_id),
            kind: Some(SessionKind::Conversation),
            status: Some(SessionStatus::Active),
            limit: None,
        })
        .await
        .map_err(failed)?;
    let conversations: Vec<Value> = sessions
        .iter()
        .filter_map(|s| {
            Some(Value::Object(conversation_record(
                s,
                locrits.get(&s.locrit_id)?,
            )))
        })
        .collect();
    Ok(Json(json!({
        "success": true,
        "count": conversations.len(),
        "conversations": conversations,
    })))
}
