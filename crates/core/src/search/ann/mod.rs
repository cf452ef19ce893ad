//! Approximate nearest neighbours over one Locrit's embeddings for one model.
//!
//! An HNSW graph ([`hnsw_rs`]: pure Rust, so no C++ toolchain in the build, with
//! inserts through `&self` that run while searches do, and parallel bulk inserts for
//! the first build). It lives in memory, is built from the store on first use (by a
//! task of its own: `Core::ann_index`), and catches up with the store before each
//! search, so vectors written by the embedding worker (or by another server sharing the
//! PostgreSQL store) are found. The graph
//! cannot remove points: a deleted or re-embedded row leaves a stale point behind,
//! which is harmless because every candidate is checked against the store (the source
//! of truth): a point counts only while the item's stored vector is still the one it
//! was made of (same time stored). The graph is saved to disk when first built, each
//! time it has doubled, and when the server stops ([`file`]), so a restart loads it and
//! catches up instead of building it again.
//!
//! Catching up reads every vector of the last seconds again, so it is not done before
//! every search: only once this server's embedding worker has stored vectors since the
//! last catch-up ([`AnnIndex::mark_stale`]), or when [`CATCH_UP_EVERY`] has passed (for
//! other servers' writes and imports). Under chat load, where every turn searches, this
//! keeps that read off most turns.

mod file;

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use hnsw_rs::prelude::{DistL2, Hnsw};
use locrit_store::{ItemRef, StoredVector};

/// Links per node and layer: 16 is HNSW's usual choice for recall ≥ 0.9 at top 10.
const MAX_CONNECTIONS: usize = 16;
const MAX_LAYERS: usize = 16;
/// Candidates examined per insert; higher builds a better graph, more slowly (40 keeps
/// recall@10 above 0.9 at a third of the build time of 100).
const EF_CONSTRUCTION: usize = 40;
/// A catch-up reads the vectors stored since this long before the previous read began:
/// a commit may land after a later read began, and servers' clocks (kept by NTP) may
/// differ a little. Every vector in this window is read again by each catch-up.
const CATCH_UP_MARGIN_SECONDS: i64 = 5;
/// Vectors stored by other servers (or by an import) are found at most this long after
/// they were stored.
pub(crate) const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// A graph growing while the server runs is saved again each time it has doubled, from
/// this many points (smaller ones build in seconds): all saves together write about
/// twice the last one, and a crash loses at most half of what a restart reloads.
const SAVE_AGAIN_FROM: usize = 10_000;

pub(crate) struct AnnIndex {
    /// Vectors are normalised on insert, so L2 distance orders them as cosine does.
    graph: Hnsw<'static, f32, DistL2>,
    state: Mutex<State>,
    /// Held shared by inserts and exclusively by a save: a graph written while points
    /// are inserted could link to points its file lacks.
    inserting: RwLock<()>,
}

#[derive(Default)]
struct State {
    dim: Option<usize>,
    /// Graph data id → the item it stands for, and when its vector was stored.
    points: Vec<(ItemRef, DateTime<Utc>)>,
    /// When each item's newest inserted vector was stored.
    stored_at: HashMap<ItemRef, DateTime<Utc>>,
    /// When the last read of the store began.
    read_at: Option<DateTime<Utc>>,
    /// When the last catch-up began, on this server's clock.
    caught_up: Option<Instant>,
    /// This server stored vectors since then.
    stale: bool,
    /// How many points the graph had when it was last saved or loaded.
    saved: usize,
    /// A save was asked for and has not begun.
    save_asked: bool,
}

impl AnnIndex {
    pub(crate) fn new(expected: usize) -> Self {
        Self {
            graph: Hnsw::new(
                MAX_CONNECTIONS,
                expected.max(1_000),
                MAX_LAYERS,
                EF_CONSTRUCTION,
                DistL2,
            ),
            state: Mutex::default(),
            inserting: RwLock::default(),
        }
    }

    /// From when the store must be read to catch up (`None`: everything).
    pub(crate) fn catch_up_since(&self) -> Option<DateTime<Utc>> {
        let state = self.state.lock().expect("ann state");
        state
            .read_at
            .map(|at| at - Duration::seconds(CATCH_UP_MARGIN_SECONDS))
    }

    /// True when a search should catch up with the store first; if so, the catch-up
    /// counts as begun (a later [`mark_stale`](Self::mark_stale) makes the next one due).
    pub(crate) fn begin_catch_up_if_due(&self) -> bool {
        let mut state = self.state.lock().expect("ann state");
        let due = state.stale
            || state
                .caught_up
                .is_none_or(|at| at.elapsed() >= CATCH_UP_EVERY);
        if due {
            state.stale = false;
            state.caught_up = Some(Instant::now());
        }
        due
    }

    /// This server stored vectors for the index: the next search catches up.
    pub(crate) fn mark_stale(&self) {
        self.state.lock().expect("ann state").stale = true;
    }

    /// Records that what the store held when a read began at `at` is in the graph.
    pub(crate) fn read_done(&self, at: DateTime<Utc>) {
        let mut state = self.state.lock().expect("ann state");
        state.read_at = state.read_at.max(Some(at));
    }

    /// Adds vectors not in the graph yet (or newer than the one it has). One by one:
    /// `hnsw_rs`'s parallel insert measured 2.6 times slower on this project's 2 cores.
    /// Vectors of another dimension than the first one are skipped.
    pub(crate) fn add(&self, vectors: Vec<StoredVector>) {
        let _inserting = self.inserting.read().expect("ann inserts");
        self.insert(vectors);
    }

    /// Adds vectors as [`add`](Self::add) does, unless the graph is being saved:
    /// then it adds nothing and returns false (the next catch-up reads them again)
    /// rather than holding a search up until the save ends.
    pub(crate) fn try_add(&self, vectors: Vec<StoredVector>) -> bool {
        let Ok(_inserting) = self.inserting.try_read() else {
            return false;
        };
        self.insert(vectors);
        true
    }

    /// True once each time the graph has doubled since it was last saved or loaded
    /// (from [`SAVE_AGAIN_FROM`] points): the caller then saves it.
    pub(crate) fn ask_save_if_due(&self) -> bool {
        let mut state = self.state.lock().expect("ann state");
        let due = !state.save_asked && state.points.len() >= SAVE_AGAIN_FROM.max(2 * state.saved);
        state.save_asked |= due;
        due
    }

    fn insert(&self, vectors: Vec<StoredVector>) {
        let mut fresh: Vec<(Vec<f32>, usize)> = Vec::new();
        {
            let mut state = self.state.lock().expect("ann state");
            for stored in vectors {
                if state.stored_at.get(&stored.item) >= Some(&stored.created_at) {
                    continue;
                }
                let dim = *state.dim.get_or_insert(stored.vector.len());
                let Some(vector) = normalised(stored.vector).filter(|v| v.len() == dim) else {
                    continue;
                };
                state.stored_at.insert(stored.item, stored.created_at);
                fresh.push((vector, state.points.len()));
                state.points.push((stored.item, stored.created_at));
            }
        }
        for (vector, id) in &fresh {
            self.graph.insert((vector.as_slice(), *id));
        }
    }

    /// The dimension of the vectors indexed, once there is one.
    pub(crate) fn dim(&self) -> Option<usize> {
        self.state.lock().expect("ann state").dim
    }

    /// How many vectors the graph holds (stale ones included).
    pub(crate) fn len(&self) -> usize {
        self.state.lock().expect("ann state").points.len()
    }

    /// About the `k` points nearest to `query`, nearest first (an item may appear twice
    /// when it was re-embedded: the point of its current vector is the one whose
    /// `stored_at` the store still has).
    pub(crate) fn nearest(&self, query: &[f32], k: usize) -> Vec<Near> {
        let Some(query) = normalised(query.to_vec()) else {
            return Vec::new();
        };
        if self.dim() != Some(query.len()) || k == 0 {
            return Vec::new();
        }
        let ef = (2 * k).max(64);
        let found = self.graph.search(&query, k, ef);
        let state = self.state.lock().expect("ann state");
        found
            .into_iter()
            .filter_map(|n| {
                let &(item, stored_at) = state.points.get(n.d_id)?;
                // Both vectors have length 1: |a - b|² = 2 - 2 cos(a, b).
                let cosine = 1.0 - n.distance * n.distance / 2.0;
                Some(Near {
                    item,
                    stored_at,
                    cosine,
                })
            })
            .collect()
    }
}

/// A point found near a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Near {
    pub item: ItemRef,
    /// When the vector of this point was stored.
    pub stored_at: DateTime<Utc>,
    /// Its cosine similarity with the query.
    pub cosine: f32,
}

/// `vector` scaled to length 1; `None` for a zero or non-finite vector.
pub(crate) fn normalised(mut vector: Vec<f32>) -> Option<Vec<f32>> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    vector.iter_mut().for_each(|x| *x /= norm);
    Some(vector)
}

#[cfg(test)]
mod tests {
    use locrit_store::ItemKind;
    use uuid::Uuid;

    use super::*;

    /// Cosine similarity of two vectors of one length (0 when either is zero).
    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt()
            * b.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norms == 0.0 { 0.0 } else { dot / norms }
    }

    /// A deterministic pseudo-random generator (xorshift), so the test is repeatable.
    pub(super) fn random_vectors(count: usize, dim: usize, mut seed: u64) -> Vec<Vec<f32>> {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 20_000) as f32 / 10_000.0 - 1.0
        };
        (0..count)
            .map(|_| (0..dim).map(|_| next()).collect())
            .collect()
    }

    #[test]
    fn recall_at_10_against_brute_force() {
        let dim = 32;
        let vectors = random_vectors(4_000, dim, 0x9e37_79b9_7f4a_7c15);
        let items: Vec<ItemRef> = (0..vectors.len())
            .map(|_| ItemRef {
                kind: ItemKind::Message,
                id: Uuid::now_v7(),
            })
            .collect();
        let index = AnnIndex::new(vectors.len());
        let at = Utc::now();
        index.add(
            vectors
                .iter()
                .zip(&items)
                .map(|(v, item)| StoredVector {
                    item: *item,
                    vector: v.clone(),
                    created_at: at,
                })
                .collect(),
        );
        assert_eq!(index.len(), vectors.len());
        let queries = random_vectors(100, dim, 42);
        let mut hits = 0;
        for query in &queries {
            let mut exact: Vec<(f32, ItemRef)> = vectors
                .iter()
                .zip(&items)
                .map(|(v, item)| (cosine(query, v), *item))
                .collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let truth: Vec<ItemRef> = exact.iter().take(10).map(|(_, i)| *i).collect();
            let found = index.nearest(query, 10);
            hits += found.iter().filter(|n| truth.contains(&n.item)).count();
            for near in &found {
                let v = &vectors[items.iter().position(|i| *i == near.item).unwrap()];
                let exact = cosine(query, v);
                assert!(
                    (near.cosine - exact).abs() < 1e-4,
                    "the score is the cosine: {} vs {exact}",
                    near.cosine
                );
            }
        }
        let recall = hits as f64 / (queries.len() * 10) as f64;
        assert!(recall >= 0.9, "recall@10 = {recall}");
    }

    #[test]
    fn newer_vectors_replace_and_other_dimensions_are_skipped() {
        let index = AnnIndex::new(10);
        let item = ItemRef {
            kind: ItemKind::Memory,
            id: Uuid::now_v7(),
        };
        let at = Utc::now();
        let stored = |vector: Vec<f32>, created_at| StoredVector {
            item,
            vector,
            created_at,
        };
        index.add(vec![stored(vec![1.0, 0.0], at)]);
        index.add(vec![stored(vec![1.0, 0.0], at)]);
        assert_eq!(index.len(), 1, "the same vector is not added twice");
        index.add(vec![stored(vec![0.0, 1.0], at + Duration::seconds(1))]);
        assert_eq!(index.len(), 2, "a re-embedded row is added again");
        index.add(vec![stored(vec![1.0, 0.0, 0.0], at + Duration::seconds(2))]);
        assert_eq!(index.len(), 2);
        let near = index.nearest(&[0.0, 2.0], 1);
        assert_eq!(
            (near[0].item, near[0].stored_at),
            (item, at + Duration::seconds(1)),
            "the newer vector's point"
        );
        assert!(index.nearest(&[0.0, 0.0], 1).is_empty());
        assert!(index.nearest(&[1.0, 0.0, 0.0], 1).is_empty());
        assert_eq!(index.catch_up_since(), None);
        index.read_done(at);
        assert_eq!(index.catch_up_since(), Some(at - Duration::seconds(5)));
    }

    #[test]
    fn a_catch_up_is_due_once_stale_or_after_its_interval() {
        let index = AnnIndex::new(10);
        assert!(index.begin_catch_up_if_due(), "never caught up");
        assert!(!index.begin_catch_up_if_due(), "just caught up");
        index.mark_stale();
        assert!(index.begin_catch_up_if_due(), "this server stored vectors");
        assert!(!index.begin_catch_up_if_due());
        std::thread::sleep(CATCH_UP_EVERY);
        assert!(index.begin_catch_up_if_due(), "other servers' vectors");
    }
}
