//! Opening a store from a database URL, with its migrations applied.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use locrit_domain::{
    Account, ApiKey, Concept, Contact, Dialogue, Invitation, Job, Locrit, Memory, Message,
    MessageStatus, NewJob, NewMemory, NewMessage, NewSession, Session, SessionKind, SessionStatus,
    now,
};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use uuid::Uuid;

use crate::batch::{Batcher, Pending, Write, Written};
use crate::rows::{ConceptRow, JobRow, LocritRow, MemoryRow, MessageRow, SessionRow, enum_text};
use crate::sql::{bind_locrit, impl_store, message_select};
use crate::{LocritStats, MessagePage, Result, ServerStats, SessionQuery, Store, StoreError};

/// How to reach the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/database`.
    pub database_url: String,
    pub max_connections: u32,
    /// How long a write waits for a lock held by another writer before it fails as
    /// `StoreError::Busy`.
    pub busy_timeout: Duration,
    /// SQLite: when a commit is on disk.
    pub sqlite_sync: SqliteSync,
    /// SQLite: the largest size of the database file, in bytes; a write past it fails as
    /// `StoreError::Full`, as on a full disk.
    pub sqlite_max_size: Option<u64>,
}

/// When an SQLite commit is durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// On disk when the commit returns: survives a power cut (one fsync per commit).
    #[default]
    Full,
    /// Survives a crash of the process; a power cut may lose the last commits.
    Normal,
}

impl StoreConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            sqlite_sync: SqliteSync::Full,
            sqlite_max_size: None,
        }
    }
}

/// Opens the store the URL names and brings its schema up to date.
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    let url = config.database_url.as_str();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options = PgConnectOptions::from_str(url)?;
        Ok(Arc::new(PostgresStore::connect(options, config).await?))
    } else if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?;
        Ok(Arc::new(SqliteStore::connect(options, config).await?))
    } else {
        Err(StoreError::Unavailable(format!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
        )))
    }
}

/// The embedded store: one SQLite file in write-ahead-log mode.
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// Appends of messages go through it, to share commits.
    batcher: Batcher,
    description: String,
}

impl SqliteStore {
    pub async fn connect(options: SqliteConnectOptions, config: &StoreConfig) -> Result<Self> {
        let path = options.get_filename().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.sqlite_sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(config.busy_timeout)
            .foreign_keys(true);
        // SQLite counts pages: Locrit's databases have its default size, 4 KiB.
        let writer_options = match config.sqlite_max_size {
            Some(bytes) => options
                .clone()
                .pragma("max_page_count", (bytes / 4096).to_string()),
            None => options.clone(),
        };
        // SQLite has one writer at a time: one connection for writes makes writers wait
        // their turn in order, where several would poll the lock with growing sleeps.
        // A connection to a file has no peer to lose between uses: the pool's ping
        // before each use (a round trip to the connection's thread) only costs time.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_release(|conn, _| {
                let sound = sqlite_writer_is_sound(conn);
                Box::pin(async move { Ok(sound) })
            })
            .connect_with(writer_options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        let batch_writer = writer.clone();
        let batcher = Batcher::start(move |batch| {
            let writer = batch_writer.clone();
            async move { Self::commit_writes(&writer, batch).await }
        });
        Ok(Self {
            pool,
            writer,
            batcher,
            description: describe_sqlite(&path),
        })
    }
}

fn describe_sqlite(path: &Path) -> String {
    format!("SQLite at {}", path.display())
}

/// The shared store for several Locrit servers.
pub struct PostgresStore {
    pool: PgPool,
    /// The same pool: PostgreSQL runs concurrent writers itself.
    writer: PgPool,
    description: String,
    peers: crate::PeerChannel,
}

impl PostgresStore {
    pub async fn connect(options: PgConnectOptions, config: &StoreConfig) -> Result<Self> {
        let description = format!(
            "PostgreSQL at {}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("postgres")
        );
        // A statement waiting on a lock longer than this fails, as SQLite's busy timeout.
        let lock_timeout = config.busy_timeout.as_millis().to_string();
        // Plans made for each query's values: a generic plan of the search query (its
        // optional filters, its tsquery unknown) scans every message instead of using
        // the GIN index (300 ms instead of 3 ms at 100k messages).
        let options = options.options([
            ("lock_timeout", lock_timeout.as_str()),
            ("plan_cache_mode", "force_custom_plan"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        // sqlx takes an advisory lock, so servers starting together migrate once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            peers: crate::PeerChannel::new(pool.clone(), &schema),
            writer: pool.clone(),
            pool,
            description,
        })
    }
}

impl SqliteStore {
    /// Concurrent writes of messages share a commit: one fsync for many.
    async fn write(&self, write: Write) -> Result<Written> {
        self.batcher.write(write).await
    }

    /// One SQLite file serves one server: no peers.
    fn peer_channel(&self) -> Option<crate::PeerChannel> {
        None
    }
}

impl PostgresStore {
    /// Each write in its own transaction: PostgreSQL groups concurrent commits itself.
    async fn write(&self, write: Write) -> Result<Written> {
        let (pending, receiver) = Pending::new(write);
        Self::commit_writes(&self.writer, vec![pending]).await;
        crate::batch::outcome(receiver).await
    }

    fn peer_channel(&self) -> Option<crate::PeerChannel> {
        Some(self.peers.clone())
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);
impl_store!(PostgresStore, sqlx::Postgres);
crate::import::impl_import!(SqliteStore, SqliteImport, sqlx::Sqlite);
crate::import::impl_import!(PostgresStore, PostgresImport, sqlx::Postgres);
crate::accounts::impl_account_store!(SqliteStore);
crate::accounts::impl_account_store!(PostgresStore);
crate::dialogues::impl_dialogue_store!(SqliteStore);
crate::dialogues::impl_dialogue_store!(PostgresStore);
crate::health::impl_health_store!(SqliteStore);
crate::health::impl_health_store!(PostgresStore);
crate::doctor::impl_doctor_store!(SqliteStore, crate::doctor::sqlite_integrity);
crate::doctor::impl_doctor_store!(PostgresStore, crate::doctor::postgres_integrity);
crate::search::impl_search_store!(
    SqliteStore,
    crate::search::sqlite::keyword_sql,
    crate::search::sqlite::match_expression,
    "NULL",
    crate::search::sqlite::TOTAL_ROWS,
    crate::search::sqlite::TERM_ROWS,
    crate::search::sqlite::WEIGHING_READS_EVERY_ROW
);
crate::search::impl_search_store!(
    PostgresStore,
    crate::search::postgres::keyword_sql,
    crate::search::postgres::match_expression,
    "NULL::timestamptz",
    crate::search::postgres::TOTAL_ROWS,
    crate::search::postgres::TERM_ROWS,
    crate::search::postgres::WEIGHING_READS_EVERY_ROW
);

/// Whether the SQLite writer may be used again: sqlx counts no transaction open on it.
/// A commit that fails (a full disk) may or may not end SQLite's transaction by itself,
/// and sqlx's count does not follow: its next "transaction" would then be a savepoint
/// inside one that never commits, every write reported done and none of them durable.
/// sqlx counts a transaction closed only once its commit or rollback succeeded, so a
/// connection handed back with one counted open is in doubt: it is closed (closing rolls
/// back what it held open) and the pool opens a fresh one.
fn sqlite_writer_is_sound(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::Connection;
    !conn.is_in_transaction()
}
