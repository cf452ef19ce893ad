//! Sessions and messages of a Locrit, and chat: a posted message is answered as JSON, or
//! as a Server-Sent Events stream that a client can resume with `Last-Event-ID`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use locrit_core::chat::{SessionTarget, TurnEnd, TurnEvent, TurnLog, TurnRequest};
use locrit_core::{Core, NewSessionSpec};
use locrit_domain::{Locrit, Message, Session, SessionKind};
use locrit_store::{MessagePage, SessionQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::{Who, acting_user, invitation, may_continue};
use crate::error::{ErrorBody, turn_failure};
use crate::extract::{JsonBody, Path, Query};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/locrits/{id}/sessions", get(list).post(create))
        .route(
            "/api/v2/locrits/{id}/sessions/{session}",
            get(show).patch(rename).delete(remove),
        )
        .route(
            "/api/v2/locrits/{id}/sessions/{session}/messages",
            get(messages).post(send),
        )
        .route("/api/v2/turns/{turn}/events", get(events))
        .route("/api/v2/turns/{turn}/cancel", post(cancel))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSessionBody {
    /// The session id; a UUID is generated when absent.
    id: Option<String>,
    name: Option<String>,
    user_id: Option<String>,
    #[schema(value_type = Object)]
    metadata: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<Session>,
}

/// Opens a session.
#[utoipa::path(operation_id = "create_session", post, path = "/api/v2/locrits/{id}/sessions", tag = "chat", params(("id" = Uuid, Path)),
    request_body = NewSessionBody,
    responses((status = 201, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewSessionBody>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let locrit = core.locrit(id).await?;
    let spec = NewSessionSpec {
        key: body.id.unwrap_or_else(|| Uuid::new_v4().to_string()),
        kind: SessionKind::Chat,
        name: body.name,
        user_id: body.user_id,
        metadata: body.metadata.unwrap_or_else(|| json!({})),
    };
    Ok((
        StatusCode::CREATED,
        Json(core.create_session(&locrit, spec).await?),
    ))
}

/// The Locrit's sessions, most recently active first.
#[utoipa::path(operation_id = "list_sessions", get, path = "/api/v2/locrits/{id}/sessions", tag = "chat", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionList>, ApiError> {
    let locrit = core.locrit(id).await?;
    let sessions = core
        .sessions(&SessionQuery {
            locrit_id: Some(locrit.id),
            ..Default::default()
        })
        .await?;
    Ok(Json(SessionList { sessions }))
}

/// One session.
#[utoipa::path(operation_id = "get_session", get, path = "/api/v2/locrits/{id}/sessions/{session}", tag = "chat",
    params(("id" = Uuid, Path), ("session" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(core): State<Core>,
    Path((id, key)): Path<(Uuid, String)>,
) -> Result<Json<Session>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(core.session(&locrit, &key).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    /// 1 to 200 characters, trimmed.
    name: String,
}

/// Names a session.
#[utoipa::path(operation_id = "rename_session", patch, path = "/api/v2/locrits/{id}/sessions/{session}", tag = "chat",
    params(("id" = Uuid, Path), ("session" = String, Path)), request_body = RenameBody,
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rename(
    State(core): State<Core>,
    Path((id, key)): Path<(Uuid, String)>,
    JsonBody(body): JsonBody<RenameBody>,
) -> Result<Json<Session>, ApiError> {
    let locrit = core.locrit(id).await?;
    let session = core.session(&locrit, &key).await?;
    Ok(Json(core.rename_session(&session, &body.name).await?))
}

/// Deletes a session and its messages; memories learned only from them are invalidated.
#[utoipa::path(operation_id = "delete_session", delete, path = "/api/v2/locrits/{id}/sessions/{session}", tag = "chat",
    params(("id" = Uuid, Path), ("session" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(core): State<Core>,
    Path((id, key)): Path<(Uuid, String)>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    let session = core.session(&locrit, &key).await?;
    core.delete_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// Messages before this sequence number (older); the newest when neither cursor is given.
    before: Option<i64>,
    /// Messages after this sequence number (newer).
    after: Option<i64>,
    /// How many, at most (default 50, at most 500).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePageBody {
    /// In chronological order.
    messages: Vec<Message>,
    /// Pass as `before` for the older page; absent when there is none.
    before: Option<i64>,
    /// Pass as `after` for the newer page; absent when there is none.
    after: Option<i64>,
}

/// A page of a session's messages, with cursors both ways.
#[utoipa::path(operation_id = "list_messages", get, path = "/api/v2/locrits/{id}/sessions/{session}/messages", tag = "chat",
    params(("id" = Uuid, Path), ("session" = String, Path), PageQuery),
    responses((status = 200, body = MessagePageBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn messages(
    State(core): State<Core>,
    Path((id, key)): Path<(Uuid, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<MessagePageBody>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(
            ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}"))
                .with_field("limit"),
        );
    }
    let locrit = core.locrit(id).await?;
    let session = core.session(&locrit, &key).await?;
    // One more than asked tells whether there is a further page.
    let (page, older_first) = match (query.before, query.after) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give before or after, not both")),
        (before, None) => (
            MessagePage::Before {
                before,
                limit: limit + 1,
            },
            true,
        ),
        (None, Some(after)) => (
            MessagePage::After {
                after,
                limit: limit + 1,
            },
            false,
        ),
    };
    let mut messages = core.messages(&session, page).await?;
    let more = messages.len() > limit as usize;
    if more {
        if older_first {
            messages.remove(0);
        } else {
            messages.pop();
        }
    }
    let first = messages.first().map(|m| m.seq);
    let last = messages.last().map(|m| m.seq);
    let (before, after) = if older_first {
        (
            first.filter(|_| more),
            last.filter(|seq| *seq < session.last_seq),
        )
    } else {
        (first.filter(|seq| *seq > 1), last.filter(|_| more))
    };
    Ok(Json(MessagePageBody {
        messages,
        before,
        after,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    content: String,
    user_id: Option<String>,
    /// Answer as Server-Sent Events (also chosen by `Accept: text/event-stream`).
    #[serde(default)]
    stream: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Reply {
    turn_id: Uuid,
    /// The stored message of the user.
    user_message: Message,
    /// The stored reply.
    reply: Message,
}

/// Sends a message and answers with the Locrit's reply. Both are stored before this
/// answers; their ids are in the answer. With `stream` (or `Accept: text/event-stream`)
/// the answer is an SSE stream: `turn` (the stored user message), `delta`s, then
/// `done` (the stored reply) or `error`.
#[utoipa::path(operation_id = "send_message", post, path = "/api/v2/locrits/{id}/sessions/{session}/messages", tag = "chat",
    params(("id" = Uuid, Path), ("session" = String, Path)), request_body = SendBody,
    responses((status = 200, body = Reply), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
        (status = 503, description = "The model server is unreachable", body = ErrorBody),
        (status = 504, description = "The model server timed out", body = ErrorBody)))]
pub async fn send(
    State(core): State<Core>,
    Who(requester): Who,
    Path((id, key)): Path<(Uuid, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<Response, ApiError> {
    if body.content.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "content must not be empty",
        )
        .with_field("content"));
    }
    let locrit: Locrit = core.locrit(id).await?;
    let caller = core
        .caller(&requester, &locrit, invitation(&headers))
        .await?;
    may_continue(&core, &requester, caller, &locrit, &key).await?;
    let request = TurnRequest {
        session: SessionTarget::Existing { kind: None, key },
        user_id: acting_user(&requester, caller, body.user_id),
        locrit,
        caller,
        text: body.content,
        system_additions: vec![],
    };
    let turn = core.start_turn(request).await?;
    let wants_stream = body.stream || accepts_event_stream(&headers);
    if wants_stream {
        let start = Event::default()
            .event("turn")
            .id(format!("{}.start", turn.id))
            .json_data(json!({"turn_id": turn.id, "user_message": turn.user_message}))
            .map_err(|_| ApiError::internal())?;
        let events =
            futures::stream::once(async move { Ok(start) }).chain(sse_events(turn.log.clone(), 0));
        return Ok(Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    match turn.finished().await {
        TurnEnd::Completed(reply) => Ok(Json(Reply {
            turn_id: turn.id,
            user_message: turn.user_message,
            reply,
        })
        .into_response()),
        end => Err(turn_failure(&end, &turn.user_message, |m| json!(m))),
    }
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// A turn's log as SSE events from delta `from` on. Ids are `<turn>.<index>` so a
/// client resuming with `Last-Event-ID` gets every later event exactly once.
fn sse_events(
    log: Arc<TurnLog>,
    from: usize,
) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    let turn_id = log.turn_id;
    log.follow(from).map(move |event| {
        let event = match event {
            TurnEvent::Delta { index, text } => Event::default()
                .event("delta")
                .id(format!("{turn_id}.{index}"))
                .json_data(json!({"index": index, "text": text})),
            TurnEvent::End(TurnEnd::Completed(reply)) => Event::default()
                .event("done")
                .id(format!("{turn_id}.end"))
                .json_data(json!({"reply": reply})),
            TurnEvent::End(TurnEnd::Cancelled(partial)) => Event::default()
                .event("cancelled")
                .id(format!("{turn_id}.end"))
                .json_data(json!({"partial": partial})),
            TurnEvent::End(TurnEnd::Failed { error, partial }) => Event::default()
                .event("error")
                .id(format!("{turn_id}.end"))
                .json_data(json!({"error": error.to_string(), "partial": partial})),
        };
        Ok(event.unwrap_or_else(|_| Event::default().event("error").data("unserialisable event")))
    })
}

#[derive(Deserialize, IntoParams)]
pub struct ResumeQuery {
    /// The first delta to send; `Last-Event-ID` wins when both are given.
    from: Option<usize>,
}

/// The events of a turn, from the start or from where a client left off
/// (`Last-Event-ID: <turn>.<index>`). Finished turns are kept five minutes (the last 1,024).
#[utoipa::path(operation_id = "turn_events", get, path = "/api/v2/turns/{turn}/events", tag = "chat", params(("turn" = Uuid, Path), ResumeQuery),
    responses((status = 200, description = "text/event-stream"), (status = 404, body = ErrorBody)))]
pub async fn events(
    State(core): State<Core>,
    Path(turn_id): Path<Uuid>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let log = core.turn_log(turn_id).ok_or_else(|| {
        ApiError::not_found("no such turn (finished turns are kept five minutes)")
    })?;
    let from = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(last) => resume_position(last, turn_id)
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID is not an event of this turn"))?,
        None => query.from.unwrap_or(0),
    };
    Ok(Sse::new(sse_events(log, from))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The first delta after the event `last` of this turn.
fn resume_position(last: &str, turn_id: Uuid) -> Option<usize> {
    let (turn, position) = last.split_once('.')?;
    if turn != turn_id.to_string() {
        return None;
    }
    match position {
        "start" => Some(0),
        "end" => Some(usize::MAX),
        index => index.parse::<usize>().ok().map(|i| i + 1),
    }
}

/// Stops a running turn; what was generated is stored with status `cancelled`.
#[utoipa::path(operation_id = "cancel_turn", post, path = "/api/v2/turns/{turn}/cancel", tag = "chat", params(("turn" = Uuid, Path)),
    responses((status = 202), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(core): State<Core>,
    Path(turn_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    if core.cancel_turn(turn_id) {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found("no running turn with this id"))
    }
}
