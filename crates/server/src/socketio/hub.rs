//! What every socket handler shares, and the listener of the core's event bus: a turn
//! started anywhere (Socket.IO, REST, SSE) reaches the sockets in its session's room,
//! and memory changes reach the sockets watching that Locrit.

use std::sync::Arc;
use std::time::Duration;

use locrit_core::Core;
use locrit_core::chat::TurnLog;
use locrit_core::events::Event;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::conn::Following;
use super::follow::Follower;
use super::send::{self, Stall};
use super::{NAMESPACES, chat_room, conn, memory, turns_room};

pub(super) struct Hub {
    pub core: Core,
    pub io: SocketIo,
    pub stall_limit: Duration,
}

impl Hub {
    pub fn new(core: Core, io: SocketIo, stall_limit: Duration) -> Self {
        Self {
            core,
            io,
            stall_limit,
        }
    }

    /// The sockets of every namespace in `room`.
    pub fn sockets_in(&self, room: &str) -> Vec<SocketRef> {
        NAMESPACES
            .iter()
            .filter_map(|namespace| self.io.of(namespace))
            .flat_map(|sockets| sockets.within(room.to_owned()).sockets())
            .collect()
    }

    /// Sends one answer to one socket, waiting while its buffer is full.
    pub async fn answer(&self, socket: &SocketRef, event: &str, payload: Value) {
        send::deliver(socket, event, &payload, &mut Stall::new(self.stall_limit)).await;
    }

    /// Starts `socket` following `log`, in its own task.
    pub fn spawn_follower(
        self: &Arc<Self>,
        socket: SocketRef,
        following: Arc<Following>,
        log: Arc<TurnLog>,
        locrit_name: &str,
        catch_up: bool,
    ) {
        let follower = Follower {
            hub: self.clone(),
            conn: conn(&socket),
            socket,
            following,
            room: chat_room(locrit_name, &log.session_key),
            log,
            locrit_name: locrit_name.to_owned(),
            catch_up,
        };
        tokio::spawn(follower.run());
    }

    /// A turn began: every socket in its room follows it from the start.
    fn turn_started(self: &Arc<Self>, locrit_id: Uuid, log: Arc<TurnLog>) {
        let room = turns_room(locrit_id, &log.session_key);
        for socket in self.sockets_in(&room) {
            let conn = conn(&socket);
            let Some(name) = conn.joined_as(&room) else {
                continue;
            };
            if let Some(following) = conn.follow(log.turn_id) {
                self.spawn_follower(socket, following, log.clone(), &name, false);
            }
        }
    }
}

/// Listens to the core's bus for as long as the server runs.
pub(super) fn spawn_bus_listener(hub: Arc<Hub>) {
    let mut events = hub.core.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::TurnStarted { locrit_id, log, .. }) => hub.turn_started(locrit_id, log),
                Ok(event) => memory::publish(&hub, &event),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "Socket.IO fell behind the event bus");
                    memory::lost_events(&hub);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}
