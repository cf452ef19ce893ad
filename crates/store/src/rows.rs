//! Rows as both databases return them, and their conversion to domain types.

use chrono::{DateTime, Utc};
use locrit_domain::{
    AccessTo, Concept, Job, JobStatus, Locrit, Memory, Message, MessageStatus, OpenTo, PublicPage,
    Role, Session, SessionKind, SessionStatus,
};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use crate::StoreError;

#[derive(sqlx::FromRow)]
pub(crate) struct LocritRow {
    id: Uuid,
    name: String,
    description: String,
    persona: String,
    ollama_model: String,
    ollama_url: Option<String>,
    open_to: Json<OpenTo>,
    access_to: Json<AccessTo>,
    memory_service: String,
    public_page: Option<Json<PublicPage>>,
    public_address: Option<String>,
    active: bool,
    owner_id: Option<String>,
    extra: Json<Map<String, Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<LocritRow> for Locrit {
    type Error = StoreError;

    fn try_from(row: LocritRow) -> Result<Self, StoreError> {
        Ok(Locrit {
            id: row.id,
            name: row.name,
            description: row.description,
            persona: row.persona,
            ollama_model: row.ollama_model,
            ollama_url: row.ollama_url,
            open_to: row.open_to.0,
            access_to: row.access_to.0,
            memory_service: parse_text(&row.memory_service, "memory_service")?,
            public_page: row.public_page.map(|p| p.0),
            public_address: row.public_address,
            active: row.active,
            owner_id: row.owner_id,
            extra: row.extra.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: Uuid,
    locrit_id: Uuid,
    key: String,
    kind: String,
    name: Option<String>,
    topic: Option<String>,
    user_id: Option<String>,
    status: String,
    metadata: Json<Value>,
    message_count: i64,
    last_seq: i64,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            id: row.id,
            locrit_id: row.locrit_id,
            key: row.key,
            kind: parse_text::<SessionKind>(&row.kind, "kind")?,
            name: row.name,
            topic: row.topic,
            user_id: row.user_id,
            status: parse_text::<SessionStatus>(&row.status, "status")?,
            metadata: row.metadata.0,
            message_count: row.message_count,
            last_seq: row.last_seq,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A message joined with the key of its session.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: Uuid,
    locrit_id: Uuid,
    session_key: String,
    seq: i64,
    role: String,
    content: String,
    user_id: Option<String>,
    status: String,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        Ok(Message {
            id: row.id,
            locrit_id: row.locrit_id,
            session_id: row.session_key,
            seq: row.seq,
            role: Role::parse(&row.role).ok_or_else(|| corrupt("role", &row.role))?,
            content: row.content,
            user_id: row.user_id,
            status: MessageStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            metadata: row.metadata.0,
            timestamp: row.created_at,
            edited_at: row.edited_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemoryRow {
    id: Uuid,
    locrit_id: Uuid,
    content: String,
    importance: f64,
    metadata: Json<Value>,
    tags: Json<Vec<String>>,
    source_message_ids: Json<Vec<Uuid>>,
    pinned: bool,
    superseded_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    last_accessed: Option<DateTime<Utc>>,
    invalidated_at: Option<DateTime<Utc>>,
}

impl From<MemoryRow> for Memory {
    fn from(row: MemoryRow) -> Self {
        Memory {
            id: row.id,
            locrit_id: row.locrit_id,
            content: row.content,
            importance: row.importance,
            metadata: row.metadata.0,
            tags: row.tags.0,
            source_message_ids: row.source_message_ids.0,
            pinned: row.pinned,
            superseded_by: row.superseded_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_accessed: row.last_accessed,
            invalidated_at: row.invalidated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConceptRow {
    id: Uuid,
    locrit_id: Uuid,
    name: String,
    kind: String,
    description: Option<String>,
    confidence: f64,
    mentions: i64,
    first_mentioned: DateTime<Utc>,
    last_mentioned: DateTime<Utc>,
}

impl From<ConceptRow> for Concept {
    fn from(row: ConceptRow) -> Self {
        Concept {
            id: row.id,
            locrit_id: row.locrit_id,
            name: row.name,
            kind: row.kind,
            description: row.description,
            confidence: row.confidence,
            mentions: row.mentions,
            first_mentioned: row.first_mentioned,
            last_mentioned: row.last_mentioned,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: Uuid,
    kind: String,
    locrit_id: Option<Uuid>,
    payload: Json<Value>,
    status: String,
    attempts: i32,
    max_attempts: i32,
    last_error: Option<String>,
    run_after: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: row.id,
            kind: row.kind,
            locrit_id: row.locrit_id,
            payload: row.payload.0,
            status: parse_text::<JobStatus>(&row.status, "job status")?,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            last_error: row.last_error,
            run_after: row.run_after,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The text form of a unit enum, as serde writes it (`"snake_case"`).
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        other => unreachable!("unit enums serialise to strings, got {other:?}"),
    }
}

pub(crate) fn parse_text<T: serde::de::DeserializeOwned>(
    text: &str,
    column: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| corrupt(column, text))
}

fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {column} {value:?}"))
}
