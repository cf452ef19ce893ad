//! What Locrit does, whatever the transport. Every HTTP surface, the Socket.IO server and
//! the CLI call these operations; none of them talks to the store on its own.

mod activity;
mod archive;
mod auth;
mod backends;
pub mod chat;
mod client_conversations;
mod cluster;
mod config;
mod dialogues;
mod error;
pub mod events;
mod import;
pub mod jobs;
mod locrits;
mod memory;
mod ollama;
mod public;
pub mod search;
mod sessions;

use std::path::PathBuf;
use std::sync::Arc;

use locrit_store::Store;

pub use activity::{DayActivity, MAX_ACTIVITY_DAYS};
pub use archive::{ARCHIVE_FORMAT, ARCHIVE_VERSION, ArchiveCounts, ImportOptions};
pub use auth::{API_KEY_PREFIX, LOGIN_LIFETIME, NewApiKey, NewLogin, token_digest};
pub use backends::DefaultEngine;
pub use client_conversations::{ClientChat, ClientMessage, ClientTurn};
pub use config::{DEFAULT_OLLAMA_URL, GlobalConfig, GlobalConfigChanges, OllamaSettings};
pub use dialogues::{
    DIALOGUE_TURN, DialogueControl, NewContact, NewDialogue, PartnerRef, dialogue_session_key,
};
pub use error::{Error, Result};
pub use import::{ImportOutcome, ImportReport, ImportedLocrit};
pub use jobs::{Background, JobSettings};
pub use memory::{ConceptDetails, MAX_RELATION_DEPTH, MemorySummary, RecallSources, SUMMARY_ITEMS};
pub use public::{SharedHits, visitor_turn};
pub use sessions::NewSessionSpec;

/// The running Locrit service: its store and what it needs to act on it.
#[derive(Clone)]
pub struct Core {
    store: Arc<dyn Store>,
    chat: Arc<chat::ChatState>,
    events: Arc<events::EventBus>,
    config_cache: Arc<config::ConfigCache>,
    jobs: Arc<jobs::JobsState>,
    search: Arc<search::SearchState>,
    embedded: Arc<backends::EmbeddedState>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            chat: Arc::default(),
            events: Arc::default(),
            config_cache: Arc::default(),
            jobs: Arc::default(),
            search: Arc::default(),
            embedded: Arc::default(),
        }
    }

    /// Keeps the search indexes in `dir` between runs (see `search`), so that a
    /// restart loads them instead of building them from every vector.
    pub fn with_search_index_dir(mut self, dir: PathBuf) -> Self {
        self.search = Arc::new(search::SearchState::saved_in(dir));
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Checks the store's data (`locrit doctor`), repairing what is safe to repair
    /// (turns cut by a stopped server are settled: replies interrupted, questions
    /// unanswered).
    pub async fn doctor(&self, repair: bool) -> Result<Vec<locrit_store::Finding>> {
        if repair {
            self.settle_cut_turns().await?;
        }
        Ok(self.store.check(repair, locrit_domain::now()).await?)
    }
}
