//! Accounts, sign-in, API keys and invitations. Passwords are hashed with Argon2id;
//! every token (login, key, invitation) is 256 random bits, handed out once and
//! stored only as its SHA-256 digest, so a copy of the database opens nothing.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use locrit_domain::{
    Account, AccountRole, ApiKey, Caller, Invitation, KeyGrant, KeyScopes, Locrit, Requester,
    ValidationError, may_manage, validate_password, validate_username,
};
use locrit_store::{Login, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Core, Error, Result};

/// How long a sign-in lasts.
pub const LOGIN_LIFETIME: Duration = Duration::days(30);
/// What every API key starts with, so a leaked one is recognisable (secret scanners).
pub const API_KEY_PREFIX: &str = "lk_";
const SHOWN_PREFIX_CHARS: usize = 10;
/// How exact a key's `last_used_at` is.
const LAST_USE_PRECISION: Duration = Duration::minutes(1);

/// A new sign-in: the cookie's token and the token state-changing requests must echo.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub account: Account,
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// What a new API key may do.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: KeyScopes,
    /// Only this Locrit (by name), when set.
    pub locrit: Option<String>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The digest a token is stored and looked up by.
pub fn token_digest(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| password_failure(&e))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| password_failure(&e))
}

fn password_failure(error: &dyn std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "password hashing failed: {error}"
    )))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Managing accounts is an admin's.
fn require_admin(by: &Requester) -> Result<()> {
    if by.is_admin() {
        Ok(())
    } else {
        Err(Error::Denied(locrit_domain::Denied::OwnerOnly))
    }
}

/// Hashing a password takes tens of milliseconds of one core: off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| password_failure(&e))
}

impl Core {
    /// Whether the server still needs its first admin (the one-time setup).
    pub async fn setup_needed(&self) -> Result<bool> {
        Ok(self.store.count_admins().await? == 0)
    }

    /// The one-time setup: the first admin, who also takes every Locrit without an
    /// owner. Refused once an admin exists.
    pub async fn create_first_admin(&self, username: &str, password: &str) -> Result<Account> {
        if !self.setup_needed().await? {
            return Err(Error::Conflict("the server already has an admin".into()));
        }
        let account = self
            .insert_account(username, password, AccountRole::Admin)
            .await?;
        let adopted = self.store.adopt_unowned_locrits(account.id).await?;
        tracing::info!(username = %account.username, adopted, "first admin created");
        Ok(account)
    }

    /// An account created by an admin.
    pub async fn create_account(
        &self,
        by: &Requester,
        username: &str,
        password: &str,
        role: AccountRole,
    ) -> Result<Account> {
        require_admin(by)?;
        self.insert_account(username, password, role).await
    }

    async fn insert_account(
        &self,
        username: &str,
        password: &str,
        role: AccountRole,
    ) -> Result<Account> {
        let username = validate_username(username)?;
        validate_password(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await??;
        let account = Account {
            id: Uuid::now_v7(),
            username,
            role,
            created_at: Utc::now(),
        };
        self.store
            .insert_account(&account, &hash)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => Error::Conflict("this username is taken".into()),
                other => other.into(),
            })?;
        Ok(account)
    }

    pub async fn accounts(&self, by: &Requester) -> Result<Vec<Account>> {
        require_admin(by)?;
        Ok(self.store.accounts().await?)
    }

    /// Deletes an account (its keys and sign-ins go with it; its Locrits stay, without
    /// an owner, for the admins). The last admin stays.
    pub async fn delete_account(&self, by: &Requester, id: Uuid) -> Result<()> {
        require_admin(by)?;
        let account = self
            .store
            .account(id)
            .await?
            .ok_or(Error::NotFound("account"))?;
        if account.role == AccountRole::Admin && self.store.count_admins().await? <= 1 {
            return Err(Error::Conflict("the last admin cannot be deleted".into()));
        }
        self.store.delete_account(id).await?;
        Ok(())
    }

    /// Checks a username and password; both wrong and unknown give the same answer, in
    /// about the same time.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<NewLogin> {
        let found = self.store.account_by_username(username.trim()).await?;
        let password = password.to_owned();
        let (account, matches) = match found {
            Some((account, hash)) => {
                let matches = blocking(move || password_matches(&password, &hash)).await?;
                (Some(account), matches)
            }
            None => {
                // Spend the same work as a real check, so timing tells nothing.
                blocking(move || hash_password(&password)).await??;
                (None, false)
            }
        };
        let Some(account) = account.filter(|_| matches) else {
            return Err(Error::Unauthenticated("wrong username or password"));
        };
        let login = NewLogin {
            token: random_token(),
            csrf_token: random_token(),
            expires_at: Utc::now() + LOGIN_LIFETIME,
            account,
        };
        self.store
            .insert_login(
                &token_digest(&login.token),
                login.account.id,
                &login.csrf_token,
                login.expires_at,
            )
            .await?;
        Ok(login)
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        self.store.delete_login(&token_digest(token)).await?;
        Ok(())
    }

    /// The live sign-in with this token, if any.
    pub async fn login(&self, token: &str) -> Result<Option<Login>> {
        Ok(self.store.login(&token_digest(token), Utc::now()).await?)
    }

    /// Changes the account's password after checking the current one; every sign-in
    /// of the account ends.
    pub async fn change_password(&self, account: &Account, current: &str, new: &str) -> Result<()> {
        validate_password(new)?;
        let (_, hash) = self
            .store
            .account_by_username(&account.username)
            .await?
            .ok_or(Error::NotFound("account"))?;
        let current = current.to_owned();
        if !blocking(move || password_matches(&current, &hash)).await? {
            return Err(Error::Unauthenticated("wrong password"));
        }
        let new = new.to_owned();
        let hash = blocking(move || hash_password(&new)).await??;
        self.store.set_password(account.id, &hash).await?;
        Ok(())
    }

    /// The requester an API key stands for; `None` for an unknown or revoked key.
    pub async fn authenticate_key(&self, token: &str) -> Result<Option<Requester>> {
        if !token.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let Some((key, account)) = self.store.api_key_by_token(&token_digest(token)).await? else {
            return Ok(None);
        };
        if key.revoked_at.is_some() {
            return Ok(None);
        }
        // Recorded to the minute: one write per key and minute, not one per request.
        let now = Utc::now();
        if key
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USE_PRECISION)
            && let Err(error) = self.store.touch_api_key(key.id, now).await
        {
            // Bookkeeping only: the key is valid whether or not this is recorded.
            tracing::debug!(%error, "could not record the key's last use");
        }
        Ok(Some(Requester::Account {
            account,
            key: Some(KeyGrant {
                id: key.id,
                scopes: key.scopes,
                locrit_id: key.locrit_id,
            }),
        }))
    }

    /// A new API key of `account`; the token is in the answer only, never again.
    pub async fn create_api_key(
        &self,
        account: &Account,
        new: NewApiKey,
    ) -> Result<(ApiKey, String)> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ValidationError::new("name", "1 to 100 characters").into());
        }
        if new.scopes == KeyScopes::default() {
            return Err(ValidationError::new("scopes", "give the key at least one scope").into());
        }
        let locrit_id = match new.locrit {
            Some(name) => {
                let requester = Requester::Account {
                    account: account.clone(),
                    key: None,
                };
                Some(self.managed_locrit(&requester, &name).await?.id)
            }
            None => None,
        };
        let token = format!("{API_KEY_PREFIX}{}", random_token());
        let key = ApiKey {
            id: Uuid::now_v7(),
            account_id: account.id,
            name: name.to_owned(),
            prefix: token.chars().take(SHOWN_PREFIX_CHARS).collect(),
            scopes: new.scopes,
            locrit_id,
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store
            .insert_api_key(&key, &token_digest(&token))
            .await?;
        Ok((key, token))
    }

    pub async fn api_keys(&self, account: &Account) -> Result<Vec<ApiKey>> {
        Ok(self.store.api_keys(account.id).await?)
    }

    pub async fn revoke_api_key(&self, account: &Account, id: Uuid) -> Result<ApiKey> {
        self.store
            .revoke_api_key(account.id, id, Utc::now())
            .await?
            .ok_or(Error::NotFound("API key"))
    }

    /// The Locrit named `name`, if `requester` may manage it; a 404 for a Locrit they
    /// may not even see, so names are not probed.
    pub async fn managed_locrit(&self, requester: &Requester, name: &str) -> Result<Locrit> {
        let locrit = self.locrit_named(name).await?;
        may_manage(requester.caller_for(&locrit)).map_err(|_| Error::NotFound("Locrit"))?;
        Ok(locrit)
    }

    /// A new invitation to chat with `locrit`; the token is in the answer only.
    pub async fn create_invitation(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        label: &str,
        lifetime: Option<Duration>,
    ) -> Result<(Invitation, String)> {
        may_manage(requester.caller_for(locrit))?;
        let label = label.trim();
        if label.chars().count() > 100 {
            return Err(ValidationError::new("label", "at most 100 characters").into());
        }
        let now = Utc::now();
        let token = random_token();
        let invitation = Invitation {
            id: Uuid::now_v7(),
            locrit_id: locrit.id,
            label: label.to_owned(),
            created_by: requester.account().map(|a| a.id),
            created_at: now,
            expires_at: lifetime.map(|lifetime| now + lifetime),
            revoked_at: None,
        };
        self.store
            .insert_invitation(&invitation, &token_digest(&token))
            .await?;
        Ok((invitation, token))
    }

    /// The invitation this token holds to `locrit`, if it is still valid.
    pub async fn invitation(&self, locrit: &Locrit, token: &str) -> Result<Option<Invitation>> {
        let found = self.store.invitation_by_token(&token_digest(token)).await?;
        Ok(found.filter(|i| i.locrit_id == locrit.id && i.is_valid(Utc::now())))
    }

    pub async fn invitations(
        &self,
        requester: &Requester,
        locrit: &Locrit,
    ) -> Result<Vec<Invitation>> {
        may_manage(requester.caller_for(locrit))?;
        Ok(self.store.invitations(locrit.id).await?)
    }

    pub async fn revoke_invitation(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        id: Uuid,
    ) -> Result<Invitation> {
        may_manage(requester.caller_for(locrit))?;
        self.store
            .revoke_invitation(locrit.id, id, Utc::now())
            .await?
            .ok_or(Error::NotFound("invitation"))
    }

    /// What `requester` is to `locrit`, given the invitation token the request carried.
    pub async fn caller(
        &self,
        requester: &Requester,
        locrit: &Locrit,
        invitation: Option<&str>,
    ) -> Result<Caller> {
        let caller = requester.caller_for(locrit);
        if caller != Caller::Owner
            && let Some(token) = invitation
            && self.invitation(locrit, token).await?.is_some()
        {
            return Ok(Caller::Invited);
        }
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_as_digests() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        assert_eq!(token_digest(&a).len(), 64);
        assert_ne!(token_digest(&a), a);
    }

    #[test]
    fn passwords_are_argon2id() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterx", &hash));
        assert!(!password_matches("x", "not a hash"));
    }
}
