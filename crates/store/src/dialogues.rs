//! Contacts (remote Locrits) and dialogues between Locrits: the [`DialogueStore`] half
//! of the store, one SQL implementation for both databases.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use locrit_domain::{Budget, Contact, Dialogue, DialogueStatus, Partner, Side};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Result, StoreError};

#[async_trait]
pub trait DialogueStore: Send + Sync {
    /// Stores a contact; the same remote Locrit twice for one Locrit is a `Conflict`.
    async fn insert_contact(&self, contact: &Contact) -> Result<()>;
    async fn contact(&self, id: Uuid) -> Result<Option<Contact>>;
    /// A Locrit's contacts, by name.
    async fn contacts(&self, locrit_id: Uuid) -> Result<Vec<Contact>>;
    async fn delete_contact(&self, locrit_id: Uuid, id: Uuid) -> Result<bool>;

    async fn insert_dialogue(&self, dialogue: &Dialogue) -> Result<()>;
    async fn dialogue(&self, id: Uuid) -> Result<Option<Dialogue>>;
    /// A Locrit's dialogues, newest first.
    async fn dialogues(&self, locrit_id: Uuid) -> Result<Vec<Dialogue>>;
    /// Writes the dialogue if it is still as it was read (its stored `updated_at` is
    /// `read_at`): someone may have paused, steered or stopped it meanwhile. False then.
    async fn save_dialogue(&self, dialogue: &Dialogue, read_at: DateTime<Utc>) -> Result<bool>;
}

pub(crate) const CONTACT_COLUMNS: &str = "id, locrit_id, name, server_url, api_key, created_at";
pub(crate) const DIALOGUE_COLUMNS: &str = "id, locrit_id, partner, topic, budget, status, \
    stop_reason, start_at, started_at, ended_at, turns, tokens, next_speaker, next_text, steer, \
    recent, created_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    id: Uuid,
    locrit_id: Uuid,
    name: String,
    server_url: String,
    api_key: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: row.id,
            locrit_id: row.locrit_id,
            name: row.name,
            server_url: row.server_url,
            api_key: row.api_key,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DialogueRow {
    id: Uuid,
    locrit_id: Uuid,
    partner: Json<Partner>,
    topic: String,
    budget: Json<Budget>,
    status: String,
    stop_reason: Option<String>,
    start_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    turns: i64,
    tokens: i64,
    next_speaker: String,
    next_text: String,
    steer: Option<String>,
    recent: Json<Vec<String>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DialogueRow> for Dialogue {
    type Error = StoreError;

    fn try_from(row: DialogueRow) -> Result<Self> {
        let corrupt =
            |what: &str, value: &str| StoreError::Corrupt(format!("dialogue {what} {value:?}"));
        Ok(Dialogue {
            id: row.id,
            locrit_id: row.locrit_id,
            partner: row.partner.0,
            topic: row.topic,
            budget: row.budget.0,
            status: DialogueStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            stop_reason: row.stop_reason,
            start_at: row.start_at,
            started_at: row.started_at,
            ended_at: row.ended_at,
            turns: u32::try_from(row.turns)
                .map_err(|_| corrupt("turns", &row.turns.to_string()))?,
            tokens: u64::try_from(row.tokens)
                .map_err(|_| corrupt("tokens", &row.tokens.to_string()))?,
            next_speaker: Side::parse(&row.next_speaker)
                .ok_or_else(|| corrupt("next_speaker", &row.next_speaker))?,
            next_text: row.next_text,
            steer: row.steer,
            recent: row.recent.0,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Binds a dialogue's columns, in [`DIALOGUE_COLUMNS`] order, as `$1`…`$19`.
macro_rules! bind_dialogue {
    ($query:expr, $d:expr) => {
        $query
            .bind($d.id)
            .bind($d.locrit_id)
            .bind(Json(&$d.partner))
            .bind(&$d.topic)
            .bind(Json(&$d.budget))
            .bind($d.status.as_str())
            .bind(&$d.stop_reason)
            .bind($d.start_at)
            .bind($d.started_at)
            .bind($d.ended_at)
            .bind(i64::from($d.turns))
            .bind(i64::try_from($d.tokens).unwrap_or(i64::MAX))
            .bind($d.next_speaker.as_str())
            .bind(&$d.next_text)
            .bind(&$d.steer)
            .bind(Json(&$d.recent))
            .bind($d.created_by)
            .bind($d.created_at)
            .bind($d.updated_at)
    };
}

macro_rules! impl_dialogue_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::dialogues::DialogueStore for $store {
            async fn insert_contact(&self, contact: &Contact) -> Result<()> {
                let sql = format!(
                    "INSERT INTO contacts ({}) VALUES ($1, $2, $3, $4, $5, $6)",
                    $crate::dialogues::CONTACT_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(contact.id)
                    .bind(contact.locrit_id)
                    .bind(&contact.name)
                    .bind(&contact.server_url)
                    .bind(&contact.api_key)
                    .bind(contact.created_at)
                    .execute(&self.writer)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("this contact"),
                        other => other,
                    })?;
                Ok(())
            }

            async fn contact(&self, id: Uuid) -> Result<Option<Contact>> {
                let sql = format!(
                    "SELECT {} FROM contacts WHERE id = $1",
                    $crate::dialogues::CONTACT_COLUMNS
                );
                let row: Option<$crate::dialogues::ContactRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            async fn contacts(&self, locrit_id: Uuid) -> Result<Vec<Contact>> {
                let sql = format!(
                    "SELECT {} FROM contacts WHERE locrit_id = $1 ORDER BY name, server_url",
                    $crate::dialogues::CONTACT_COLUMNS
                );
                let rows: Vec<$crate::dialogues::ContactRow> =
                    sqlx::query_as(&sql).bind(locrit_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_contact(&self, locrit_id: Uuid, id: Uuid) -> Result<bool> {
                let done = sqlx::query("DELETE FROM contacts WHERE locrit_id = $1 AND id = $2")
                    .bind(locrit_id)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_dialogue(&self, dialogue: &Dialogue) -> Result<()> {
                let sql = format!(
                    "INSERT INTO dialogues ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                    $crate::dialogues::DIALOGUE_COLUMNS
                );
                $crate::dialogues::bind_dialogue!(sqlx::query(&sql), dialogue)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn dialogue(&self, id: Uuid) -> Result<Option<Dialogue>> {
                let sql = format!(
                    "SELECT {} FROM dialogues WHERE id = $1",
                    $crate::dialogues::DIALOGUE_COLUMNS
                );
                let row: Option<$crate::dialogues::DialogueRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn dialogues(&self, locrit_id: Uuid) -> Result<Vec<Dialogue>> {
                let sql = format!(
                    "SELECT {} FROM dialogues WHERE locrit_id = $1 \
                     ORDER BY created_at DESC, id DESC",
                    $crate::dialogues::DIALOGUE_COLUMNS
                );
                let rows: Vec<$crate::dialogues::DialogueRow> =
                    sqlx::query_as(&sql).bind(locrit_id).fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn save_dialogue(
                &self,
                dialogue: &Dialogue,
                read_at: DateTime<Utc>,
            ) -> Result<bool> {
                let sql = "UPDATE dialogues SET locrit_id = $2, partner = $3, topic = $4, \
                    budget = $5, status = $6, stop_reason = $7, start_at = $8, started_at = $9, \
                    ended_at = $10, turns = $11, tokens = $12, next_speaker = $13, \
                    next_text = $14, steer = $15, recent = $16, created_by = $17, \
                    created_at = $18, updated_at = $19 WHERE id = $1 AND updated_at = $20";
                let done = $crate::dialogues::bind_dialogue!(sqlx::query(sql), dialogue)
                    .bind(read_at)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use {bind_dialogue, impl_dialogue_store};
