//! The task that reads the model's stream, publishes it, and stores the reply.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use locrit_domain::{Message, MessageStatus, NewMessage, Role};
use locrit_llm::{ChatEvent, ChatStats, ChatStream, LlmError};
use locrit_store::{Store, StoreError};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::log::{TurnEnd, TurnError, TurnLog};
use crate::events::{Event, EventBus};

/// Attempts at storing a reply while the store is busy.
const STORE_ATTEMPTS: u32 = 4;

pub(super) struct Run {
    pub events: Arc<EventBus>,
    pub store: Arc<dyn Store>,
    pub log: Arc<TurnLog>,
    pub session_id: Uuid,
    pub model: String,
    /// The message this turn answers.
    pub user_message: Message,
    pub dropped_history: usize,
    /// The ids of the memories and messages recalled into the prompt.
    pub recalled: Value,
}

enum Outcome {
    Done(ChatStats),
    Cancelled,
    Failed(LlmError),
}

/// Flags a user message the model never answered, so it is not silently left in the
/// history: it stays in the transcript, marked, and later prompts leave it out.
pub(super) async fn mark_unanswered(store: &dyn Store, message: &Message, reason: &str) {
    let mut metadata = message.metadata.clone();
    metadata["unanswered"] = json!(reason);
    if let Err(error) = store
        .set_message_metadata(message.locrit_id, message.id, &metadata)
        .await
    {
        tracing::warn!(%error, message = %message.id, "could not mark a message unanswered");
    }
}

impl Run {
    pub async fn run(self, mut stream: ChatStream, cancel: CancellationToken) {
        let mut text = String::new();
        let outcome = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break Outcome::Cancelled,
                next = stream.next() => match next {
                    Some(Ok(ChatEvent::Delta(delta))) => {
                        text.push_str(&delta);
                        self.log.push(delta);
                    }
                    Some(Ok(ChatEvent::Done(stats))) => break Outcome::Done(stats),
                    Some(Err(error)) => break Outcome::Failed(error),
                    None => break Outcome::Failed(LlmError::Protocol("stream ended before done".into())),
                },
            }
        };
        // Dropping the stream closes the connection: a cancelled model stops generating.
        drop(stream);

        let end = match outcome {
            Outcome::Done(stats) => match self
                .store_reply(&text, MessageStatus::Complete, Some(&stats), None)
                .await
            {
                Ok(message) => TurnEnd::Completed(message),
                Err(error) => TurnEnd::Failed {
                    error,
                    partial: None,
                },
            },
            Outcome::Cancelled => match self
                .store_partial(&text, MessageStatus::Cancelled, None)
                .await
            {
                Ok(partial) => TurnEnd::Cancelled(partial),
                Err(error) => TurnEnd::Failed {
                    error,
                    partial: None,
                },
            },
            Outcome::Failed(llm) => {
                tracing::warn!(error = %llm, "the model failed mid-reply; keeping what arrived");
                match self
                    .store_partial(&text, MessageStatus::Interrupted, Some(&llm))
                    .await
                {
                    Ok(partial) => TurnEnd::Failed {
                        error: TurnError::Llm(llm),
                        partial,
                    },
                    Err(error) => TurnEnd::Failed {
                        error,
                        partial: None,
                    },
                }
            }
        };
        let unanswered = match &end {
            TurnEnd::Failed {
                error,
                partial: None,
            } => Some(error.to_string()),
            TurnEnd::Cancelled(None) => Some("cancelled before any reply".to_owned()),
            _ => None,
        };
        if let Some(reason) = unanswered {
            mark_unanswered(&*self.store, &self.user_message, &reason).await;
        }
        self.log.end(end);
    }

    /// Stores what was generated, if anything was.
    async fn store_partial(
        &self,
        text: &str,
        status: MessageStatus,
        error: Option<&LlmError>,
    ) -> Result<Option<Message>, TurnError> {
        if text.is_empty() {
            return Ok(None);
        }
        self.store_reply(text, status, None, error).await.map(Some)
    }

    async fn store_reply(
        &self,
        text: &str,
        status: MessageStatus,
        stats: Option<&ChatStats>,
        error: Option<&LlmError>,
    ) -> Result<Message, TurnError> {
        let mut metadata = json!({
            "model": self.model,
            "turn_id": self.log.turn_id,
            "answers": [self.user_message.id],
            "history_dropped": self.dropped_history,
            "recall": self.recalled,
        });
        if let Some(stats) = stats {
            metadata["finish_reason"] = json!(stats.done_reason);
            metadata["stats"] = json!(stats);
        }
        if let Some(error) = error {
            metadata["error"] = json!(error.to_string());
        }
        let message = NewMessage {
            status,
            metadata,
            ..NewMessage::new(Role::Assistant, text)
        };
        let mut attempt = 1;
        loop {
            match self.store.append_message(self.session_id, &message).await {
                Ok(stored) => {
                    self.events.publish(Event::MessageStored(stored.clone()));
                    return Ok(stored);
                }
                Err(StoreError::Busy) if attempt < STORE_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(%error, "the reply could not be stored");
                    return Err(TurnError::Store(error.to_string()));
                }
            }
        }
    }
}
