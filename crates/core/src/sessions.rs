//! Sessions and conversations: opening, listing, reading, renaming, deleting.

use locrit_domain::{
    Locrit, Message, NewSession, Session, SessionKind, SessionStatus, ValidationError,
};
use locrit_store::{MessagePage, SessionQuery};
use serde_json::Value;
use uuid::Uuid;

use crate::{Core, Error, Result};

/// The longest session name, in characters.
const MAX_SESSION_NAME: usize = 200;

/// A session to open for some Locrit.
#[derive(Debug, Clone)]
pub struct NewSessionSpec {
    pub key: String,
    pub kind: SessionKind,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub metadata: Value,
}

impl NewSessionSpec {
    pub(crate) fn for_locrit(self, locrit_id: Uuid) -> NewSession {
        NewSession {
            locrit_id,
            key: self.key,
            kind: self.kind,
            name: self.name,
            user_id: self.user_id,
            metadata: self.metadata,
        }
    }
}

impl Core {
    /// Opens a new session (or conversation) for a Locrit. Conversations need an active
    /// Locrit: one cannot start talking to a Locrit that is switched off.
    pub async fn create_session(&self, locrit: &Locrit, spec: NewSessionSpec) -> Result<Session> {
        if spec.kind == SessionKind::Conversation && !locrit.active {
            return Err(Error::Inactive);
        }
        locrit_domain::validate_client_id("session_id", &spec.key)?;
        Ok(self
            .store
            .create_session(&spec.for_locrit(locrit.id))
            .await?)
    }

    /// A live session of this Locrit.
    pub async fn session(&self, locrit: &Locrit, key: &str) -> Result<Session> {
        self.store
            .session(locrit.id, key)
            .await?
            .filter(|s| s.status != SessionStatus::Deleted)
            .ok_or(Error::NotFound("session"))
    }

    /// Names a live session; the name is trimmed, 1 to 200 characters.
    pub async fn rename_session(&self, session: &Session, name: &str) -> Result<Session> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_SESSION_NAME {
            return Err(ValidationError::new("name", "must be 1 to 200 characters").into());
        }
        if !self.store.set_session_name(session.id, name).await? {
            return Err(Error::NotFound("session"));
        }
        Ok(Session {
            name: Some(name.to_owned()),
            ..session.clone()
        })
    }

    /// A live conversation, by its global id.
    pub async fn conversation(&self, id: &str) -> Result<Session> {
        self.store
            .session_by_key(SessionKind::Conversation, id)
            .await?
            .filter(|s| s.status != SessionStatus::Deleted)
            .ok_or(Error::NotFound("conversation"))
    }

    /// Live sessions matching the query, most recent first.
    pub async fn sessions(&self, query: &SessionQuery) -> Result<Vec<Session>> {
        Ok(self.store.sessions(query).await?)
    }

    /// Marks a conversation deleted: it is not listed, and refuses messages, for ever.
    pub async fn delete_conversation(&self, session: &Session) -> Result<()> {
        self.store
            .set_session_status(session.id, SessionStatus::Deleted)
            .await?;
        self.events.publish(crate::events::Event::SessionDeleted {
            locrit_id: session.locrit_id,
            session_key: session.key.clone(),
        });
        Ok(())
    }

    /// A page of a session's messages, in chronological order.
    pub async fn messages(&self, session: &Session, page: MessagePage) -> Result<Vec<Message>> {
        Ok(self.store.messages(session.id, page).await?)
    }
}
