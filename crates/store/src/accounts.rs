//! Accounts, login sessions, API keys and invitations: the [`AccountStore`] half of the
//! store, one SQL implementation for both databases. Secrets arrive here hashed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use locrit_domain::{Account, AccountRole, ApiKey, Invitation, KeyScopes};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Result, StoreError};

/// A login session found by its token.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub account: Account,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores an account; a username already taken (without case) is a `Conflict`.
    async fn insert_account(&self, account: &Account, password_hash: &str) -> Result<()>;
    /// The account with this username (without case) and its password hash.
    async fn account_by_username(&self, username: &str) -> Result<Option<(Account, String)>>;
    async fn account(&self, id: Uuid) -> Result<Option<Account>>;
    /// Every account, by username.
    async fn accounts(&self) -> Result<Vec<Account>>;
    async fn count_admins(&self) -> Result<i64>;
    /// Sets a password and ends every login session of the account.
    async fn set_password(&self, id: Uuid, password_hash: &str) -> Result<bool>;
    async fn delete_account(&self, id: Uuid) -> Result<bool>;
    /// Gives every Locrit without an owner to this account; returns how many.
    async fn adopt_unowned_locrits(&self, account_id: Uuid) -> Result<u64>;

    async fn insert_login(
        &self,
        token_hash: &str,
        account_id: Uuid,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The login session with this token, unless it expired.
    async fn login(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Login>>;
    async fn delete_login(&self, token_hash: &str) -> Result<bool>;

    async fn insert_api_key(&self, key: &ApiKey, token_hash: &str) -> Result<()>;
    /// The key with this token and its account, revoked or not.
    async fn api_key_by_token(&self, token_hash: &str) -> Result<Option<(ApiKey, Account)>>;
    /// An account's keys, newest first.
    async fn api_keys(&self, account_id: Uuid) -> Result<Vec<ApiKey>>;
    /// Revokes one of the account's keys; `None` when it has no such key.
    async fn revoke_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>>;
    async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;

    async fn insert_invitation(&self, invitation: &Invitation, token_hash: &str) -> Result<()>;
    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>>;
    /// A Locrit's invitations, newest first.
    async fn invitations(&self, locrit_id: Uuid) -> Result<Vec<Invitation>>;
    /// Revokes one of the Locrit's invitations; `None` when it has no such invitation.
    async fn revoke_invitation(
        &self,
        locrit_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: Uuid,
    username: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self> {
        Ok(Account {
            id: row.id,
            username: row.username,
            role: AccountRole::parse(&row.role)
                .ok_or_else(|| StoreError::Corrupt(format!("account role {:?}", row.role)))?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    account_id: Uuid,
    name: String,
    prefix: String,
    scopes: Json<KeyScopes>,
    locrit_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: row.id,
            account_id: row.account_id,
            name: row.name,
            prefix: row.prefix,
            scopes: row.scopes.0,
            locrit_id: row.locrit_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    id: Uuid,
    locrit_id: Uuid,
    label: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        Invitation {
            id: row.id,
            locrit_id: row.locrit_id,
            label: row.label,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// An account row with the columns of its key or login, for the joins below.
#[derive(sqlx::FromRow)]
pub(crate) struct LoginRow {
    #[sqlx(flatten)]
    account: AccountRow,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

impl TryFrom<LoginRow> for Login {
    type Error = StoreError;

    fn try_from(row: LoginRow) -> Result<Self> {
        Ok(Login {
            account: row.account.try_into()?,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        })
    }
}

pub(crate) const ACCOUNT_COLUMNS: &str = "id, username, role, created_at";
pub(crate) const API_KEY_COLUMNS: &str = "id, account_id, name, prefix, scopes, locrit_id, \
    created_at, last_used_at, revoked_at";
pub(crate) const INVITATION_COLUMNS: &str =
    "id, locrit_id, label, created_by, created_at, expires_at, revoked_at";

/// The rows of `table` under one parent (`parent` = `$1`), newest first.
pub(crate) fn newest_first(table: &str, columns: &str, parent: &str) -> String {
    format!("SELECT {columns} FROM {table} WHERE {parent} = $1 ORDER BY created_at DESC, id DESC")
}

/// Revokes the row `$2` of the parent `$1` at `$3` (a second revoke keeps the first
/// time), returning it.
pub(crate) fn revoke(table: &str, columns: &str, parent: &str) -> String {
    format!(
        "UPDATE {table} SET revoked_at = COALESCE(revoked_at, $3) \
         WHERE {parent} = $1 AND id = $2 RETURNING {columns}"
    )
}

/// `columns`, each qualified by the table alias `alias`, for joins.
pub(crate) fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a key row joined with its account's columns (prefixed `owner_`).
#[derive(sqlx::FromRow)]
pub(crate) struct KeyWithAccountRow {
    #[sqlx(flatten)]
    key: ApiKeyRow,
    owner_username: String,
    owner_role: String,
    owner_created_at: DateTime<Utc>,
}

impl TryFrom<KeyWithAccountRow> for (ApiKey, Account) {
    type Error = StoreError;

    fn try_from(row: KeyWithAccountRow) -> Result<Self> {
        let account = AccountRow {
            id: row.key.account_id,
            username: row.owner_username,
            role: row.owner_role,
            created_at: row.owner_created_at,
        }
        .try_into()?;
        Ok((row.key.into(), account))
    }
}

macro_rules! impl_account_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::accounts::AccountStore for $store {
            async fn insert_account(&self, account: &Account, password_hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO accounts (id, username, username_key, password_hash, role, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(account.id)
                .bind(&account.username)
                .bind(account.username.to_lowercase())
                .bind(password_hash)
                .bind(account.role.as_str())
                .bind(account.created_at)
                .execute(&self.writer)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("an account with this username"),
                    other => other,
                })?;
                Ok(())
            }

            async fn account_by_username(
                &self,
                username: &str,
            ) -> Result<Option<(Account, String)>> {
                let sql = format!(
                    "SELECT {}, password_hash FROM accounts WHERE username_key = $1",
                    $crate::accounts::ACCOUNT_COLUMNS
                );
                let row: Option<$crate::accounts::AccountRowWithHash> = sqlx::query_as(&sql)
                    .bind(username.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn account(&self, id: Uuid) -> Result<Option<Account>> {
                let sql = format!(
                    "SELECT {} FROM accounts WHERE id = $1",
                    $crate::accounts::ACCOUNT_COLUMNS
                );
                let row: Option<$crate::accounts::AccountRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn accounts(&self) -> Result<Vec<Account>> {
                let sql = format!(
                    "SELECT {} FROM accounts ORDER BY username_key",
                    $crate::accounts::ACCOUNT_COLUMNS
                );
                let rows: Vec<$crate::accounts::AccountRow> =
                    sqlx::query_as(&sql).fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn count_admins(&self) -> Result<i64> {
                let (count,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE role = 'admin'")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(count)
            }

            async fn set_password(&self, id: Uuid, password_hash: &str) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
                    .bind(id)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM login_sessions WHERE account_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_account(&self, id: Uuid) -> Result<bool> {
                let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn adopt_unowned_locrits(&self, account_id: Uuid) -> Result<u64> {
                let done = sqlx::query("UPDATE locrits SET owner_id = $1 WHERE owner_id IS NULL")
                    .bind(account_id.to_string())
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn insert_login(
                &self,
                token_hash: &str,
                account_id: Uuid,
                csrf_token: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO login_sessions (token_hash, account_id, csrf_token, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(account_id)
                .bind(csrf_token)
                .bind(Utc::now())
                .bind(expires_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn login(
                &self,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<Option<$crate::accounts::Login>> {
                let sql = format!(
                    "SELECT {}, l.csrf_token, l.expires_at FROM login_sessions l \
                     JOIN accounts a ON a.id = l.account_id \
                     WHERE l.token_hash = $1 AND l.expires_at > $2",
                    $crate::accounts::qualified("a", $crate::accounts::ACCOUNT_COLUMNS)
                );
                let row: Option<$crate::accounts::LoginRow> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn delete_login(&self, token_hash: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_api_key(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, account_id, name, prefix, token_hash, scopes, \
                     locrit_id, created_at, last_used_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(key.id)
                .bind(key.account_id)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(token_hash)
                .bind(Json(key.scopes))
                .bind(key.locrit_id)
                .bind(key.created_at)
                .bind(key.last_used_at)
                .bind(key.revoked_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn api_key_by_token(&self, token_hash: &str) -> Result<Option<(ApiKey, Account)>> {
                let sql = format!(
                    "SELECT {}, a.username AS owner_username, a.role AS owner_role, \
                     a.created_at AS owner_created_at FROM api_keys k \
                     JOIN accounts a ON a.id = k.account_id WHERE k.token_hash = $1",
                    $crate::accounts::qualified("k", $crate::accounts::API_KEY_COLUMNS)
                );
                let row: Option<$crate::accounts::KeyWithAccountRow> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn api_keys(&self, account_id: Uuid) -> Result<Vec<ApiKey>> {
                let sql = $crate::accounts::newest_first(
                    "api_keys",
                    $crate::accounts::API_KEY_COLUMNS,
                    "account_id",
                );
                let rows: Vec<$crate::accounts::ApiKeyRow> = sqlx::query_as(&sql)
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn revoke_api_key(
                &self,
                account_id: Uuid,
                id: Uuid,
                now: DateTime<Utc>,
            ) -> Result<Option<ApiKey>> {
                let sql = $crate::accounts::revoke(
                    "api_keys",
                    $crate::accounts::API_KEY_COLUMNS,
                    "account_id",
                );
                let row: Option<$crate::accounts::ApiKeyRow> = sqlx::query_as(&sql)
                    .bind(account_id)
                    .bind(id)
                    .bind(now)
                    .fetch_all(&self.writer)
                    .await?
                    .pop();
                Ok(row.map(Into::into))
            }

            async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn insert_invitation(
                &self,
                invitation: &Invitation,
                token_hash: &str,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO invitations (id, locrit_id, token_hash, label, created_by, \
                     created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(invitation.id)
                .bind(invitation.locrit_id)
                .bind(token_hash)
                .bind(&invitation.label)
                .bind(invitation.created_by)
                .bind(invitation.created_at)
                .bind(invitation.expires_at)
                .bind(invitation.revoked_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>> {
                let sql = format!(
                    "SELECT {} FROM invitations WHERE token_hash = $1",
                    $crate::accounts::INVITATION_COLUMNS
                );
                let row: Option<$crate::accounts::InvitationRow> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Into::into))
            }

            async fn invitations(&self, locrit_id: Uuid) -> Result<Vec<Invitation>> {
                let sql = $crate::accounts::newest_first(
                    "invitations",
                    $crate::accounts::INVITATION_COLUMNS,
                    "locrit_id",
                );
                let rows: Vec<$crate::accounts::InvitationRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn revoke_invitation(
                &self,
                locrit_id: Uuid,
                id: Uuid,
                now: DateTime<Utc>,
            ) -> Result<Option<Invitation>> {
                let sql = $crate::accounts::revoke(
                    "invitations",
                    $crate::accounts::INVITATION_COLUMNS,
                    "locrit_id",
                );
                let row: Option<$crate::accounts::InvitationRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(id)
                    .bind(now)
                    .fetch_all(&self.writer)
                    .await?
                    .pop();
                Ok(row.map(Into::into))
            }
        }
    };
}

pub(crate) use impl_account_store;

/// An account row with its password hash, for sign-in.
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRowWithHash {
    #[sqlx(flatten)]
    account: AccountRow,
    password_hash: String,
}

impl TryFrom<AccountRowWithHash> for (Account, String) {
    type Error = StoreError;

    fn try_from(row: AccountRowWithHash) -> Result<Self> {
        Ok((row.account.try_into()?, row.password_hash))
    }
}
