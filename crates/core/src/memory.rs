//! Changing what a Locrit remembers: editing and deleting messages, deleting sessions,
//! adding standalone memories. Each change is published on the event bus once it is
//! stored, so live views (Socket.IO `memory_updated`) follow without reloading.

use locrit_domain::{Locrit, Memory, Message, NewMemory, Session, ValidationError};
use uuid::Uuid;

use crate::events::Event;
use crate::{Core, Error, Result};

impl Core {
    /// One message of this Locrit, whatever its session.
    pub async fn message(&self, locrit: &Locrit, id: Uuid) -> Result<Message> {
        self.store
            .message(locrit.id, id)
            .await?
            .ok_or(Error::NotFound("message"))
    }

    /// Replaces a message's content; `edited_at` is set.
    pub async fn edit_message(&self, locrit: &Locrit, id: Uuid, content: &str) -> Result<Message> {
        if content.trim().is_empty() {
            return Err(ValidationError::new("content", "must not be empty").into());
        }
        let message = self
            .store
            .edit_message(locrit.id, id, content)
            .await?
            .ok_or(Error::NotFound("message"))?;
        self.events.publish(Event::MessageEdited(message.clone()));
        Ok(message)
    }

    /// Deletes a message from its session; returns what was deleted.
    pub async fn delete_message(&self, locrit: &Locrit, id: Uuid) -> Result<Message> {
        let message = self.message(locrit, id).await?;
        if !self.store.delete_message(locrit.id, id).await? {
            return Err(Error::NotFound("message"));
        }
        self.events.publish(Event::MessageDeleted {
            locrit_id: locrit.id,
            session_key: message.session_id.clone(),
            message_id: id,
        });
        Ok(message)
    }

    /// Deletes a session and its messages.
    pub async fn delete_session(&self, session: &Session) -> Result<()> {
        if !self.store.delete_session(session.id).await? {
            return Err(Error::NotFound("session"));
        }
        self.events.publish(Event::SessionDeleted {
            locrit_id: session.locrit_id,
            session_key: session.key.clone(),
        });
        Ok(())
    }

    /// Adds a standalone memory: content required, importance from 0 to 1.
    pub async fn add_memory(&self, locrit: &Locrit, memory: NewMemory) -> Result<Memory> {
        if memory.content.trim().is_empty() {
            return Err(ValidationError::new("content", "must not be empty").into());
        }
        if !(0.0..=1.0).contains(&memory.importance) {
            return Err(ValidationError::new("importance", "must be between 0.0 and 1.0").into());
        }
        let memory = self.store.insert_memory(locrit.id, &memory).await?;
        self.events.publish(Event::MemoryAdded(memory.clone()));
        Ok(memory)
    }
}
