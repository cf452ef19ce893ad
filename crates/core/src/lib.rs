//! What Locrit does, whatever the transport. Every HTTP surface, the Socket.IO server and
//! the CLI call these operations; none of them talks to the store on its own.

mod activity;
pub mod chat;
mod config;
mod error;
pub mod events;
mod import;
mod locrits;
mod memory;
mod ollama;
mod sessions;

use std::sync::Arc;

use locrit_store::Store;

pub use activity::{DayActivity, MAX_ACTIVITY_DAYS};
pub use config::{DEFAULT_OLLAMA_URL, GlobalConfig, GlobalConfigChanges, OllamaSettings};
pub use error::{Error, Result};
pub use import::{ImportOutcome, ImportReport, ImportedLocrit};
pub use memory::{ConceptDetails, MAX_RELATION_DEPTH, MemorySummary, SUMMARY_ITEMS};
pub use sessions::NewSessionSpec;

/// The running Locrit service: its store and what it needs to act on it.
#[derive(Clone)]
pub struct Core {
    store: Arc<dyn Store>,
    chat: Arc<chat::ChatState>,
    events: Arc<events::EventBus>,
    config_cache: Arc<config::ConfigCache>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            chat: Arc::default(),
            events: Arc::default(),
            config_cache: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
