//! The task that reads the model's stream, publishes it, and stores the reply.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use locrit_domain::{Locrit, Message, MessageStatus, NewMessage, Role};
use locrit_llm::{ChatEvent, ChatStats, ChatStream, LlmError};
use locrit_store::{Appended, Revisions, Store, StoreError, StoreFault};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::history::History;
use super::log::{TurnEnd, TurnError, TurnLog};
use crate::Core;
use crate::events::{Event, EventBus};

/// Attempts at storing a reply while the store is busy.
const STORE_ATTEMPTS: u32 = 4;
/// A reply still streaming this long is stored, then its text so far again this often:
/// short replies are written once, at their end.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long a stored streaming reply, or a question waiting for its reply, stays this
/// server's without being renewed.
const REPLY_LEASE: Duration = Duration::from_secs(10);

pub(super) struct Run {
    /// Decides the extraction job stored with a complete reply, and announces it.
    pub core: Core,
    pub locrit: Locrit,
    pub events: Arc<EventBus>,
    pub store: Arc<dyn Store>,
    pub log: Arc<TurnLog>,
    pub session_id: Uuid,
    pub model: String,
    /// The message this turn answers, as stored.
    pub question: Appended,
    /// The history the prompt was made of, and the budget it was read for: kept for the
    /// session's next turn once the reply is stored, if nothing else changed the session.
    pub history: Option<(History, u32)>,
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
/// history: it stays in the transcript, marked, and later prompts leave it out. Its wait
/// ends (a failed mark leaves the lease to run out: then any server marks it).
pub(super) async fn mark_unanswered(store: &dyn Store, message: &Message, reason: &str) {
    let mut metadata = message.metadata.clone();
    metadata["unanswered"] = json!(reason);
    if let Err(error) = store
        .mark_unanswered(message.locrit_id, message.id, &metadata)
        .await
    {
        tracing::warn!(%error, message = %message.id, "could not mark a message unanswered");
    }
}

/// When a question stored now stops waiting for its reply, unless renewed.
pub(super) fn lease_from_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + REPLY_LEASE
}

/// Renews the lease of a question whose reply has not begun (a slow model loading or
/// thinking), so that no server takes its turn for one that stopped.
async fn renew_question(store: &dyn Store, question: &Message) {
    if let Err(error) = store.renew_question(question.id, lease_from_now()).await {
        tracing::warn!(%error, message = %question.id, "could not renew a waiting question's lease");
    }
}

/// Runs `work` (the model's answer starting) while the question waits, renewing its
/// lease as long as it takes.
pub(super) async fn while_waiting<T>(
    store: &dyn Store,
    question: &Message,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            () = tokio::time::sleep(CHECKPOINT_EVERY) => renew_question(store, question).await,
        }
    }
}

impl Run {
    pub async fn run(mut self, mut stream: ChatStream, cancel: CancellationToken) {
        let mut text = String::new();
        // The reply, once it has been stored while streaming.
        let mut started: Option<Message> = None;
        // Before the first token the question's lease is renewed; after it, the reply
        // so far is stored.
        let mut checkpoint = tokio::time::Instant::now() + CHECKPOINT_EVERY;
        let outcome = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break Outcome::Cancelled,
                () = tokio::time::sleep_until(checkpoint) => {
                    if text.is_empty() {
                        renew_question(&*self.store, &self.question.message).await;
                    } else {
                        self.checkpoint(&text, &mut started).await;
                    }
                    checkpoint = tokio::time::Instant::now() + CHECKPOINT_EVERY;
                }
                next = stream.next() => match next {
                    Some(Ok(ChatEvent::Delta(delta))) => {
                        if text.is_empty() {
                            // A reply shorter than this is written once, at its end.
                            checkpoint = tokio::time::Instant::now() + CHECKPOINT_EVERY;
                        }
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

        let started = started.as_ref();
        let end = match outcome {
            Outcome::Done(stats) => match self
                .store_reply(started, &text, MessageStatus::Complete, Some(&stats), None)
                .await
            {
                Ok((message, revisions)) => {
                    self.keep_history(&message, revisions);
                    TurnEnd::Completed(message)
                }
                Err(error) => TurnEnd::Failed {
                    error,
                    partial: None,
                },
            },
            Outcome::Cancelled => match self
                .store_partial(started, &text, MessageStatus::Cancelled, None)
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
                    .store_partial(started, &text, MessageStatus::Interrupted, Some(&llm))
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
            mark_unanswered(&*self.store, &self.question.message, &reason).await;
        }
        self.log.end(end);
    }

    /// Stores the reply so far, leased to this server: if the server dies, what was
    /// generated stays, and another server (or this one, restarted) marks it interrupted.
    /// A failed checkpoint only costs durability of the text so far: the end writes again.
    async fn checkpoint(&self, text: &str, started: &mut Option<Message>) {
        let lease_until = chrono::Utc::now() + REPLY_LEASE;
        let written = match started {
            Some(reply) => self
                .store
                .checkpoint_reply(reply.locrit_id, reply.id, text, lease_until)
                .await
                .map(|_| ()),
            None => {
                let reply = NewMessage {
                    status: MessageStatus::Streaming,
                    metadata: self.metadata(),
                    ..NewMessage::new(Role::Assistant, text)
                };
                self.store
                    .start_reply(
                        self.session_id,
                        &reply,
                        lease_until,
                        self.question.message.id,
                    )
                    .await
                    .map(|reply| *started = Some(reply))
            }
        };
        if let Err(error) = written {
            tracing::warn!(%error, turn = %self.log.turn_id, "could not store the reply so far");
        }
    }

    /// Stores what was generated, if anything was.
    async fn store_partial(
        &self,
        started: Option<&Message>,
        text: &str,
        status: MessageStatus,
        error: Option<&LlmError>,
    ) -> Result<Option<Message>, TurnError> {
        if text.is_empty() {
            return Ok(None);
        }
        let (reply, _) = self.store_reply(started, text, status, None, error).await?;
        Ok(Some(reply))
    }

    fn metadata(&self) -> Value {
        json!({
            "model": self.model,
            "turn_id": self.log.turn_id,
            "answers": [self.question.message.id],
            "history_dropped": self.dropped_history,
            "recall": self.recalled,
        })
    }

    /// Gives the session's history back, with this turn in it, for its next turn.
    fn keep_history(&mut self, reply: &Message, revisions: Option<Revisions>) {
        if let (Some((history, budget)), Some(revisions)) = (self.history.take(), revisions)
            && let Some(after) = history.after_turn(&self.question, reply, revisions, budget)
        {
            self.core.chat.histories.keep(self.session_id, after);
        }
    }

    /// Writes the reply's final form: appended (with the session's revisions around
    /// it), or, if it was stored while streaming, finished in place (keeping its place
    /// in the session).
    async fn store_reply(
        &self,
        started: Option<&Message>,
        text: &str,
        status: MessageStatus,
        stats: Option<&ChatStats>,
        error: Option<&LlmError>,
    ) -> Result<(Message, Option<Revisions>), TurnError> {
        let mut metadata = self.metadata();
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
        // The reply's id is chosen here so that its extraction job, which names it, is
        // written in the reply's own transaction: a crash cannot keep one without the other.
        let id = started.map_or_else(Uuid::now_v7, |reply| reply.id);
        let mut job = match status {
            MessageStatus::Complete => {
                self.core
                    .extraction_job(&self.locrit, &self.question.message, id)
                    .await
            }
            _ => None,
        };
        let mut attempt = 1;
        loop {
            let stored = match started {
                Some(reply) => self
                    .store
                    .finish_reply(reply.locrit_id, id, &message, job.as_ref())
                    .await
                    .and_then(|finished| finished.ok_or(StoreError::NotFound("message")))
                    .map(|(stored, job)| (stored, job, None)),
                None => self
                    .store
                    .append_reply(
                        self.session_id,
                        id,
                        &message,
                        self.question.message.id,
                        job.as_ref(),
                    )
                    .await
                    .map(|appended| (appended.message, appended.job, Some(appended.revisions))),
            };
            match stored {
                Ok((stored, job, revisions)) => {
                    self.events.publish(Event::MessageStored(stored.clone()));
                    if let Some(job) = job {
                        self.core.job_queued(&job);
                    }
                    return Ok((stored, revisions));
                }
                Err(StoreError::Busy) if attempt < STORE_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                // A full store may still hold the reply without its job: the answer is
                // kept, only what it teaches is not learned.
                Err(error @ StoreError::Full(_)) if job.is_some() => {
                    tracing::warn!(%error, "no room for the reply's extraction job; storing the reply alone");
                    job = None;
                }
                Err(error) => {
                    tracing::error!(%error, "the reply could not be stored");
                    return Err(TurnError::Store(StoreFault::from(&error)));
                }
            }
        }
    }
}
