//! Search over a Locrit's messages and memories: keyword (the store's full-text
//! index), semantic (embeddings from the Locrit's Ollama server, an in-memory HNSW
//! index), and hybrid (both lists fused by reciprocal rank fusion). [`Core::search`] is
//! the one entry point: every transport and the recall of memories into the prompt
//! call it.
//!
//! - [`ann`]: the approximate-nearest-neighbour index per (Locrit, model).
//! - [`indexes`]: those indexes' lives: loaded or built, caught up, saved, dropped.
//! - [`keyword`]: the keyword half, and how common each word is.
//! - [`embedder`]: the background worker that computes missing embeddings.
//! - [`snippet`]: the HTML-safe highlighted snippets.

mod ann;
mod embedder;
mod indexes;
mod keyword;
mod snippet;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use locrit_domain::{Locrit, MemoryService, Role, ValidationError};
use locrit_llm::Timeouts;
use locrit_store::{ItemRef, SearchItem, query_terms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Core, Result};
use indexes::{Index, IndexSlot};
use keyword::TermRowsCache;

pub use locrit_store::{ItemKind, Kinds, SearchFilter};

/// Most hits in one page.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// Deepest a search pages: offset + limit beyond this is refused.
pub const MAX_SEARCH_DEPTH: u32 = 1_000;
/// The `k` of reciprocal rank fusion: each list contributes `1 / (k + rank)`.
const RRF_K: f64 = 60.0;
/// How long asking the embedding server for a query's vector may take.
const QUERY_EMBED_TIMEOUT: Duration = Duration::from_secs(10);

/// How hits are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// The words of the query, ranked by the full-text index.
    Keyword,
    /// Closeness in meaning, from embeddings.
    Semantic,
    /// Both, fused; keyword alone when semantic search is unavailable.
    #[default]
    Hybrid,
}

/// A search of one Locrit's memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    pub text: String,
    pub mode: SearchMode,
    pub filter: SearchFilter,
    /// Keyword search: any word may match (for recall, where the query is a whole
    /// message), leaving out the words most rows hold; by default every word must.
    pub any_word: bool,
    /// From 1 to [`MAX_SEARCH_LIMIT`].
    pub limit: u32,
    pub offset: u32,
}

/// One message or memory found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchHit {
    /// `message` or `memory`.
    #[schema(value_type = String)]
    pub kind: ItemKind,
    pub id: Uuid,
    /// The message's session; `None` for a memory.
    pub session_key: Option<String>,
    pub role: Option<Role>,
    pub content: String,
    /// HTML-safe: the text is escaped and the query's words are in `<mark>` tags.
    pub snippet: String,
    /// Higher is better; comparable within one answer only (bm25 or ts_rank for
    /// keyword, cosine similarity for semantic, the fused score for hybrid).
    pub score: f64,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// Whether semantic search took part, and if not, why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SemanticStatus {
    pub available: bool,
    /// The embedding model asked.
    pub model: String,
    /// Why it is unavailable (the embedding server's error, a dimension mismatch…).
    pub reason: Option<String>,
    /// Vectors in the Locrit's index (the worker may still be computing others).
    pub indexed: usize,
}

/// A page of hits.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// `None` in keyword mode, where it is not asked.
    pub semantic: Option<SemanticStatus>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u32>,
}

/// Why a search went on without semantic hits while the index is first built.
pub const INDEX_BUILDING: &str =
    "the index of its vectors is being built; until then, keyword hits only";

/// The ANN indexes, one per (Locrit, model), and the row counts of recent terms.
#[derive(Default)]
pub(crate) struct SearchState {
    indexes: Mutex<HashMap<(Uuid, String), IndexSlot>>,
    /// Where indexes are saved between runs (none: rebuilt at every start).
    index_dir: Option<PathBuf>,
    term_rows: Mutex<TermRowsCache>,
}

impl SearchState {
    pub(crate) fn saved_in(dir: PathBuf) -> Self {
        Self {
            index_dir: Some(dir),
            ..Self::default()
        }
    }
}

impl Core {
    /// Searches a Locrit's messages and memories. The caller decides who may search
    /// (the routes check the Locrit's `access_to`). A Locrit whose memory is switched
    /// off finds nothing.
    pub async fn search(&self, locrit: &Locrit, query: &SearchQuery) -> Result<SearchResults> {
        validate(query)?;
        let terms = query_terms(&query.text);
        let wanted = (query.offset + query.limit + 1) as usize;
        let empty = SearchResults {
            hits: Vec::new(),
            semantic: None,
            next_offset: None,
        };
        if locrit.memory_service == MemoryService::Disabled || query.text.trim().is_empty() {
            return Ok(empty);
        }

        // Side by side: the full-text query (and the count of its words' rows) runs
        // while the query is embedded.
        let keyword = async {
            if query.mode == SearchMode::Semantic {
                return Ok(Vec::new());
            }
            self.keyword_search(locrit, query, &terms, wanted).await
        };
        let semantic = async {
            if query.mode == SearchMode::Keyword {
                return Ok((Vec::new(), None));
            }
            let (found, status) = self.semantic_search(locrit, query, wanted).await?;
            Ok::<_, crate::Error>((found, Some(status)))
        };
        let (keyword, (semantic, status)) = tokio::try_join!(keyword, semantic)?;

        let ranked = match query.mode {
            SearchMode::Keyword => keyword,
            SearchMode::Semantic => semantic,
            SearchMode::Hybrid => fuse(keyword, semantic),
        };
        let next_offset = (ranked.len() > (query.offset + query.limit) as usize)
            .then_some(query.offset + query.limit);
        let hits = ranked
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .map(|item| SearchHit {
                kind: item.item.kind,
                id: item.item.id,
                session_key: item.session_key,
                role: item.role,
                snippet: snippet::snippet(&item.content, &terms),
                content: item.content,
                score: item.score,
                created_at: item.created_at,
                edited_at: item.edited_at,
            })
            .collect();
        Ok(SearchResults {
            hits,
            semantic: status,
            next_offset,
        })
    }

    /// Up to `wanted` items nearest in meaning, scored by cosine similarity with their
    /// current vectors; unavailable (with the reason) when the query cannot be embedded.
    async fn semantic_search(
        &self,
        locrit: &Locrit,
        query: &SearchQuery,
        wanted: usize,
    ) -> Result<(Vec<SearchItem>, SemanticStatus)> {
        let (url, model) = self.embedding_target(locrit).await?;
        let mut status = SemanticStatus {
            available: false,
            model: model.clone(),
            reason: None,
            indexed: 0,
        };
        let client = self
            .llm_backend(
                &url,
                Timeouts {
                    connect: QUERY_EMBED_TIMEOUT,
                    request: QUERY_EMBED_TIMEOUT,
                    ..Timeouts::default()
                },
            )
            .await;
        let vector = match client
            .embed(&model, std::slice::from_ref(&query.text))
            .await
        {
            Ok(mut vectors) if !vectors.is_empty() => vectors.swap_remove(0),
            Ok(_) => {
                status.reason = Some(format!("{url} returned no embedding"));
                return Ok((Vec::new(), status));
            }
            Err(error) => {
                status.reason = Some(format!(
                    "the embedding model \"{model}\" on {url} failed: {error}"
                ));
                return Ok((Vec::new(), status));
            }
        };
        let index = match self.ann_index(locrit.id, &model).await? {
            Index::Ready(index) => index,
            Index::Unready(reason) => {
                status.reason = Some(reason.to_owned());
                return Ok((Vec::new(), status));
            }
        };
        status.indexed = index.len();
        if let Some(dim) = index.dim().filter(|d| *d != vector.len()) {
            status.reason = Some(format!(
                "the query's embedding has {} dimensions, the stored ones {dim}",
                vector.len()
            ));
            return Ok((Vec::new(), status));
        }
        status.available = true;

        // Over-fetch: some candidates are stale or filtered out.
        let near = index.nearest(&vector, (wanted * 4).max(40));
        let candidates: Vec<ItemRef> = near.iter().map(|n| n.item).collect();
        let (mut items, stored) = tokio::try_join!(
            self.store
                .search_items(locrit.id, &candidates, &query.filter),
            self.store.embedding_dates(locrit.id, &model, &candidates),
        )?;
        let stored: HashMap<ItemRef, DateTime<Utc>> = stored.into_iter().collect();
        // A point counts while the item's stored vector is the one it was made of: a
        // row edited since has none until it is embedded again, and is left out; a
        // row embedded again is found by its newer point.
        let scores: HashMap<ItemRef, f32> = near
            .iter()
            .filter(|n| stored.get(&n.item) == Some(&n.stored_at))
            .map(|n| (n.item, n.cosine))
            .collect();
        items.retain_mut(|item| match scores.get(&item.item) {
            Some(&cosine) => {
                item.score = f64::from(cosine);
                true
            }
            None => false,
        });
        items.sort_by(|a, b| b.score.total_cmp(&a.score));
        items.truncate(wanted);
        Ok((items, status))
    }

    /// The server and model that embed a Locrit's texts: its own server (the global
    /// one if it has none) and the server-wide embedding model (the embedded engine's
    /// own, for a Locrit on it).
    async fn embedding_target(&self, locrit: &Locrit) -> Result<(String, String)> {
        let config = self.global_config().await?;
        let url = locrit.ollama_url.clone().unwrap_or(config.ollama.base_url);
        let model = Self::embedding_model_for(&url, config.ollama.embedding_model);
        Ok((url, model))
    }
}

fn validate(query: &SearchQuery) -> Result<()> {
    if query.limit == 0 || query.limit > MAX_SEARCH_LIMIT {
        return Err(
            ValidationError::new("limit", format!("must be from 1 to {MAX_SEARCH_LIMIT}")).into(),
        );
    }
    if query.offset + query.limit > MAX_SEARCH_DEPTH {
        return Err(ValidationError::new(
            "cursor",
            format!("pages end at the {MAX_SEARCH_DEPTH}th hit"),
        )
        .into());
    }
    if let (Some(since), Some(until)) = (query.filter.since, query.filter.until)
        && since > until
    {
        return Err(ValidationError::new("since", "must not be after until").into());
    }
    Ok(())
}

/// Reciprocal rank fusion: each item scores `Σ 1 / (RRF_K + rank)` over the lists it
/// is in (rank from 1), best first; ties keep the keyword order.
fn fuse(keyword: Vec<SearchItem>, semantic: Vec<SearchItem>) -> Vec<SearchItem> {
    let mut fused: Vec<SearchItem> = Vec::with_capacity(keyword.len() + semantic.len());
    let mut position: HashMap<ItemRef, usize> = HashMap::new();
    for list in [keyword, semantic] {
        for (rank, mut item) in list.into_iter().enumerate() {
            let score = 1.0 / (RRF_K + rank as f64 + 1.0);
            match position.get(&item.item) {
                Some(&at) => fused[at].score += score,
                None => {
                    item.score = score;
                    position.insert(item.item, fused.len());
                    fused.push(item);
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u128) -> SearchItem {
        SearchItem {
            item: ItemRef {
                kind: ItemKind::Message,
                id: Uuid::from_u128(n),
            },
            locrit_id: Uuid::nil(),
            session_key: None,
            role: None,
            content: String::new(),
            created_at: Utc::now(),
            edited_at: None,
            score: 0.0,
        }
    }

    #[test]
    fn fusion_favours_items_in_both_lists() {
        let keyword = vec![item(1), item(2), item(3)];
        let semantic = vec![item(4), item(3), item(5)];
        let fused: Vec<u128> = fuse(keyword, semantic)
            .iter()
            .map(|i| i.item.id.as_u128())
            .collect();
        assert_eq!(fused, [3, 1, 4, 2, 5]);
    }
}
