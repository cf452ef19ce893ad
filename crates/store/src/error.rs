use sqlx::error::DatabaseError;
use sqlx::sqlite::SqliteError;
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
    /// The store has no room for the write (disk full, SQLite's size limit).
    #[error("the store is full: {0}")]
    Full(String),
    /// The store takes reads only (a read-only file or role, a standby).
    #[error("the store is read-only: {0}")]
    ReadOnly(String),
    /// The store cannot be reached or cannot write (connection lost, I/O error: a disk
    /// quota reaches SQLite as an I/O error).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A row that this version cannot read.
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(sqlx::Error),
}

/// A failed write as it can be kept and sent on (a turn's end, the servers' relay): the
/// refusals with their kind, anything else as unavailable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoreFault {
    Busy,
    Full(String),
    ReadOnly(String),
    Unavailable(String),
}

impl From<&StoreError> for StoreFault {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Busy => StoreFault::Busy,
            StoreError::Full(message) => StoreFault::Full(message.clone()),
            StoreError::ReadOnly(message) => StoreFault::ReadOnly(message.clone()),
            StoreError::Unavailable(message) => StoreFault::Unavailable(message.clone()),
            other => StoreFault::Unavailable(other.to_string()),
        }
    }
}

impl From<StoreFault> for StoreError {
    fn from(fault: StoreFault) -> Self {
        match fault {
            StoreFault::Busy => StoreError::Busy,
            StoreFault::Full(message) => StoreError::Full(message),
            StoreFault::ReadOnly(message) => StoreError::ReadOnly(message),
            StoreFault::Unavailable(message) => StoreError::Unavailable(message),
        }
    }
}

impl std::fmt::Display for StoreFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        StoreError::from(self.clone()).fmt(f)
    }
}

/// What kind of refusal a database error is, if it is one.
enum Refusal {
    Busy,
    Full,
    ReadOnly,
    Unavailable,
}

fn refusal(db: &dyn DatabaseError) -> Option<Refusal> {
    let code = db.code()?;
    if db.try_downcast_ref::<SqliteError>().is_some() {
        // Extended result codes carry the primary one in their low byte.
        return match code.parse::<i32>().ok()? & 0xff {
            5 | 6 => Some(Refusal::Busy),     // BUSY, LOCKED
            13 => Some(Refusal::Full),        // FULL
            8 => Some(Refusal::ReadOnly),     // READONLY
            10 => Some(Refusal::Unavailable), // IOERR
            _ => None,
        };
    }
    match code.as_ref() {
        // Serialization failure, deadlock, lock not available.
        "40001" | "40P01" | "55P03" => Some(Refusal::Busy),
        // Disk full.
        "53100" => Some(Refusal::Full),
        // A read-only transaction: a read-only role or database, a standby.
        "25006" => Some(Refusal::ReadOnly),
        // The connection was ended by an administrator or a shutdown, the server is
        // starting, or it has no connection left.
        "57P01" | "57P02" | "57P03" | "53300" => Some(Refusal::Unavailable),
        _ => None,
    }
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
                if db.is_foreign_key_violation() {
                    return StoreError::NotFound("referenced row");
                }
                let message = db.message().to_owned();
                match refusal(db.as_ref()) {
                    Some(Refusal::Busy) => StoreError::Busy,
                    Some(Refusal::Full) => StoreError::Full(message),
                    Some(Refusal::ReadOnly) => StoreError::ReadOnly(message),
                    Some(Refusal::Unavailable) => StoreError::Unavailable(message),
                    None => StoreError::Database(error),
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
