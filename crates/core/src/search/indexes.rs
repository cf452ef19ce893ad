//! The ANN indexes of [`Core`]: one per (Locrit, model), loaded from their last save
//! or built by a task of their own on first use, caught up with the store before a
//! search, saved as they grow and at a stop, dropped with their Locrit.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use uuid::Uuid;

use super::INDEX_BUILDING;
use super::SearchState;
use super::ann::AnnIndex;
use crate::{Core, Result};

/// An index: `None` while its build (started by the first search that needs it) runs.
pub(super) type IndexSlot = watch::Receiver<Option<Arc<AnnIndex>>>;

/// How long a search waits for an index being built before it answers without it
/// (keyword hits, and the reason). A million vectors take minutes to index.
const INDEX_PATIENCE: Duration = Duration::from_secs(2);

/// A Locrit's index for a model, or why a search goes on without it.
pub(super) enum Index {
    Ready(Arc<AnnIndex>),
    Unready(&'static str),
}

/// Saves an index, saying in the log how it went; true if it wrote. An index dropped
/// meanwhile (its Locrit deleted, or another model chosen) is not saved: its files
/// would outlive it.
fn save(search: &SearchState, index: &AnnIndex, dir: &Path, locrit: Uuid, model: &str) -> bool {
    let key = (locrit, model.to_owned());
    if !search
        .indexes
        .lock()
        .expect("ann indexes")
        .contains_key(&key)
    {
        return false;
    }
    let started = Instant::now();
    match index.save(dir, locrit, model) {
        Ok(wrote) => {
            if wrote {
                tracing::info!(%locrit, vectors = index.len(), elapsed = ?started.elapsed(), "search index saved");
            }
            wrote
        }
        Err(error) => {
            tracing::warn!(%error, %locrit, "cannot save the search index: the next start builds it again");
            false
        }
    }
}

impl Core {
    /// The index of a Locrit's vectors for a model, brought up to date with the store,
    /// or why there is none yet. The build is a task of its own, started by the
    /// first search that needs it: a search that stops waiting (recall gives up after
    /// half a second) leaves it running for the next one.
    pub(super) async fn ann_index(&self, locrit_id: Uuid, model: &str) -> Result<Index> {
        let key = (locrit_id, model.to_owned());
        let (mut slot, build) = {
            let mut indexes = self.search.indexes.lock().expect("ann indexes");
            // Another model's index for this Locrit is obsolete.
            indexes.retain(|(locrit, m), _| *locrit != locrit_id || m == model);
            match indexes.get(&key) {
                Some(slot) => (slot.clone(), None),
                None => {
                    let (ready, slot) = watch::channel(None);
                    indexes.insert(key.clone(), slot.clone());
                    (slot, Some(ready))
                }
            }
        };
        if let Some(ready) = build {
            let core = self.clone();
            tokio::spawn(async move {
                match core.build_ann_index(locrit_id, &key.1).await {
                    Ok(index) => {
                        let _ = ready.send(Some(index));
                    }
                    Err(error) => {
                        // Forgotten, so that the next search tries again; its waiters
                        // see the build end without an index.
                        tracing::warn!(%error, locrit = %locrit_id, "could not build the search index");
                        core.search
                            .indexes
                            .lock()
                            .expect("ann indexes")
                            .remove(&key);
                    }
                }
            });
        }
        let index = match tokio::time::timeout(INDEX_PATIENCE, slot.wait_for(Option::is_some)).await
        {
            Ok(Ok(index)) => index.clone().expect("waited for an index"),
            Ok(Err(_)) => {
                return Ok(Index::Unready(
                    "the index of its vectors could not be built (see the server's log)",
                ));
            }
            Err(_) => {
                return Ok(Index::Unready(INDEX_BUILDING));
            }
        };
        if index.begin_catch_up_if_due() {
            let read_at = Utc::now();
            let fresh = self
                .store
                .embeddings(locrit_id, model, index.catch_up_since())
                .await?;
            if fresh.is_empty() {
                index.read_done(read_at);
            } else {
                let caught_up = index.clone();
                tokio::task::spawn_blocking(move || {
                    if caught_up.try_add(fresh) {
                        caught_up.read_done(read_at);
                    } else {
                        caught_up.mark_stale();
                    }
                })
                .await
                .expect("adding to the index does not panic");
                self.save_if_doubled(locrit_id, model, &index);
            }
        }
        Ok(Index::Ready(index))
    }

    /// Loads a Locrit's index for a model from its last save (or, with none usable,
    /// builds it from every vector stored), caught up with the store. A built index is
    /// saved before it is used, so that the next start loads it.
    async fn build_ann_index(&self, locrit_id: Uuid, model: &str) -> Result<Arc<AnnIndex>> {
        let started = Instant::now();
        let dir = self.search.index_dir.clone();
        let loaded = match dir.clone() {
            Some(dir) => {
                let model = model.to_owned();
                tokio::task::spawn_blocking(move || AnnIndex::load(&dir, locrit_id, &model))
                    .await
                    .expect("loading an index does not panic")
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, locrit = %locrit_id, "the saved search index cannot be used: building it again");
                        None
                    })
            }
            None => None,
        };
        let read_at = Utc::now();
        let since = loaded.as_ref().and_then(AnnIndex::catch_up_since);
        let vectors = self.store.embeddings(locrit_id, model, since).await?;
        let (search, model) = (self.search.clone(), model.to_owned());
        let index = tokio::task::spawn_blocking(move || {
            let built = loaded.is_none();
            let index = loaded.unwrap_or_else(|| AnnIndex::new(vectors.len()));
            let read = vectors.len();
            index.add(vectors);
            index.read_done(read_at);
            // Caught up by this very read: the next search need not read again.
            index.begin_catch_up_if_due();
            let how = if built { "built" } else { "loaded" };
            tracing::info!(locrit = %locrit_id, vectors = index.len(), read, elapsed = ?started.elapsed(), "search index {how}");
            if let Some(dir) = dir.filter(|_| built) {
                save(&search, &index, &dir, locrit_id, &model);
            }
            Arc::new(index)
        })
        .await
        .expect("building the index does not panic");
        Ok(index)
    }

    /// Saves, in the background, an index that has doubled since it was last saved.
    fn save_if_doubled(&self, locrit_id: Uuid, model: &str, index: &Arc<AnnIndex>) {
        if let Some(dir) = self.search.index_dir.clone()
            && index.ask_save_if_due()
        {
            let (search, index, model) = (self.search.clone(), index.clone(), model.to_owned());
            tokio::task::spawn_blocking(move || save(&search, &index, &dir, locrit_id, &model));
        }
    }

    /// Saves the indexes that gained vectors since they were loaded or last saved, so
    /// that the next start loads them instead of building them. For a server's stop,
    /// once searches have ended (a save holds inserts back). Returns how many it saved.
    pub async fn save_search_indexes(&self) -> usize {
        let Some(dir) = self.search.index_dir.clone() else {
            return 0;
        };
        let ready: Vec<((Uuid, String), Arc<AnnIndex>)> = {
            let indexes = self.search.indexes.lock().expect("ann indexes");
            indexes
                .iter()
                .filter_map(|(key, slot)| Some((key.clone(), slot.borrow().clone()?)))
                .collect()
        };
        let search = self.search.clone();
        tokio::task::spawn_blocking(move || {
            ready
                .iter()
                .filter(|((locrit, model), index)| save(&search, index, &dir, *locrit, model))
                .count()
        })
        .await
        .expect("saving indexes does not panic")
    }

    /// Drops a deleted Locrit's indexes, in memory and on disk.
    pub(crate) async fn forget_search_indexes(&self, locrit_id: Uuid) {
        self.search
            .indexes
            .lock()
            .expect("ann indexes")
            .retain(|(locrit, _), _| *locrit != locrit_id);
        if let Some(dir) = self.search.index_dir.clone() {
            let removed =
                tokio::task::spawn_blocking(move || AnnIndex::remove_saved(&dir, locrit_id)).await;
            if let Ok(Err(error)) = removed {
                tracing::warn!(%error, locrit = %locrit_id, "cannot remove a deleted Locrit's saved search index");
            }
        }
    }

    /// Vectors of this Locrit for `model` were stored here: a loaded index catches up
    /// before its next search.
    pub(crate) fn vectors_stored(&self, locrit_id: Uuid, model: &str) {
        let indexes = self.search.indexes.lock().expect("ann indexes");
        if let Some(slot) = indexes.get(&(locrit_id, model.to_owned()))
            && let Some(index) = &*slot.borrow()
        {
            index.mark_stale();
        }
    }
}
