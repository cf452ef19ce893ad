//! People who sign in, the keys they give their programs, and the invitations owners
//! hand out. Secrets never live here: the store keeps only their hashes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    /// Sees and manages every Locrit and every account.
    Admin,
    /// Sees and manages their own Locrits.
    User,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub role: AccountRole,
    pub created_at: DateTime<Utc>,
}

impl Account {
    /// Whether this account owns `owner_id` (a Locrit's `owner_id`).
    pub fn owns(&self, owner_id: Option<&str>) -> bool {
        owner_id.is_some_and(|owner| owner == self.id.to_string())
    }
}

/// What an API key lets a program do. A key never does more than its account may.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyScopes {
    /// Read Locrits, conversations and memory.
    #[serde(default)]
    pub read: bool,
    /// Chat (every chat transport).
    #[serde(default)]
    pub chat: bool,
    /// Change anything: settings, memory, sessions, keys are never among them.
    #[serde(default)]
    pub manage: bool,
}

impl KeyScopes {
    pub const ALL: Self = Self {
        read: true,
        chat: true,
        manage: true,
    };

    pub fn allows(self, needed: Scope) -> bool {
        match needed {
            Scope::Read => self.read,
            Scope::Chat => self.chat,
            Scope::Manage => self.manage,
        }
    }
}

/// The scope a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Chat,
    Manage,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Chat => "chat",
            Self::Manage => "manage",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub scopes: KeyScopes,
    /// Only this Locrit, when set.
    pub locrit_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link an owner gives a person, granting chat with one Locrit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub locrit_id: Uuid,
    /// Who it is for, as the owner wrote it.
    pub label: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invitation {
    pub fn is_valid(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| expiry > now)
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;
const MAX_USERNAME_CHARS: usize = 64;

/// A username: 1 to 64 letters, digits, `.`, `_` or `-`, kept as typed; compared
/// without case by the store.
pub fn validate_username(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS || !name.chars().all(allowed) {
        return Err(ValidationError::new(
            "username",
            "1 to 64 letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(name.to_owned())
}

/// A password long enough to resist guessing; anything else is the person's choice.
pub fn validate_password(password: &str) -> Result<(), ValidationError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(validate_username(" ada.l-1 ").unwrap(), "ada.l-1");
        for bad in ["", "a b", "../x", "a/b", &"x".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pw").is_ok());
    }

    #[test]
    fn an_invitation_ends_when_revoked_or_expired() {
        let now = Utc::now();
        let mut invitation = Invitation {
            id: Uuid::nil(),
            locrit_id: Uuid::nil(),
            label: "Ada".into(),
            created_by: None,
            created_at: now,
            expires_at: None,
            revoked_at: None,
        };
        assert!(invitation.is_valid(now));
        invitation.expires_at = Some(now - chrono::Duration::seconds(1));
        assert!(!invitation.is_valid(now));
        invitation.expires_at = None;
        invitation.revoked_at = Some(now);
        assert!(!invitation.is_valid(now));
    }

    #[test]
    fn scopes() {
        let read_only = KeyScopes {
            read: true,
            ..KeyScopes::default()
        };
        assert!(read_only.allows(Scope::Read));
        assert!(!read_only.allows(Scope::Chat));
        assert!(!read_only.allows(Scope::Manage));
        assert!(KeyScopes::ALL.allows(Scope::Manage));
    }
}
