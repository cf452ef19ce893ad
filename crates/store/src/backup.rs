//! A consistent snapshot of a whole store, taken while servers keep using it.

use std::path::Path;
use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::{Result, StoreConfig, StoreError};

/// Writes a snapshot of the store to `dest`, a new file. SQLite: a compact copy of the
/// database (`VACUUM INTO`, one read transaction, so writers are not held up).
/// PostgreSQL: `pg_dump --format=custom` (one repeatable-read transaction), for
/// `pg_restore`.
pub async fn backup(config: &StoreConfig, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} exists; a backup never overwrites a file",
            dest.display()
        )));
    }
    let url = config.database_url.as_str();
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?.read_only(true);
        let mut connection = options.connect().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest.to_string_lossy().as_ref())
            .execute(&mut connection)
            .await?;
        Ok(())
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let status = tokio::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(dest)
            .arg(url)
            .status()
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot run pg_dump: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "pg_dump failed ({status})"
            )))
        }
    } else {
        Err(StoreError::Unavailable(format!(
            "unsupported database URL {url:?}"
        )))
    }
}
