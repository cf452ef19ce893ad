//! Emitting to one socket without ever blocking on it. socketioxide buffers a bounded
//! number of packets per socket and says at once when that buffer is full; then the
//! sender waits a little and tries again, and a socket that takes nothing for the
//! whole stall limit is disconnected (its client reconnects and reads the store).

use std::time::{Duration, Instant};

use serde_json::Value;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

const FIRST_RETRY: Duration = Duration::from_millis(2);
const LAST_RETRY: Duration = Duration::from_millis(100);

pub(super) enum Sent {
    Yes,
    /// The socket's buffer is full: nothing was sent.
    Full,
    /// The socket is gone.
    Closed,
}

/// One try.
pub(super) fn emit(socket: &SocketRef, event: &str, payload: &Value) -> Sent {
    match socket.emit(event, payload) {
        Ok(()) => Sent::Yes,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => Sent::Full,
        Err(SendError::Socket(SocketError::Closed)) => Sent::Closed,
        Err(error) => {
            tracing::warn!(%error, "a Socket.IO event could not be encoded");
            Sent::Closed
        }
    }
}

/// Tries until the event is in the socket's buffer, the socket is gone, or it stalled.
pub(super) async fn deliver(socket: &SocketRef, event: &str, payload: &Value, stall: &mut Stall) {
    loop {
        match emit(socket, event, payload) {
            Sent::Yes | Sent::Closed => return,
            Sent::Full if stall.wait().await => {}
            Sent::Full => return give_up(socket),
        }
    }
}

/// The socket took nothing for the whole stall limit: disconnect it.
pub(super) fn give_up(socket: &SocketRef) {
    tracing::info!(sid = %socket.id, "a Socket.IO client stopped reading; disconnecting it");
    let _ = socket.clone().disconnect();
}

/// How long a sender has waited for a full socket, and how long it waits next.
pub(super) struct Stall {
    limit: Duration,
    since: Option<Instant>,
    next: Duration,
}

impl Stall {
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            since: None,
            next: FIRST_RETRY,
        }
    }

    pub fn reset(&mut self) {
        self.since = None;
        self.next = FIRST_RETRY;
    }

    /// Waits before trying again; false once the socket has been full for too long.
    pub async fn wait(&mut self) -> bool {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= self.limit {
            return false;
        }
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(LAST_RETRY);
        true
    }
}
