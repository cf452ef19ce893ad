//! Search in the store: ranked keyword search over messages and memories (SQLite FTS5,
//! PostgreSQL full text) and the stored embeddings that semantic search is built from.
//!
//! The store is the source of truth for both: the full-text indexes are kept in step by
//! the database itself (triggers, generated columns), and the embeddings live in tables
//! whose rows go away with the message or memory they describe.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use locrit_domain::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

/// Most words of a query that are searched; the rest are ignored (a pasted 10 KB text
/// must not become a 10 KB full-text query).
pub const MAX_QUERY_TERMS: usize = 32;
/// Longest word searched, in characters.
const MAX_TERM_CHARS: usize = 64;

/// What a search hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Message,
    Memory,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Message => "message",
            ItemKind::Memory => "memory",
        }
    }

    /// The table of these rows.
    pub(crate) fn table(self) -> &'static str {
        match self {
            ItemKind::Message => "messages",
            ItemKind::Memory => "memories",
        }
    }

    pub(crate) fn embeddings_table(self) -> &'static str {
        match self {
            ItemKind::Message => "message_embeddings",
            ItemKind::Memory => "memory_embeddings",
        }
    }
}

/// A message or a memory, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    pub kind: ItemKind,
    pub id: Uuid,
}

/// Which kinds of rows a search covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub messages: bool,
    pub memories: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Self {
            messages: true,
            memories: true,
        }
    }
}

/// Restrictions on hits. A session or role filter leaves memories out: they belong to
/// no session and have no role. Messages of sessions marked deleted are never found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    pub session_key: Option<String>,
    pub role: Option<Role>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub until: Option<DateTime<Utc>>,
    pub kinds: Kinds,
}

/// A keyword search. Build its terms with [`query_terms`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeywordQuery {
    /// Words (letters and digits only), searched literally.
    pub terms: Vec<String>,
    /// Any word may match (ranked by how well); otherwise every word must.
    pub any: bool,
    pub filter: SearchFilter,
    pub limit: u32,
    pub offset: u32,
    /// Newest first, not ranked: for words so common that weighing them costs more than
    /// it tells (SQLite's bm25 reads the list of every row holding each word).
    pub by_recency: bool,
}

/// A keyword query matching more of a Locrit's rows than this ranks only the newest
/// this many (unless narrowed by session, role or time, which keeps it exact): ranking
/// every row that holds the words most texts hold took seconds at a million messages,
/// and such words hardly tell rows apart.
pub const KEYWORD_WINDOW: u32 = 2_000;

impl KeywordQuery {
    /// How many of the newest matches are ranked (`$9`); `None`: all of them.
    pub(crate) fn window(&self) -> Option<i64> {
        let filter = &self.filter;
        let narrowed = filter.session_key.is_some()
            || filter.role.is_some()
            || filter.since.is_some()
            || filter.until.is_some();
        (!narrowed).then_some(i64::from(KEYWORD_WINDOW))
    }
}

/// A row that matched, with what a result list shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchItem {
    pub item: ItemRef,
    pub locrit_id: Uuid,
    pub session_key: Option<String>,
    pub role: Option<Role>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// Keyword relevance, higher is better (0 from [`SearchStore::search_items`]).
    pub score: f64,
}

/// A row that has no embedding for a model yet.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedTask {
    pub item: ItemRef,
    pub locrit_id: Uuid,
    pub content: String,
}

/// A computed embedding: stored only if its row still has the text that was embedded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEmbedding {
    pub task: EmbedTask,
    pub vector: Vec<f32>,
}

/// An embedding as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    pub item: ItemRef,
    pub vector: Vec<f32>,
    pub created_at: DateTime<Utc>,
}

/// The words of a user's query, safe to hand to either full-text engine: runs of
/// letters and digits, deduplicated (ignoring case), at most [`MAX_QUERY_TERMS`].
/// Everything else (quotes, `*`, `:`, `-`, parentheses) separates words, so no query
/// syntax reaches the engine, and operators such as `NEAR` or `OR` are plain words.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word: String = word.chars().take(MAX_TERM_CHARS).collect();
        if !terms
            .iter()
            .any(|t| t.to_lowercase() == word.to_lowercase())
        {
            terms.push(word);
        }
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    terms
}

/// Search operations of the store; every [`Store`](crate::Store) has them.
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// The Locrit's messages and memories that match `query.terms`, best first.
    /// No terms: no hits.
    async fn keyword_search(
        &self,
        locrit_id: Uuid,
        query: &KeywordQuery,
    ) -> Result<Vec<SearchItem>>;

    /// These items of the Locrit that pass the filter (in no particular order); deleted
    /// ones are left out.
    async fn search_items(
        &self,
        locrit_id: Uuid,
        items: &[ItemRef],
        filter: &SearchFilter,
    ) -> Result<Vec<SearchItem>>;

    /// How many rows (messages and memories of every Locrit) the full-text index holds.
    async fn indexed_rows(&self) -> Result<u64>;

    /// How many of them hold each term, in the order asked: what tells a word too
    /// common to mean anything in a ranking.
    async fn term_rows(&self, terms: &[String]) -> Result<Vec<u64>>;

    /// Whether ranking reads, for each word, the list of every row holding it (SQLite's
    /// bm25 counts them to weigh the word): the words most rows hold are then better
    /// checked on the texts the others found than weighed.
    fn weighing_reads_every_row(&self) -> bool;

    /// Up to `limit` of the Locrit's messages and memories without an embedding for
    /// `model`, newest first; with `since`, only rows created from then on.
    async fn embedding_backlog(
        &self,
        locrit_id: Uuid,
        model: &str,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<EmbedTask>>;

    /// Stores embeddings for `model` (replacing older ones), skipping rows deleted or
    /// edited since their text was read. Returns how many were stored.
    async fn put_embeddings(&self, model: &str, embeddings: &[NewEmbedding]) -> Result<u64>;

    /// The Locrit's embeddings for `model`, oldest first; with `since`, only those
    /// stored from then on.
    async fn embeddings(
        &self,
        locrit_id: Uuid,
        model: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVector>>;

    /// The models the Locrit's messages and memories have embeddings of, by name.
    async fn embedding_models(&self, locrit_id: Uuid) -> Result<Vec<String>>;

    /// The stored embeddings of these items for `model`.
    async fn embeddings_of(
        &self,
        locrit_id: Uuid,
        model: &str,
        items: &[ItemRef],
    ) -> Result<Vec<StoredVector>>;

    /// When the embeddings of these items for `model` were stored (the vectors left
    /// out): an index made of an older vector of an item, or of one since dropped by an
    /// edit, is stale for it.
    async fn embedding_dates(
        &self,
        locrit_id: Uuid,
        model: &str,
        items: &[ItemRef],
    ) -> Result<Vec<(ItemRef, DateTime<Utc>)>>;
}

/// `AND {column} >= ${param}` when there is a `since` to bind as `${param}`, else
/// nothing. Not `(${param} IS NULL OR …)`: with the OR, SQLite and PostgreSQL walk every
/// row of the Locrit instead of the range of its by-time index (a catch-up of a few new
/// vectors read them all).
pub(crate) fn created_since(since: Option<DateTime<Utc>>, column: &str, param: u8) -> String {
    match since {
        Some(_) => format!("AND {column} >= ${param}"),
        None => String::new(),
    }
}

pub(crate) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(crate::StoreError::Corrupt(format!(
            "an embedding of {} bytes is not a list of f32",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The columns of a search hit, from a message `m` joined with its session `s`.
pub(crate) const MESSAGE_ITEM: &str = "'message' AS kind, m.id, m.locrit_id, s.key AS session_key, \
    m.role, m.content, m.created_at, m.edited_at";

/// The message filters but the Locrit: `$3` session key, `$4` role, `$5` since, `$6` until.
macro_rules! message_conditions {
    () => {
        "s.status <> 'deleted' AND ($3 IS NULL OR s.key = $3) AND ($4 IS NULL OR m.role = $4) \
         AND ($5 IS NULL OR m.created_at >= $5) AND ($6 IS NULL OR m.created_at < $6)"
    };
}

/// The memory filters but the Locrit, same parameters: a session or role filter excludes
/// memories.
macro_rules! memory_conditions {
    () => {
        "$3 IS NULL AND $4 IS NULL AND ($5 IS NULL OR y.created_at >= $5) \
         AND ($6 IS NULL OR y.created_at < $6)"
    };
}

/// The message filters: `$1` Locrit, and [`message_conditions`].
pub(crate) const MESSAGE_FILTER: &str = concat!("m.locrit_id = $1 AND ", message_conditions!());

/// The memory filters: `$1` Locrit, and [`memory_conditions`].
pub(crate) const MEMORY_FILTER: &str = concat!("y.locrit_id = $1 AND ", memory_conditions!());

/// Rows looked up by id compare their Locrit through an expression no index serves:
/// otherwise SQLite, which keeps no statistics, walks the Locrit's whole index (every
/// message it has) to pick out the few dozen ids asked for, on every search and every
/// turn's recall.
pub(crate) const MESSAGE_BY_ID_FILTER: &str = concat!(
    "COALESCE(m.locrit_id, NULL) = $1 AND ",
    message_conditions!()
);

/// [`MESSAGE_BY_ID_FILTER`] for memories.
pub(crate) const MEMORY_BY_ID_FILTER: &str = concat!(
    "COALESCE(y.locrit_id, NULL) = $1 AND ",
    memory_conditions!()
);

/// `UNION ALL` of the parts the filter's kinds ask for; `None` when it asks for none.
pub(crate) fn union_of_kinds(
    kinds: Kinds,
    messages: impl FnOnce() -> String,
    memories: impl FnOnce() -> String,
) -> Option<String> {
    let parts: Vec<String> = [kinds.messages.then(messages), kinds.memories.then(memories)]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
}

/// The hits of `union`, best first, paged by `$7` (limit) and `$8` (offset).
pub(crate) fn ranked(union: &str) -> String {
    format!("SELECT * FROM ({union}) hits ORDER BY score DESC, created_at DESC LIMIT $7 OFFSET $8")
}

/// `$first, $first+1, …` for `count` parameters.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn ids_of(items: &[ItemRef], kind: ItemKind) -> Vec<Uuid> {
    items
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| i.id)
        .collect()
}

pub(crate) fn table_of(kind: ItemKind) -> &'static str {
    kind.embeddings_table()
}

/// The items' ids grouped by kind, for the kinds that have some.
pub(crate) fn ids_by_kind(items: &[ItemRef]) -> impl Iterator<Item = (ItemKind, Vec<Uuid>)> {
    [ItemKind::Message, ItemKind::Memory]
        .into_iter()
        .map(|kind| (kind, ids_of(items, kind)))
        .filter(|(_, ids)| !ids.is_empty())
}

/// `columns` of the embeddings for model `$2` of `count` items of one kind (`$3`…) of
/// Locrit `$1`. The Locrit is compared through `COALESCE` so that the planners look the
/// ids up instead of walking all of the Locrit's vectors by its index.
pub(crate) fn embeddings_by_id(kind: ItemKind, columns: &str, count: usize) -> String {
    format!(
        "SELECT {columns} FROM {} WHERE item_id IN ({}) AND model = $2 \
         AND COALESCE(locrit_id, NULL) = $1",
        table_of(kind),
        placeholders(3, count)
    )
}

#[derive(sqlx::FromRow)]
pub(crate) struct SearchRow {
    kind: String,
    id: Uuid,
    locrit_id: Uuid,
    session_key: Option<String>,
    role: Option<String>,
    content: String,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    score: f64,
}

impl TryFrom<SearchRow> for SearchItem {
    type Error = crate::StoreError;

    fn try_from(row: SearchRow) -> Result<Self> {
        Ok(SearchItem {
            item: ItemRef {
                kind: kind_from(&row.kind)?,
                id: row.id,
            },
            locrit_id: row.locrit_id,
            session_key: row.session_key,
            role: row
                .role
                .map(|r| crate::rows::parse_text(&r, "role"))
                .transpose()?,
            content: row.content,
            created_at: row.created_at,
            edited_at: row.edited_at,
            score: row.score,
        })
    }
}

pub(crate) fn kind_from(text: &str) -> Result<ItemKind> {
    match text {
        "message" => Ok(ItemKind::Message),
        "memory" => Ok(ItemKind::Memory),
        other => Err(crate::StoreError::Corrupt(format!(
            "unknown search item kind {other:?}"
        ))),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    kind: String,
    id: Uuid,
    locrit_id: Uuid,
    content: String,
}

impl TryFrom<TaskRow> for EmbedTask {
    type Error = crate::StoreError;

    fn try_from(row: TaskRow) -> Result<Self> {
        Ok(EmbedTask {
            item: ItemRef {
                kind: kind_from(&row.kind)?,
                id: row.id,
            },
            locrit_id: row.locrit_id,
            content: row.content,
        })
    }
}

/// Implements [`SearchStore`] for a store type; `$keyword_sql` turns a query into the
/// dialect's ranked full-text SQL (parameters as in `MESSAGE_FILTER`, `$2` the match
/// expression, `$7` limit, `$8` offset, `$9` the newest matches ranked, all if null)
/// and `$match_expression` builds `$2`;
/// `$total_rows` counts the indexed rows and `$term_rows` those holding the term `$1`;
/// `$weighing_reads_rows` answers [`SearchStore::weighing_reads_every_row`].
macro_rules! impl_search_store {
    ($store:ty, $keyword_sql:path, $match_expression:path, $null_time:expr,
     $total_rows:path, $term_rows:path, $weighing_reads_rows:path) => {
        #[async_trait::async_trait]
        impl $crate::search::SearchStore for $store {
            fn weighing_reads_every_row(&self) -> bool {
                $weighing_reads_rows
            }

            async fn keyword_search(
                &self,
                locrit_id: Uuid,
                query: &$crate::search::KeywordQuery,
            ) -> Result<Vec<$crate::search::SearchItem>> {
                if query.terms.is_empty() || query.limit == 0 {
                    return Ok(Vec::new());
                }
                let Some(sql) = $keyword_sql(query.filter.kinds, query.by_recency) else {
                    return Ok(Vec::new());
                };
                let filter = &query.filter;
                let rows: Vec<$crate::search::SearchRow> = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind($match_expression(&query.terms, query.any))
                    .bind(&filter.session_key)
                    .bind(filter.role.map(|r| r.as_str()))
                    .bind(filter.since)
                    .bind(filter.until)
                    .bind(i64::from(query.limit))
                    .bind(i64::from(query.offset))
                    .bind(query.window())
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn indexed_rows(&self) -> Result<u64> {
                let (total,): (i64,) = sqlx::query_as($total_rows).fetch_one(&self.pool).await?;
                Ok(u64::try_from(total).unwrap_or_default())
            }

            async fn term_rows(&self, terms: &[String]) -> Result<Vec<u64>> {
                let mut per_term = Vec::with_capacity(terms.len());
                for term in terms {
                    let (rows,): (i64,) = sqlx::query_as($term_rows)
                        .bind(term.to_lowercase())
                        .fetch_one(&self.pool)
                        .await?;
                    per_term.push(u64::try_from(rows).unwrap_or_default());
                }
                Ok(per_term)
            }

            async fn search_items(
                &self,
                locrit_id: Uuid,
                items: &[$crate::search::ItemRef],
                filter: &$crate::search::SearchFilter,
            ) -> Result<Vec<$crate::search::SearchItem>> {
                use $crate::search::{ItemKind, ids_of, placeholders};
                let messages = ids_of(items, ItemKind::Message);
                let memories = ids_of(items, ItemKind::Memory);
                let kinds = $crate::search::Kinds {
                    messages: filter.kinds.messages && !messages.is_empty(),
                    memories: filter.kinds.memories && !memories.is_empty(),
                };
                // Ids from `$7` on: messages first, then memories.
                let first_memory = 7 + if kinds.messages { messages.len() } else { 0 };
                let Some(sql) = $crate::search::union_of_kinds(
                    kinds,
                    || {
                        format!(
                            "SELECT {}, CAST(0 AS DOUBLE PRECISION) AS score FROM messages m \
                             JOIN sessions s ON s.id = m.session_id WHERE {} AND m.id IN ({})",
                            $crate::search::MESSAGE_ITEM,
                            $crate::search::MESSAGE_BY_ID_FILTER,
                            placeholders(7, messages.len())
                        )
                    },
                    || {
                        format!(
                            "SELECT 'memory' AS kind, y.id, y.locrit_id, NULL AS session_key, \
                             NULL AS role, y.content, y.created_at, {} AS edited_at, CAST(0 AS DOUBLE PRECISION) AS score \
                             FROM memories y WHERE {} AND y.id IN ({}) AND $2 = $2",
                            $null_time,
                            $crate::search::MEMORY_BY_ID_FILTER,
                            placeholders(first_memory, memories.len())
                        )
                    },
                ) else {
                    return Ok(Vec::new());
                };
                // `$2` is unused by messages: keep the numbering of `keyword_search`.
                let sql = if kinds.memories { sql } else { format!("{sql} AND $2 = $2") };
                let mut query = sqlx::query_as::<_, $crate::search::SearchRow>(&sql)
                    .bind(locrit_id)
                    .bind(0_i64)
                    .bind(&filter.session_key)
                    .bind(filter.role.map(|r| r.as_str()))
                    .bind(filter.since)
                    .bind(filter.until);
                if kinds.messages {
                    for id in &messages {
                        query = query.bind(*id);
                    }
                }
                if kinds.memories {
                    for id in &memories {
                        query = query.bind(*id);
                    }
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn embedding_backlog(
                &self,
                locrit_id: Uuid,
                model: &str,
                since: Option<DateTime<Utc>>,
                limit: u32,
            ) -> Result<Vec<$crate::search::EmbedTask>> {
                let sql = format!(
                    "SELECT * FROM (\
                    SELECT 'message' AS kind, m.id, m.locrit_id, m.content, m.created_at \
                    FROM messages m WHERE m.locrit_id = $1 {} AND NOT EXISTS \
                    (SELECT 1 FROM message_embeddings e WHERE e.item_id = m.id AND e.model = $2) \
                    UNION ALL \
                    SELECT 'memory' AS kind, y.id, y.locrit_id, y.content, y.created_at \
                    FROM memories y WHERE y.locrit_id = $1 {} AND NOT EXISTS \
                    (SELECT 1 FROM memory_embeddings e WHERE e.item_id = y.id AND e.model = $2)\
                    ) backlog ORDER BY created_at DESC LIMIT $3",
                    $crate::search::created_since(since, "m.created_at", 4),
                    $crate::search::created_since(since, "y.created_at", 4),
                );
                let mut query = sqlx::query_as(&sql)
                    .bind(locrit_id)
                    .bind(model)
                    .bind(i64::from(limit));
                if let Some(since) = since {
                    query = query.bind(since);
                }
                let rows: Vec<$crate::search::TaskRow> = query.fetch_all(&self.pool).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn put_embeddings(
                &self,
                model: &str,
                embeddings: &[$crate::search::NewEmbedding],
            ) -> Result<u64> {
                let mut tx = self.writer.begin().await?;
                let mut stored = 0;
                let at = now();
                for embedding in embeddings {
                    let task = &embedding.task;
                    let (table, rows) = (task.item.kind.embeddings_table(), task.item.kind.table());
                    let sql = format!(
                        "INSERT INTO {table} (item_id, locrit_id, model, dim, vector, created_at) \
                         SELECT id, locrit_id, $2, $3, $4, $5 FROM {rows} \
                         WHERE id = $1 AND content = $6 \
                         ON CONFLICT (item_id, model) DO UPDATE SET dim = excluded.dim, \
                         vector = excluded.vector, created_at = excluded.created_at"
                    );
                    let done = sqlx::query(&sql)
                        .bind(task.item.id)
                        .bind(model)
                        .bind(i32::try_from(embedding.vector.len()).unwrap_or(i32::MAX))
                        .bind($crate::search::vector_bytes(&embedding.vector))
                        .bind(at)
                        .bind(&task.content)
                        .execute(&mut *tx)
                        .await?;
                    stored += done.rows_affected();
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn embeddings(
                &self,
                locrit_id: Uuid,
                model: &str,
                since: Option<DateTime<Utc>>,
            ) -> Result<Vec<$crate::search::StoredVector>> {
                let since_condition = $crate::search::created_since(since, "created_at", 3);
                let sql = format!(
                    "SELECT * FROM (\
                    SELECT 'message' AS kind, item_id, vector, created_at FROM message_embeddings \
                    WHERE locrit_id = $1 AND model = $2 {since_condition} \
                    UNION ALL \
                    SELECT 'memory' AS kind, item_id, vector, created_at FROM memory_embeddings \
                    WHERE locrit_id = $1 AND model = $2 {since_condition}\
                    ) stored ORDER BY created_at"
                );
                let mut query = sqlx::query_as(&sql).bind(locrit_id).bind(model);
                if let Some(since) = since {
                    query = query.bind(since);
                }
                let rows: Vec<(String, Uuid, Vec<u8>, DateTime<Utc>)> =
                    query.fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::search::stored_vector).collect()
            }

            async fn embedding_models(&self, locrit_id: Uuid) -> Result<Vec<String>> {
                let sql = "SELECT model FROM message_embeddings WHERE locrit_id = $1 \
                    UNION SELECT model FROM memory_embeddings WHERE locrit_id = $1 ORDER BY model";
                let models: Vec<(String,)> =
                    sqlx::query_as(sql).bind(locrit_id).fetch_all(&self.pool).await?;
                Ok(models.into_iter().map(|(model,)| model).collect())
            }

            async fn embeddings_of(
                &self,
                locrit_id: Uuid,
                model: &str,
                items: &[$crate::search::ItemRef],
            ) -> Result<Vec<$crate::search::StoredVector>> {
                use $crate::search::{embeddings_by_id, ids_by_kind};
                let mut found = Vec::new();
                for (kind, ids) in ids_by_kind(items) {
                    let columns = format!("'{}' AS kind, item_id, vector, created_at", kind.as_str());
                    let sql = embeddings_by_id(kind, &columns, ids.len());
                    let query = ids.iter().fold(
                        sqlx::query_as::<_, (String, Uuid, Vec<u8>, DateTime<Utc>)>(&sql).bind(locrit_id).bind(model),
                        |query, id| query.bind(id),
                    );
                    for row in query.fetch_all(&self.pool).await? {
                        found.push($crate::search::stored_vector(row)?);
                    }
                }
                Ok(found)
            }

            async fn embedding_dates(
                &self,
                locrit_id: Uuid,
                model: &str,
                items: &[$crate::search::ItemRef],
            ) -> Result<Vec<($crate::search::ItemRef, DateTime<Utc>)>> {
                use $crate::search::{ItemRef, embeddings_by_id, ids_by_kind};
                let mut found = Vec::new();
                for (kind, ids) in ids_by_kind(items) {
                    let sql = embeddings_by_id(kind, "item_id, created_at", ids.len());
                    let query = ids.iter().fold(
                        sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(&sql).bind(locrit_id).bind(model),
                        |query, id| query.bind(id),
                    );
                    let dated = query.fetch_all(&self.pool).await?;
                    found.extend(dated.into_iter().map(|(id, at)| (ItemRef { kind, id }, at)));
                }
                Ok(found)
            }
        }
    };
}

pub(crate) fn stored_vector(
    (kind, id, vector, created_at): (String, Uuid, Vec<u8>, DateTime<Utc>),
) -> Result<StoredVector> {
    Ok(StoredVector {
        item: ItemRef {
            kind: kind_from(&kind)?,
            id,
        },
        vector: vector_from_bytes(&vector)?,
        created_at,
    })
}

pub(crate) use impl_search_store;

/// SQLite: one FTS5 index over both kinds (`search_fts`, rows named by `search_docs`).
pub(crate) mod sqlite {
    use super::{Kinds, MEMORY_FILTER, MESSAGE_FILTER, MESSAGE_ITEM, ranked, union_of_kinds};

    /// Each term quoted, so FTS5 reads it as a string, never as syntax.
    pub(crate) fn match_expression(terms: &[String], any: bool) -> String {
        let quoted: Vec<String> = terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect();
        quoted.join(if any { " OR " } else { " " })
    }

    /// bm25 counts the rows holding each word of the query, reading each one's list.
    pub(crate) const WEIGHING_READS_EVERY_ROW: bool = true;

    pub(crate) const TOTAL_ROWS: &str = "SELECT count(*) FROM search_docs";
    /// From FTS5's own term list (`search_fts_terms`), whose terms are lowercased
    /// without diacritics: a term with some is not found there, so counted as rare.
    pub(crate) const TERM_ROWS: &str =
        "SELECT COALESCE((SELECT doc FROM search_fts_terms WHERE term = $1), 0)";

    pub(crate) fn keyword_sql(kinds: Kinds, by_recency: bool) -> Option<String> {
        // One full-text scan for both kinds, newest first so that the window (`$9`)
        // ends it early. bm25 is lower for better matches: negated, higher is better.
        let score = if by_recency {
            "0.0"
        } else {
            "-bm25(search_fts)"
        };
        // `CROSS JOIN` keeps SQLite's join order: the matches first, then their rows
        // (left free, it may walk every memory of the Locrit and match each).
        let kind = match (kinds.messages, kinds.memories) {
            (true, true) => "",
            (true, false) => " AND d.kind = 'message'",
            (false, true) => " AND d.kind = 'memory'",
            (false, false) => return None,
        };
        let union = union_of_kinds(
            kinds,
            || {
                format!(
                    "SELECT {MESSAGE_ITEM}, h.score FROM h CROSS JOIN messages m ON m.id = h.item_id \
                     CROSS JOIN sessions s ON s.id = m.session_id \
                     WHERE h.kind = 'message' AND {MESSAGE_FILTER}"
                )
            },
            || {
                format!(
                    "SELECT 'memory' AS kind, y.id, y.locrit_id, NULL AS session_key, NULL AS role, \
                     y.content, y.created_at, NULL AS edited_at, h.score FROM h \
                     CROSS JOIN memories y ON y.id = h.item_id WHERE h.kind = 'memory' AND {MEMORY_FILTER}"
                )
            },
        )?;
        Some(format!(
            "WITH h AS MATERIALIZED (SELECT d.kind, d.item_id, {score} AS score \
             FROM search_fts CROSS JOIN search_docs d ON d.doc = search_fts.rowid \
             WHERE search_fts MATCH $2 AND d.locrit_id = $1{kind} \
             ORDER BY search_fts.rowid DESC LIMIT COALESCE($9, -1)) {}",
            ranked(&union)
        ))
    }
}

/// PostgreSQL: a generated `search_vector` column on each table, GIN-indexed.
pub(crate) mod postgres {
    use super::{Kinds, MEMORY_FILTER, MESSAGE_FILTER, MESSAGE_ITEM, ranked, union_of_kinds};

    /// A `to_tsquery` text of plain words (letters and digits only, see
    /// `query_terms`), so no operator of the user's reaches it.
    pub(crate) fn match_expression(terms: &[String], any: bool) -> String {
        terms.join(if any { " | " } else { " & " })
    }

    /// ts_rank weighs no word by its rarity: it reads only the row ranked.
    pub(crate) const WEIGHING_READS_EVERY_ROW: bool = false;

    pub(crate) const TOTAL_ROWS: &str =
        "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM memories)";
    pub(crate) const TERM_ROWS: &str = "SELECT \
        (SELECT count(*) FROM messages WHERE search_vector @@ q) + \
        (SELECT count(*) FROM memories WHERE search_vector @@ q) \
        FROM to_tsquery('simple'::regconfig, locrit_search_fold($1)) q";

    pub(crate) fn keyword_sql(kinds: Kinds, by_recency: bool) -> Option<String> {
        let query = "to_tsquery('simple'::regconfig, locrit_search_fold($2))";
        let score = |table: &str| match by_recency {
            true => "0::float8".to_owned(),
            false => format!("ts_rank({table}.search_vector, q)::float8"),
        };
        let union = union_of_kinds(
            kinds,
            || {
                format!(
                    "SELECT {MESSAGE_ITEM}, {} AS score \
                     FROM messages m JOIN sessions s ON s.id = m.session_id, {query} q \
                     WHERE m.search_vector @@ q AND {MESSAGE_FILTER}",
                    score("m")
                )
            },
            || {
                format!(
                    "SELECT 'memory' AS kind, y.id, y.locrit_id, NULL::text AS session_key, \
                     NULL::text AS role, y.content, y.created_at, NULL::timestamptz AS edited_at, \
                     {} AS score FROM memories y, {query} q \
                     WHERE y.search_vector @@ q AND {MEMORY_FILTER}",
                    score("y")
                )
            },
        )?;
        // The window: a null limit is no limit.
        Some(ranked(&format!(
            "SELECT * FROM ({union}) matched ORDER BY created_at DESC LIMIT $9"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_keep_only_words() {
        assert_eq!(
            query_terms(r#"  "chat" NEAR(a* b) -x: l'été OR chat "#),
            ["chat", "NEAR", "a", "b", "x", "l", "été", "OR"]
        );
        assert!(query_terms("\"*():^-+").is_empty());
        assert_eq!(query_terms(&"word ".repeat(5000)), ["word"]);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(query_terms(&many).len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn vectors_round_trip_as_bytes() {
        let v = vec![0.5, -1.25, f32::MIN_POSITIVE];
        assert_eq!(vector_from_bytes(&vector_bytes(&v)).unwrap(), v);
        assert!(vector_from_bytes(&[1, 2, 3]).is_err());
    }
}
