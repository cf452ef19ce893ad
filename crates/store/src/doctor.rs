//! `locrit doctor`: what a store's data should satisfy, checked, and what is safe to put
//! right, repaired. Safe means derived data only (counters, expired sign-ins); stored
//! messages, memories and settings are never changed here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    /// What it is about, for people.
    pub about: &'static str,
    /// Rows found wrong (or worth knowing about).
    pub count: i64,
    /// Put right by this run.
    pub repaired: bool,
    /// Whether it is a fault (else information: it resolves itself).
    pub fault: bool,
}

#[async_trait]
pub trait DoctorStore: Send + Sync {
    /// Runs every check, repairing what is safe to repair when `repair` is set.
    async fn check(&self, repair: bool, now: DateTime<Utc>) -> Result<Vec<Finding>>;
}

/// Sessions whose counters disagree with their messages (a crash between writes of an
/// older version, a hand edit): `message_count` and `last_seq` are derived data.
pub(crate) const SESSION_COUNTERS: &str = "SELECT COUNT(*) FROM sessions s WHERE \
    s.message_count <> (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) \
    OR s.last_seq < (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.session_id = s.id)";

/// Recomputes them; `last_seq` never goes down (a sequence number is never reused).
pub(crate) const REPAIR_SESSION_COUNTERS: &str = "UPDATE sessions SET \
    message_count = (SELECT COUNT(*) FROM messages m WHERE m.session_id = sessions.id), \
    last_seq = CASE \
        WHEN last_seq < (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.session_id = sessions.id) \
        THEN (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.session_id = sessions.id) \
        ELSE last_seq END \
    WHERE message_count <> (SELECT COUNT(*) FROM messages m WHERE m.session_id = sessions.id) \
    OR last_seq < (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.session_id = sessions.id)";

/// User messages that are the last of their session, older than `$1`: their reply never
/// came (the model failed, or the server stopped). Kept, and reported.
pub(crate) const UNANSWERED: &str = "SELECT COUNT(*) FROM messages m JOIN sessions s \
    ON s.id = m.session_id WHERE m.role = 'user' AND m.created_at < $1 \
    AND s.status <> 'deleted' \
    AND m.seq = (SELECT MAX(l.seq) FROM messages l WHERE l.session_id = m.session_id)";

/// Jobs whose runner's lease ran out: another runner takes them over.
pub(crate) const ABANDONED_JOBS: &str =
    "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_until < $1";

/// Turns whose server stopped (a reply streaming, a question waiting for it): any server
/// marks them interrupted or unanswered.
pub(crate) const CUT_TURNS: &str = "SELECT \
    (SELECT COUNT(*) FROM messages WHERE status = 'streaming' AND lease_until < $1) \
    + (SELECT COUNT(*) FROM awaited_replies WHERE lease_until < $1)";

pub(crate) const EXPIRED_LOGINS: &str =
    "SELECT COUNT(*) FROM login_sessions WHERE expires_at <= $1";
pub(crate) const DELETE_EXPIRED_LOGINS: &str = "DELETE FROM login_sessions WHERE expires_at <= $1";

macro_rules! impl_doctor_store {
    ($store:ty, $integrity:expr) => {
        #[async_trait::async_trait]
        impl $crate::doctor::DoctorStore for $store {
            async fn check(
                &self,
                repair: bool,
                now: DateTime<Utc>,
            ) -> Result<Vec<$crate::doctor::Finding>> {
                use $crate::doctor::{self as d, Finding};
                let mut findings: Vec<Finding> = $integrity(&self.pool).await?;
                let count = |sql: &'static str| async move {
                    let (n,): (i64,) = sqlx::query_as(sql).bind(now).fetch_one(&self.pool).await?;
                    Ok::<i64, $crate::StoreError>(n)
                };
                let counters = {
                    let (n,): (i64,) = sqlx::query_as(d::SESSION_COUNTERS)
                        .fetch_one(&self.pool)
                        .await?;
                    n
                };
                if repair && counters > 0 {
                    sqlx::query(d::REPAIR_SESSION_COUNTERS).execute(&self.writer).await?;
                }
                findings.push(Finding {
                    check: "session_counters",
                    about: "sessions whose message count or last sequence number disagree with their messages",
                    count: counters,
                    repaired: repair && counters > 0,
                    fault: true,
                });
                let an_hour_ago = now - chrono::Duration::hours(1);
                let (unanswered,): (i64,) = sqlx::query_as(d::UNANSWERED)
                    .bind(an_hour_ago)
                    .fetch_one(&self.pool)
                    .await?;
                findings.push(Finding {
                    check: "unanswered_messages",
                    about: "user messages kept without a reply (the model failed or the server stopped)",
                    count: unanswered,
                    repaired: false,
                    fault: false,
                });
                findings.push(Finding {
                    check: "abandoned_jobs",
                    about: "jobs whose server stopped mid-run; another runner takes them over",
                    count: count(d::ABANDONED_JOBS).await?,
                    repaired: false,
                    fault: false,
                });
                findings.push(Finding {
                    check: "cut_turns",
                    about: "turns cut by a stopped server, not yet marked interrupted or unanswered (a running server marks them)",
                    count: count(d::CUT_TURNS).await?,
                    repaired: false,
                    fault: false,
                });
                let expired = count(d::EXPIRED_LOGINS).await?;
                if repair && expired > 0 {
                    sqlx::query(d::DELETE_EXPIRED_LOGINS)
                        .bind(now)
                        .execute(&self.writer)
                        .await?;
                }
                findings.push(Finding {
                    check: "expired_sign_ins",
                    about: "sign-ins past their expiry, kept until removed",
                    count: expired,
                    repaired: repair && expired > 0,
                    fault: false,
                });
                Ok(findings)
            }
        }
    };
}

pub(crate) use impl_doctor_store;

/// SQLite's own checks: the file's structure and its foreign keys. They run on a new
/// connection: a pooled one may hold FTS5's cached view of the search index from before
/// later writes, and its check then reports a sound index malformed (a fuzzing finding).
pub(crate) async fn sqlite_integrity(pool: &sqlx::SqlitePool) -> Result<Vec<Finding>> {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect_with(&pool.connect_options()).await?;
    let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut connection)
        .await?;
    let broken = rows.iter().filter(|(line,)| line != "ok").count();
    let orphans = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut connection)
        .await?
        .len();
    connection.close().await?;
    Ok(vec![
        Finding {
            check: "sqlite_integrity",
            about: "damage to the database file (PRAGMA integrity_check)",
            count: i64::try_from(broken).unwrap_or(i64::MAX),
            repaired: false,
            fault: true,
        },
        Finding {
            check: "foreign_keys",
            about: "rows pointing at rows that do not exist (PRAGMA foreign_key_check)",
            count: i64::try_from(orphans).unwrap_or(i64::MAX),
            repaired: false,
            fault: true,
        },
    ])
}

/// PostgreSQL checks its structure and keys itself, on every write.
pub(crate) async fn postgres_integrity(_pool: &sqlx::PgPool) -> Result<Vec<Finding>> {
    Ok(Vec::new())
}
