//! Several Locrit servers on one PostgreSQL store: each server's live events go to the
//! others through the store's channel (`locrit_store::PeerChannel`), so a client of one
//! server follows a turn running on another, and sees memory change as it happens.
//!
//! Events name what changed; the receiver reads it from the store, which stays the one
//! source of truth (a server that missed events catches up by reading). Turns are the
//! exception: their deltas travel whole, in batches, in order, as the turn runs.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use locrit_llm::LlmError;
use locrit_store::{Heard, MAX_PAYLOAD, PeerChannel};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Core;
use crate::chat::{MIRROR_SILENCE, TurnEnd, TurnError, TurnEvent, TurnLog};
use crate::events::Event;

/// A running turn says it is alive this often when the model is silent.
const ALIVE_EVERY: Duration = Duration::from_secs(3);
/// Deltas ready within this long after the first travel together.
const BATCH_WINDOW: Duration = Duration::from_millis(20);

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The sending server (its job runner's name): a server ignores its own events.
    server: String,
    #[serde(flatten)]
    event: Wire,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    TurnStarted {
        turn: Uuid,
        locrit: Uuid,
        session_key: String,
    },
    /// Deltas `from`, `from + 1`… of a turn; an empty batch says the turn is alive.
    Deltas {
        turn: Uuid,
        from: usize,
        texts: Vec<String>,
    },
    TurnEnded {
        turn: Uuid,
        locrit: Uuid,
        end: WireEnd,
    },
    /// A client asked to stop a turn; its server stops it.
    Cancel {
        turn: Uuid,
    },
    MessageStored {
        locrit: Uuid,
        message: Uuid,
    },
    MessageEdited {
        locrit: Uuid,
        message: Uuid,
    },
    MessageDeleted {
        locrit: Uuid,
        session_key: String,
        message: Uuid,
    },
    SessionDeleted {
        locrit: Uuid,
        session_key: String,
    },
    MemoryAdded {
        locrit: Uuid,
        memory: Uuid,
    },
    MemoryUpdated {
        locrit: Uuid,
        memory: Uuid,
    },
    MemoryDeleted {
        locrit: Uuid,
        memory: Uuid,
    },
    ConceptsChanged {
        locrit: Uuid,
    },
    JobUpdated {
        job: Uuid,
    },
    MemoryCleared {
        locrit: Uuid,
    },
    DialogueUpdated {
        dialogue: Uuid,
    },
    DialogueTurn {
        dialogue: Uuid,
        locrit: Uuid,
        speaker: String,
        turn: Uuid,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireEnd {
    Completed {
        reply: Uuid,
    },
    Cancelled {
        partial: Option<Uuid>,
    },
    Failed {
        error: WireError,
        partial: Option<Uuid>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireError {
    Llm(LlmError),
    Store(locrit_store::StoreFault),
}

impl WireEnd {
    fn of(end: &TurnEnd) -> Self {
        match end {
            TurnEnd::Completed(reply) => WireEnd::Completed { reply: reply.id },
            TurnEnd::Cancelled(partial) => WireEnd::Cancelled {
                partial: partial.as_ref().map(|m| m.id),
            },
            TurnEnd::Failed { error, partial } => WireEnd::Failed {
                error: match error {
                    TurnError::Llm(llm) => WireError::Llm(llm.clone()),
                    TurnError::Store(message) => WireError::Store(message.clone()),
                },
                partial: partial.as_ref().map(|m| m.id),
            },
        }
    }
}

impl Wire {
    /// What other servers need to know of an event; `None` for a turn (followed apart).
    fn of(event: &Event) -> Option<Self> {
        Some(match event {
            Event::TurnStarted { .. } => return None,
            Event::MessageStored(m) => Wire::MessageStored {
                locrit: m.locrit_id,
                message: m.id,
            },
            Event::MessageEdited(m) => Wire::MessageEdited {
                locrit: m.locrit_id,
                message: m.id,
            },
            Event::MessageDeleted {
                locrit_id,
                session_key,
                message_id,
            } => Wire::MessageDeleted {
                locrit: *locrit_id,
                session_key: session_key.clone(),
                message: *message_id,
            },
            Event::SessionDeleted {
                locrit_id,
                session_key,
            } => Wire::SessionDeleted {
                locrit: *locrit_id,
                session_key: session_key.clone(),
            },
            Event::MemoryAdded(m) => Wire::MemoryAdded {
                locrit: m.locrit_id,
                memory: m.id,
            },
            Event::MemoryUpdated(m) => Wire::MemoryUpdated {
                locrit: m.locrit_id,
                memory: m.id,
            },
            Event::MemoryDeleted {
                locrit_id,
                memory_id,
            } => Wire::MemoryDeleted {
                locrit: *locrit_id,
                memory: *memory_id,
            },
            Event::ConceptsChanged { locrit_id } => Wire::ConceptsChanged { locrit: *locrit_id },
            Event::JobUpdated(job) => Wire::JobUpdated { job: job.id },
            Event::MemoryCleared { locrit_id } => Wire::MemoryCleared { locrit: *locrit_id },
            Event::DialogueUpdated(d) => Wire::DialogueUpdated { dialogue: d.id },
            Event::DialogueTurn {
                dialogue_id,
                locrit_id,
                speaker,
                turn_id,
            } => Wire::DialogueTurn {
                dialogue: *dialogue_id,
                locrit: *locrit_id,
                speaker: speaker.clone(),
                turn: *turn_id,
            },
        })
    }
}

/// This server's side of the exchange: what it sends, and what it hears.
#[derive(Clone)]
struct Relay {
    core: Core,
    channel: PeerChannel,
    me: String,
}

impl Core {
    /// Starts relaying events to and from the other servers of this store, if it is
    /// shared; the tasks end with `shutdown`.
    pub(crate) fn start_relay(&self, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let Some(channel) = self.store.peers() else {
            return Vec::new();
        };
        let Some(outbox) = self.events.open_outbox() else {
            return Vec::new();
        };
        let relay = Relay {
            core: self.clone(),
            channel,
            me: self.jobs.runner.clone(),
        };
        let (sending, hearing) = (relay.clone(), relay);
        let (stop_sending, stop_hearing) = (shutdown.clone(), shutdown.clone());
        vec![
            tokio::spawn(async move {
                stop_sending
                    .run_until_cancelled(sending.send_all(outbox))
                    .await;
            }),
            tokio::spawn(async move {
                stop_hearing.run_until_cancelled(hearing.hear_all()).await;
            }),
        ]
    }
}

impl Relay {
    async fn send(&self, event: Wire) {
        let envelope = Envelope {
            server: self.me.clone(),
            event,
        };
        let payload = serde_json::to_string(&envelope).expect("events serialise");
        if let Err(error) = self.channel.send(&payload).await {
            tracing::warn!(%error, "cannot tell the other servers of an event");
        }
    }

    async fn send_all(self, mut outbox: mpsc::Receiver<Event>) {
        while let Some(event) = outbox.recv().await {
            match event {
                Event::TurnStarted { log, .. } => {
                    let relay = self.clone();
                    tokio::spawn(async move { relay.send_turn(log).await });
                }
                event => {
                    if let Some(wire) = Wire::of(&event) {
                        self.send(wire).await;
                    }
                }
            }
        }
    }

    /// Follows one of this server's turns to its end, in order: started, the deltas in
    /// batches (or, when the model is silent, that it is alive), ended.
    async fn send_turn(self, log: std::sync::Arc<TurnLog>) {
        let turn = log.turn_id;
        self.send(Wire::TurnStarted {
            turn,
            locrit: log.locrit_id,
            session_key: log.session_key.clone(),
        })
        .await;
        let mut follow = log.follow(0).boxed();
        let mut next_index = 0;
        loop {
            let first = tokio::select! {
                event = follow.next() => event,
                () = tokio::time::sleep(ALIVE_EVERY) => {
                    self.send(Wire::Deltas { turn, from: next_index, texts: Vec::new() }).await;
                    continue;
                }
            };
            let Some(first) = first else { return };
            let mut batch = Vec::new();
            let mut size = 0;
            let mut end = None;
            let mut event = Some(first);
            let window = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(window);
            while let Some(current) = event.take() {
                match current {
                    TurnEvent::Delta { text, .. } => {
                        size += text.len() + 8;
                        batch.push(text);
                    }
                    TurnEvent::End(turn_end) => {
                        end = Some(turn_end);
                        break;
                    }
                }
                if size > MAX_PAYLOAD / 2 {
                    break;
                }
                event = tokio::select! {
                    next = follow.next() => next,
                    () = &mut window => follow.next().now_or_never().flatten(),
                };
            }
            if !batch.is_empty() {
                let from = next_index;
                next_index += batch.len();
                self.send(Wire::Deltas {
                    turn,
                    from,
                    texts: batch,
                })
                .await;
            }
            if let Some(end) = end {
                let end = WireEnd::of(&end);
                self.send(Wire::TurnEnded {
                    turn,
                    locrit: log.locrit_id,
                    end,
                })
                .await;
                return;
            }
        }
    }

    async fn hear_all(self) {
        let mut heard = loop {
            match self.channel.listen().await {
                Ok(heard) => break heard,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen to the other servers' events; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut watchdog = tokio::time::interval(MIRROR_SILENCE / 2);
        loop {
            tokio::select! {
                next = heard.next() => match next {
                    Some(Heard::Payload(payload)) => match serde_json::from_str::<Envelope>(&payload) {
                        Ok(envelope) if envelope.server != self.me => self.apply(envelope.event).await,
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "unreadable event from another server"),
                    },
                    Some(Heard::Reconnected) => {
                        tracing::warn!("reconnected to the other servers' events; some may be missed");
                    }
                    None => return,
                },
                _ = watchdog.tick() => self.end_silent_mirrors(),
            }
        }
    }

    /// Ends the mirrored turns whose server went silent: it stopped; the store keeps
    /// what it wrote (marked interrupted by the sweep once its lease runs out).
    fn end_silent_mirrors(&self) {
        for turn in self.core.silent_mirrors() {
            let error = LlmError::Protocol("the server running this turn stopped".into());
            self.core.mirror_ended(
                turn,
                TurnEnd::Failed {
                    error: TurnError::Llm(error),
                    partial: None,
                },
            );
        }
    }

    async fn apply(&self, wire: Wire) {
        let core = &self.core;
        let store = &core.store;
        let event = match wire {
            Wire::TurnStarted {
                turn,
                locrit,
                session_key,
            } => {
                let Ok(Some(session)) = store.session(locrit, &session_key).await else {
                    return;
                };
                let cancel = core.mirror_turn(turn, locrit, session.id, session_key);
                let relay = self.clone();
                tokio::spawn(async move {
                    cancel.cancelled().await;
                    relay.send(Wire::Cancel { turn }).await;
                });
                return;
            }
            Wire::Deltas { turn, from, texts } => {
                core.mirror_heard(turn, from, texts);
                return;
            }
            Wire::TurnEnded { turn, locrit, end } => {
                let message = |id: Option<Uuid>| async move {
                    match id {
                        Some(id) => store.message(locrit, id).await.ok().flatten(),
                        None => None,
                    }
                };
                let end = match end {
                    WireEnd::Completed { reply } => match message(Some(reply)).await {
                        Some(reply) => TurnEnd::Completed(reply),
                        None => return,
                    },
                    WireEnd::Cancelled { partial } => TurnEnd::Cancelled(message(partial).await),
                    WireEnd::Failed { error, partial } => TurnEnd::Failed {
                        error: match error {
                            WireError::Llm(llm) => TurnError::Llm(llm),
                            WireError::Store(message) => TurnError::Store(message),
                        },
                        partial: message(partial).await,
                    },
                };
                core.mirror_ended(turn, end);
                return;
            }
            Wire::Cancel { turn } => {
                core.cancel_own_turn(turn);
                return;
            }
            Wire::MessageStored { locrit, message } => store
                .message(locrit, message)
                .await
                .ok()
                .flatten()
                .map(Event::MessageStored),
            Wire::MessageEdited { locrit, message } => store
                .message(locrit, message)
                .await
                .ok()
                .flatten()
                .map(Event::MessageEdited),
            Wire::MessageDeleted {
                locrit,
                session_key,
                message,
            } => Some(Event::MessageDeleted {
                locrit_id: locrit,
                session_key,
                message_id: message,
            }),
            Wire::SessionDeleted {
                locrit,
                session_key,
            } => Some(Event::SessionDeleted {
                locrit_id: locrit,
                session_key,
            }),
            Wire::MemoryAdded { locrit, memory } => store
                .memory(locrit, memory)
                .await
                .ok()
                .flatten()
                .map(Event::MemoryAdded),
            Wire::MemoryUpdated { locrit, memory } => store
                .memory(locrit, memory)
                .await
                .ok()
                .flatten()
                .map(Event::MemoryUpdated),
            Wire::MemoryDeleted { locrit, memory } => Some(Event::MemoryDeleted {
                locrit_id: locrit,
                memory_id: memory,
            }),
            Wire::ConceptsChanged { locrit } => Some(Event::ConceptsChanged { locrit_id: locrit }),
            Wire::JobUpdated { job } => store.job(job).await.ok().flatten().map(Event::JobUpdated),
            Wire::MemoryCleared { locrit } => Some(Event::MemoryCleared { locrit_id: locrit }),
            Wire::DialogueUpdated { dialogue } => store
                .dialogue(dialogue)
                .await
                .ok()
                .flatten()
                .map(Event::DialogueUpdated),
            Wire::DialogueTurn {
                dialogue,
                locrit,
                speaker,
                turn,
            } => Some(Event::DialogueTurn {
                dialogue_id: dialogue,
                locrit_id: locrit,
                speaker,
                turn_id: turn,
            }),
        };
        if let Some(event) = event {
            core.events.publish_from_peer(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of message survives its trip through the channel's JSON (the envelope's
    /// own fields flattened beside the event's must not collide).
    #[test]
    fn events_cross_as_they_were_sent() {
        let turn = Uuid::now_v7();
        let sent = [
            Wire::TurnStarted {
                turn,
                locrit: Uuid::nil(),
                session_key: "s".into(),
            },
            Wire::Deltas {
                turn,
                from: 7,
                texts: vec!["Hel".into(), "lo".into()],
            },
            Wire::TurnEnded {
                turn,
                locrit: Uuid::nil(),
                end: WireEnd::Failed {
                    error: WireError::Llm(LlmError::Status {
                        status: 500,
                        message: "boom".into(),
                    }),
                    partial: Some(turn),
                },
            },
            Wire::Cancel { turn },
            Wire::MessageDeleted {
                locrit: Uuid::nil(),
                session_key: "s".into(),
                message: turn,
            },
        ];
        for event in sent {
            let before = format!("{event:?}");
            let envelope = Envelope {
                server: "a".into(),
                event,
            };
            let json = serde_json::to_string(&envelope).unwrap();
            let back: Envelope = serde_json::from_str(&json).unwrap();
            assert_eq!(back.server, "a");
            assert_eq!(format!("{:?}", back.event), before, "{json}");
        }
    }
}
