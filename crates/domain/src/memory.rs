use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A standalone long-term memory of a Locrit: a fact, kept apart from the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Memory {
    pub id: Uuid,
    pub locrit_id: Uuid,
    pub content: String,
    /// From 0 to 1.
    pub importance: f64,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub tags: Vec<String>,
    /// The messages this memory was learned from.
    pub source_message_ids: Vec<Uuid>,
    pub pinned: bool,
    /// A newer memory that contradicts this one; superseded memories are kept, not deleted.
    pub superseded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When its owner last changed it.
    pub updated_at: Option<DateTime<Utc>>,
    pub last_accessed: Option<DateTime<Utc>>,
    /// When every message it was learned from was deleted: it is kept, never recalled.
    pub invalidated_at: Option<DateTime<Utc>>,
}

impl Memory {
    /// Still believed: neither superseded by a newer memory nor invalidated.
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none() && self.invalidated_at.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewMemory {
    pub content: String,
    pub importance: f64,
    pub metadata: Value,
    pub tags: Vec<String>,
    pub source_message_ids: Vec<Uuid>,
    pub pinned: bool,
    /// Older memories of the same Locrit this one contradicts: they get `superseded_by`.
    pub supersedes: Vec<Uuid>,
}

/// An entity a Locrit has met in its conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Concept {
    pub id: Uuid,
    pub locrit_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    /// From 0 to 1.
    pub confidence: f64,
    pub mentions: i64,
    pub first_mentioned: DateTime<Utc>,
    pub last_mentioned: DateTime<Utc>,
}
