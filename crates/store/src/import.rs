//! Imports: writes that land together or not at all, whatever their size, so a crash
//! or a refused record in the middle of an import leaves nothing of it behind.

use async_trait::async_trait;
use locrit_domain::Locrit;
use serde_json::Value;
use uuid::Uuid;

use crate::{Restore, Result};

/// One import's writes, in one transaction: dropped without [`Import::commit`] (an
/// error, a crash), none of them is stored. While it is open it holds the store's write
/// lock on SQLite, so feed it from local data, never from a slow client.
#[async_trait]
pub trait Import: Send {
    /// A name already taken is `StoreError::Conflict`.
    async fn insert_locrit(&mut self, locrit: &Locrit) -> Result<()>;
    /// Writes every field of the Locrit with this id; false when there is none.
    async fn update_locrit(&mut self, locrit: &Locrit) -> Result<bool>;
    async fn put_setting(&mut self, key: &str, value: &Value) -> Result<()>;
    /// Writes archived records of one Locrit (ids, sequence numbers, times kept). An id
    /// already in use is a `Conflict`.
    async fn restore(&mut self, locrit_id: Uuid, batch: &Restore) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// The import of one backend: a transaction on its writer.
macro_rules! impl_import {
    ($store:ty, $import:ident, $db:ty) => {
        pub struct $import {
            tx: sqlx::Transaction<'static, $db>,
        }

        #[async_trait::async_trait]
        impl $crate::Import for $import {
            async fn insert_locrit(&mut self, locrit: &Locrit) -> Result<()> {
                let sql = $crate::sql::insert_locrit();
                bind_locrit!(sqlx::query(&sql), locrit)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn update_locrit(&mut self, locrit: &Locrit) -> Result<bool> {
                let done = bind_locrit!(sqlx::query($crate::sql::UPDATE_LOCRIT), locrit)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_setting(&mut self, key: &str, value: &Value) -> Result<()> {
                sqlx::query($crate::sql::PUT_SETTING)
                    .bind(key)
                    .bind(Json(value))
                    .bind(now())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn restore(&mut self, locrit_id: Uuid, batch: &$crate::Restore) -> Result<()> {
            for s in &batch.sessions {
                sqlx::query(&format!(
                    "INSERT INTO sessions ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13)",
                    $crate::sql::SESSION_COLUMNS
                ))
                .bind(s.id)
                .bind(locrit_id)
                .bind(&s.key)
                .bind(enum_text(&s.kind))
                .bind(&s.name)
                .bind(&s.topic)
                .bind(&s.user_id)
                .bind(enum_text(&s.status))
                .bind(Json(&s.metadata))
                .bind(s.message_count)
                .bind(s.last_seq)
                .bind(s.created_at)
                .bind(s.updated_at)
                .execute(&mut *self.tx)
                .await?;
            }
            for (session_id, m) in &batch.messages {
                let done = sqlx::query(
                    "INSERT INTO messages (id, session_id, locrit_id, seq, role, content, \
                     user_id, status, metadata, created_at, edited_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
                     FROM sessions WHERE id = $2 AND locrit_id = $3",
                )
                .bind(m.id)
                .bind(session_id)
                .bind(locrit_id)
                .bind(m.seq)
                .bind(m.role.as_str())
                .bind(&m.content)
                .bind(&m.user_id)
                .bind(m.status.as_str())
                .bind(Json(&m.metadata))
                .bind(m.timestamp)
                .bind(m.edited_at)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::NotFound("session"));
                }
            }
            // Memories first without their links, which may point forward in the batch.
            for m in &batch.memories {
                sqlx::query(&format!(
                    "INSERT INTO memories ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, \
                     $9, $10, $11, $12)",
                    $crate::sql::MEMORY_COLUMNS
                ))
                .bind(m.id)
                .bind(locrit_id)
                .bind(&m.content)
                .bind(m.importance)
                .bind(Json(&m.metadata))
                .bind(Json(&m.tags))
                .bind(Json(&m.source_message_ids))
                .bind(m.pinned)
                .bind(m.created_at)
                .bind(m.updated_at)
                .bind(m.last_accessed)
                .bind(m.invalidated_at)
                .execute(&mut *self.tx)
                .await?;
                for source in &m.source_message_ids {
                    sqlx::query(
                        "INSERT INTO memory_sources (memory_id, message_id) \
                         SELECT $1, id FROM messages WHERE locrit_id = $2 AND id = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(m.id)
                    .bind(locrit_id)
                    .bind(source)
                    .execute(&mut *self.tx)
                    .await?;
                }
            }
            for m in batch.memories.iter().filter(|m| m.superseded_by.is_some()) {
                sqlx::query(
                    "UPDATE memories SET superseded_by = $3 WHERE locrit_id = $1 AND id = $2",
                )
                .bind(locrit_id)
                .bind(m.id)
                .bind(m.superseded_by)
                .execute(&mut *self.tx)
                .await?;
            }
            for c in &batch.concepts {
                sqlx::query(&format!(
                    "INSERT INTO concepts ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    $crate::sql::CONCEPT_COLUMNS
                ))
                .bind(c.id)
                .bind(locrit_id)
                .bind(&c.name)
                .bind(&c.kind)
                .bind(&c.description)
                .bind(c.confidence)
                .bind(c.mentions)
                .bind(c.first_mentioned)
                .bind(c.last_mentioned)
                .execute(&mut *self.tx)
                .await?;
            }
            for (from, to, relation) in &batch.relations {
                sqlx::query(
                    "INSERT INTO concept_relations (from_id, to_id, relation) \
                     SELECT a.id, b.id, $4 FROM concepts a, concepts b \
                     WHERE a.id = $2 AND b.id = $3 AND a.locrit_id = $1 AND b.locrit_id = $1 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(locrit_id)
                .bind(from)
                .bind(to)
                .bind(relation)
                .execute(&mut *self.tx)
                .await?;
            }
            for (model, embedding) in &batch.embeddings {
                let kind = embedding.item.kind;
                let done = sqlx::query(&format!(
                    "INSERT INTO {} (item_id, locrit_id, model, dim, vector, created_at) \
                     SELECT id, locrit_id, $3, $4, $5, $6 FROM {} WHERE id = $1 AND locrit_id = $2",
                    kind.embeddings_table(),
                    kind.table()
                ))
                .bind(embedding.item.id)
                .bind(locrit_id)
                .bind(model)
                .bind(i32::try_from(embedding.vector.len()).unwrap_or(i32::MAX))
                .bind($crate::search::vector_bytes(&embedding.vector))
                .bind(embedding.created_at)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::NotFound(kind.as_str()));
                }
            }
                Ok(())
            }

            async fn commit(self: Box<Self>) -> Result<()> {
                self.tx.commit().await?;
                Ok(())
            }
        }

        impl $store {
            pub(crate) async fn open_import(&self) -> Result<Box<dyn $crate::Import>> {
                Ok(Box::new($import {
                    tx: self.writer.begin().await?,
                }))
            }
        }
    };
}

pub(crate) use impl_import;
