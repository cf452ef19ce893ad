//! What the original's chat routes share: reading their bodies, wording a refused or
//! failed turn, the two reply shapes, and the SSE framing. Every message goes through
//! [`Core::start_turn`]; nothing here decides how a turn runs.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use locrit_core::chat::{Turn, TurnEnd, TurnError, TurnEvent, TurnRequest};
use locrit_core::{Core, Error};
use locrit_domain::{Denied, Locrit, Message, Session, validate_client_id};
use locrit_llm::LlmError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::settings::timestamp;
use crate::ApiError;
use crate::error::turn_failure;
use crate::extract::{body_bytes, parse_json};

/// The words a route family uses for its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Session mode (REST, SSE, v1 legacy): French, shape A.
    Session,
    /// Conversation mode (ConversationReply): English, shape B.
    Conversation,
    /// A visitor of a public page (§1.6): French, shape B; the gate's refusals are 403.
    Public,
}

/// A request body read whole, parsed later: some routes check the Locrit before the
/// body. Too large is the usual 413 JSON.
pub(super) struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        body_bytes(request, state).await.map(RawBody)
    }
}

impl RawBody {
    /// The body as JSON, whatever its content type; `None` when there is none (or
    /// `null`). Not JSON, or of the wrong shape: 400.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_json::<Option<T>>(&self.0).map_err(|mut error| {
            error.status = StatusCode::BAD_REQUEST;
            error
        })
    }
}

/// The message of a chat body: `missing` when absent, `empty` when blank.
pub(super) fn message_text(
    message: Option<String>,
    missing: &str,
    empty: &str,
) -> Result<String, ApiError> {
    match message {
        None => Err(ApiError::bad_request(missing)),
        Some(text) if text.trim().is_empty() => Err(ApiError::bad_request(empty)),
        Some(text) => Ok(text),
    }
}

/// A client-chosen id (conversation, session key): an opaque key, checked.
pub(super) fn client_id(field: &'static str, id: &str) -> Result<(), ApiError> {
    validate_client_id(field, id)
        .map_err(|invalid| ApiError::bad_request(invalid.to_string()).with_field(field))
}

/// A refused turn (or a failure before the first token) in the family's words. The
/// status comes from the shared mapping; only the text is the contract's.
pub(crate) fn refusal(family: Family, locrit: &str, error: Error) -> ApiError {
    use Family::{Conversation, Public, Session};
    let text = match (&error, family) {
        (Error::NotFound(_), Session) => "Locrit non trouvé".to_owned(),
        (Error::NotFound(_), Conversation) => CONVERSATION_NOT_FOUND.to_owned(),
        (Error::NotFound(_), Public) => "Locrit introuvable".to_owned(),
        (Error::Inactive, Session) => "Locrit inactif".to_owned(),
        (Error::Inactive, Conversation) => "Locrit is inactive".to_owned(),
        (Error::Inactive, Public) => {
            return forbidden(error, "Ce Locrit n'est pas actif pour le moment");
        }
        (Error::Denied(_), Public) => {
            return forbidden(error, "Ce Locrit n'est pas accessible publiquement");
        }
        (Error::Denied(Denied::NotOpenToLocrits), _) => {
            "Locrit non accessible aux autres Locrits".to_owned()
        }
        (Error::Denied(_), _) => "Locrit non accessible depuis le web".to_owned(),
        (Error::NoModel, Session | Public) => "Aucun modèle configuré pour ce Locrit".to_owned(),
        (Error::NoModel, Conversation) => "No model configured for this Locrit".to_owned(),
        (Error::NoModelServer, Session | Public) => format!(
            "Service Ollama non disponible: Locrit '{locrit}' n'a pas de 'ollama_url' configuré"
        ),
        (Error::NoModelServer, Conversation) => format!(
            "Ollama service not available: Locrit '{locrit}' has no 'ollama_url' configured"
        ),
        (Error::Llm(LlmError::Connect(_)), Session | Public) => {
            "Service Ollama non disponible - connexion échouée".to_owned()
        }
        (Error::Llm(LlmError::Connect(_)), Conversation) => {
            "Ollama service not available - connection failed".to_owned()
        }
        (Error::Llm(llm), family) => generation_failed(family, llm),
        (Error::Invalid(invalid), _) => {
            return ApiError::bad_request(invalid.to_string()).with_field(invalid.field);
        }
        // Store failures and conflicts keep the shared mapping's status and words.
        _ => return ApiError::from(error),
    };
    ApiError::from(error).with_message(text)
}

/// A visitor turned away by the gate: 403, whatever the shared mapping says.
fn forbidden(error: Error, text: &str) -> ApiError {
    let mut api = ApiError::from(error).with_message(text);
    api.status = StatusCode::FORBIDDEN;
    api
}

pub(super) const CONVERSATION_NOT_FOUND: &str = "Conversation not found";

fn generation_failed(family: Family, detail: impl std::fmt::Display) -> String {
    match family {
        Family::Session | Family::Public => format!("Erreur de génération: {detail}"),
        Family::Conversation => format!("Error generating response: {detail}"),
    }
}

/// Starts a turn; a refusal is worded for the family.
pub(super) async fn start(
    core: &Core,
    family: Family,
    request: TurnRequest,
) -> Result<Turn, ApiError> {
    let name = request.locrit.name.clone();
    core.start_turn(request)
        .await
        .map_err(|error| refusal(family, &name, error))
}

/// Waits for the end of the turn: the stored reply, or the family's error naming what
/// was stored (`user_message_id`, and the `partial` reply kept as `interrupted`).
pub(super) async fn finish(turn: &Turn, family: Family) -> Result<Message, ApiError> {
    match turn.finished().await {
        TurnEnd::Completed(reply) => Ok(reply),
        end => Err(failure(family, &turn.locrit.name, end, &turn.user_message)),
    }
}

/// A turn that ended without a complete reply, in the family's words; status and the
/// stored ids as on every surface.
fn failure(family: Family, locrit: &str, end: TurnEnd, user_message: &Message) -> ApiError {
    let text = match &end {
        TurnEnd::Failed {
            error: TurnError::Llm(llm),
            ..
        } => refusal(family, locrit, Error::Llm(llm.clone())).message,
        // Says why: the store is full, read-only…
        TurnEnd::Failed {
            error: error @ TurnError::Store(_),
            ..
        } => generation_failed(family, error),
        _ => generation_failed(family, "cancelled"),
    };
    turn_failure(&end, user_message, message_json).with_message(text)
}

/// A stored message in the contract's Message shape (§4.1), with a few more fields.
pub(crate) fn message_json(message: &Message) -> Value {
    let mut value = serde_json::to_value(message).unwrap_or_default();
    value["timestamp"] = json!(timestamp(message.timestamp));
    value["edited_at"] = json!(message.edited_at.map(timestamp));
    value
}

/// The session-mode success shape, with the stored ids.
pub(super) fn session_reply(turn: &Turn, reply: &Message) -> Map<String, Value> {
    let body = json!({
        "success": true,
        "response": reply.content,
        "locrit_name": turn.locrit.name,
        "model": turn.locrit.ollama_model,
        "timestamp": timestamp(reply.timestamp),
        "session_id": turn.session.key,
        "user_message_id": turn.user_message.id,
        "message_id": reply.id,
    });
    fields(body)
}

/// The ConversationReply: the session-mode fields plus the conversation's id and its
/// message count, read back from the store.
pub(crate) async fn conversation_reply(core: &Core, turn: &Turn, reply: &Message) -> Value {
    let count = match core.session(&turn.locrit, &turn.session.key).await {
        Ok(session) => session.message_count,
        // Deleted meanwhile: the two messages of this turn were stored all the same.
        Err(_) => turn.session.message_count + 2,
    };
    let mut body = session_reply(turn, reply);
    body.insert("conversation_id".into(), json!(turn.session.key));
    body.insert("message_count".into(), json!(count));
    Value::Object(body)
}

/// A conversation as the conversation API lists it (`info` shape, and more).
pub(super) fn conversation_record(session: &Session, locrit: &Locrit) -> Map<String, Value> {
    let body = json!({
        "conversation_id": session.key,
        "session_id": session.key,
        "locrit_name": locrit.name,
        "user_id": session.user_id,
        "created_at": timestamp(session.created_at),
        "last_activity": timestamp(session.updated_at),
        "message_count": session.message_count,
        "status": session.status,
        "metadata": session.metadata,
    });
    fields(body)
}

fn fields(object: Value) -> Map<String, Value> {
    match object {
        Value::Object(fields) => fields,
        _ => unreachable!("built as an object"),
    }
}

/// The turn as the original's SSE frames, each ended by a blank line:
/// `{"chunk", "done": false}` per non-empty delta, then `{"done": true, "message_id",
/// "user_message_id"}` or `{"error", "done": true}`. A client that leaves does not
/// stop the turn: the reply is stored all the same.
pub(super) fn sse(turn: Turn, family: Family) -> Response {
    let Turn {
        locrit,
        user_message,
        log,
        ..
    } = turn;
    let frames = log.follow(0).filter_map(move |event| {
        let data = match event {
            TurnEvent::Delta { text, .. } if text.is_empty() => None,
            TurnEvent::Delta { text, .. } => Some(json!({"chunk": text, "done": false})),
            TurnEvent::End(TurnEnd::Completed(reply)) => Some(json!({
                "done": true,
                "message_id": reply.id,
                "user_message_id": user_message.id,
            })),
            TurnEvent::End(end) => {
                let error = failure(family, &locrit.name, end, &user_message);
                let mut frame = error.extra;
                frame.insert("error".into(), json!(error.message));
                frame.insert("done".into(), json!(true));
                Some(Value::Object(frame))
            }
        };
        let frame = data.map(|data| {
            Ok::<_, std::convert::Infallible>(Event::default().json_data(data).unwrap_or_else(
                |_| Event::default().data(r#"{"error":"internal error","done":true}"#),
            ))
        });
        std::future::ready(frame)
    });
    Sse::new(frames).into_response()
}
