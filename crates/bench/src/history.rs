//! Issue 5: what a Locrit with a long memory does all the time, on a large store: the
//! newest-50 history page of a session, a keyword search and a hybrid search (keyword
//! and HNSW semantic, fused), each through the core as the routes call it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use locrit_core::search::{INDEX_BUILDING, SearchMode, SearchQuery};
use locrit_core::{Core, GlobalConfigChanges};
use locrit_domain::Locrit;
use locrit_store::{MessagePage, SessionQuery, SqliteSync, Store, StoreConfig};
use locrit_testkit::{FakeOllama, postgres_schema_url};
use serde::Serialize;
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

use crate::dataset::{DataSet, MODEL, Rng, load_dataset, word};
use crate::measure::Latency;
use crate::{Target, print_targets};

/// A Locrit's large memory, ready to be asked: the store, the core over it, and the fake
/// embedding server hybrid queries are embedded by.
pub struct History {
    core: Core,
    store: Arc<dyn Store>,
    locrit: Locrit,
    sessions: Vec<Uuid>,
    rng: Rng,
    _embedder: FakeOllama,
}

impl History {
    /// Loads `data` into `store` (unless it is there already); its search index is
    /// kept in `index_dir` between runs, if given.
    pub async fn open(
        store: Arc<dyn Store>,
        data: &DataSet,
        index_dir: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let embedder = FakeOllama::builder()
            .model(MODEL, None)
            .embed_dim(data.dim)
            .start()
            .await;
        let mut locrit = load_dataset(&store, data).await?;
        // This run's embedding server.
        locrit.ollama_url = Some(embedder.url());
        store.update_locrit(&locrit).await?;
        let mut core = Core::new(store.clone());
        if let Some(dir) = index_dir {
            core = core.with_search_index_dir(dir);
        }
        core.save_global_config(GlobalConfigChanges {
            ollama_embedding_model: Some(MODEL.into()),
            ..Default::default()
        })
        .await?;
        let query = SessionQuery {
            locrit_id: Some(locrit.id),
            limit: Some(data.sessions as u32),
            ..Default::default()
        };
        let sessions = store.sessions(&query).await?.iter().map(|s| s.id).collect();
        Ok(Self {
            core,
            store,
            locrit,
            sessions,
            rng: Rng::new(42),
            _embedder: embedder,
        })
    }

    /// The newest 50 messages of a random session.
    pub async fn newest_page(&mut self) -> anyhow::Result<usize> {
        let session = self.sessions[self.rng.below(self.sessions.len())];
        let page = MessagePage::Before {
            before: None,
            limit: 50,
        };
        Ok(self.store.messages(session, page).await?.len())
    }

    /// Two words of frequency rank 20–500 (each in about 0.1–2% of the texts), top 20.
    pub async fn keyword_search(&mut self) -> anyhow::Result<usize> {
        let words = [20 + self.rng.below(480), 20 + self.rng.below(480)];
        let text = words.map(word).join(" ");
        self.search(text, SearchMode::Keyword).await
    }

    /// Four words drawn by frequency, top 20; the query is embedded by the fake server.
    pub async fn hybrid_search(&mut self) -> anyhow::Result<usize> {
        let text = (0..4)
            .map(|_| word(self.rng.zipf_rank()))
            .collect::<Vec<_>>()
            .join(" ");
        self.search(text, SearchMode::Hybrid).await
    }

    /// Waits for the HNSW graph, which the first semantic search starts building.
    pub async fn until_indexed(&mut self) -> anyhow::Result<()> {
        loop {
            let query = SearchQuery {
                text: word(self.rng.zipf_rank()),
                mode: SearchMode::Hybrid,
                limit: 1,
                ..Default::default()
            };
            let found = self.core.search(&self.locrit, &query).await?;
            let semantic = found.semantic.context("hybrid asks for semantic search")?;
            if semantic.available {
                return Ok(());
            }
            ensure!(
                semantic.reason.as_deref() == Some(INDEX_BUILDING),
                "semantic search unavailable: {semantic:?}"
            );
        }
    }

    async fn search(&self, text: String, mode: SearchMode) -> anyhow::Result<usize> {
        let query = SearchQuery {
            text,
            mode,
            limit: 20,
            ..Default::default()
        };
        let found = self.core.search(&self.locrit, &query).await?;
        if mode == SearchMode::Hybrid {
            let semantic = found.semantic.context("hybrid asks for semantic search")?;
            ensure!(
                semantic.available,
                "semantic search unavailable: {semantic:?}"
            );
        }
        Ok(found.hits.len())
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub store: &'static str,
    pub data_set: DataSet,
    pub messages: usize,
    pub requests_per_line: usize,
    pub newest_page: Latency,
    pub keyword_search: Latency,
    pub keyword_hits_per_query: f64,
    /// Until the HNSW graph is ready for the first semantic search: loaded, when an
    /// earlier run on this data set saved it, else built from the store.
    pub index_ready_seconds: Option<f64>,
    pub index_loaded: bool,
    pub hybrid_search: Option<Latency>,
    pub targets: Vec<Target>,
}

pub struct HistoryOptions<'a> {
    pub messages: usize,
    pub dim: usize,
    pub samples: usize,
    pub hybrid: bool,
    /// Where the SQLite data set and the search indexes are kept, and reused.
    pub dataset_dir: &'a Path,
    /// A PostgreSQL server to load into instead, in a schema of the data set's name
    /// (`locrit_bench_history_<messages>_<dim>`), kept and reused as the SQLite file is.
    pub postgres: Option<&'a str>,
}

/// The PostgreSQL schema of a data set.
fn schema_of(name: &str) -> String {
    format!("locrit_bench_{}", name.replace('-', "_"))
}

/// Gathers the planner's statistics of the schema's tables, as autovacuum would after a
/// load (servers for tests often run without it; stale, they made keyword search walk
/// every message of the Locrit).
async fn analyze(admin_url: &str, schema: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = $1")
            .bind(schema)
            .fetch_all(&mut admin)
            .await?;
    for (table,) in tables {
        sqlx::raw_sql(&format!("ANALYZE {schema}.{table}"))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}

pub async fn run(options: &HistoryOptions<'_>) -> anyhow::Result<Value> {
    let data = DataSet::new(options.messages, options.dim);
    std::fs::create_dir_all(options.dataset_dir)?;
    let name = format!("history-{}-{}", data.messages(), data.dim);
    let schema = schema_of(&name);
    let (url, store_name, index_dir) = match options.postgres {
        Some(admin_url) => {
            let mut admin = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut admin)
                .await?;
            let url = postgres_schema_url(admin_url, &schema);
            let index_dir = format!("{name}-postgres-search-index");
            (url, "postgres", options.dataset_dir.join(index_dir))
        }
        None => {
            let file = options.dataset_dir.join(format!("{name}.db"));
            let url = format!("sqlite://{}", file.display());
            let index_dir = options.dataset_dir.join(format!("{name}-search-index"));
            (url, "sqlite", index_dir)
        }
    };
    let index_loaded = std::fs::read_dir(&index_dir).is_ok_and(|mut files| {
        files.any(|f| f.is_ok_and(|f| f.path().extension().is_some_and(|e| e == "ann")))
    });
    // The load is the bench's, not a conversation's: no fsync per commit.
    let config = StoreConfig {
        sqlite_sync: SqliteSync::Normal,
        ..StoreConfig::new(url)
    };
    let mut history =
        History::open(locrit_store::open(&config).await?, &data, Some(index_dir)).await?;
    if let Some(admin_url) = options.postgres {
        analyze(admin_url, &schema).await?;
    }

    let newest_page = time(options.samples, async || history.newest_page().await).await?;
    let mut hits = 0;
    let keyword_search = time(options.samples, async || {
        hits += history.keyword_search().await?;
        anyhow::Ok(())
    })
    .await?;
    let (mut index_ready_seconds, mut hybrid_search) = (None, None);
    if options.hybrid {
        let started = Instant::now();
        history.until_indexed().await?;
        index_ready_seconds = Some(started.elapsed().as_secs_f64());
        hybrid_search = Some(time(options.samples, async || history.hybrid_search().await).await?);
    }

    let mut report = Report {
        store: store_name,
        data_set: data,
        messages: data.messages(),
        requests_per_line: options.samples,
        newest_page,
        keyword_search,
        keyword_hits_per_query: hits as f64 / options.samples.max(1) as f64,
        index_ready_seconds,
        index_loaded,
        hybrid_search,
        targets: Vec::new(),
    };
    report.targets = targets(&report);
    print(&report);
    Ok(serde_json::to_value(&report)?)
}

/// Times `samples` calls, one after the other.
async fn time<T>(
    samples: usize,
    mut call: impl AsyncFnMut() -> anyhow::Result<T>,
) -> anyhow::Result<Latency> {
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        call().await?;
        times.push(started.elapsed());
    }
    Ok(Latency::of(times))
}

/// Issue 5's targets, at p95: a history page in 5 ms, a keyword search in 20 ms, a
/// hybrid search in 50 ms.
fn targets(report: &Report) -> Vec<Target> {
    let at = format!("at {} messages", report.messages);
    let mut targets = vec![
        Target::at_most(
            format!("newest 50 p95 {at}"),
            report.newest_page.p95_ms,
            5.0,
            "ms",
        ),
        Target::at_most(
            format!("keyword search p95 {at}"),
            report.keyword_search.p95_ms,
            20.0,
            "ms",
        ),
    ];
    if let Some(hybrid) = report.hybrid_search {
        targets.push(Target::at_most(
            format!("hybrid search p95 {at}"),
            hybrid.p95_ms,
            50.0,
            "ms",
        ));
    }
    targets
}

fn print(report: &Report) {
    let data = &report.data_set;
    println!(
        "\nhistory and search: {} messages ({} sessions), {} memories, {}-dimension vectors, {} store, {} requests per line",
        report.messages,
        data.sessions,
        data.memories,
        data.dim,
        report.store,
        report.requests_per_line
    );
    let line = |what: &str, latency: &Latency| {
        println!(
            "{what:<24} p50 {:>8.2} ms  p95 {:>8.2} ms  p99 {:>8.2} ms",
            latency.p50_ms, latency.p95_ms, latency.p99_ms
        );
    };
    line("newest 50 of a session", &report.newest_page);
    line("keyword search, top 20", &report.keyword_search);
    println!(
        "  ({:.1} hits per keyword query)",
        report.keyword_hits_per_query
    );
    if let (Some(ready), Some(hybrid)) = (report.index_ready_seconds, &report.hybrid_search) {
        line("hybrid search, top 20", hybrid);
        let how = if report.index_loaded {
            "loaded from an earlier run's save"
        } else {
            "built from the store"
        };
        println!("  (HNSW graph {how} on the first search: {ready:.1} s)");
    }
    print_targets(&report.targets);
}
