//! Live memory events: a socket that sent `watch_memory {locrit_name}` is in the
//! Locrit's memory room and gets `memory_updated {locrit_name, kind, …}` for every
//! change published on the core's bus. An event that cannot be delivered (the
//! socket's buffer is full, or the server fell behind the bus) is replaced by one
//! `memory_updated {kind: "resync"}` as soon as the socket can take it: the client
//! reloads the view from the store.

use std::sync::Arc;
use std::time::Duration;

use locrit_core::events::Event;
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use uuid::Uuid;

use super::hub::Hub;
use super::send::{self, Sent, Stall};
use super::{NAMESPACES, conn, now, requester, text, words};
use crate::compat::memory::memory_json;
use crate::compat::turn::message_json;
use locrit_domain::{Reading, Scope, may_read};

/// How often a socket owed a `resync` is tried again.
const RESYNC_RETRY: Duration = Duration::from_millis(50);

fn memory_room(locrit_id: Uuid) -> String {
    format!("memory_{locrit_id}")
}

/// `watch_memory {locrit_name}`: needs `access_to.full_memory`, as the memory routes.
pub(super) async fn watch(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    let Some(name) = text(&data, "locrit_name") else {
        let payload = json!({"message": words::NAME_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    let refused = |message: &str| json!({"locrit_name": name, "message": message});
    let locrit = match hub.core.locrit_named(name).await {
        Ok(locrit) => locrit,
        Err(error) => {
            let payload = refused(&words::session_refusal(name, error));
            return hub.answer(&socket, "error", payload).await;
        }
    };
    let requester = requester(&socket);
    let shared = requester.allows(Scope::Read)
        && match hub.core.caller(&requester, &locrit, None).await {
            Ok(caller) => may_read(&locrit, caller, Reading::FullMemory).is_ok(),
            Err(_) => false,
        };
    if !locrit.access_to.full_memory || !shared {
        let payload = refused(words::FULL_MEMORY_REQUIRED);
        return hub.answer(&socket, "error", payload).await;
    }
    conn(&socket).watch(locrit.id, name);
    socket.join(memory_room(locrit.id));
    let payload = json!({"locrit_name": name});
    hub.answer(&socket, "watching_memory", payload).await;
}

/// `unwatch_memory {locrit_name}`.
pub(super) async fn unwatch(hub: Arc<Hub>, socket: SocketRef, data: Value) {
    let Some(name) = text(&data, "locrit_name") else {
        let payload = json!({"message": words::NAME_REQUIRED});
        return hub.answer(&socket, "error", payload).await;
    };
    if let Some(id) = conn(&socket).unwatch(name) {
        socket.leave(memory_room(id));
    }
    let payload = json!({"locrit_name": name});
    hub.answer(&socket, "unwatched_memory", payload).await;
}

/// A change on the bus, to every socket watching its Locrit.
pub(super) fn publish(hub: &Arc<Hub>, event: &Event) {
    let sockets = hub.sockets_in(&memory_room(event.locrit_id()));
    if sockets.is_empty() {
        return;
    }
    let Some(body) = describe(event) else {
        return;
    };
    for socket in sockets {
        let conn = conn(&socket);
        let Some(name) = conn.watched_name(event.locrit_id()) else {
            continue;
        };
        if conn.memory_lagged() {
            continue; // a resync is on its way
        }
        let mut payload = body.clone();
        payload["locrit_name"] = json!(name);
        if let Sent::Full = send::emit(&socket, "memory_updated", &payload) {
            owe_resync(hub, socket);
        }
    }
}

/// The server missed events of the bus: every watcher reloads.
pub(super) fn lost_events(hub: &Arc<Hub>) {
    for namespace in NAMESPACES {
        let Some(sockets) = hub.io.of(namespace) else {
            continue;
        };
        for socket in sockets.sockets() {
            if !conn(&socket).watched().is_empty() {
                owe_resync(hub, socket);
            }
        }
    }
}

/// Sends `resync` for every Locrit the socket watches, once it can take them.
fn owe_resync(hub: &Arc<Hub>, socket: SocketRef) {
    let conn = conn(&socket);
    if !conn.mark_memory_lagged() {
        return; // already owed
    }
    let mut stall = Stall::new(hub.stall_limit);
    tokio::spawn(async move {
        'retry: loop {
            tokio::time::sleep(RESYNC_RETRY).await;
            // Cleared first: an event published from now on is sent, and the resync
            // that follows it tells the client to reload anyway.
            conn.clear_memory_lagged();
            for (_, name) in conn.watched() {
                let payload = json!({"locrit_name": name, "kind": "resync", "timestamp": now()});
                match send::emit(&socket, "memory_updated", &payload) {
                    Sent::Yes => {}
                    Sent::Closed => return,
                    Sent::Full => {
                        conn.mark_memory_lagged();
                        if !stall.wait().await {
                            return send::give_up(&socket);
                        }
                        continue 'retry;
                    }
                }
            }
            return;
        }
    });
}

/// The payload of a memory event, without `locrit_name` (each socket's own).
fn describe(event: &Event) -> Option<Value> {
    let body = match event {
        Event::TurnStarted { .. } => return None,
        Event::MessageStored(message) => json!({
            "kind": "message_stored",
            "session_id": message.session_id,
            "message": message_json(message),
        }),
        Event::MessageEdited(message) => json!({
            "kind": "message_edited",
            "session_id": message.session_id,
            "message": message_json(message),
        }),
        Event::MessageDeleted {
            session_key,
            message_id,
            ..
        } => json!({
            "kind": "message_deleted",
            "session_id": session_key,
            "message_id": message_id,
        }),
        Event::SessionDeleted { session_key, .. } => json!({
            "kind": "session_deleted",
            "session_id": session_key,
        }),
        Event::MemoryAdded(memory) => json!({
            "kind": "memory_added",
            "memory": memory_json(memory),
        }),
        Event::MemoryUpdated(memory) => json!({
            "kind": "memory_updated",
            "memory": memory_json(memory),
        }),
        Event::MemoryDeleted { memory_id, .. } => json!({
            "kind": "memory_deleted",
            "memory_id": memory_id,
        }),
        Event::ConceptsChanged { .. } => json!({"kind": "concepts_changed"}),
        Event::JobUpdated(job) => json!({"kind": "job_updated", "job": job}),
        Event::MemoryCleared { .. } => json!({"kind": "memory_cleared"}),
        Event::DialogueUpdated(dialogue) => {
            json!({"kind": "dialogue_updated", "dialogue": dialogue})
        }
        Event::DialogueTurn {
            dialogue_id,
            speaker,
            turn_id,
            ..
        } => json!({
            "kind": "dialogue_turn",
            "dialogue_id": dialogue_id,
            "speaker": speaker,
            "turn_id": turn_id,
        }),
    };
    let mut body = body;
    body["timestamp"] = json!(now());
    Some(body)
}
