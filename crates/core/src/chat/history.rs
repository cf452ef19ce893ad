//! A session's recent history for its next prompt: kept in memory from the session's
//! last turn on this server while nothing else changed the session, read back from the
//! store otherwise.
//!
//! Reading it back was most of a turn's work on SQLite (a row at a time through the
//! driver's thread, on pages every commit made stale). A kept copy is trusted only while
//! the session's revision, which every change to its messages moves (whoever makes it:
//! an edit, a delete, another server), is the one the copy was made at.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use locrit_domain::{Message, Session};
use locrit_store::{Appended, MessagePage, Revisions, Store};
use uuid::Uuid;

use super::prompt::estimate_tokens;
use crate::Result;

/// Earlier messages are read newest first, by pages of this many, each page twice the
/// size of the one before (a long window of short messages takes few reads)...
const FIRST_PAGE: u32 = 32;
/// ...until the context window is full or this many are read.
const LIMIT: usize = 512;
/// Sessions whose history is kept at once; the least recently used goes first.
const KEPT_SESSIONS: usize = 256;

/// The newest messages of a session, oldest first, as they were at `revision`.
#[derive(Debug)]
pub(super) struct History {
    pub messages: Vec<Message>,
    tokens: u32,
    /// Whether the first message is the session's first.
    reaches_start: bool,
    revision: i64,
}

impl History {
    /// Reads the session's newest messages back, page by page, only as far as `budget`
    /// tokens can hold. The copy is taken as of `session.revision`: if anything changed
    /// the session since, the writes of this turn will say so and it is not kept.
    pub async fn read(store: &dyn Store, session: &Session, budget: u32) -> Result<Self> {
        let mut history = Self {
            messages: Vec::new(),
            tokens: 0,
            reaches_start: false,
            revision: session.revision,
        };
        let mut cursor = None;
        let mut limit = FIRST_PAGE;
        loop {
            let page = MessagePage::Before {
                before: cursor,
                limit,
            };
            let older = store.messages(session.id, page).await?;
            history.reaches_start = older.len() < limit as usize;
            history.tokens = older.iter().fold(history.tokens, |sum, m| {
                sum.saturating_add(estimate_tokens(&m.content))
            });
            match older.first() {
                Some(first) => cursor = Some(first.seq),
                None => break,
            }
            history.messages.splice(0..0, older);
            if history.reaches_start || history.covers(budget) {
                break;
            }
            limit = (limit * 2).min((LIMIT - history.messages.len()) as u32);
        }
        Ok(history)
    }

    /// Whether it holds all a prompt of `budget` tokens can use.
    fn covers(&self, budget: u32) -> bool {
        self.reaches_start || self.tokens >= budget || self.messages.len() >= LIMIT
    }

    /// Leaves out the message of the turn under way, which a read made alongside its
    /// commit may hold.
    pub fn without_turn(mut self, turn: &serde_json::Value) -> Self {
        self.messages
            .retain(|m| m.metadata.get("turn_id") != Some(turn));
        self
    }

    /// The session after a turn appended its question and its reply, if nothing else
    /// changed the session since this copy was made, nor between the two writes.
    pub fn after_turn(
        mut self,
        question: &Appended,
        reply: &Message,
        reply_revisions: Revisions,
        budget: u32,
    ) -> Option<Self> {
        let unchanged = question.revisions.before == self.revision
            && reply_revisions.before == question.revisions.after;
        if !unchanged {
            return None;
        }
        for message in [&question.message, reply] {
            self.tokens = self
                .tokens
                .saturating_add(estimate_tokens(&message.content));
            self.messages.push(message.clone());
        }
        self.revision = reply_revisions.after;
        // Only what the next prompt can use is kept.
        let mut oldest = 0;
        while let Some(first) = self.messages.get(oldest) {
            let without = self.tokens.saturating_sub(estimate_tokens(&first.content));
            if self.messages.len() - oldest <= LIMIT && without < budget {
                break;
            }
            self.tokens = without;
            oldest += 1;
        }
        if oldest > 0 {
            self.messages.drain(..oldest);
            self.reaches_start = false;
        }
        Some(self)
    }
}

/// The histories kept between turns, by session.
#[derive(Default)]
pub(super) struct KeptHistories {
    sessions: Mutex<HashMap<Uuid, (History, Instant)>>,
}

impl KeptHistories {
    /// The session's kept history, if it was made at the session's current revision and
    /// holds what a prompt of `budget` tokens can use. Taken out: the turn gives it
    /// back, extended.
    pub fn take(&self, session: &Session, budget: u32) -> Option<History> {
        let mut sessions = self.sessions.lock().expect("kept histories");
        let (history, _) = sessions.remove(&session.id)?;
        (history.revision == session.revision && history.covers(budget)).then_some(history)
    }

    pub fn keep(&self, session_id: Uuid, history: History) {
        let mut sessions = self.sessions.lock().expect("kept histories");
        sessions.insert(session_id, (history, Instant::now()));
        if sessions.len() > KEPT_SESSIONS
            && let Some(unused) = sessions
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
        {
            sessions.remove(&unused);
        }
    }
}

#[cfg(test)]
mod tests {
    use locrit_domain::{MessageStatus, Role};

    use super::*;

    /// A message of 12 characters: 8 tokens by the estimate.
    fn message(seq: i64) -> Message {
        Message {
            id: Uuid::now_v7(),
            locrit_id: Uuid::nil(),
            session_id: "s".into(),
            seq,
            role: Role::User,
            content: "x".repeat(12),
            user_id: None,
            status: MessageStatus::Complete,
            metadata: serde_json::json!({}),
            timestamp: chrono::Utc::now(),
            edited_at: None,
        }
    }

    fn revisions(before: i64) -> Revisions {
        Revisions {
            before,
            after: before + 1,
        }
    }

    fn seqs(history: &History) -> Vec<i64> {
        history.messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn a_turn_extends_the_copy_only_if_nothing_else_wrote_keeping_what_the_budget_uses() {
        let copy = || History {
            messages: (1..=4).map(message).collect(),
            tokens: 32,
            reaches_start: true,
            revision: 10,
        };
        let appended = |before| Appended {
            message: message(5),
            job: None,
            revisions: revisions(before),
        };
        let (question, reply) = (appended(10), message(6));
        assert!(
            copy()
                .after_turn(&appended(11), &reply, revisions(12), 1000)
                .is_none(),
            "a write between the copy and the question"
        );
        assert!(
            copy()
                .after_turn(&question, &reply, revisions(12), 1000)
                .is_none(),
            "a write between the question and the reply"
        );

        let kept = copy()
            .after_turn(&question, &reply, revisions(11), 1000)
            .unwrap();
        assert_eq!(seqs(&kept), [1, 2, 3, 4, 5, 6]);
        assert_eq!((kept.revision, kept.tokens), (12, 48));
        assert!(kept.reaches_start);

        // 20 tokens: the fewest newest messages holding them (3 × 8 ≥ 20 > 2 × 8).
        let trimmed = copy()
            .after_turn(&question, &reply, revisions(11), 20)
            .unwrap();
        assert_eq!(seqs(&trimmed), [4, 5, 6]);
        assert_eq!(trimmed.tokens, 24);
        assert!(!trimmed.reaches_start && trimmed.covers(20));
        assert!(!trimmed.covers(30), "a larger window reads the store again");
    }
}
