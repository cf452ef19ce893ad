//! Long-term memories: facts a Locrit keeps about the people it talks to and the world.
//! Owners add, edit, pin and delete them; a newer fact that contradicts an older one
//! supersedes it (the older one is kept, marked, and no longer recalled).

use locrit_domain::{Locrit, Memory, NewMemory, ValidationError};
use locrit_store::{MemoryChanges, MemoryQuery};
use uuid::Uuid;

use crate::events::Event;
use crate::{Core, Error, Result};

/// The longest memory kept, in bytes: a fact, not a transcript.
pub const MAX_MEMORY_BYTES: usize = 4096;

impl Core {
    /// A page of a Locrit's memories, newest first.
    pub async fn memories(&self, locrit: &Locrit, query: &MemoryQuery) -> Result<Vec<Memory>> {
        Ok(self.store.memories(locrit.id, query).await?)
    }

    pub async fn memory(&self, locrit: &Locrit, id: Uuid) -> Result<Memory> {
        self.store
            .memory(locrit.id, id)
            .await?
            .ok_or(Error::NotFound("memory"))
    }

    /// Adds a memory; the memories it supersedes (of this Locrit) are marked in the same
    /// write and published as updated.
    pub async fn add_memory(&self, locrit: &Locrit, memory: NewMemory) -> Result<Memory> {
        check_content(&memory.content)?;
        check_importance(memory.importance)?;
        for old in &memory.supersedes {
            self.memory(locrit, *old).await?;
        }
        let stored = self.store.insert_memory(locrit.id, &memory).await?;
        self.events.publish(Event::MemoryAdded(stored.clone()));
        for old in &memory.supersedes {
            if let Some(old) = self.store.memory(locrit.id, *old).await? {
                self.events.publish(Event::MemoryUpdated(old));
            }
        }
        Ok(stored)
    }

    /// Edits or pins a memory.
    pub async fn update_memory(
        &self,
        locrit: &Locrit,
        id: Uuid,
        changes: &MemoryChanges,
    ) -> Result<Memory> {
        if changes.is_empty() {
            return Err(ValidationError::new("memory", "nothing to change").into());
        }
        if let Some(content) = &changes.content {
            check_content(content)?;
        }
        if let Some(importance) = changes.importance {
            check_importance(importance)?;
        }
        let memory = self
            .store
            .update_memory(locrit.id, id, changes)
            .await?
            .ok_or(Error::NotFound("memory"))?;
        self.events.publish(Event::MemoryUpdated(memory.clone()));
        Ok(memory)
    }

    /// Deletes one memory.
    pub async fn delete_memory(&self, locrit: &Locrit, id: Uuid) -> Result<()> {
        if !self.store.delete_memory(locrit.id, id).await? {
            return Err(Error::NotFound("memory"));
        }
        self.events.publish(Event::MemoryDeleted {
            locrit_id: locrit.id,
            memory_id: id,
        });
        Ok(())
    }
}

/// What every stored memory satisfies, however it comes (an edit, a model, an archive).
pub(crate) fn check_memory(content: &str, importance: f64) -> Result<()> {
    check_content(content)?;
    check_importance(importance)
}

fn check_content(content: &str) -> Result<()> {
    if content.trim().is_empty() {
        return Err(ValidationError::new("content", "must not be empty").into());
    }
    if content.len() > MAX_MEMORY_BYTES {
        return Err(ValidationError::new(
            "content",
            format!("must be at most {MAX_MEMORY_BYTES} bytes"),
        )
        .into());
    }
    Ok(())
}

fn check_importance(importance: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&importance) {
        return Err(ValidationError::new("importance", "must be between 0.0 and 1.0").into());
    }
    Ok(())
}

/// What a reply was given from beyond its session: the "why" of an answer.
#[derive(Debug, Clone, Default)]
pub struct RecallSources {
    pub memories: Vec<Memory>,
    pub messages: Vec<locrit_domain::Message>,
    /// Ids recorded with the reply whose memory or message was deleted since.
    pub deleted: Vec<Uuid>,
}

impl Core {
    /// The memories and messages recalled into the prompt of this reply, as they are now.
    pub async fn recall_sources(&self, locrit: &Locrit, reply: Uuid) -> Result<RecallSources> {
        let reply = self.message(locrit, reply).await?;
        let ids = |kind: &str| -> Vec<Uuid> {
            serde_json::from_value(reply.metadata["recall"][kind].clone()).unwrap_or_default()
        };
        let mut sources = RecallSources::default();
        for id in ids("memories") {
            match self.store.memory(locrit.id, id).await? {
                Some(memory) => sources.memories.push(memory),
                None => sources.deleted.push(id),
            }
        }
        for id in ids("messages") {
            match self.store.message(locrit.id, id).await? {
                Some(message) => sources.messages.push(message),
                None => sources.deleted.push(id),
            }
        }
        Ok(sources)
    }
}
