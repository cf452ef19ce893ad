//! What the OpenAI and Ollama surfaces share: which Locrits the requester sees
//! as models, the session header, the model's counters. Their turns go to
//! `Core::start_client_turn`, which decides the session (see `locrit_core::ClientChat`).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::AppendHeaders;
use locrit_core::{ClientChat, ClientMessage, ClientTurn, Core, Error};
use locrit_domain::{Caller, Locrit, Requester, may_chat};
use locrit_llm::ChatStats;
use serde_json::Value;

use crate::ApiError;
use crate::auth::{acting_user, may_continue};

/// The session a client names for its conversation; answered on every chat response.
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("x-locrit-session");

/// The Locrits this requester may chat with now: the models it sees.
pub async fn models(core: &Core, requester: &Requester) -> Result<Vec<Locrit>, ApiError> {
    let locrits = core.locrits().await?;
    Ok(locrits
        .into_iter()
        .filter(|locrit| may_chat(locrit, requester.caller_for(locrit)).is_ok())
        .collect())
}

/// The Locrit named `name` and what the requester is to it, if it may chat with it; a
/// 404 otherwise, so a model the caller cannot use is not told from one that does not
/// exist.
pub async fn model(
    core: &Core,
    requester: &Requester,
    name: &str,
) -> Result<(Locrit, Caller), ApiError> {
    let not_found = || ApiError::not_found(format!("model {name:?} not found"));
    match core.locrit_named(name).await {
        Ok(locrit) => {
            let caller = requester.caller_for(&locrit);
            match may_chat(&locrit, caller) {
                Ok(()) => Ok((locrit, caller)),
                Err(_) => Err(not_found()),
            }
        }
        Err(Error::NotFound(_)) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

/// Starts the turn of a chat client's request: the caller, the Locrit named as the
/// model, the session (header, or the history's fingerprint), then the engine.
pub async fn start_turn(
    core: &Core,
    requester: &Requester,
    headers: &HeaderMap,
    model_name: &str,
    messages: Vec<ClientMessage>,
    user: Option<String>,
    protocol: &'static str,
) -> Result<ClientTurn, ApiError> {
    let (locrit, caller) = model(core, requester, model_name).await?;
    let session_key = session_key(headers)?;
    if let Some(key) = &session_key {
        may_continue(core, requester, caller, &locrit, key).await?;
    }
    let chat = ClientChat {
        user: acting_user(requester, caller, user),
        locrit,
        caller,
        messages,
        session_key,
        protocol,
    };
    Ok(core.start_client_turn(chat).await?)
}

/// The session the client names in [`SESSION_HEADER`], if it names one.
fn session_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(&SESSION_HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        ApiError::bad_request("X-Locrit-Session must be visible ASCII")
            .with_field("X-Locrit-Session")
    })?;
    Ok(Some(key.to_owned()))
}

/// The header naming the session a turn went to. Keys are visible ASCII (a UUID, or
/// the client's own header); another would be left out rather than garbled.
pub fn session_header(turn: &ClientTurn) -> AppendHeaders<Option<(HeaderName, HeaderValue)>> {
    let value = HeaderValue::from_str(&turn.turn.session.key).ok();
    AppendHeaders(value.map(|value| (SESSION_HEADER, value)))
}

/// The model's counters of a stored reply (its metadata's `stats`).
pub fn stats(reply_metadata: &Value) -> ChatStats {
    serde_json::from_value(reply_metadata["stats"].clone()).unwrap_or_default()
}
