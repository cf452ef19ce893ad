//! Locrit's storage: one interface ([`Store`]), two implementations.
//!
//! SQLite is the embedded default; PostgreSQL lets several Locrit servers share one
//! database. Both run the same code ([`sql`]) over their own migrations, and one
//! conformance suite (`tests/conformance.rs`) holds them to the same behaviour.

mod error;
mod open;
mod rows;
mod search;
mod sql;

use async_trait::async_trait;
use locrit_domain::{
    Concept, Locrit, Memory, Message, NewMemory, NewMessage, NewSession, Session, SessionKind,
    SessionStatus,
};
use serde_json::Value;
use uuid::Uuid;

pub use error::StoreError;
pub use open::{PostgresStore, SqliteStore, SqliteSync, StoreConfig, open};
pub use search::{
    EmbedTask, ItemKind, ItemRef, KeywordQuery, Kinds, MAX_QUERY_TERMS, NewEmbedding, SearchFilter,
    SearchItem, SearchStore, StoredVector, query_terms,
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

/// Everything Locrit keeps. Every write either commits or returns an error: no method
/// reports success for data that is not stored.
#[async_trait]
pub trait Store: SearchStore + Send + Sync + 'static {
    /// For logs: which backend, and where.
    fn describe(&self) -> String;

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
    /// Deletes a session and its messages.
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
    /// Replaces a message's metadata (not its content); false when there is no such message.
    async fn set_message_metadata(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        metadata: &Value,
    ) -> Result<bool>;
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

    // Long-term memories and concepts.
    async fn insert_memory(&self, locrit_id: Uuid, memory: &NewMemory) -> Result<Memory>;
    /// Memories, newest first.
    async fn memories(&self, locrit_id: Uuid) -> Result<Vec<Memory>>;
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
    /// The concepts related to this one, either way, with the relation, by name.
    async fn concept_neighbours(&self, id: Uuid) -> Result<Vec<(Concept, String)>>;
    /// Deletes every session, message, memory and concept of one Locrit, in one
    /// transaction; the Locrit itself stays. Returns how many sessions were deleted.
    async fn clear_memory(&self, locrit_id: Uuid) -> Result<u64>;

    // Server-wide settings, one JSON document per key.
    async fn setting(&self, key: &str) -> Result<Option<Value>>;
    async fn put_setting(&self, key: &str, value: &Value) -> Result<()>;
}
