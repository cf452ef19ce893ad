//! The log of one turn: every delta the model produced, then how the turn ended.
//!
//! Every consumer (the caller, other tabs on the session, a client resuming an SSE
//! stream) reads this log from the position it wants, at its own pace. The model never
//! waits for a reader, and a reader never misses or repeats a delta. Memory is bounded
//! by the length of one reply.

use std::sync::{Arc, Mutex};

use futures::Stream;
use locrit_domain::Message;
use locrit_llm::LlmError;
use locrit_store::StoreFault;
use tokio::sync::watch;
use uuid::Uuid;

/// Why a turn failed after the model had started.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnError {
    /// The model failed or the stream was cut.
    Llm(LlmError),
    /// The reply could not be stored.
    Store(StoreFault),
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnError::Llm(e) => write!(f, "{e}"),
            TurnError::Store(e) => write!(f, "the reply could not be stored: {e}"),
        }
    }
}

/// How a turn ended. The stored assistant message, if any, is exactly what the engine
/// reports here.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    /// The model finished; the reply is stored.
    Completed(Message),
    /// A client stopped it; what was generated is stored with status `cancelled`.
    Cancelled(Option<Message>),
    /// The model or the store failed; a partial reply is stored with status `interrupted`.
    Failed {
        error: TurnError,
        partial: Option<Message>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The `index`-th piece of the reply (from 0).
    Delta {
        index: usize,
        text: String,
    },
    End(TurnEnd),
}

#[derive(Default)]
struct State {
    deltas: Vec<String>,
    end: Option<TurnEnd>,
}

pub struct TurnLog {
    pub turn_id: Uuid,
    pub locrit_id: Uuid,
    pub session_key: String,
    state: Mutex<State>,
    changed: watch::Sender<usize>,
}

impl TurnLog {
    pub(crate) fn new(turn_id: Uuid, locrit_id: Uuid, session_key: String) -> Self {
        Self {
            turn_id,
            locrit_id,
            session_key,
            state: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }

    pub(crate) fn push(&self, text: String) {
        let mut state = self.state.lock().expect("turn log lock");
        state.deltas.push(text);
        let count = state.deltas.len();
        drop(state);
        self.changed.send_replace(count);
    }

    pub(crate) fn end(&self, end: TurnEnd) {
        self.state.lock().expect("turn log lock").end = Some(end);
        self.changed.send_modify(|_| {});
    }

    /// How many deltas arrived so far.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().expect("turn log lock").deltas.len()
    }

    /// The text generated so far.
    pub fn text(&self) -> String {
        self.state.lock().expect("turn log lock").deltas.concat()
    }

    pub fn is_finished(&self) -> bool {
        self.state.lock().expect("turn log lock").end.is_some()
    }

    /// Every event from delta `from` on, live until the turn ends.
    pub fn follow(self: &Arc<Self>, from: usize) -> impl Stream<Item = TurnEvent> + Send + use<> {
        let receiver = self.changed.subscribe();
        futures::stream::unfold(
            (self.clone(), from, receiver, false),
            |(log, next, mut receiver, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let snapshot = {
                        let state = log.state.lock().expect("turn log lock");
                        if let Some(text) = state.deltas.get(next) {
                            Some(TurnEvent::Delta {
                                index: next,
                                text: text.clone(),
                            })
                        } else {
                            state.end.clone().map(TurnEvent::End)
                        }
                    };
                    match snapshot {
                        Some(event @ TurnEvent::Delta { .. }) => {
                            return Some((event, (log, next + 1, receiver, false)));
                        }
                        Some(end) => return Some((end, (log, next, receiver, true))),
                        None => {
                            if receiver.changed().await.is_err() {
                                return None;
                            }
                        }
                    }
                }
            },
        )
    }

    /// Waits for the end of the turn.
    pub async fn finished(self: &Arc<Self>) -> TurnEnd {
        let mut receiver = self.changed.subscribe();
        loop {
            if let Some(end) = self.state.lock().expect("turn log lock").end.clone() {
                return end;
            }
            if receiver.changed().await.is_err() {
                // The sender lives in `self`, so this cannot happen while we hold it.
                unreachable!("turn log dropped while followed");
            }
        }
    }
}
