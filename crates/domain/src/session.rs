use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// How a session came to be: a chat keyed by its client (REST, Socket.IO, the web app),
/// or a conversation of the original's conversation API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Chat,
    Conversation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Archived,
    Deleted,
}

/// One conversation of a Locrit: an ordered list of messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Internal identity; clients address a session by `key`.
    #[serde(skip)]
    pub id: Uuid,
    pub locrit_id: Uuid,
    /// The session id clients know: chosen by them, or a generated UUID.
    #[serde(rename = "id")]
    pub key: String,
    pub kind: SessionKind,
    pub name: Option<String>,
    pub topic: Option<String>,
    pub user_id: Option<String>,
    pub status: SessionStatus,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub message_count: i64,
    /// Sequence number of the newest message; the next one gets `last_seq + 1`.
    pub last_seq: i64,
    /// Moves with every change to the session's messages (added, edited, marked or
    /// deleted, by any server): what was read of them at one revision is still true
    /// while the revision is the same.
    #[serde(skip)]
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is needed to open a session.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub locrit_id: Uuid,
    pub key: String,
    pub kind: SessionKind,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Whether a message holds what its author meant to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// A reply being generated: the text is what arrived so far.
    Streaming,
    /// Written whole.
    Complete,
    /// The model failed or the server stopped mid-reply: the text is what arrived.
    Interrupted,
    /// A client stopped the generation: the text is what was generated until then.
    Cancelled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Streaming => "streaming",
            MessageStatus::Complete => "complete",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "streaming" => Some(MessageStatus::Streaming),
            "complete" => Some(MessageStatus::Complete),
            "interrupted" => Some(MessageStatus::Interrupted),
            "cancelled" => Some(MessageStatus::Cancelled),
            _ => None,
        }
    }
}

/// A stored message. Messages are appended, never rewritten as a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub locrit_id: Uuid,
    /// The key of its session, as clients know it.
    pub session_id: String,
    /// Position in the session, from 1, without gaps at write time.
    pub seq: i64,
    pub role: Role,
    pub content: String,
    pub user_id: Option<String>,
    pub status: MessageStatus,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub timestamp: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A message about to be appended to a session.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    pub user_id: Option<String>,
    pub status: MessageStatus,
    pub metadata: Value,
}

impl NewMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            user_id: None,
            status: MessageStatus::Complete,
            metadata: Value::Object(Default::default()),
        }
    }
}
