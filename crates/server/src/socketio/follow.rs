//! One socket reading one turn's log: a `chat_chunk` per delta, then one terminal event.
//!
//! The log keeps the whole reply, so a follower never makes the model wait. When the
//! socket's buffer is full, `emit` says so at once; the follower then waits, and sends
//! everything generated meanwhile as one chunk. A socket full for longer than the stall
//! limit is disconnected: its client reads the conversation back from the store.

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use locrit_core::chat::{TurnEnd, TurnEvent, TurnLog};
use locrit_domain::Message;
use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use uuid::Uuid;

use super::conn::{Conn, Following, Reply};
use super::hub::Hub;
use super::send::{self, Sent, Stall};
use super::{now, words};
use crate::compat::settings::timestamp;

pub(super) struct Follower {
    pub hub: Arc<Hub>,
    pub socket: SocketRef,
    pub conn: Arc<Conn>,
    pub following: Arc<Following>,
    pub log: Arc<TurnLog>,
    pub locrit_name: String,
    pub room: String,
    /// Joined mid-stream: what was generated before goes as one chunk.
    pub catch_up: bool,
}

impl Follower {
    pub async fn run(self) {
        self.follow().await;
        self.conn.done(self.log.turn_id);
    }

    async fn follow(&self) {
        let mut events = std::pin::pin!(self.log.follow(0));
        let mut pending = String::new();
        let mut end = None;
        let mut merge = self.catch_up;
        let mut stall = Stall::new(self.hub.stall_limit);
        loop {
            if pending.is_empty() && end.is_none() {
                match events.next().await {
                    Some(TurnEvent::Delta { text, .. }) => pending.push_str(&text),
                    Some(TurnEvent::End(ended)) => end = Some(ended),
                    None => return,
                }
            }
            // Behind (or just joined): take everything already generated, as one chunk.
            while merge && end.is_none() {
                match events.next().now_or_never() {
                    Some(Some(TurnEvent::Delta { text, .. })) => pending.push_str(&text),
                    Some(Some(TurnEvent::End(ended))) => end = Some(ended),
                    _ => break,
                }
            }
            if !self.wanted() {
                return;
            }
            if !pending.is_empty() && self.following.streams() {
                match self.emit("chat_chunk", &self.chunk(&pending)) {
                    Sent::Yes => {
                        merge = false;
                        stall.reset();
                    }
                    Sent::Closed => return,
                    Sent::Full => {
                        merge = true;
                        if !stall.wait().await {
                            return self.give_up();
                        }
                        continue;
                    }
                }
            }
            pending.clear();
            if let Some(end) = end.take() {
                return self.finish(end, &mut stall).await;
            }
        }
    }

    /// Whether this socket still wants the turn: its sender always does; a room member
    /// until it leaves the room.
    fn wanted(&self) -> bool {
        self.following.sender.get().is_some() || self.conn.in_room(&self.room)
    }

    fn chunk(&self, text: &str) -> Value {
        json!({
            "locrit_name": self.locrit_name,
            "session_id": self.log.session_key,
            "content": text,
            "timestamp": now(),
            "turn_id": self.log.turn_id,
        })
    }

    async fn finish(&self, end: TurnEnd, stall: &mut Stall) {
        let (event, payload) = self.terminal(end).await;
        send::deliver(&self.socket, event, &payload, stall).await;
    }

    /// The one event that ends the turn for this socket.
    async fn terminal(&self, end: TurnEnd) -> (&'static str, Value) {
        let sender = self.following.sender.get();
        let reply = sender.map_or(Reply::Stream, |s| s.reply);
        let (message, status) = match end {
            TurnEnd::Completed(message) => (Some(message), "completed"),
            TurnEnd::Cancelled(partial) => (partial, "cancelled"),
            TurnEnd::Failed { error, partial } => {
                let key = match reply {
                    Reply::Conversation => "conversation_id",
                    Reply::Stream | Reply::Response => "session_id",
                };
                let user_message_id = sender
                    .map(|s| s.user_message_id)
                    .or_else(|| partial.as_ref().and_then(answered));
                let payload = json!({
                    "locrit_name": self.locrit_name,
                    key: self.log.session_key,
                    "message": words::turn_failed(&error),
                    "turn_id": self.log.turn_id,
                    "user_message_id": user_message_id,
                    "partial_message_id": partial.map(|m| m.id),
                });
                return ("error", payload);
            }
        };
        let user_message_id = sender
            .map(|s| s.user_message_id)
            .or_else(|| message.as_ref().and_then(answered));
        let mut payload = json!({
            "locrit_name": self.locrit_name,
            "session_id": self.log.session_key,
            "timestamp": message.as_ref().map_or_else(now, |m| timestamp(m.timestamp)),
            "response": message.as_ref().map_or("", |m| m.content.as_str()),
            "message_id": message.as_ref().map(|m| m.id),
            "user_message_id": user_message_id,
            "turn_id": self.log.turn_id,
            "status": status,
        });
        match reply {
            Reply::Stream => ("chat_complete", payload),
            Reply::Response => ("chat_response", payload),
            Reply::Conversation => {
                payload["conversation_id"] = json!(self.log.session_key);
                payload["message_count"] = json!(self.message_count().await);
                ("chat_response", payload)
            }
        }
    }

    /// The conversation's message count, read back from the store (null if it is gone).
    async fn message_count(&self) -> Option<i64> {
        let core = &self.hub.core;
        let locrit = core.locrit(self.log.locrit_id).await.ok()?;
        let session = core.session(&locrit, &self.log.session_key).await.ok()?;
        Some(session.message_count)
    }

    fn emit(&self, event: &str, payload: &Value) -> Sent {
        send::emit(&self.socket, event, payload)
    }

    fn give_up(&self) {
        send::give_up(&self.socket);
    }
}

/// The user message a stored reply answers (from its metadata).
fn answered(reply: &Message) -> Option<Uuid> {
    reply.metadata["answers"][0].as_str()?.parse().ok()
}
