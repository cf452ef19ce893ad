//! REST and SSE chat with a Locrit named in the path (§1.3). Session mode keeps one
//! history per user and Locrit, under the original's key `web_<user>_<name>`; with a
//! `conversation_id` the message goes to that conversation, which must be the Locrit's.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use locrit_core::chat::{SessionTarget, Turn, TurnRequest};
use locrit_core::{Core, Error, NewSessionSpec};
use locrit_domain::{Caller, Locrit, Requester, Session, SessionKind};
use serde::Deserialize;
use serde_json::json;

use super::conversations::conversation_of;
use super::turn::{
    CONVERSATION_NOT_FOUND, Family, RawBody, client_id, conversation_reply, finish, message_text,
    refusal, session_reply, sse, start,
};
use crate::ApiError;
use crate::auth::{Who, acting_user, invitation, may_enter};
use crate::extract::Path;

/// The user of the REST chat until accounts exist (local trusted mode).
const ANONYMOUS_USER: &str = "anonymous_user";
const MESSAGE_REQUIRED: &str = "Message requis";
const MESSAGE_EMPTY: &str = "Message vide";

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/api/locrits/{name}/chat", post(chat))
        .route("/api/locrits/{name}/chat/stream", post(stream))
}

#[derive(Deserialize)]
struct ChatBody {
    message: Option<String>,
    conversation_id: Option<String>,
}

impl ChatBody {
    /// Reads the body and its message: `Message requis` when either is missing,
    /// `Message vide` when the message is blank.
    fn read(body: RawBody) -> Result<(Self, String), ApiError> {
        let body: ChatBody = body
            .parse()?
            .ok_or_else(|| ApiError::bad_request(MESSAGE_REQUIRED))?;
        let text = message_text(body.message.clone(), MESSAGE_REQUIRED, MESSAGE_EMPTY)?;
        Ok((body, text))
    }

    /// The conversation named, if any (an empty id means session mode).
    fn conversation(&self) -> Option<&str> {
        self.conversation_id.as_deref().filter(|id| !id.is_empty())
    }
}

async fn chat(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let (core, name) = (&core, name.as_str());
    let (body, text) = ChatBody::read(body)?;
    let invitation = invitation(&headers);
    if let Some(cid) = body.conversation() {
        let turn = start_in_conversation(core, &requester, invitation, name, cid, text).await?;
        let reply = finish(&turn, Family::Conversation).await?;
        return Ok(Json(conversation_reply(core, &turn, &reply).await).into_response());
    }
    let locrit = locrit_named(core, name).await?;
    let caller = core.caller(&requester, &locrit, invitation).await?;
    let request = web_turn(&requester, caller, locrit, text)?;
    let turn = start(core, Family::Session, request).await?;
    let reply = finish(&turn, Family::Session).await?;
    Ok(Json(session_reply(&turn, &reply)).into_response())
}

/// The SSE chat: the Locrit is checked before the body, as the original did.
async fn stream(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let (core, name) = (&core, name.as_str());
    let locrit = locrit_named(core, name).await?;
    if !locrit.active {
        return Err(refusal(Family::Session, name, Error::Inactive));
    }
    let (body, text) = ChatBody::read(body)?;
    let invitation = invitation(&headers);
    if let Some(cid) = body.conversation() {
        let turn = start_in_conversation(core, &requester, invitation, name, cid, text).await?;
        return Ok(sse(turn, Family::Conversation));
    }
    let caller = core.caller(&requester, &locrit, invitation).await?;
    let request = web_turn(&requester, caller, locrit, text)?;
    let turn = start(core, Family::Session, request).await?;
    Ok(sse(turn, Family::Session))
}

/// Starts a turn in the conversation `cid`, which must be the Locrit `name`'s.
async fn start_in_conversation(
    core: &Core,
    requester: &Requester,
    invitation: Option<&str>,
    name: &str,
    cid: &str,
    text: String,
) -> Result<Turn, ApiError> {
    let (locrit, session) = conversation_of(core, name, cid).await?;
    let caller = core.caller(requester, &locrit, invitation).await?;
    let request = conversation_turn(requester, caller, locrit, session, text)?;
    start(core, Family::Conversation, request).await
}

/// The Locrit named in the path; 404 `Locrit non trouvé`.
pub(super) async fn locrit_named(core: &Core, name: &str) -> Result<Locrit, ApiError> {
    core.locrit_named(name)
        .await
        .map_err(|error| refusal(Family::Session, name, error))
}

/// A session-mode turn of the web user: key `web_<user>_<name>`, one per user (the
/// original's single anonymous user under local trust).
fn web_turn(
    requester: &Requester,
    caller: Caller,
    locrit: Locrit,
    text: String,
) -> Result<TurnRequest, ApiError> {
    let user = acting_user(requester, caller, Some(ANONYMOUS_USER.into()))
        .unwrap_or_else(|| ANONYMOUS_USER.into());
    let key = format!("web_{user}_{}", locrit.name);
    client_id("session_id", &key)?;
    Ok(TurnRequest {
        session: SessionTarget::Open(NewSessionSpec {
            key,
            kind: SessionKind::Chat,
            name: None,
            user_id: Some(user.clone()),
            metadata: json!({"source": "web"}),
        }),
        locrit,
        caller,
        text,
        user_id: Some(user),
        system_additions: Vec::new(),
    })
}

/// A turn in the conversation `session` of `locrit`, as its user; one the requester
/// may not enter is `Conversation not found`, as if it did not exist.
pub(crate) fn conversation_turn(
    requester: &Requester,
    caller: Caller,
    locrit: Locrit,
    session: Session,
    text: String,
) -> Result<TurnRequest, ApiError> {
    if !may_enter(requester, caller, &session) {
        return Err(ApiError::not_found(CONVERSATION_NOT_FOUND));
    }
    Ok(TurnRequest {
        locrit,
        session: SessionTarget::Existing {
            kind: Some(SessionKind::Conversation),
            key: session.key,
        },
        caller,
        text,
        user_id: session.user_id,
        system_additions: Vec::new(),
    })
}
