//! What a Locrit remembers, for its owner to see and correct: summaries, search,
//! concepts, editing and deleting messages and sessions (`facts`: long-term memories;
//! `extraction`: learning them in the background). Each change is published on the event
//! bus once it is stored, so live views (Socket.IO `memory_updated`) follow without
//! reloading.

mod extraction;
mod facts;

pub(crate) use facts::check_memory;

pub use facts::RecallSources;

use chrono::{DateTime, Utc};
use locrit_domain::{Concept, Locrit, MemoryService, Message, Session, ValidationError};
use locrit_store::{ConceptChanges, LocritStats, ServerStats, SessionQuery};
use uuid::Uuid;

use crate::events::Event;
use crate::{Core, Error, Result};

/// How many recent messages, and top concepts, a memory summary shows.
pub const SUMMARY_ITEMS: u32 = 20;

/// How many messages mentioning a concept its details show.
const CONTEXT_EXAMPLES: u32 = 5;
/// How far from a concept its related concepts are looked for, at most.
pub const MAX_RELATION_DEPTH: u32 = 5;

/// A concept with where it was mentioned and what it relates to.
#[derive(Debug, Clone)]
pub struct ConceptDetails {
    pub concept: Concept,
    /// Newest messages mentioning it by name.
    pub context_examples: Vec<Message>,
    /// Directly related concepts, with the relation.
    pub related: Vec<(Concept, String)>,
}

/// What a Locrit remembers, at a glance.
#[derive(Debug, Clone, Default)]
pub struct MemorySummary {
    /// False when the Locrit's memory is switched off (`memory_service: disabled`):
    /// then everything else is empty.
    pub enabled: bool,
    pub stats: LocritStats,
    /// Up to [`SUMMARY_ITEMS`], newest first, across sessions.
    pub recent_messages: Vec<Message>,
    /// Every live session, most recently updated first.
    pub sessions: Vec<Session>,
    /// Up to [`SUMMARY_ITEMS`], most mentioned first.
    pub top_concepts: Vec<Concept>,
}

impl Core {
    /// The counters of a Locrit's memory; `None` when its memory is switched off.
    pub async fn memory_stats(&self, locrit: &Locrit) -> Result<Option<LocritStats>> {
        if locrit.memory_service == MemoryService::Disabled {
            return Ok(None);
        }
        Ok(Some(self.store.locrit_stats(locrit.id).await?))
    }

    /// Counters of every Locrit together, with the messages written since `since`.
    pub async fn server_stats(&self, since: DateTime<Utc>) -> Result<ServerStats> {
        Ok(self.store.server_stats(since).await?)
    }

    /// Whether the store takes writes now; else the error the next write would meet.
    pub async fn check_store_writable(&self) -> Result<()> {
        Ok(self.store.check_writable().await?)
    }

    /// Counters, recent messages, sessions and top concepts of a Locrit's memory.
    pub async fn memory_summary(&self, locrit: &Locrit) -> Result<MemorySummary> {
        let Some(stats) = self.memory_stats(locrit).await? else {
            return Ok(MemorySummary::default());
        };
        let recent_messages = self.store.recent_messages(locrit.id, SUMMARY_ITEMS).await?;
        let sessions = self.memory_sessions(locrit).await?;
        let mut top_concepts = self.store.concepts(locrit.id).await?;
        top_concepts.truncate(SUMMARY_ITEMS as usize);
        Ok(MemorySummary {
            enabled: true,
            stats,
            recent_messages,
            sessions,
            top_concepts,
        })
    }

    /// Every live session of a Locrit, chats and conversations, most recently updated
    /// first.
    pub async fn memory_sessions(&self, locrit: &Locrit) -> Result<Vec<Session>> {
        let query = SessionQuery {
            locrit_id: Some(locrit.id),
            ..SessionQuery::default()
        };
        Ok(self.store.sessions(&query).await?)
    }

    /// A Locrit's concepts, most mentioned first.
    pub async fn concepts(&self, locrit: &Locrit) -> Result<Vec<Concept>> {
        Ok(self.store.concepts(locrit.id).await?)
    }

    /// The concept with this name (and type, when given): the most mentioned one.
    pub async fn concept_named(
        &self,
        locrit: &Locrit,
        name: &str,
        kind: Option<&str>,
    ) -> Result<Concept> {
        self.concepts(locrit)
            .await?
            .into_iter()
            .find(|c| c.name == name && kind.is_none_or(|k| c.kind == k))
            .ok_or(Error::NotFound("concept"))
    }

    /// A concept, where it was mentioned and what it relates to.
    pub async fn concept_details(
        &self,
        locrit: &Locrit,
        name: &str,
        kind: Option<&str>,
    ) -> Result<ConceptDetails> {
        let concept = self.concept_named(locrit, name, kind).await?;
        let context_examples = self
            .store
            .search_messages(locrit.id, &concept.name, CONTEXT_EXAMPLES)
            .await?;
        let related = self.store.concept_neighbours(concept.id).await?;
        Ok(ConceptDetails {
            concept,
            context_examples,
            related,
        })
    }

    /// The concepts reachable from the named one in at most `depth` relations (1 to
    /// [`MAX_RELATION_DEPTH`]), nearest first, each once, with the relation that reached it.
    pub async fn related_concepts(
        &self,
        locrit: &Locrit,
        name: &str,
        depth: u32,
    ) -> Result<(Concept, Vec<(Concept, String)>)> {
        let start = self.concept_named(locrit, name, None).await?;
        self.related_from(start, depth).await
    }

    /// The same as [`related_concepts`](Self::related_concepts), from a concept's id.
    pub async fn related_concepts_of(
        &self,
        locrit: &Locrit,
        id: Uuid,
        depth: u32,
    ) -> Result<(Concept, Vec<(Concept, String)>)> {
        let start = self
            .concepts(locrit)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(Error::NotFound("concept"))?;
        self.related_from(start, depth).await
    }

    async fn related_from(
        &self,
        start: Concept,
        depth: u32,
    ) -> Result<(Concept, Vec<(Concept, String)>)> {
        let mut seen = std::collections::HashSet::from([start.id]);
        let mut frontier = vec![start.id];
        let mut related = Vec::new();
        for _ in 0..depth.clamp(1, MAX_RELATION_DEPTH) {
            let mut next = Vec::new();
            for id in frontier {
                for (concept, relation) in self.store.concept_neighbours(id).await? {
                    if seen.insert(concept.id) {
                        next.push(concept.id);
                        related.push((concept, relation));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok((start, related))
    }

    /// Changes a concept's name, description or confidence (from 0 to 1).
    pub async fn update_concept(
        &self,
        locrit: &Locrit,
        id: Uuid,
        changes: &ConceptChanges,
    ) -> Result<Concept> {
        if changes.is_empty() {
            return Err(ValidationError::new("concept", "nothing to change").into());
        }
        if changes.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ValidationError::new("name", "must not be empty").into());
        }
        if changes
            .confidence
            .is_some_and(|c| !(0.0..=1.0).contains(&c))
        {
            return Err(ValidationError::new("confidence", "must be between 0.0 and 1.0").into());
        }
        match self.store.update_concept(locrit.id, id, changes).await {
            Ok(Some(concept)) => {
                self.events.publish(Event::ConceptsChanged {
                    locrit_id: locrit.id,
                });
                Ok(concept)
            }
            Ok(None) => Err(Error::NotFound("concept")),
            Err(locrit_store::StoreError::Conflict(_)) => Err(Error::Conflict(
                "a concept with this name and type already exists".into(),
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes a concept and its relations.
    pub async fn delete_concept(&self, locrit: &Locrit, id: Uuid) -> Result<()> {
        if !self.store.delete_concept(locrit.id, id).await? {
            return Err(Error::NotFound("concept"));
        }
        self.events.publish(Event::ConceptsChanged {
            locrit_id: locrit.id,
        });
        Ok(())
    }

    /// Wipes a Locrit's whole memory (sessions, messages, memories, concepts) at once;
    /// the Locrit and its settings stay.
    pub async fn clear_memory(&self, locrit: &Locrit) -> Result<()> {
        self.store.clear_memory(locrit.id).await?;
        self.events.publish(Event::MemoryCleared {
            locrit_id: locrit.id,
        });
        Ok(())
    }

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
}
