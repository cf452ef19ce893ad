//! Whether the store takes writes right now: the [`HealthStore`] half of the store, for
//! the server's status.

use async_trait::async_trait;

use crate::Result;

/// How much a write check writes (then rolls back): room for a long chat message with
/// its search index entry, which take about twice the text. A smaller row would not
/// tell: it may fit in the free pages that a long message no longer fits in.
pub(crate) const WRITE_CHECK_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Writes a row of [`WRITE_CHECK_BYTES`] in a transaction, then rolls it back: the
    /// error the next write would meet (busy, full, read-only, unavailable), if any.
    async fn check_writable(&self) -> Result<()>;
}

macro_rules! impl_health_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::health::HealthStore for $store {
            async fn check_writable(&self) -> $crate::Result<()> {
                let mut transaction = self.writer.begin().await?;
                let filler = "x".repeat($crate::health::WRITE_CHECK_BYTES);
                sqlx::query(
                    "INSERT INTO server_settings (key, value, updated_at) VALUES ($1, $2, $3)",
                )
                .bind(format!("locrit.write_check.{}", uuid::Uuid::new_v4()))
                .bind(sqlx::types::Json(serde_json::Value::String(filler)))
                .bind(locrit_domain::now())
                .execute(&mut *transaction)
                .await?;
                transaction.rollback().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_health_store;
