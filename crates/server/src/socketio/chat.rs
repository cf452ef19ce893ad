//! The chat events (§2.2, §2.4): rooms, messages, and stopping a generation. Every
//! message goes through [`Core::start_turn`](locrit_core::Core::start_turn); what
//! follows is the follower's.

use std::sync::Arc;

use locrit_core::chat::{SessionTarget, Turn, TurnLog, TurnRequest};
use locrit_core::{Error, NewSessionSpec};
use locrit_domain::{Caller, Locrit, Scope, SessionKind, may_chat, validate_client_id};
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use uuid::Uuid;

use super::conn::{Reply, Sender};
use super::hub::Hub;
use super::words;
use super::{SOCKET_USER, chat_room, conn, requester, text, turns_room};
use crate::auth::{acting_user, human_caller, may_continue};
use crate::compat::chat::conversation_turn;
use crate::compat::conversations::conversation_of;

/// `join_chat {locrit_name, session_id}`: joins the session's room; a turn running there
/// is followed from what was generated so far.
pub(super) async fn join(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    let (Some(name), Some(session_id)) = (text(&data, "locrit_name"), text(&data, "session_id"))
    else {
        let payload = json!({"message": words::NAME_AND_SESSION_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    if let Err(invalid) = validate_client_id("session_id", session_id) {
        let payload = json!({"message": invalid.to_string()});
        return hub.answer(&socket, "error", payload).await;
    }
    let locrit = hub.core.locrit_named(name).await.ok();
    if let Some(locrit) = &locrit
        && let Err(error) = may_watch(&hub, &socket, locrit, session_id).await
    {
        let message = words::session_refusal(name, error);
        let payload = json!({"locrit_name": name, "session_id": session_id, "message": message});
        return hub.answer(&socket, "error", payload).await;
    }
    let room = chat_room(name, session_id);
    socket.join(room.clone());
    conn(&socket).join(&room);
    let joined = json!({"locrit_name": name, "session_id": session_id, "room": room});
    hub.answer(&socket, "joined_chat", joined).await;
    // Turns are announced by Locrit id: link the room to it, then catch up with a turn
    // already running (announced before the link).
    let Some(locrit) = locrit else {
        return;
    };
    let turns = turns_room(locrit.id, session_id);
    socket.join(turns.clone());
    conn(&socket).link(&room, &turns, name);
    let Ok(session) = hub.core.session(&locrit, session_id).await else {
        return;
    };
    if let Some(log) = hub.core.running_turn(session.id)
        && let Some(following) = conn(&socket).follow(log.turn_id)
    {
        hub.spawn_follower(socket, following, log, name, true);
    }
}

/// Whether this socket may see the session's turns: it may chat with the Locrit, and
/// the session, if it exists, is one it may enter.
async fn may_watch(
    hub: &Hub,
    socket: &SocketRef,
    locrit: &Locrit,
    session_id: &str,
) -> Result<Caller, Error> {
    let requester = requester(socket);
    let caller = human_caller(&hub.core, &requester, locrit, None).await?;
    may_chat(locrit, caller)?;
    may_continue(&hub.core, &requester, caller, locrit, session_id).await?;
    Ok(caller)
}

/// `leave_chat {locrit_name, session_id}`: nothing more of that session reaches it.
pub(super) async fn leave(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    let (Some(name), Some(session_id)) = (text(&data, "locrit_name"), text(&data, "session_id"))
    else {
        let payload = json!({"message": words::NAME_AND_SESSION_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    let room = chat_room(name, session_id);
    if let Some(turns) = conn(&socket).leave(&room) {
        socket.leave(turns);
    }
    socket.leave(room);
    let left = json!({"locrit_name": name, "session_id": session_id});
    hub.answer(&socket, "left_chat", left).await;
}

/// `chat_message`: validation in the contract's order, then one turn on the engine.
pub(super) async fn message(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    let name = text(&data, "locrit_name");
    let message = text(&data, "message")
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let (Some(name), Some(message)) = (name, message) else {
        let payload = json!({"message": words::NAME_AND_MESSAGE_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    let stream = data.get("stream").and_then(Value::as_bool).unwrap_or(true);
    if !requester(&socket).allows(Scope::Chat) {
        let payload = json!({"message": words::NO_CHAT_SCOPE});
        return hub.answer(&socket, "error", payload).await;
    }
    if let Some(conversation_id) = text(&data, "conversation_id") {
        return conversation(&hub, socket, name, conversation_id, message).await;
    }
    let Some(session_id) = text(&data, "session_id") else {
        let payload = json!({"message": words::SESSION_OR_CONVERSATION_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    let refused = |message: String| json!({"locrit_name": name, "session_id": session_id, "message": message});
    if let Err(invalid) = validate_client_id("session_id", session_id) {
        let payload = refused(invalid.to_string());
        return hub.answer(&socket, "error", payload).await;
    }
    let started = match hub.core.locrit_named(name).await {
        Ok(locrit) => match may_watch(&hub, &socket, &locrit, session_id).await {
            Ok(caller) => {
                let user = acting_user(&requester(&socket), caller, Some(SOCKET_USER.into()));
                let session = SessionTarget::Open(NewSessionSpec {
                    key: session_id.to_owned(),
                    kind: SessionKind::Chat,
                    name: None,
                    user_id: user.clone(),
                    metadata: json!({"source": "socketio"}),
                });
                hub.core
                    .start_turn(TurnRequest {
                        locrit,
                        session,
                        caller,
                        text: message.to_owned(),
                        user_id: user,
                        system_additions: Vec::new(),
                    })
                    .await
            }
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match started {
        Ok(turn) => {
            let reply = if stream {
                Reply::Stream
            } else {
                Reply::Response
            };
            follow_own(&hub, socket, turn, name, reply);
        }
        Err(error) => {
            let payload = refused(words::session_refusal(name, error));
            hub.answer(&socket, "error", payload).await;
        }
    }
}

/// Conversation mode: the conversation must be `name`'s; one `chat_response`.
async fn conversation(hub: &Arc<Hub>, socket: SocketRef, name: &str, cid: &str, message: &str) {
    let refused =
        |message: String| json!({"locrit_name": name, "conversation_id": cid, "message": message});
    let started = match conversation_of(&hub.core, name, cid).await {
        Ok((locrit, session)) => {
            let requester = requester(&socket);
            match human_caller(&hub.core, &requester, &locrit, None).await {
                Ok(caller) => {
                    match conversation_turn(&requester, caller, locrit, session, message.into()) {
                        Ok(request) => hub
                            .core
                            .start_turn(request)
                            .await
                            .map_err(|error| words::conversation_refusal(name, error)),
                        Err(error) => Err(error.message),
                    }
                }
                Err(error) => Err(words::conversation_refusal(name, error)),
            }
        }
        Err(error) => Err(error.message),
    };
    match started {
        Ok(turn) => follow_own(hub, socket, turn, name, Reply::Conversation),
        Err(message) => hub.answer(&socket, "error", refused(message)).await,
    }
}

/// The sender follows its own turn, whether or not it joined the room.
fn follow_own(hub: &Arc<Hub>, socket: SocketRef, turn: Turn, name: &str, reply: Reply) {
    let sender = Sender {
        reply,
        user_message_id: turn.user_message.id,
    };
    if let Some(following) = conn(&socket).follow_as_sender(turn.id, sender) {
        hub.spawn_follower(socket, following, turn.log, name, false);
    }
}

/// `stop_generation {locrit_name, session_id}` or `{turn_id}`: cancels the running turn;
/// what was generated is stored as `cancelled`, and the turn ends for every socket
/// following it with `status: "cancelled"`. The caller gets `generation_stopped`. Who
/// may chat with the Locrit may stop its turns.
pub(super) async fn stop(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    match stoppable(&hub, &socket, &data).await {
        Ok((log, locrit)) => {
            let mut payload = json!({
                "locrit_name": locrit.name,
                "session_id": log.session_key,
                "turn_id": log.turn_id,
            });
            if hub.core.cancel_turn(log.turn_id) {
                hub.answer(&socket, "generation_stopped", payload).await;
            } else {
                payload["message"] = json!(words::NOTHING_RUNNING);
                hub.answer(&socket, "error", payload).await;
            }
        }
        Err(payload) => hub.answer(&socket, "error", payload).await,
    }
}

/// The turn a `stop_generation` names, and its Locrit; the `error` payload otherwise.
async fn stoppable(
    hub: &Hub,
    socket: &SocketRef,
    data: &Value,
) -> Result<(Arc<TurnLog>, Locrit), Value> {
    let (log, name) = if let Some(turn_id) = text(data, "turn_id") {
        let log = turn_id
            .parse::<Uuid>()
            .ok()
            .and_then(|id| hub.core.turn_log(id));
        let log =
            log.ok_or_else(|| json!({"turn_id": turn_id, "message": words::NOTHING_RUNNING}))?;
        (log, None)
    } else {
        let (Some(name), Some(session_id)) = (text(data, "locrit_name"), text(data, "session_id"))
        else {
            return Err(json!({"message": words::STOP_TARGET_REQUIRED}));
        };
        let refused = |message: String| json!({"locrit_name": name, "session_id": session_id, "message": message});
        let locrit = hub
            .core
            .locrit_named(name)
            .await
            .map_err(|error| refused(words::session_refusal(name, error)))?;
        let session = hub.core.session(&locrit, session_id).await.ok();
        let log = session
            .and_then(|session| hub.core.running_turn(session.id))
            .ok_or_else(|| refused(words::NOTHING_RUNNING.to_owned()))?;
        (log, Some(name))
    };
    let locrit = hub.core.locrit(log.locrit_id).await;
    let name = name.map_or_else(
        || locrit.as_ref().map(|l| l.name.clone()).ok(),
        |n| Some(n.to_owned()),
    );
    let refused = |error: Error| {
        let name = name.clone().unwrap_or_default();
        json!({
            "locrit_name": name,
            "session_id": log.session_key,
            "message": words::session_refusal(&name, error),
        })
    };
    let locrit = locrit.map_err(refused)?;
    may_watch(hub, socket, &locrit, &log.session_key)
        .await
        .map_err(refused)?;
    Ok((log, locrit))
}
