use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Work done in the background (learning memories from an exchange, …), claimed by one
/// server at a time and retried a bounded number of times. A failed job stays visible to
/// the Locrit's owner, who can retry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub locrit_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    /// Not run before this time (a retry waits).
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub locrit_id: Option<Uuid>,
    pub payload: Value,
    pub max_attempts: i32,
    /// Not before this time; now when absent.
    pub run_after: Option<DateTime<Utc>>,
}
