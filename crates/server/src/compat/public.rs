//! Public routes (§1.6): the directory of Locrits open to the internet, their profile,
//! visitor chat (JSON and SSE) and its history, and the public page's settings.
//!
//! Every visitor route passes the visitor gate (`active` and `open_to.internet`) in
//! `Core`. The original's "legacy" chat kept nothing; here each visitor has their own
//! session per Locrit, keyed by a random visitor id the server hands out with the
//! first reply (`visitor_id` in the body and the `X-Locrit-Visitor` header) and that
//! the client sends back the same ways. Chat is rate-limited per visitor and per
//! Locrit ([`crate::rate_limit`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use locrit_core::chat::TurnRequest;
use locrit_core::{Core, visitor_turn};
use locrit_domain::{
    Caller, Locrit, Message, PublicPage, Reading, Requester, VisitorId, may_read, visitor_name,
    visitor_prompt_line,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chat::conversation_turn;
use super::conversations::conversation_of;
use super::json::{CompatJson, object};
use super::settings::timestamp;
use super::turn::{
    Family, RawBody, conversation_reply, finish, message_text, refusal, session_reply, sse, start,
};
use super::{failure, find_locrit};
use crate::ApiError;
use crate::auth::{Who, invitation};
use crate::extract::{Path, Query};
use crate::rate_limit::{PublicLimiter, PublicLimits};

/// The header a visitor's id travels in, both ways.
pub(crate) const VISITOR_HEADER: HeaderName = HeaderName::from_static("x-locrit-visitor");

const SERVER_ERROR: &str = "Erreur serveur";
const MESSAGE_EMPTY: &str = "Le message ne peut pas être vide";
const SEND_FAILED: &str = "Erreur lors de l'envoi du message";
const DEFAULT_HISTORY: u32 = 100;
const MAX_HISTORY: u32 = 1000;

pub(super) fn routes(limits: &PublicLimits) -> Router<Core> {
    Router::new()
        .route("/public/list", get(list))
        .route("/public/{name}", get(profile))
        .route("/public/{name}/chat", post(chat))
        .route("/public/{name}/chat/stream", post(stream))
        .route("/public/{name}/chat/history", get(history))
        .route("/public/{name}/settings", put(settings))
        .layer(Extension(Arc::new(PublicLimiter::new(limits))))
}

type Reply = Result<Json<Value>, ApiError>;

async fn list(State(core): State<Core>) -> Reply {
    let locrits = core.public_locrits().await.map_err(failure(SERVER_ERROR))?;
    let locrits: Vec<Value> = locrits
        .iter()
        .map(|locrit| {
            json!({
                "name": locrit.name,
                "description": locrit.description,
                "public_address": locrit.public_address,
                "avatar": locrit.public_avatar(),
                "title": locrit.public_title(),
            })
        })
        .collect();
    Ok(Json(json!({
        "success": true,
        "count": locrits.len(),
        "locrits": locrits,
    })))
}

#[derive(Deserialize)]
struct ProfileQuery {
    invitation: Option<String>,
}

async fn profile(
    State(core): State<Core>,
    Path(name): Path<String>,
    Query(query): Query<ProfileQuery>,
    headers: HeaderMap,
) -> Reply {
    let invitation = query.invitation.as_deref().or(invitation(&headers));
    let (locrit, caller) = public_locrit(&core, &name, invitation, SERVER_ERROR).await?;
    Ok(Json(json!({
        "success": true,
        "invited": caller == Caller::Invited,
        "locrit": {
            "name": locrit.name,
            "description": locrit.description,
            "model": model(&locrit, caller),
            "public_address": locrit.public_address,
            "page_config": locrit.page_config(),
            "active": locrit.active,
        },
    })))
}

/// The Locrit as a visitor may see it: 404 `Locrit introuvable`, 403 when inactive or
/// not open to the internet; `failed` for an internal failure.
async fn public_locrit(
    core: &Core,
    name: &str,
    invitation: Option<&str>,
    failed: &'static str,
) -> Result<(Locrit, Caller), ApiError> {
    core.public_locrit(name, invitation)
        .await
        .map_err(|error| internal_as(refusal(Family::Public, name, error), failed))
}

fn internal_as(error: ApiError, failed: &'static str) -> ApiError {
    if error.status.is_server_error() && error.code == "internal" {
        error.with_message(failed)
    } else {
        error
    }
}

/// The model, for visitors only where the owner shows it (`access_to.llm_info`).
fn model(locrit: &Locrit, caller: Caller) -> Option<&str> {
    may_read(locrit, caller, Reading::LlmInfo)
        .is_ok()
        .then_some(locrit.ollama_model.as_str())
}

#[derive(Deserialize)]
struct ChatBody {
    message: Option<String>,
    visitor_name: Option<String>,
    visitor_id: Option<String>,
    conversation_id: Option<String>,
    /// An invitation to this Locrit (also the `X-Locrit-Invitation` header).
    invitation: Option<String>,
}

/// A visitor's message, checked and counted, ready for the engine.
enum PublicTurn {
    /// In the visitor's own session (the original's legacy mode).
    Visitor {
        visitor: VisitorId,
        request: TurnRequest,
    },
    /// In a conversation of the Locrit (`conversation_id`).
    Conversation(TurnRequest),
}

impl PublicTurn {
    fn caller(&self) -> Caller {
        match self {
            Self::Visitor { request, .. } | Self::Conversation(request) => request.caller,
        }
    }
}

async fn chat(
    State(core): State<Core>,
    Who(requester): Who,
    Extension(limiter): Extension<Arc<PublicLimiter>>,
    Path(name): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    let prepared = prepare(&core, &requester, &limiter, &name, client, &headers, body).await?;
    let caller = prepared.caller();
    match prepared {
        PublicTurn::Conversation(request) => {
            let turn = start(&core, Family::Conversation, request).await?;
            let reply = finish(&turn, Family::Conversation).await?;
            let mut body = conversation_reply(&core, &turn, &reply).await;
            body["model"] = json!(model(&turn.locrit, caller));
            Ok(Json(body).into_response())
        }
        PublicTurn::Visitor { visitor, request } => {
            let failed = |error: ApiError| with_visitor(error, visitor);
            let turn = start(&core, Family::Public, request)
                .await
                .map_err(failed)?;
            let reply = finish(&turn, Family::Public).await.map_err(failed)?;
            let mut body = session_reply(&turn, &reply);
            body.insert("model".into(), json!(model(&turn.locrit, caller)));
            body.insert("visitor_id".into(), json!(visitor.to_string()));
            Ok(visitor_response(visitor, Json(Value::Object(body))))
        }
    }
}

async fn stream(
    State(core): State<Core>,
    Who(requester): Who,
    Extension(limiter): Extension<Arc<PublicLimiter>>,
    Path(name): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    match prepare(&core, &requester, &limiter, &name, client, &headers, body).await? {
        PublicTurn::Conversation(request) => {
            let turn = start(&core, Family::Conversation, request).await?;
            Ok(sse(turn, Family::Conversation))
        }
        PublicTurn::Visitor { visitor, request } => {
            let turn = start(&core, Family::Public, request)
                .await
                .map_err(|error| with_visitor(error, visitor))?;
            Ok(visitor_response(visitor, sse(turn, Family::Public)))
        }
    }
}

/// Checks a public chat request in the contract's order (the message, then the
/// Locrit's gate), counting it against the visitor's and the Locrit's limits.
async fn prepare(
    core: &Core,
    requester: &Requester,
    limiter: &PublicLimiter,
    name: &str,
    client: ClientIp,
    headers: &HeaderMap,
    body: RawBody,
) -> Result<PublicTurn, ApiError> {
    let body: ChatBody = body
        .parse()?
        .ok_or_else(|| ApiError::bad_request(MESSAGE_EMPTY))?;
    let text = message_text(body.message, MESSAGE_EMPTY, MESSAGE_EMPTY)?;
    let given = visitor_id(body.visitor_id.as_deref(), headers)?;
    let visitor_key = given.map_or_else(|| client.key(), |visitor| visitor.to_string());
    limiter.visitor(core, visitor_key).await?;
    let invitation = body.invitation.as_deref().or(invitation(headers));
    let (locrit, caller) = public_locrit(core, name, invitation, SEND_FAILED).await?;
    limiter.locrit(core, locrit.id).await?;
    let visitor_name = visitor_name(body.visitor_name.as_deref());

    if let Some(cid) = body.conversation_id.filter(|id| !id.is_empty()) {
        let (locrit, session) = conversation_of(core, name, &cid).await?;
        let mut request = conversation_turn(requester, caller, locrit, session, text)?;
        request.system_additions = vec![visitor_prompt_line(&visitor_name)];
        return Ok(PublicTurn::Conversation(request));
    }
    let visitor = given.unwrap_or_else(VisitorId::generate);
    Ok(PublicTurn::Visitor {
        visitor,
        request: visitor_turn(locrit, caller, visitor, &visitor_name, text),
    })
}

/// The visitor id the client sent (body first, then the header), if any; 400 when it
/// is not one this server could have issued.
fn visitor_id(in_body: Option<&str>, headers: &HeaderMap) -> Result<Option<VisitorId>, ApiError> {
    let in_header = headers
        .get(VISITOR_HEADER)
        .map(|value| value.to_str().unwrap_or("\u{0}"));
    match in_body.filter(|id| !id.is_empty()).or(in_header) {
        None => Ok(None),
        Some(text) => VisitorId::parse(text).map(Some).map_err(|invalid| {
            ApiError::bad_request("Identifiant de visiteur invalide").with_field(invalid.field)
        }),
    }
}

/// An answer to a visitor, which names them in the `X-Locrit-Visitor` header.
fn visitor_response(visitor: VisitorId, answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    if let Ok(value) = HeaderValue::from_str(&visitor.to_string()) {
        response.headers_mut().insert(VISITOR_HEADER, value);
    }
    response
}

/// An error of a visitor's turn names the visitor: their message may be stored.
fn with_visitor(error: ApiError, visitor: VisitorId) -> ApiError {
    error.with_extra("visitor_id", visitor.to_string())
}

#[derive(Deserialize)]
struct HistoryQuery {
    visitor_id: Option<String>,
    invitation: Option<String>,
    limit: Option<u32>,
}

/// The visitor's own messages with the Locrit, oldest first: only the session of the
/// id given, so no one reads another visitor's without their id.
async fn history(
    State(core): State<Core>,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Reply {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY);
    if !(1..=MAX_HISTORY).contains(&limit) {
        return Err(
            ApiError::bad_request(format!("limit doit être entre 1 et {MAX_HISTORY}"))
                .with_field("limit"),
        );
    }
    let visitor = visitor_id(query.visitor_id.as_deref(), &headers)?.ok_or_else(|| {
        ApiError::bad_request("Identifiant de visiteur requis").with_field("visitor_id")
    })?;
    let invitation = query.invitation.as_deref().or(invitation(&headers));
    let (locrit, caller) = public_locrit(&core, &name, invitation, SERVER_ERROR).await?;
    may_read(&locrit, caller, Reading::Logs)
        .map_err(|denied| refusal(Family::Public, &name, locrit_core::Error::from(denied)))?;
    let messages = core
        .visitor_history(&locrit, visitor, limit)
        .await
        .map_err(failure(SERVER_ERROR))?;
    Ok(Json(json!({
        "success": true,
        "locrit_name": locrit.name,
        "visitor_id": visitor.to_string(),
        "session_id": visitor.session_key(),
        "count": messages.len(),
        "messages": messages.iter().map(visitor_message).collect::<Vec<_>>(),
    })))
}

/// A message as its visitor sees it: no metadata (what was recalled is the owner's).
fn visitor_message(message: &Message) -> Value {
    json!({
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "timestamp": timestamp(message.timestamp),
        "status": message.status,
    })
}

#[derive(Deserialize)]
struct SettingsBody {
    #[serde(default, deserialize_with = "object")]
    page_config: Option<PublicPage>,
}

const SETTINGS_FAILED: &str = "Erreur lors de la mise à jour";

/// Rebuilds the public page from the given keys (missing ones take their default) and
/// saves it.
async fn settings(
    State(core): State<Core>,
    Path(name): Path<String>,
    CompatJson(body): CompatJson<SettingsBody>,
) -> Reply {
    let locrit = settings_locrit(&core, &name).await?;
    let page = body.page_config.unwrap_or_default();
    let locrit = core
        .set_public_page(locrit, page)
        .await
        .map_err(failure(SETTINGS_FAILED))?;
    Ok(Json(json!({
        "success": true,
        "message": "Page publique mise à jour",
        "page_config": locrit.public_page,
    })))
}

/// The Locrit whose public page a request changes (its owner only: the route is gated
/// as managing the Locrit, in `auth::gate`).
async fn settings_locrit(core: &Core, name: &str) -> Result<Locrit, ApiError> {
    find_locrit(core, name, "Locrit introuvable".into(), SETTINGS_FAILED).await
}

/// The client's address, when the server knows it: the rate limit's key for a
/// visitor without an id yet.
struct ClientIp(Option<IpAddr>);

impl ClientIp {
    fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientIp(address.map(|ConnectInfo(address)| address.ip())))
    }
}
