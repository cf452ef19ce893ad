//! Message writes, and SQLite's group commit of them.
//!
//! Every append of messages (and a reply written with its job) is a [`Write`], applied
//! by the one function `commit_writes` of `impl_store!`. PostgreSQL commits each in its
//! own transaction (the server groups concurrent commits itself). SQLite has one writer
//! connection and an fsync per commit: there, the writes that queued while the previous
//! commit was on its way to disk share the next transaction, each in its own savepoint,
//! and each caller is answered once that commit is durable.

use chrono::{DateTime, Utc};
use locrit_domain::{Job, Message, NewJob, NewMessage};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{Appended, Result, Revisions, StoreError};

/// At most this many writes share one commit, so a commit stays short.
pub(crate) const MAX_BATCH: usize = 64;

/// One caller's write of messages.
#[derive(Debug)]
pub(crate) enum Write {
    Append(Append),
    /// Writes a started reply's final form.
    Finish {
        locrit_id: Uuid,
        id: Uuid,
        reply: NewMessage,
        job: Option<NewJob>,
    },
}

/// Appends messages, with these ids, in order at the end of the session.
#[derive(Debug)]
pub(crate) struct Append {
    pub session_id: Uuid,
    pub messages: Vec<(Uuid, NewMessage)>,
    /// Marks them replies still streaming, leased until then.
    pub lease_until: Option<DateTime<Utc>>,
    /// Marks them questions waiting for a reply, leased until then.
    pub awaiting_until: Option<DateTime<Utc>>,
    /// The question they answer, whose wait ends with this write.
    pub answers: Option<Uuid>,
    pub job: Option<NewJob>,
}

impl Append {
    /// Plain messages, each given a new id.
    pub(crate) fn new(session_id: Uuid, messages: &[NewMessage]) -> Self {
        Self {
            session_id,
            messages: messages
                .iter()
                .map(|m| (Uuid::now_v7(), m.clone()))
                .collect(),
            lease_until: None,
            awaiting_until: None,
            answers: None,
            job: None,
        }
    }

    /// One plain message with this id.
    pub(crate) fn one(session_id: Uuid, id: Uuid, message: &NewMessage) -> Self {
        Self {
            messages: vec![(id, message.clone())],
            ..Self::new(session_id, &[])
        }
    }
}

/// What a write stored: the messages (none when a finished reply was not found), the
/// job it queued, and for an append the session's revisions around it.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub messages: Vec<Message>,
    pub job: Option<Job>,
    pub revisions: Option<Revisions>,
}

impl Written {
    /// The one message of a single append, as the store's callers get it.
    pub(crate) fn appended(mut self) -> Result<Appended> {
        match (self.messages.pop(), self.revisions) {
            (Some(message), Some(revisions)) if self.messages.is_empty() => Ok(Appended {
                message,
                job: self.job,
                revisions,
            }),
            _ => Err(StoreError::Corrupt(
                "an append stored other than one message".into(),
            )),
        }
    }
}

/// A write waiting for its commit.
pub(crate) struct Pending {
    pub write: Write,
    pub done: oneshot::Sender<Result<Written>>,
}

impl Pending {
    pub(crate) fn new(write: Write) -> (Self, oneshot::Receiver<Result<Written>>) {
        let (done, receiver) = oneshot::channel();
        (Self { write, done }, receiver)
    }

    /// Answers the caller (who may have gone away: the write stands or fails anyway).
    pub(crate) fn answer(self, result: Result<Written>) {
        let _ = self.done.send(result);
    }
}

/// The answer of a write sent to be committed.
pub(crate) async fn outcome(receiver: oneshot::Receiver<Result<Written>>) -> Result<Written> {
    receiver
        .await
        .map_err(|_| StoreError::Unavailable("the store's writer stopped".into()))?
}

/// The queue of SQLite's group commit.
#[derive(Clone)]
pub(crate) struct Batcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Batcher {
    /// Starts the task that commits what `commit` is given, batch after batch.
    pub(crate) fn start<F, Fut>(commit: F) -> Self
    where
        F: Fn(Vec<Pending>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Pending>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                commit(batch).await;
            }
        });
        Self { queue }
    }

    pub(crate) async fn write(&self, write: Write) -> Result<Written> {
        let (pending, receiver) = Pending::new(write);
        self.queue
            .send(pending)
            .map_err(|_| StoreError::Unavailable("the store's writer stopped".into()))?;
        outcome(receiver).await
    }
}

impl StoreError {
    /// The same failure, for each caller of a shared commit (a database error is kept as
    /// its text).
    pub(crate) fn for_each_caller(&self) -> StoreError {
        match self {
            StoreError::NotFound(what) => StoreError::NotFound(what),
            StoreError::Conflict(what) => StoreError::Conflict(what),
            StoreError::Busy => StoreError::Busy,
            StoreError::Full(m) => StoreError::Full(m.clone()),
            StoreError::ReadOnly(m) => StoreError::ReadOnly(m.clone()),
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Database(e) => StoreError::Unavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use locrit_domain::Role;

    use super::*;

    /// The writes that queue while a commit is under way share the next one, and each
    /// caller gets its own answer.
    #[tokio::test]
    async fn writes_queued_during_a_commit_share_the_next_one() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Batcher::start(move |batch: Vec<Pending>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(batch.len());
                // A commit's fsync.
                tokio::time::sleep(Duration::from_millis(50)).await;
                for pending in batch {
                    let Write::Append(Append { messages, .. }) = &pending.write else {
                        unreachable!()
                    };
                    let failed = messages[0].1.content == "bad";
                    pending.answer(if failed {
                        Err(StoreError::NotFound("session"))
                    } else {
                        Ok(Written::default())
                    });
                }
            }
        });
        let write = |text: &str| {
            Write::Append(Append::new(
                Uuid::now_v7(),
                &[NewMessage::new(Role::User, text)],
            ))
        };
        let first = tokio::spawn({
            let batcher = batcher.clone();
            let write = write("first");
            async move { batcher.write(write).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let texts = ["a", "bad", "b", "c"];
        let answers =
            futures::future::join_all(texts.iter().map(|text| batcher.write(write(text)))).await;
        assert!(first.await.unwrap().is_ok());
        assert_eq!(
            *sizes.lock().unwrap(),
            [1, 4],
            "one commit for the four queued"
        );
        let failed: Vec<bool> = answers.iter().map(Result::is_err).collect();
        assert_eq!(
            failed,
            [false, true, false, false],
            "only the bad one fails"
        );
    }
}
