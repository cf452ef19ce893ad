//! The original's Socket.IO contract (§2 of the wire contract), served by socketioxide
//! on `/socket.io/`, namespaces `/` and `/chat` with the same handlers, over polling
//! and WebSocket.
//!
//! The transport only maps events: a `chat_message` becomes one [`Core::start_turn`],
//! and the turn's [`TurnLog`](locrit_core::chat::TurnLog) becomes `chat_chunk`s and one
//! terminal event. Every socket that follows a turn (its sender, the members of the
//! session's room, a socket joining mid-stream) reads the log at its own pace in its
//! own task, so a slow socket never slows the model or the others; what a full socket
//! buffer could not take is sent later as one merged chunk.
//!
//! - [`chat`]: `join_chat`, `leave_chat`, `chat_message`, `stop_generation`;
//! - [`follow`]: one socket reading one turn;
//! - [`memory`]: `watch_memory`, `unwatch_memory` and the `memory_updated` events;
//! - [`hub`]: the bus listener that brings turns and memory changes to the rooms.

mod chat;
mod conn;
mod errors;
mod follow;
mod hub;
mod memory;
mod origin;
mod send;
mod words;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use locrit_core::Core;
use locrit_domain::Requester;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};

pub(crate) use origin::OriginCheck;

use self::conn::Conn;
use self::hub::Hub;

/// The namespaces served, with the same handlers.
const NAMESPACES: [&str; 2] = ["/", "/chat"];
/// The user id of every Socket.IO chat, as the original picked it without a login.
const SOCKET_USER: &str = "websocket_user";

/// Socket.IO settings of a server.
#[derive(Debug, Clone)]
pub struct SocketIoSettings {
    /// Packets buffered per socket before `emit` reports it full. A follower whose socket
    /// is full waits and then sends what it could not as one merged chunk.
    pub buffer: usize,
    /// How long a socket may stay full before it is disconnected (it then reads the
    /// conversation back from the store).
    pub stall_limit: Duration,
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        Self {
            buffer: 128,
            stall_limit: Duration::from_secs(30),
        }
    }
}

/// Adds the Socket.IO server to `routes`: the socketioxide layer, behind a check of the
/// browser origin (§0.3).
/// Engine.IO polling payloads are limited to `max_payload` bytes, the server's body
/// limit (a WebSocket message, to socketioxide's own limit).
pub(crate) fn layer(
    routes: Router,
    core: Core,
    settings: &SocketIoSettings,
    max_payload: usize,
    origins: OriginCheck,
) -> (Router, SocketIoCloser) {
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(settings.buffer)
        .max_payload(max_payload as u64)
        .build_layer();
    let hub = Arc::new(Hub::new(core, io.clone(), settings.stall_limit));
    for namespace in NAMESPACES {
        let hub = hub.clone();
        io.ns(
            namespace,
            move |socket: SocketRef, TryData(auth): TryData<Value>| {
                let hub = hub.clone();
                async move { on_connect(hub, socket, auth.ok()).await }
            },
        );
    }
    hub::spawn_bus_listener(hub);
    let routes = routes
        .layer(layer)
        .layer(axum::middleware::from_fn(errors::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            origins,
            OriginCheck::check,
        ));
    (routes, SocketIoCloser(io))
}

/// Closes every Socket.IO connection of a server, as it shuts down.
pub struct SocketIoCloser(SocketIo);

/// How long closing waits for the sockets to be gone. socketioxide 0.18 sends every
/// socket its close at once, but may then wait for ever on a WebSocket one.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

impl SocketIoCloser {
    pub async fn close(&self) {
        if tokio::time::timeout(CLOSE_WAIT, self.0.close())
            .await
            .is_err()
        {
            tracing::debug!("Socket.IO sockets still closing; going on");
        }
    }
}

/// A new socket: who it is, its state, its handlers, and the original's greeting. The
/// requester is the handshake's (its headers, cookie, or local trust), or the API key
/// of the connect payload (`auth: {token}`, for browsers, which cannot set headers on
/// a WebSocket); a wrong key is refused.
async fn on_connect(hub: Arc<Hub>, socket: SocketRef, auth: Option<Value>) {
    let handshake = socket
        .req_parts()
        .extensions
        .get::<Requester>()
        .cloned()
        .unwrap_or(Requester::Anonymous);
    let token = auth.as_ref().and_then(|auth| text(auth, "token"));
    let requester = match token {
        None => handshake,
        Some(token) => match hub.core.authenticate_key(token).await {
            Ok(Some(requester)) => requester,
            Ok(None) | Err(_) => {
                let _ = socket.emit("error", &json!({"message": words::BAD_KEY}));
                let _ = socket.disconnect();
                return;
            }
        },
    };
    socket.extensions.insert(requester);
    socket.extensions.insert(Arc::new(Conn::default()));
    on(&socket, &hub, "join_chat", chat::join);
    on(&socket, &hub, "leave_chat", chat::leave);
    on(&socket, &hub, "chat_message", chat::message);
    on(&socket, &hub, "stop_generation", chat::stop);
    on(&socket, &hub, "watch_memory", memory::watch);
    on(&socket, &hub, "unwatch_memory", memory::unwatch);
    // Nothing is in the buffer yet: this cannot be full.
    let _ = socket.emit("connected", &json!({"status": "connected"}));
}

/// Registers `handler` for `event`; a payload that is not JSON reads as `{}`, so the
/// handler answers a missing field with the contract's error.
fn on<F, Fut>(socket: &SocketRef, hub: &Arc<Hub>, event: &'static str, handler: F)
where
    F: Fn(Arc<Hub>, SocketRef, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let hub = hub.clone();
    socket.on(
        event,
        move |socket: SocketRef, TryData(data): TryData<Value>| {
            handler(hub.clone(), socket, data.unwrap_or(Value::Null))
        },
    );
}

/// Who is on the other end of this socket.
fn requester(socket: &SocketRef) -> Requester {
    socket
        .extensions
        .get::<Requester>()
        .unwrap_or(Requester::Anonymous)
}

/// The per-socket state of a socket of this server.
fn conn(socket: &SocketRef) -> Arc<Conn> {
    socket
        .extensions
        .get::<Arc<Conn>>()
        .unwrap_or_else(|| Arc::new(Conn::default()))
}

/// The room of a chat session, as the original named it.
fn chat_room(locrit_name: &str, session_id: &str) -> String {
    format!("chat_{locrit_name}_{session_id}")
}

/// The internal room of a session, by Locrit id: where the hub finds a turn's sockets.
fn turns_room(locrit_id: uuid::Uuid, session_id: &str) -> String {
    format!("turns_{locrit_id}_{session_id}")
}

/// A non-empty string field of a payload.
fn text<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    data.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Now, as every event's `timestamp`.
fn now() -> String {
    crate::compat::settings::timestamp(chrono::Utc::now())
}
