//! Criterion micro-benchmarks of the history page and of keyword and hybrid search,
//! on the data set `locrit bench history` measures (`LOCRIT_BENCH_MESSAGES`, default
//! 20,000 messages and a tenth as many memories, 64-dimension vectors, SQLite).
//!
//! `cargo bench -p locrit-bench --bench history`; `locrit bench history` gives the
//! percentiles at a million messages.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use locrit_bench::DataSet;
use locrit_bench::history::History;
use locrit_store::{SqliteSync, StoreConfig};
use locrit_testkit::TestDatabase;
use tokio::runtime::Runtime;

fn history_benches(c: &mut Criterion) {
    let messages = std::env::var("LOCRIT_BENCH_MESSAGES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(20_000);
    let runtime = Runtime::new().unwrap();
    let database = TestDatabase::sqlite();
    let mut history = runtime.block_on(async {
        let config = StoreConfig {
            sqlite_sync: SqliteSync::Normal,
            ..StoreConfig::new(database.url())
        };
        let store = locrit_store::open(&config).await.unwrap();
        History::open(store, &DataSet::new(messages, 64), None)
            .await
            .unwrap()
    });
    // The first semantic search builds the HNSW graph: not what is measured.
    runtime.block_on(history.hybrid_search()).unwrap();

    let mut group = c.benchmark_group(format!("history/sqlite/{messages}_messages"));
    let mut timed = |name: &str, which: fn(&mut History) -> Operation<'_>| {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        which(&mut history).await.unwrap();
                    }
                    started.elapsed()
                })
            })
        });
    };
    timed("newest_50_of_a_session", |h| Box::pin(h.newest_page()));
    timed("keyword_search_top_20", |h| Box::pin(h.keyword_search()));
    timed("hybrid_search_top_20", |h| Box::pin(h.hybrid_search()));
    group.finish();
}

type Operation<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<usize>> + 'a>>;

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = history_benches
}
criterion_main!(benches);
