//! The in-process event bus: what happened, for every transport that shows it live
//! (Socket.IO rooms, memory views). Events describe what is already stored; a reader
//! that falls behind is told so (`Lagged`) and catches up from the store.

use std::sync::{Arc, OnceLock};

use locrit_domain::{Dialogue, Job, Memory, Message};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::Core;
use crate::chat::TurnLog;

/// How many events a slow subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub enum Event {
    /// A turn began in a session: its log carries the deltas and the end.
    TurnStarted {
        locrit_id: Uuid,
        session_key: String,
        log: Arc<TurnLog>,
    },
    /// A message was stored (a user's message, or a reply, whole or partial).
    MessageStored(Message),
    /// A stored message's content was replaced (`edited_at` is set).
    MessageEdited(Message),
    /// A message was deleted from its session.
    MessageDeleted {
        locrit_id: Uuid,
        session_key: String,
        message_id: Uuid,
    },
    /// A session was deleted (with its messages, or marked deleted for ever).
    SessionDeleted {
        locrit_id: Uuid,
        session_key: String,
    },
    /// A standalone long-term memory was added.
    MemoryAdded(Memory),
    /// A long-term memory was changed: edited, pinned, superseded or invalidated.
    MemoryUpdated(Memory),
    /// A standalone long-term memory was deleted.
    MemoryDeleted { locrit_id: Uuid, memory_id: Uuid },
    /// Concepts were learned, edited, related or deleted.
    ConceptsChanged { locrit_id: Uuid },
    /// A background job of this Locrit changed state (queued, done, failed…).
    JobUpdated(Job),
    /// All of a Locrit's memory was wiped: sessions, messages, memories, concepts.
    MemoryCleared { locrit_id: Uuid },
    /// A dialogue between Locrits changed: started, a reply recorded, paused, ended…
    DialogueUpdated(Dialogue),
    /// A local Locrit began a reply in a dialogue: its turn's log has the deltas.
    DialogueTurn {
        dialogue_id: Uuid,
        /// The dialogue's initiator.
        locrit_id: Uuid,
        speaker: String,
        turn_id: Uuid,
    },
}

impl Event {
    pub fn locrit_id(&self) -> Uuid {
        match self {
            Event::TurnStarted { locrit_id, .. } => *locrit_id,
            Event::MessageStored(message) | Event::MessageEdited(message) => message.locrit_id,
            Event::MessageDeleted { locrit_id, .. } | Event::SessionDeleted { locrit_id, .. } => {
                *locrit_id
            }
            Event::MemoryAdded(memory) | Event::MemoryUpdated(memory) => memory.locrit_id,
            Event::JobUpdated(job) => job.locrit_id.unwrap_or_default(),
            Event::MemoryDeleted { locrit_id, .. }
            | Event::MemoryCleared { locrit_id }
            | Event::ConceptsChanged { locrit_id }
            | Event::DialogueTurn { locrit_id, .. } => *locrit_id,
            Event::DialogueUpdated(dialogue) => dialogue.locrit_id,
        }
    }
}

pub(crate) struct EventBus {
    sender: broadcast::Sender<Event>,
    /// This server's own events, for the other servers sharing its store, if any.
    outbox: OnceLock<mpsc::Sender<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::Sender::new(CAPACITY),
            outbox: OnceLock::new(),
        }
    }
}

impl EventBus {
    /// Publishes an event of this server, to its subscribers and the other servers.
    pub(crate) fn publish(&self, event: Event) {
        if let Some(outbox) = self.outbox.get()
            && outbox.try_send(event.clone()).is_err()
        {
            // The other servers' clients catch up from the store.
            tracing::warn!("events for the other servers are behind; one is dropped");
        }
        self.publish_from_peer(event);
    }

    /// Publishes an event that another server sent, to this server's subscribers only.
    pub(crate) fn publish_from_peer(&self, event: Event) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }

    /// From now on, this server's own events also go to the returned receiver.
    pub(crate) fn open_outbox(&self) -> Option<mpsc::Receiver<Event>> {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        self.outbox.set(sender).ok().map(|()| receiver)
    }
}

impl Core {
    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.sender.subscribe()
    }
}
