//! Locrit's storage: one interface ([`Store`]), two implementations.
//!
//! SQLite is the embedded default; PostgreSQL lets several Locrit servers share one
//! database. Both run the same code ([`sql`]) over their own migrations, and one
//! conformance suite (`tests/conformance.rs`) holds them to the same behaviour.

mod accounts;
mod backup;
mod batch;
mod dialogues;
mod doctor;
mod error;
mod health;
mod import;
mod open;
mod peers;
mod rows;
mod search;
mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use locrit_domain::{
    Concept, Job, JobStatus, Locrit, Memory, Message, NewJob, NewMemory, NewMessage, NewSession,
    Session, SessionKind, SessionStatus,
};
use serde_json::Value;
use uuid::Uuid;

pub use accounts::{AccountStore, Login};
pub use backup::backup;
pub use dialogues::DialogueStore;
pub use doctor::{DoctorStore, Finding};
pub use error::{StoreError, StoreFault};
pub use health::HealthStore;
pub use import::Import;
pub use open::{PostgresStore, SqliteStore, SqliteSync, StoreConfig, open};
pub use peers::{Heard, MAX_PAYLOAD, PeerChannel};
pub use search::{
    EmbedTask, ItemKind, ItemRef, KEYWORD_WINDOW, KeywordQuery, Kinds, MAX_QUERY_TERMS,
    NewEmbedding, SearchFilter, SearchItem, SearchStore, StoredVector, query_terms,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    pub locrit_id: Option<Uuid>,
    pub user_id: Option<String>,
    pub kind: Option<SessionKind>,
    /// `None` lists every status but `deleted`.
    pub status: Option<SessionStatus>,
    pub limit: Option<u32>,
}

/// A session's revision (see `Session::revision`) just before and just after a write
/// of its messages: a copy of the messages made at `before` is, with what the write
/// added, the session at `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    pub before: i64,
    pub after: i64,
}

/// A message appended, the job queued with it, and the session's revisions around it.
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub job: Option<Job>,
    pub revisions: Revisions,
}

/// A window of a session's messages, always returned in chronological order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagePage {
    /// The newest `limit` messages with `seq < before` (or the newest overall).
    Before { before: Option<i64>, limit: u32 },
    /// The oldest `limit` messages with `seq > after`.
    After { after: i64, limit: u32 },
}

/// What to change in a concept; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConceptChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    /// From 0 to 1.
    pub confidence: Option<f64>,
}

impl ConceptChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.confidence.is_none()
    }
}

/// What to change in a memory; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryChanges {
    pub content: Option<String>,
    /// From 0 to 1.
    pub importance: Option<f64>,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub pinned: Option<bool>,
}

impl MemoryChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A page of a Locrit's memories, newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryQuery {
    /// Only memories older than this one (ids are time-ordered).
    pub before: Option<Uuid>,
    pub limit: Option<u32>,
    /// Only memories still believed: not superseded, not invalidated.
    pub current_only: bool,
    /// Only pinned memories.
    pub pinned_only: bool,
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    pub locrit_id: Option<Uuid>,
    pub status: Option<JobStatus>,
    pub before: Option<Uuid>,
    pub limit: Option<u32>,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Done,
    /// Failed this time; run again after this time.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Failed for good: it stays visible until retried by hand.
    Failed {
        error: String,
    },
}

/// Records written back as they were (ids, sequence numbers, times kept), to restore
/// an archive ([`Import::restore`]). Sessions come before their messages; memories reference messages and
/// each other within the batch.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    pub sessions: Vec<Session>,
    /// Each with the store id of its session (`Session::id`).
    pub messages: Vec<(Uuid, Message)>,
    pub memories: Vec<Memory>,
    pub concepts: Vec<Concept>,
    /// (from, to, relation), between concepts of the batch or already stored.
    pub relations: Vec<(Uuid, Uuid, String)>,
    /// (model, embedding) of messages and memories of the batch or already restored.
    pub embeddings: Vec<(String, StoredVector)>,
}

/// Counters of one Locrit's memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocritStats {
    pub messages: i64,
    pub sessions: i64,
    pub concepts: i64,
    pub memories: i64,
    /// Distinct non-empty `user_id`s among the messages.
    pub users: i64,
}

/// Counters of the whole server. Sessions marked deleted, and their messages, are left
/// out, as in [`LocritStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub locrits: i64,
    pub active_locrits: i64,
    pub sessions: i64,
    pub messages: i64,
    /// Messages written at or after the `since` asked for.
    pub messages_since: i64,
}

/// Everything Locrit keeps. Every write either commits or returns an error: no method
/// reports success for data that is not stored.
#[async_trait]
pub trait Store:
    SearchStore + AccountStore + DialogueStore + DoctorStore + HealthStore + Send + Sync + 'static
{
    /// For logs: which backend, and where.
    fn describe(&self) -> String;
    /// The channel to the other servers sharing this store, if it can be shared.
    fn peers(&self) -> Option<PeerChannel>;

    // Locrits. Names are unique: a clash is `StoreError::Conflict`.
    async fn insert_locrit(&self, locrit: &Locrit) -> Result<()>;
    /// Writes every field of the Locrit with this id; false when there is none.
    async fn update_locrit(&self, locrit: &Locrit) -> Result<bool>;
    async fn locrit(&self, id: Uuid) -> Result<Option<Locrit>>;
    async fn locrit_by_name(&self, name: &str) -> Result<Option<Locrit>>;
    /// Every Locrit, by name.
    async fn locrits(&self) -> Result<Vec<Locrit>>;
    /// Deletes the Locrit with all its sessions, messages, memories and concepts.
    async fn delete_locrit(&self, id: Uuid) -> Result<bool>;

    // Sessions. A key is unique within its Locrit.
    async fn create_session(&self, session: &NewSession) -> Result<Session>;
    /// The session with this key, created if it does not exist yet.
    async fn open_session(&self, session: &NewSession) -> Result<Session>;
    async fn session(&self, locrit_id: Uuid, key: &str) -> Result<Option<Session>>;
    /// A session found by key alone, for ids that are global (conversations).
    async fn session_by_key(&self, kind: SessionKind, key: &str) -> Result<Option<Session>>;
    /// Sessions, most recently updated first.
    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<Session>>;
    async fn set_session_status(&self, id: Uuid, status: SessionStatus) -> Result<bool>;
    /// Gives a session a name; false when there is no such session.
    async fn set_session_name(&self, id: Uuid, name: &str) -> Result<bool>;
    /// Deletes a session and its messages; memories learned only from those messages are
    /// invalidated (kept, marked), in the same transaction.
    async fn delete_session(&self, id: Uuid) -> Result<bool>;

    // Messages.
    /// Appends a message at the end of its session, atomically taking the next sequence
    /// number. The message is committed when this returns.
    async fn append_message(&self, session_id: Uuid, message: &NewMessage) -> Result<Message> {
        let mut appended = self
            .append_messages(session_id, std::slice::from_ref(message))
            .await?;
        Ok(appended.remove(0))
    }
    /// Appends several messages in order, in one transaction: all are stored, or none.
    /// Concurrent appends may share a commit (SQLite's group commit): each returns once
    /// the commit holding its messages is durable.
    async fn append_messages(
        &self,
        session_id: Uuid,
        messages: &[NewMessage],
    ) -> Result<Vec<Message>>;
    async fn messages(&self, session_id: Uuid, page: MessagePage) -> Result<Vec<Message>>;
    async fn message(&self, locrit_id: Uuid, id: Uuid) -> Result<Option<Message>>;
    /// Replaces a message's content and sets `edited_at`.
    async fn edit_message(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        content: &str,
    ) -> Result<Option<Message>>;
    /// Ends a question's wait without a reply: replaces its metadata (which says why)
    /// and ends its lease. False when there is no such message.
    async fn mark_unanswered(&self, locrit_id: Uuid, id: Uuid, metadata: &Value) -> Result<bool>;
    /// Appends a user's message that waits for its reply, leased to its server until
    /// `lease_until`: if the lease runs out before a reply begins, any server marks it
    /// unanswered ([`Store::settle_expired_leases`]).
    async fn append_question(
        &self,
        session_id: Uuid,
        question: &NewMessage,
        lease_until: DateTime<Utc>,
    ) -> Result<Appended>;
    /// Renews the lease of a question still waiting; false when it waits no more (its
    /// reply began, or it was declared unanswered).
    async fn renew_question(&self, id: Uuid, lease_until: DateTime<Utc>) -> Result<bool>;
    /// Appends a reply still being generated (status `streaming`), leased to its server
    /// until `lease_until`, and ends the wait of the question it `answers`, in one
    /// transaction.
    async fn start_reply(
        &self,
        session_id: Uuid,
        reply: &NewMessage,
        lease_until: DateTime<Utc>,
        answers: Uuid,
    ) -> Result<Message>;
    /// Stores the text of a streaming reply so far and renews its lease; false when it
    /// is no longer streaming (finished, deleted, or declared interrupted).
    async fn checkpoint_reply(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        content: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Appends a model's final reply, with this id, ends the wait of the question it
    /// `answers`, and queues the job it calls for (learning from the exchange), in one
    /// transaction: all are stored, or none.
    async fn append_reply(
        &self,
        session_id: Uuid,
        id: Uuid,
        reply: &NewMessage,
        answers: Uuid,
        job: Option<&NewJob>,
    ) -> Result<Appended>;
    /// Writes a started reply's final text, status and metadata, ending its lease, and
    /// queues `job` in the same transaction; `None` (and no job) when there is no such
    /// message.
    async fn finish_reply(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        reply: &NewMessage,
        job: Option<&NewJob>,
    ) -> Result<Option<(Message, Option<Job>)>>;
    /// Settles the leases that ran out before `now` (their server stopped): a streaming
    /// reply is marked `interrupted`, keeping its text; a question still waiting is
    /// marked unanswered. Returns the messages changed.
    async fn settle_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Message>>;
    /// Deletes a message; memories learned only from it are invalidated (kept, marked),
    /// in the same transaction.
    async fn delete_message(&self, locrit_id: Uuid, id: Uuid) -> Result<bool>;
    /// The Locrit's newest messages across its live sessions (a session marked deleted
    /// is left out), newest first.
    async fn recent_messages(&self, locrit_id: Uuid, limit: u32) -> Result<Vec<Message>>;
    /// The Locrit's messages (in live sessions) whose content contains `text`, ignoring
    /// case (ASCII case only on SQLite), newest first. `%` and `_` are plain characters.
    async fn search_messages(
        &self,
        locrit_id: Uuid,
        text: &str,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Counters of the Locrit's memory; like the session list, they leave out the
    /// sessions marked deleted, and their messages.
    async fn locrit_stats(&self, locrit_id: Uuid) -> Result<LocritStats>;
    /// Counters of every Locrit together.
    async fn server_stats(&self, since: DateTime<Utc>) -> Result<ServerStats>;
    /// When each message of the Locrit written at or after `since` was written, oldest
    /// first (deleted sessions left out): the raw series of an activity chart.
    async fn message_times(
        &self,
        locrit_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>>;

    // Long-term memories and concepts.
    /// Stores a memory, the messages it was learned from, and marks the memories it
    /// supersedes (of the same Locrit), in one transaction.
    async fn insert_memory(&self, locrit_id: Uuid, memory: &NewMemory) -> Result<Memory>;
    async fn memory(&self, locrit_id: Uuid, id: Uuid) -> Result<Option<Memory>>;
    /// Changes a memory; `updated_at` is set. `None` when it does not exist.
    async fn update_memory(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        changes: &MemoryChanges,
    ) -> Result<Option<Memory>>;
    /// Memories, newest first.
    async fn memories(&self, locrit_id: Uuid, query: &MemoryQuery) -> Result<Vec<Memory>>;
    async fn delete_memory(&self, locrit_id: Uuid, id: Uuid) -> Result<bool>;
    /// Records a mention of a concept: created on first mention, counted after.
    async fn mention_concept(
        &self,
        locrit_id: Uuid,
        name: &str,
        kind: &str,
        description: Option<&str>,
    ) -> Result<Concept>;
    /// Concepts, most mentioned first.
    async fn concepts(&self, locrit_id: Uuid) -> Result<Vec<Concept>>;
    /// Changes a concept of this Locrit; `None` when there is none. A name its Locrit
    /// already has for this type is `StoreError::Conflict`.
    async fn update_concept(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        changes: &ConceptChanges,
    ) -> Result<Option<Concept>>;
    /// Deletes a concept of this Locrit and its relations.
    async fn delete_concept(&self, locrit_id: Uuid, id: Uuid) -> Result<bool>;
    /// Records that `from` relates to `to` (once per relation).
    async fn relate_concepts(&self, from: Uuid, to: Uuid, relation: &str) -> Result<()>;
    /// Every relation between the Locrit's concepts: (from, to, relation).
    async fn concept_relations(&self, locrit_id: Uuid) -> Result<Vec<(Uuid, Uuid, String)>>;
    /// The concepts related to this one, either way, with the relation, by name.
    async fn concept_neighbours(&self, id: Uuid) -> Result<Vec<(Concept, String)>>;
    /// Deletes every session, message, memory and concept of one Locrit, in one
    /// transaction; the Locrit itself stays. Returns how many sessions were deleted.
    async fn clear_memory(&self, locrit_id: Uuid) -> Result<u64>;

    /// Starts an import: writes stored together by its `commit`, or not at all.
    async fn begin_import(&self) -> Result<Box<dyn Import>>;

    // Background jobs.
    async fn enqueue_job(&self, job: &NewJob) -> Result<Job>;
    /// Claims the oldest job of one of these kinds that is due (or whose runner's lease
    /// ran out) for `owner` until `lease_until`; counts an attempt.
    async fn claim_job(
        &self,
        kinds: &[&str],
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>>;
    /// Ends a claimed job and returns it as it now is; `None` when `owner` no longer holds
    /// it (its lease was taken over).
    async fn finish_job(&self, id: Uuid, owner: &str, outcome: &JobOutcome) -> Result<Option<Job>>;
    /// Extends a running job's lease; false when `owner` no longer holds it.
    async fn renew_job(&self, id: Uuid, owner: &str, lease_until: DateTime<Utc>) -> Result<bool>;
    async fn job(&self, id: Uuid) -> Result<Option<Job>>;
    async fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>>;
    /// Queues a failed job again with its attempts reset; `None` when it is not failed.
    async fn retry_job(&self, id: Uuid) -> Result<Option<Job>>;
    // Conversations of clients that resend their whole history (OpenAI, Ollama).
    /// The live session whose history has this fingerprint, if nothing was added to it
    /// since the fingerprint was recorded.
    async fn client_conversation(
        &self,
        locrit_id: Uuid,
        fingerprint: &str,
    ) -> Result<Option<Session>>;
    /// Records that the session's history, up to `last_seq`, has this fingerprint. It
    /// replaces the session's earlier record, and any other session's with this
    /// fingerprint (the newest conversation wins).
    async fn put_client_conversation(
        &self,
        locrit_id: Uuid,
        fingerprint: &str,
        session_id: Uuid,
        last_seq: i64,
    ) -> Result<()>;

    // Server-wide settings, one JSON document per key.
    /// Counts a hit of `key` in the fixed window that began at `window_start` (a new
    /// window starts the count again), for every server of the store; returns the
    /// window's hits so far. Windows that began before `forget_before` are forgotten.
    async fn count_rate_hit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<i64>;
    async fn setting(&self, key: &str) -> Result<Option<Value>>;
    async fn put_setting(&self, key: &str, value: &Value) -> Result<()>;
}
