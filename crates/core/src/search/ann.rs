//! Approximate nearest neighbours over one Locrit's embeddings for one model.
//!
//! An HNSW graph ([`hnsw_rs`]: pure Rust, so no C++ toolchain in the build, with
//! inserts through `&self` that run while searches do, and parallel bulk inserts for
//! the first build). It lives in memory, is built from the store on first use, and
//! catches up with the store before each search, so vectors written by the embedding
//! worker (or by another server sharing the PostgreSQL store) are found. The graph
//! cannot remove points: a deleted or re-embedded row leaves a stale point behind,
//! which is harmless because every candidate is checked against the store (the source
//! of truth) and re-scored with its stored vector. A restart rebuilds a clean graph.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use hnsw_rs::prelude::{DistL2, Hnsw};
use locrit_store::{ItemRef, StoredVector};

/// Links per node and layer: 16 is HNSW's usual choice for recall ≥ 0.9 at top 10.
const MAX_CONNECTIONS: usize = 16;
const MAX_LAYERS: usize = 16;
/// Candidates examined per insert; higher builds a better graph, more slowly.
const EF_CONSTRUCTION: usize = 100;
/// Vectors stored within this long before the newest one already seen are read again
/// on catch-up: writers' clocks (several servers) and commit order may differ that much.
const CATCH_UP_MARGIN_SECONDS: i64 = 60;

pub(crate) struct AnnIndex {
    /// Vectors are normalised on insert, so L2 distance orders them as cosine does.
    graph: Hnsw<'static, f32, DistL2>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    dim: Option<usize>,
    /// Graph data id → the item it stands for.
    points: Vec<ItemRef>,
    /// When each item's newest inserted vector was stored.
    stored_at: HashMap<ItemRef, DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
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
        }
    }

    /// From when the store must be read to catch up (`None`: everything).
    pub(crate) fn catch_up_since(&self) -> Option<DateTime<Utc>> {
        let state = self.state.lock().expect("ann state");
        state
            .newest
            .map(|at| at - Duration::seconds(CATCH_UP_MARGIN_SECONDS))
    }

    /// Adds vectors not in the graph yet (or newer than the one it has), in parallel.
    /// Vectors of another dimension than the first one are skipped.
    pub(crate) fn add(&self, vectors: Vec<StoredVector>) {
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
                state.newest = state.newest.max(Some(stored.created_at));
                state.stored_at.insert(stored.item, stored.created_at);
                fresh.push((vector, state.points.len()));
                state.points.push(stored.item);
            }
        }
        match fresh.len() {
            0 => {}
            1 => self.graph.insert((fresh[0].0.as_slice(), fresh[0].1)),
            _ => {
                let refs: Vec<(&Vec<f32>, usize)> = fresh.iter().map(|(v, id)| (v, *id)).collect();
                self.graph.parallel_insert(&refs);
            }
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

    /// About the `k` items nearest to `query`, nearest first (an item may appear twice
    /// when it was re-embedded).
    pub(crate) fn nearest(&self, query: &[f32], k: usize) -> Vec<ItemRef> {
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
            .filter_map(|n| state.points.get(n.d_id).copied())
            .collect()
    }
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

/// Cosine similarity of two vectors of one length (0 when either is zero).
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms == 0.0 { 0.0 } else { dot / norms }
}

#[cfg(test)]
mod tests {
    use locrit_store::ItemKind;
    use uuid::Uuid;

    use super::*;

    /// A deterministic pseudo-random generator (xorshift), so the test is repeatable.
    fn random_vectors(count: usize, dim: usize, mut seed: u64) -> Vec<Vec<f32>> {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 20_000) as f32 / 10_000.0 - 1.0
        };
        (0..count).map(|_| (0..dim).map(|_| next()).collect()).collect()
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
            hits += found.iter().filter(|i| truth.contains(i)).count();
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
        assert_eq!(index.nearest(&[0.0, 2.0], 1), [item]);
        assert!(index.nearest(&[0.0, 0.0], 1).is_empty());
        assert!(index.nearest(&[1.0, 0.0, 0.0], 1).is_empty());
        assert_eq!(index.catch_up_since(), Some(at + Duration::seconds(1) - Duration::seconds(60)));
    }
}
