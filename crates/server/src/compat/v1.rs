//! Inter-Locrit chat (§1.7): another Locrit, or a human client, talks to a Locrit. The
//! "legacy" mode is kept, one session per sender (`v1_<sender_type>_<sender_name>`), so
//! nothing said is lost and the sender's history reaches the model; with a
//! `conversation_id` the message goes to that conversation, which must be the Locrit's.
//! Both modes apply the caller's gate: `open_to.locrits` for a Locrit, `humans` else.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use locrit_core::chat::{SessionTarget, TurnRequest};
use locrit_core::{Core, Error, NewSessionSpec};
use locrit_domain::{Caller, Locrit, Reading, Requester, SessionKind, may_chat, may_read};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chat::{conversation_turn, locrit_named};
use super::conversations::conversation_of;
use super::turn::{
    Family, RawBody, client_id, conversation_reply, finish, message_text, refusal, session_reply,
    sse, start,
};
use crate::ApiError;
use crate::auth::{Who, human_caller, invitation};
use crate::extract::Path;

const MESSAGE_REQUIRED: &str = "Message requis";

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/api/v1/locrits", get(list))
        .route("/api/v1/locrits/{name}/info", get(info))
        .route("/api/v1/locrits/{name}/chat", post(chat))
        .route("/api/v1/locrits/{name}/chat/stream", post(stream))
}

/// What another Locrit may do here: chat, streamed or not.
fn capabilities() -> Value {
    json!({"chat": true, "stream": true})
}

/// The model, for other Locrits only where the owner shows it (`access_to.llm_info`).
fn model(locrit: &Locrit) -> Option<&str> {
    may_read(locrit, Caller::Locrit, Reading::LlmInfo)
        .is_ok()
        .then_some(locrit.ollama_model.as_str())
}

/// Discovery: the active Locrits open to other Locrits.
async fn list(State(core): State<Core>) -> Result<Json<Value>, ApiError> {
    let locrits = core
        .locrits()
        .await
        .map_err(|e| refusal(Family::Session, "", e))?;
    let open: Vec<Value> = locrits
        .iter()
        .filter(|locrit| may_chat(locrit, Caller::Locrit).is_ok())
        .map(|locrit| {
            json!({
                "name": locrit.name,
                "description": locrit.description,
                "model": model(locrit),
                "public_address": locrit.public_address,
                "capabilities": capabilities(),
            })
        })
        .collect();
    Ok(Json(
        json!({"success": true, "count": open.len(), "locrits": open}),
    ))
}

/// One Locrit as another Locrit sees it, with the fields the original's admin chat
/// page reads (`ollama_model`, `active`).
async fn info(State(core): State<Core>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let locrit = locrit_named(&core, &name).await?;
    if !locrit.active {
        return Err(ApiError::bad_request("Locrit inactif"));
    }
    may_chat(&locrit, Caller::Locrit)
        .map_err(|denied| refusal(Family::Session, &name, Error::from(denied)))?;
    let model = model(&locrit);
    Ok(Json(json!({
        "success": true,
        "locrit": {
            "name": locrit.name,
            "description": locrit.description,
            "model": model,
            "ollama_model": model,
            "active": locrit.active,
            "public_address": locrit.public_address,
            "open_to": locrit.open_to,
            "access_to": locrit.access_to,
            "capabilities": capabilities(),
        },
    })))
}

#[derive(Deserialize)]
struct V1Body {
    message: Option<String>,
    conversation_id: Option<String>,
    sender_name: Option<String>,
    sender_type: Option<String>,
    context: Option<String>,
    /// Keeps one session per id for this sender (not in the original contract).
    session_id: Option<String>,
}

/// A v1 request, checked and ready for the engine.
struct V1Turn {
    family: Family,
    request: TurnRequest,
    sender_name: String,
}

async fn chat(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let V1Turn {
        family,
        request,
        sender_name,
    } = prepare(&core, &requester, &headers, &name, body).await?;
    let turn = start(&core, family, request).await?;
    let reply = finish(&turn, family).await?;
    let body = match family {
        Family::Conversation => conversation_reply(&core, &turn, &reply).await,
        Family::Session | Family::Public => {
            let mut body = session_reply(&turn, &reply);
            body.insert("sender_acknowledged".into(), json!(sender_name));
            body.insert("mode".into(), json!("legacy"));
            // What the reply cost, for a calling Locrit's token budget.
            body.insert(
                "tokens".into(),
                reply.metadata["stats"]["eval_count"].clone(),
            );
            Value::Object(body)
        }
    };
    Ok(Json(body).into_response())
}

async fn stream(
    State(core): State<Core>,
    Who(requester): Who,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let prepared = prepare(&core, &requester, &headers, &name, body).await?;
    let turn = start(&core, prepared.family, prepared.request).await?;
    Ok(sse(turn, prepared.family))
}

/// Checks a v1 request in the original's order: the message, then the Locrit, its
/// gate, its Ollama server; the model is the engine's check.
async fn prepare(
    core: &Core,
    requester: &Requester,
    headers: &HeaderMap,
    name: &str,
    body: RawBody,
) -> Result<V1Turn, ApiError> {
    let body: V1Body = body
        .parse()?
        .ok_or_else(|| ApiError::bad_request(MESSAGE_REQUIRED))?;
    let text = message_text(body.message, MESSAGE_REQUIRED, "Message vide")?;
    let sender_name = body.sender_name.unwrap_or_else(|| "Locrit externe".into());
    let sender_type = body.sender_type.unwrap_or_else(|| "locrit".into());
    let from_locrit = sender_type == "locrit";
    // Another Locrit is gated as one, whoever relays it; a person as the human entry
    // point of the original (`open_to.humans`), or as who their credentials say.
    let caller_for = async |locrit: &Locrit| -> Result<Caller, ApiError> {
        if from_locrit {
            Ok(Caller::Locrit)
        } else {
            Ok(human_caller(core, requester, locrit, invitation(headers)).await?)
        }
    };
    let mut additions = Vec::new();
    if from_locrit {
        additions.push(format!(
            "Tu es en train de communiquer avec {sender_name}, un autre Locrit."
        ));
    }
    if let Some(context) = body.context.filter(|c| !c.trim().is_empty()) {
        additions.push(format!("Contexte de la conversation: {context}"));
    }

    if let Some(cid) = body.conversation_id.filter(|id| !id.is_empty()) {
        let (locrit, session) = conversation_of(core, name, &cid).await?;
        let caller = caller_for(&locrit).await?;
        gate(&locrit, caller, Family::Conversation)?;
        let mut request = conversation_turn(requester, caller, locrit, session, text)?;
        request.system_additions = additions;
        return Ok(V1Turn {
            family: Family::Conversation,
            request,
            sender_name,
        });
    }
    let locrit = locrit_named(core, name).await?;
    let caller = caller_for(&locrit).await?;
    gate(&locrit, caller, Family::Session)?;
    // One session per sender, or per sender and conversation when it names one (a
    // dialogue between Locrits keeps its own).
    let key = match body.session_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("v1_{sender_type}_{sender_name}_{id}"),
        None => format!("v1_{sender_type}_{sender_name}"),
    };
    client_id("session_id", &key)?;
    let request = TurnRequest {
        session: SessionTarget::Open(NewSessionSpec {
            key,
            kind: SessionKind::Chat,
            name: None,
            user_id: Some(sender_name.clone()),
            metadata: json!({"source": "v1", "sender_type": sender_type}),
        }),
        locrit,
        caller,
        text,
        user_id: Some(sender_name.clone()),
        system_additions: additions,
    };
    Ok(V1Turn {
        family: Family::Session,
        request,
        sender_name,
    })
}

/// The caller's gate, then the Ollama server, in the original's order (the engine
/// checks the model before the server; v1 did the opposite).
fn gate(locrit: &Locrit, caller: Caller, family: Family) -> Result<(), ApiError> {
    let refused = |error: Error| refusal(family, &locrit.name, error);
    may_chat(locrit, caller).map_err(|denied| refused(denied.into()))?;
    if locrit.ollama_url.is_none() {
        return Err(refused(Error::NoModelServer));
    }
    Ok(())
}
