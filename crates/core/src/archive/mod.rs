//! A Locrit taken away: one versioned archive (gzip-compressed JSON lines) with its
//! settings, sessions, messages, memories and concepts, ids and times kept, so an import
//! on another server reproduces the same data.
//!
//! Format, version 2: a header line `{"format": "locrit-archive", "version": 2,
//! "exported_at", "locrit": {…}}`, then one record per line tagged by `record`
//! (`session`, `message`, `memory`, `concept`, `relation`, `embedding`), sessions before
//! their messages, each page of messages or memories followed by their embeddings (tagged
//! with their model), and a last `end` line with the counts, so a cut archive is refused
//! rather than half imported. Version 1 (no embeddings) is still read.

mod export;
mod import;

use chrono::{DateTime, Utc};
use locrit_domain::{
    Concept, Locrit, Memory, Message, MessageStatus, Role, Session, SessionKind, SessionStatus,
};
use locrit_store::ItemKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use import::ImportOptions;

pub const ARCHIVE_FORMAT: &str = "locrit-archive";
pub const ARCHIVE_VERSION: u32 = 2;
/// The oldest version an import reads.
const OLDEST_READABLE_VERSION: u32 = 1;
/// The most dimensions an archived embedding may have.
const MAX_EMBEDDING_DIMENSIONS: usize = 16_384;
/// The longest line an import reads (a message, a memory), in bytes.
const MAX_LINE_BYTES: usize = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    exported_at: DateTime<Utc>,
    locrit: Locrit,
}

/// How many records of each kind an archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveCounts {
    pub sessions: u64,
    pub messages: u64,
    pub memories: u64,
    pub concepts: u64,
    pub relations: u64,
    /// Absent from version 1 archives.
    #[serde(default)]
    pub embeddings: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    Session(SessionRecord),
    Message(MessageRecord),
    Memory(Memory),
    Concept(Concept),
    Relation {
        from: Uuid,
        to: Uuid,
        relation: String,
    },
    /// The vector of a message or memory (of an earlier record) for one embedding model.
    Embedding {
        kind: ItemKind,
        item: Uuid,
        model: String,
        vector: Vec<f32>,
        created_at: DateTime<Utc>,
    },
    End {
        counts: ArchiveCounts,
    },
}

/// A session, with the store id its messages hang from.
#[derive(Debug, Serialize, Deserialize)]
struct SessionRecord {
    id: Uuid,
    key: String,
    kind: SessionKind,
    name: Option<String>,
    topic: Option<String>,
    user_id: Option<String>,
    status: SessionStatus,
    metadata: Value,
    message_count: i64,
    last_seq: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl SessionRecord {
    fn from_session(s: Session) -> Self {
        Self {
            id: s.id,
            key: s.key,
            kind: s.kind,
            name: s.name,
            topic: s.topic,
            user_id: s.user_id,
            status: s.status,
            metadata: s.metadata,
            message_count: s.message_count,
            last_seq: s.last_seq,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }

    fn into_session(self, locrit_id: Uuid) -> Session {
        Session {
            id: self.id,
            locrit_id,
            key: self.key,
            kind: self.kind,
            name: self.name,
            topic: self.topic,
            user_id: self.user_id,
            status: self.status,
            metadata: self.metadata,
            message_count: self.message_count,
            last_seq: self.last_seq,
            revision: 0,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A message, with the store id of its session.
#[derive(Debug, Serialize, Deserialize)]
struct MessageRecord {
    id: Uuid,
    session: Uuid,
    seq: i64,
    role: Role,
    content: String,
    user_id: Option<String>,
    status: MessageStatus,
    metadata: Value,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
}

impl MessageRecord {
    fn from_message(session: Uuid, m: Message) -> Self {
        Self {
            id: m.id,
            session,
            seq: m.seq,
            role: m.role,
            content: m.content,
            user_id: m.user_id,
            status: m.status,
            metadata: m.metadata,
            created_at: m.timestamp,
            edited_at: m.edited_at,
        }
    }

    fn into_message(self, locrit_id: Uuid, session_key: String) -> (Uuid, Message) {
        let message = Message {
            id: self.id,
            locrit_id,
            session_id: session_key,
            seq: self.seq,
            role: self.role,
            content: self.content,
            user_id: self.user_id,
            status: self.status,
            metadata: self.metadata,
            timestamp: self.created_at,
            edited_at: self.edited_at,
        };
        (self.session, message)
    }
}
