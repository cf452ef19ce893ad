//! The keyword half of a search: the store's full-text index, asked so that the words
//! most rows hold cost little. Where weighing a word reads the list of every row that
//! holds it (SQLite's bm25), on every query (at a million rows, tens of milliseconds
//! for a word in half of them, for next to no weight), an every-word search weighs the
//! rarer words only. How many rows hold each word is read from the index and kept a
//! minute.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use locrit_domain::Locrit;
use locrit_store::{KEYWORD_WINDOW, KeywordQuery, SearchItem};

use super::SearchQuery;
use super::snippet::holds_every;
use crate::{Core, Result};

/// A store this small is searched whole in no time: every word is kept and weighed.
const COMMON_TERMS_FROM_ROWS: u64 = 1_000;
/// A word held by more than this share of the rows is common: an every-word search
/// checks it on the texts the other words found rather than weigh it (its weight in
/// bm25 is then under a third of a rare word's).
const COMMON_SHARE: u64 = 8;
/// How long a count of rows is trusted: a word does not turn rare in a minute.
const TERM_ROWS_FRESH: Duration = Duration::from_secs(60);
/// Counts kept at most (recent words); past this the cache starts again.
const TERM_ROWS_KEPT: usize = 10_000;

/// Row counts of the full-text index, as of when they were read.
#[derive(Default)]
pub(super) struct TermRowsCache {
    total: Option<(u64, Instant)>,
    terms: HashMap<String, (u64, Instant)>,
}

impl Core {
    /// The best `wanted` keyword matches of `terms` for `query`.
    pub(super) async fn keyword_search(
        &self,
        locrit: &Locrit,
        query: &SearchQuery,
        terms: &[String],
        wanted: usize,
    ) -> Result<Vec<SearchItem>> {
        let mut keyword = KeywordQuery {
            terms: terms.to_vec(),
            any: query.any_word,
            filter: query.filter.clone(),
            limit: wanted as u32,
            offset: 0,
            by_recency: false,
        };
        if query.any_word {
            keyword.terms = self.informative_terms(keyword.terms).await;
            return Ok(self.store.keyword_search(locrit.id, &keyword).await?);
        }
        if !self.store.weighing_reads_every_row() {
            return Ok(self.store.keyword_search(locrit.id, &keyword).await?);
        }
        let (weighed, common) = self.split_common_terms(keyword.terms).await;
        if common.is_empty() || weighed.is_empty() {
            // Every word common: the newest rows holding them all.
            keyword.by_recency = weighed.is_empty();
            keyword.terms = [weighed, common].concat();
            return Ok(self.store.keyword_search(locrit.id, &keyword).await?);
        }
        // The rows the weighed words find, best first, then those holding the others.
        keyword.terms = weighed;
        keyword.limit = KEYWORD_WINDOW.max(keyword.limit);
        let found = self.store.keyword_search(locrit.id, &keyword).await?;
        Ok(found
            .into_iter()
            .filter(|item| holds_every(&item.content, &common))
            .take(wanted)
            .collect())
    }

    /// The terms of an any-word query without those most rows hold: bm25 gives a word
    /// in more than half the rows no weight (ts_rank does not weigh words at all), yet
    /// each would make the query score every row holding it, and recall asks on every
    /// turn. Kept whole when the counts cannot be read.
    async fn informative_terms(&self, terms: Vec<String>) -> Vec<String> {
        self.split_by_rows(terms, 2).await.0
    }

    /// The terms of an every-word query, split into those to weigh and the common ones
    /// (more than one row in [`COMMON_SHARE`]). All weighed when the counts cannot be
    /// read.
    async fn split_common_terms(&self, terms: Vec<String>) -> (Vec<String>, Vec<String>) {
        self.split_by_rows(terms, COMMON_SHARE).await
    }

    /// `terms` split into those held by at most one row in `share` and the others;
    /// none of them counts as common in a store under [`COMMON_TERMS_FROM_ROWS`] rows,
    /// or when the counts cannot be read.
    async fn split_by_rows(&self, terms: Vec<String>, share: u64) -> (Vec<String>, Vec<String>) {
        match self.term_rows(&terms).await {
            Ok((total, per_term)) if total >= COMMON_TERMS_FROM_ROWS => {
                let (rare, common): (Vec<_>, Vec<_>) = terms
                    .into_iter()
                    .zip(per_term)
                    .partition(|(_, rows)| rows * share <= total);
                let words = |list: Vec<(String, u64)>| list.into_iter().map(|(t, _)| t).collect();
                (words(rare), words(common))
            }
            Ok(_) => (terms, Vec::new()),
            Err(error) => {
                tracing::warn!(%error, "could not count the rows of the query's words; taking none as common");
                (terms, Vec::new())
            }
        }
    }

    /// How many rows the full-text index holds, and how many hold each term: from the
    /// cache while fresh; the store is asked only for what the cache lacks (counting
    /// every row took 11 ms at a million, a rare word's well under one).
    async fn term_rows(&self, terms: &[String]) -> Result<(u64, Vec<u64>)> {
        let fresh = |at: &Instant| at.elapsed() < TERM_ROWS_FRESH;
        let keys: Vec<String> = terms.iter().map(|t| t.to_lowercase()).collect();
        let (total, mut per_term) = {
            let cache = self.search.term_rows.lock().expect("term rows");
            let total = cache.total.filter(|(_, at)| fresh(at)).map(|(n, _)| n);
            let per_term: Vec<Option<u64>> = keys
                .iter()
                .map(|k| {
                    cache
                        .terms
                        .get(k)
                        .filter(|(_, at)| fresh(at))
                        .map(|(n, _)| *n)
                })
                .collect();
            (total, per_term)
        };
        let total = match total {
            Some(total) => total,
            None => {
                let total = self.store.indexed_rows().await?;
                self.search.term_rows.lock().expect("term rows").total =
                    Some((total, Instant::now()));
                total
            }
        };
        let missing: Vec<String> = keys
            .iter()
            .zip(&per_term)
            .filter(|(_, rows)| rows.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        if !missing.is_empty() {
            let counted = self.store.term_rows(&missing).await?;
            let mut cache = self.search.term_rows.lock().expect("term rows");
            if cache.terms.len() + missing.len() > TERM_ROWS_KEPT {
                cache.terms.clear();
            }
            let now = Instant::now();
            let mut counted = missing.into_iter().zip(counted);
            for rows in per_term.iter_mut().filter(|rows| rows.is_none()) {
                if let Some((key, n)) = counted.next() {
                    cache.terms.insert(key, (n, now));
                    *rows = Some(n);
                }
            }
        }
        Ok((
            total,
            per_term
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
        ))
    }
}
