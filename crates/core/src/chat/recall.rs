//! Recall: what a turn brings into the prompt from beyond its own session. The Locrit's
//! pinned memories, then the current memories and the messages of its other sessions
//! most relevant to the new message (hybrid search), within a token budget, and only
//! what this caller may see ([`recall_scope`]). The ids of what was recalled are stored
//! with the reply: the "why" of an answer.

use std::time::Duration;

use locrit_domain::{Caller, Locrit, Memory, MemoryService, OtherSessions, Session, recall_scope};
use locrit_store::MemoryQuery;
use serde_json::{Value, json};
use uuid::Uuid;

use super::estimate_tokens;
use crate::search::{ItemKind, Kinds, SearchFilter, SearchHit, SearchMode, SearchQuery};
use crate::{Core, Result};

/// At most this share of the context window goes to recall…
const WINDOW_SHARE: u32 = 8;
/// …and never more than this many tokens.
const MAX_TOKENS: u32 = 1024;
/// Candidates asked of the search, per kind.
const CANDIDATES: u32 = 8;
/// Pinned memories always come first, at most this many.
const MAX_PINNED: u32 = 16;
/// Semantic search asks the embedding server for the message's vector: past this, the
/// turn goes on with keyword search alone rather than make the person wait.
const SEMANTIC_PATIENCE: Duration = Duration::from_millis(500);

/// What a turn recalled: the text for the prompt and the ids of its sources.
#[derive(Debug, Default)]
pub(crate) struct Recalled {
    pub text: Option<String>,
    pub memories: Vec<Uuid>,
    pub messages: Vec<Uuid>,
}

impl Recalled {
    /// The "why" stored with the reply.
    pub fn metadata(&self) -> Value {
        json!({"memories": self.memories, "messages": self.messages})
    }
}

/// Who is talking, as recall needs it.
pub(crate) struct Asker<'a> {
    pub caller: Caller,
    pub user_id: Option<&'a str>,
    pub session: &'a Session,
}

impl Core {
    /// What to recall for `text`. Failures of search are logged, not raised: a turn
    /// without recall is better than no turn.
    pub(crate) async fn recall(
        &self,
        locrit: &Locrit,
        asker: Asker<'_>,
        text: &str,
        window: u32,
    ) -> Recalled {
        match self.try_recall(locrit, asker, text, window).await {
            Ok(recalled) => recalled,
            Err(error) => {
                tracing::warn!(locrit = %locrit.name, %error, "recall failed; answering without it");
                Recalled::default()
            }
        }
    }

    async fn try_recall(
        &self,
        locrit: &Locrit,
        asker: Asker<'_>,
        text: &str,
        window: u32,
    ) -> Result<Recalled> {
        let scope = recall_scope(locrit, asker.caller);
        let mut recalled = Recalled::default();
        if locrit.memory_service == MemoryService::Disabled {
            return Ok(recalled);
        }
        let mut budget = (window / WINDOW_SHARE).min(MAX_TOKENS);
        let kinds = Kinds {
            messages: scope.other_sessions != OtherSessions::None,
            memories: scope.memories,
        };
        // The pinned memories are read while the search runs.
        let relevant = async {
            if kinds.messages || kinds.memories {
                self.relevant(locrit, text, kinds).await
            } else {
                Ok(Vec::new())
            }
        };
        let pinned = async {
            if !scope.memories {
                return Ok(Vec::new());
            }
            let pinned = MemoryQuery {
                current_only: true,
                pinned_only: true,
                limit: Some(MAX_PINNED),
                ..MemoryQuery::default()
            };
            Ok::<_, crate::Error>(self.store.memories(locrit.id, &pinned).await?)
        };
        let (relevant, pinned) = tokio::try_join!(relevant, pinned)?;
        let (relevant_memories, relevant_messages): (Vec<SearchHit>, Vec<SearchHit>) = relevant
            .into_iter()
            .partition(|hit| hit.kind == ItemKind::Memory);
        let mut facts = Vec::new();
        if scope.memories {
            let found = futures::future::try_join_all(
                relevant_memories
                    .iter()
                    .filter(|hit| pinned.iter().all(|m| m.id != hit.id))
                    .map(|hit| self.store.memory(locrit.id, hit.id)),
            )
            .await?;
            let mut candidates: Vec<Memory> = pinned;
            candidates.extend(found.into_iter().flatten().filter(Memory::is_current));
            for memory in candidates {
                let cost = estimate_tokens(&memory.content);
                if cost > budget {
                    continue;
                }
                budget -= cost;
                recalled.memories.push(memory.id);
                facts.push(format!("- {}", memory.content));
            }
        }
        let mut earlier = Vec::new();
        if scope.other_sessions != OtherSessions::None {
            for hit in relevant_messages {
                let Some(key) = hit.session_key.as_deref() else {
                    continue;
                };
                if key == asker.session.key
                    || !self
                        .may_recall_session(locrit, &asker, scope.other_sessions, key)
                        .await?
                {
                    continue;
                }
                let who = match hit.role {
                    Some(locrit_domain::Role::Assistant) => "you",
                    _ => "they",
                };
                let line = format!(
                    "- ({}) {who}: {}",
                    hit.created_at.format("%Y-%m-%d"),
                    hit.content
                );
                let cost = estimate_tokens(&line);
                if cost > budget {
                    continue;
                }
                budget -= cost;
                recalled.messages.push(hit.id);
                earlier.push(line);
            }
        }
        let mut sections = Vec::new();
        if !facts.is_empty() {
            sections.push(format!("What you remember:\n{}", facts.join("\n")));
        }
        if !earlier.is_empty() {
            sections.push(format!(
                "From your other conversations:\n{}",
                earlier.join("\n")
            ));
        }
        recalled.text = (!sections.is_empty()).then(|| sections.join("\n\n"));
        Ok(recalled)
    }

    /// The best matches among these kinds: hybrid search, or keyword alone when the
    /// embedding server is slow.
    async fn relevant(&self, locrit: &Locrit, text: &str, kinds: Kinds) -> Result<Vec<SearchHit>> {
        let query = SearchQuery {
            text: text.to_owned(),
            mode: SearchMode::Hybrid,
            filter: SearchFilter {
                kinds,
                ..SearchFilter::default()
            },
            any_word: true,
            limit: CANDIDATES * 2,
            offset: 0,
        };
        let results =
            match tokio::time::timeout(SEMANTIC_PATIENCE, self.search(locrit, &query)).await {
                Ok(results) => results?,
                Err(_) => {
                    let keyword = SearchQuery {
                        mode: SearchMode::Keyword,
                        ..query
                    };
                    self.search(locrit, &keyword).await?
                }
            };
        Ok(results.hits)
    }

    async fn may_recall_session(
        &self,
        locrit: &Locrit,
        asker: &Asker<'_>,
        allowed: OtherSessions,
        key: &str,
    ) -> Result<bool> {
        Ok(match allowed {
            OtherSessions::All => true,
            OtherSessions::None => false,
            OtherSessions::SameUser => match asker.user_id {
                Some(user) => self
                    .store
                    .session(locrit.id, key)
                    .await?
                    .is_some_and(|s| s.user_id.as_deref() == Some(user)),
                None => false,
            },
        })
    }
}
