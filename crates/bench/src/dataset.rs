//! A large synthetic memory for one Locrit: sessions of 1,000 messages and a tenth as
//! many memories, every row embedded. Texts are 8–20 words of a 5,000-word vocabulary
//! with a Zipf-like frequency; vectors are the fake Ollama's hashed bag of words, so
//! texts sharing words are close. The same seed gives the same data set.
//!
//! It is loaded through the store's normal write paths (`append_messages`, one
//! transaction per session; `insert_memory`; `put_embeddings`), so every table, index,
//! trigger and full-text row is the one a real conversation leaves.

use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use locrit_domain::{Locrit, NewLocrit, NewMemory, NewMessage, NewSession, Role, SessionKind};
use locrit_store::{EmbedTask, ItemKind, ItemRef, NewEmbedding, Store};
use locrit_testkit::fake_embedding;
use serde_json::{Value, json};
use uuid::Uuid;

pub const MESSAGES_PER_SESSION: usize = 1_000;
const VOCABULARY: usize = 5_000;
/// The embedding model the vectors are stored under.
pub const MODEL: &str = "nomic-embed-text";
/// The setting that tells a complete load, to reuse it.
const MARKER: &str = "bench_dataset";
/// Sessions (or chunks of memories) written at once: the CPU work of one overlaps the
/// commit of another.
const PARALLEL_WRITES: usize = 4;
const MEMORY_CHUNK: usize = 1_000;

/// A deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word rank, small ranks far more often (about Zipf's law).
    pub fn zipf_rank(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).saturating_sub(1)
    }
}

/// Word `rank` of the synthetic vocabulary: syllables, so words look like words.
pub fn word(rank: usize) -> String {
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

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct DataSet {
    pub sessions: usize,
    pub messages_per_session: usize,
    pub memories: usize,
    pub dim: usize,
}

impl DataSet {
    /// About `messages` messages in sessions of up to 1,000, and a tenth as many memories.
    pub fn new(messages: usize, dim: usize) -> Self {
        let sessions = messages.div_ceil(MESSAGES_PER_SESSION).max(1);
        Self {
            sessions,
            messages_per_session: (messages / sessions).max(1),
            memories: (messages / 10).max(1),
            dim,
        }
    }

    pub fn messages(&self) -> usize {
        self.sessions * self.messages_per_session
    }

    fn marker(&self) -> Value {
        json!({"data_set": self, "complete": true})
    }
}

/// The Locrit of the data set, loaded into `store` unless a complete load is there.
/// Shows progress on stderr.
pub async fn load_dataset(store: &Arc<dyn Store>, data: &DataSet) -> anyhow::Result<Locrit> {
    if store.setting(MARKER).await? == Some(data.marker())
        && let Some(locrit) = store.locrit_by_name("Bench").await?
    {
        eprintln!("reusing the data set in {}", store.describe());
        return Ok(locrit);
    }
    anyhow::ensure!(
        store.locrit_by_name("Bench").await?.is_none(),
        "{} holds an incomplete data set: delete it first",
        store.describe()
    );
    let locrit = NewLocrit {
        name: "Bench".into(),
        ollama_model: "llama3.2".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")?;
    store.insert_locrit(&locrit).await?;

    let started = Instant::now();
    let progress = Progress::new((data.messages() + data.memories) as u64);
    futures::stream::iter(0..data.sessions)
        .map(|s| load_session(store, &locrit, data, s, &progress))
        .buffer_unordered(PARALLEL_WRITES)
        .try_collect::<()>()
        .await?;
    futures::stream::iter((0..data.memories).step_by(MEMORY_CHUNK))
        .map(|first| {
            let count = MEMORY_CHUNK.min(data.memories - first);
            load_memories(store, &locrit, data, first, count, &progress)
        })
        .buffer_unordered(PARALLEL_WRITES)
        .try_collect::<()>()
        .await?;
    store.put_setting(MARKER, &data.marker()).await?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {} messages and {} memories, embedded, in {seconds:.1} s ({:.0} rows/s)",
        data.messages(),
        data.memories,
        (data.messages() + data.memories) as f64 / seconds
    );
    Ok(locrit)
}

async fn load_session(
    store: &Arc<dyn Store>,
    locrit: &Locrit,
    data: &DataSet,
    index: usize,
    progress: &Progress,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(index as u64);
    let session = store
        .create_session(&NewSession {
            locrit_id: locrit.id,
            key: format!("session-{index}"),
            kind: SessionKind::Chat,
            name: None,
            user_id: Some("bench".into()),
            metadata: json!({}),
        })
        .await?;
    let batch: Vec<NewMessage> = (0..data.messages_per_session)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            NewMessage::new(role, sentence(&mut rng))
        })
        .collect();
    let stored = store.append_messages(session.id, &batch).await?;
    let vectors: Vec<NewEmbedding> = stored
        .into_iter()
        .map(|m| embedded(locrit, ItemKind::Message, m.id, m.content, data.dim))
        .collect();
    store.put_embeddings(MODEL, &vectors).await?;
    progress.add(vectors.len());
    Ok(())
}

async fn load_memories(
    store: &Arc<dyn Store>,
    locrit: &Locrit,
    data: &DataSet,
    first: usize,
    count: usize,
    progress: &Progress,
) -> anyhow::Result<()> {
    // Seeds past the sessions' own.
    let mut rng = Rng::new((data.sessions + first) as u64);
    let mut vectors = Vec::with_capacity(count);
    for _ in 0..count {
        let memory = NewMemory {
            content: sentence(&mut rng),
            importance: 0.5,
            metadata: json!({}),
            ..NewMemory::default()
        };
        let memory = store.insert_memory(locrit.id, &memory).await?;
        vectors.push(embedded(
            locrit,
            ItemKind::Memory,
            memory.id,
            memory.content,
            data.dim,
        ));
    }
    store.put_embeddings(MODEL, &vectors).await?;
    progress.add(count);
    Ok(())
}

fn embedded(
    locrit: &Locrit,
    kind: ItemKind,
    id: Uuid,
    content: String,
    dim: usize,
) -> NewEmbedding {
    let vector = fake_embedding(&content, dim);
    let item = ItemRef { kind, id };
    NewEmbedding {
        task: EmbedTask {
            item,
            locrit_id: locrit.id,
            content,
        },
        vector,
    }
}

/// A progress bar on a terminal; else a plain line on stderr at every tenth.
struct Progress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = ProgressBar::new(total).with_message("loading rows");
        bar.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            started: Instant::now(),
        }
    }

    fn add(&self, rows: usize) {
        let before = self.bar.position();
        self.bar.inc(rows as u64);
        let (total, now) = (self.bar.length().unwrap_or(1).max(1), self.bar.position());
        if self.bar.is_hidden() && before * 10 / total != now * 10 / total {
            eprintln!(
                "loading: {now}/{total} rows ({:.0} s)",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
