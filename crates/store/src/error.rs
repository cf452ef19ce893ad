use thiserror::Error;

/// Why a store operation did not happen. Callers never see a success for a failed write.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The row a write depends on does not exist (a message for a deleted session).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken: a Locrit name or a session key already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The store stayed locked or busy past its retry budget.
    #[error("the store is busy")]
    Busy,
    /// The store cannot be reached or cannot write (connection lost, disk full, read-only).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A row that this version cannot read.
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    // PostgreSQL names the constraint; SQLite only says it in the message.
                    let on_name = db.constraint() == Some("locrits_name_key")
                        || db.message().contains("locrits.name");
                    return StoreError::Conflict(if on_name {
                        "a Locrit with this name"
                    } else {
                        "a row with this key"
                    });
                }
                match db.code().as_deref() {
                    // SQLite: BUSY, LOCKED. PostgreSQL: serialization failure, deadlock, lock not available.
                    Some("5" | "6" | "517" | "262" | "40001" | "40P01" | "55P03") => {
                        StoreError::Busy
                    }
                    // SQLite: FULL, READONLY (and its extended codes). PostgreSQL: disk full, read-only transaction.
                    Some("13" | "8" | "264" | "520" | "776" | "1032" | "53100" | "25006") => {
                        StoreError::Unavailable(db.message().to_owned())
                    }
                    _ => StoreError::Database(error),
                }
            }
            sqlx::Error::Io(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(error.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => StoreError::Database(error),
        }
    }
}
