//! Latency of what a Locrit with a long memory does all the time, on a store holding
//! 1M messages (1,000 sessions of 1,000) and 100k memories, every row embedded:
//! the newest-50 history page of a session, a keyword search and a hybrid search
//! (keyword + HNSW semantic search, fused), each through the core as the routes call it.
//! Prints p50/p95/p99 over a few hundred varied requests.
//!
//! `cargo bench -p locrit-core --bench search`. Settings (environment):
//! - `LOCRIT_BENCH_SCALE` (default 1): fraction of the full data set, e.g. 0.1.
//! - `LOCRIT_BENCH_DIM` (default 64): embedding dimension (the fake embedder's).
//! - `LOCRIT_BENCH_POSTGRES_URL`: also measure PostgreSQL, in this database (kept).
//!
//! The data set is built once and reused: SQLite in
//! `<target>/tmp/locrit-bench/search-<sessions>-<dim>.db`, PostgreSQL in the given
//! database (a marker setting tells a complete load). Texts are drawn from a synthetic
//! vocabulary of 5,000 words with a Zipf-like frequency; embeddings are the fake Ollama's
//! hashed bag of words, so texts sharing words are close.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use locrit_core::search::{SearchMode, SearchQuery};
use locrit_core::{Core, GlobalConfigChanges};
use locrit_domain::{Locrit, NewLocrit, NewMemory, NewMessage, NewSession, Role, SessionKind};
use locrit_store::{EmbedTask, ItemKind, ItemRef, MessagePage, NewEmbedding, Store, StoreConfig};
use locrit_testkit::{FakeOllama, fake_embedding};
use serde_json::json;

const MESSAGES_PER_SESSION: usize = 1_000;
const FULL_SESSIONS: f64 = 1_000.0;
const FULL_MEMORIES: f64 = 100_000.0;
const VOCABULARY: usize = 5_000;
const SAMPLES: usize = 300;
const MODEL: &str = "nomic-embed-text";
const MARKER: &str = "bench_dataset";

/// A deterministic generator (xorshift64*), so every run builds the same data set.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word rank, small ranks far more often (about Zipf's law).
    fn zipf_rank(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).saturating_sub(1)
    }
}

/// Word `rank` of the synthetic vocabulary: syllables, so words look like words.
fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "ka",
        "lu", "mo", "pe", "ri", "tu",
    ];
    let mut n = rank + 20;
    let mut word = String::new();
    while n > 0 {
        word.push_str(SYLLABLES[n % 20]);
        n /= 20;
    }
    word
}

fn sentence(rng: &mut Rng) -> String {
    let words = 8 + rng.below(13);
    (0..words)
        .map(|_| word(rng.zipf_rank()))
        .collect::<Vec<_>>()
        .join(" ")
}

struct DataSet {
    sessions: usize,
    memories: usize,
    dim: usize,
}

impl DataSet {
    fn from_env() -> Self {
        let scale: f64 = env_or("LOCRIT_BENCH_SCALE", 1.0);
        Self {
            sessions: ((FULL_SESSIONS * scale) as usize).max(1),
            memories: ((FULL_MEMORIES * scale) as usize).max(1),
            dim: env_or("LOCRIT_BENCH_DIM", 64.0) as usize,
        }
    }

    fn describe(&self) -> serde_json::Value {
        json!({"sessions": self.sessions, "messages_per_session": MESSAGES_PER_SESSION,
               "memories": self.memories, "dim": self.dim, "complete": true})
    }
}

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn embedded(task: EmbedTask, dim: usize) -> NewEmbedding {
    let vector = fake_embedding(&task.content, dim);
    NewEmbedding { task, vector }
}

/// The Locrit of the data set, loaded into `store` unless a complete load is there.
async fn load(store: &Arc<dyn Store>, data: &DataSet) -> Locrit {
    if store.setting(MARKER).await.unwrap() == Some(data.describe()) {
        let locrit = store.locrit_by_name("Bench").await.unwrap().unwrap();
        eprintln!("  reusing the data set in {}", store.describe());
        return locrit;
    }
    assert!(
        store.locrit_by_name("Bench").await.unwrap().is_none(),
        "{} holds an incomplete data set: delete it first",
        store.describe()
    );
    let started = Instant::now();
    let locrit = NewLocrit {
        name: "Bench".into(),
        ollama_model: "llama3.2".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")
    .unwrap();
    store.insert_locrit(&locrit).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for s in 0..data.sessions {
        let session = store
            .create_session(&NewSession {
                locrit_id: locrit.id,
                key: format!("session-{s}"),
                kind: SessionKind::Chat,
                name: None,
                user_id: Some("bench".into()),
                metadata: json!({}),
            })
            .await
            .unwrap();
        let batch: Vec<NewMessage> = (0..MESSAGES_PER_SESSION)
            .map(|i| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                NewMessage::new(role, sentence(&mut rng))
            })
            .collect();
        let stored = store.append_messages(session.id, &batch).await.unwrap();
        let vectors: Vec<NewEmbedding> = stored
            .into_iter()
            .map(|m| {
                let task = EmbedTask {
                    item: ItemRef {
                        kind: ItemKind::Message,
                        id: m.id,
                    },
                    locrit_id: locrit.id,
                    content: m.content,
                };
                embedded(task, data.dim)
            })
            .collect();
        store.put_embeddings(MODEL, &vectors).await.unwrap();
        if s % 100 == 99 {
            eprintln!(
                "  {} messages loaded ({:.0?})",
                (s + 1) * MESSAGES_PER_SESSION,
                started.elapsed()
            );
        }
    }
    let mut vectors = Vec::new();
    for _ in 0..data.memories {
        let memory = NewMemory {
            content: sentence(&mut rng),
            importance: 0.5,
            metadata: json!({}),
            ..NewMemory::default()
        };
        let memory = store.insert_memory(locrit.id, &memory).await.unwrap();
        let task = EmbedTask {
            item: ItemRef {
                kind: ItemKind::Memory,
                id: memory.id,
            },
            locrit_id: locrit.id,
            content: memory.content,
        };
        vectors.push(embedded(task, data.dim));
        if vectors.len() == 1_000 {
            store.put_embeddings(MODEL, &vectors).await.unwrap();
            vectors.clear();
        }
    }
    store.put_embeddings(MODEL, &vectors).await.unwrap();
    store.put_setting(MARKER, &data.describe()).await.unwrap();
    eprintln!("  data set loaded in {:.0?}", started.elapsed());
    locrit
}

fn report(backend: &str, what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{backend:>8} {what:<24} p50 {:>8.2?}  p95 {:>8.2?}  p99 {:>8.2?}  ({} requests)",
        at(0.50),
        at(0.95),
        at(0.99),
        times.len()
    );
}

async fn measure(backend: &str, store: Arc<dyn Store>, data: &DataSet, ollama: &FakeOllama) {
    let mut locrit = load(&store, data).await;
    // The embedding server of this run.
    locrit.ollama_url = Some(ollama.url());
    store.update_locrit(&locrit).await.unwrap();
    let core = Core::new(store.clone());
    core.save_global_config(GlobalConfigChanges {
        ollama_embedding_model: Some(MODEL.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut rng = Rng(42);

    let sessions = store
        .sessions(&locrit_store::SessionQuery {
            locrit_id: Some(locrit.id),
            limit: Some(data.sessions as u32),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let session = sessions[rng.below(sessions.len())].id;
        let started = Instant::now();
        let page = store
            .messages(
                session,
                MessagePage::Before {
                    before: None,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(page.len(), 50);
    }
    report(backend, "newest 50 of a session", times);

    // Two words of ranks 20..500: each in roughly 0.1–2 % of the texts.
    let keyword_query = |rng: &mut Rng| {
        format!(
            "{} {}",
            word(20 + rng.below(480)),
            word(20 + rng.below(480))
        )
    };
    let mut times = Vec::with_capacity(SAMPLES);
    let mut hits = 0;
    for _ in 0..SAMPLES {
        let query = SearchQuery {
            text: keyword_query(&mut rng),
            mode: SearchMode::Keyword,
            limit: 20,
            ..Default::default()
        };
        let started = Instant::now();
        let found = core.search(&locrit, &query).await.unwrap();
        times.push(started.elapsed());
        hits += found.hits.len();
    }
    report(backend, "keyword search (top 20)", times);
    eprintln!(
        "  keyword: {:.1} hits per query on average",
        hits as f64 / SAMPLES as f64
    );

    let hybrid = |rng: &mut Rng| SearchQuery {
        text: (0..4)
            .map(|_| word(rng.zipf_rank()))
            .collect::<Vec<_>>()
            .join(" "),
        mode: SearchMode::Hybrid,
        limit: 20,
        ..Default::default()
    };
    let started = Instant::now();
    let first = core.search(&locrit, &hybrid(&mut rng)).await.unwrap();
    let semantic = first.semantic.expect("hybrid asks for semantic search");
    assert!(semantic.available, "{semantic:?}");
    eprintln!(
        "  HNSW index of {} vectors built from the store in {:.1?} (first search)",
        semantic.indexed,
        started.elapsed()
    );
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let query = hybrid(&mut rng);
        let started = Instant::now();
        let found = core.search(&locrit, &query).await.unwrap();
        times.push(started.elapsed());
        assert!(found.semantic.is_some_and(|s| s.available));
    }
    report(backend, "hybrid search (top 20)", times);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let data = DataSet::from_env();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ollama = FakeOllama::builder()
            .model(MODEL, None)
            .embed_dim(data.dim)
            .start()
            .await;
        println!(
            "search benchmark: {} messages, {} memories, {}-dimension embeddings",
            data.sessions * MESSAGES_PER_SESSION,
            data.memories,
            data.dim
        );
        let dir =
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
                .join("locrit-bench");
        let path = dir.join(format!("search-{}-{}.db", data.sessions, data.dim));
        let sqlite = locrit_store::open(&StoreConfig {
            sqlite_sync: locrit_store::SqliteSync::Normal,
            ..StoreConfig::new(format!("sqlite://{}", path.display()))
        })
        .await
        .unwrap();
        measure("sqlite", sqlite, &data, &ollama).await;
        if let Ok(url) = std::env::var("LOCRIT_BENCH_POSTGRES_URL") {
            let postgres = locrit_store::open(&StoreConfig::new(url)).await.unwrap();
            measure("postgres", postgres, &data, &ollama).await;
        }
    });
}
