//! Store operations the chat engine leans on, with 100k messages in the store:
//! appending one message (one durable commit) and reading a session's newest 50.
//!
//! `cargo bench -p locrit-store --bench store`; set `LOCRIT_BENCH_POSTGRES_URL` (a
//! database the bench may fill) to measure PostgreSQL beside SQLite.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use locrit_domain::{NewLocrit, NewMessage, NewSession, Role, SessionKind};
use locrit_store::{MessagePage, Store, StoreConfig};
use locrit_testkit::TestDatabase;
use serde_json::json;
use tokio::runtime::Runtime;
use uuid::Uuid;

const SESSIONS: usize = 100;
const MESSAGES_PER_SESSION: usize = 1_000;

/// A store holding `SESSIONS` sessions of `MESSAGES_PER_SESSION` messages each.
async fn seeded(url: &str) -> (Arc<dyn Store>, Vec<Uuid>) {
    let store = locrit_store::open(&StoreConfig {
        max_connections: 4,
        ..StoreConfig::new(url)
    })
    .await
    .unwrap();
    let locrit = NewLocrit {
        name: "Bench".into(),
        ollama_model: "m".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")
    .unwrap();
    store.insert_locrit(&locrit).await.unwrap();
    let batch: Vec<NewMessage> = (0..MESSAGES_PER_SESSION)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            NewMessage::new(
                role,
                format!(
                    "message {i}: a sentence of a realistic length, about the weather and tea."
                ),
            )
        })
        .collect();
    let mut sessions = Vec::with_capacity(SESSIONS);
    for s in 0..SESSIONS {
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
        store.append_messages(session.id, &batch).await.unwrap();
        sessions.push(session.id);
    }
    (store, sessions)
}

fn bench_backend(c: &mut Criterion, runtime: &Runtime, backend: &str, url: &str) {
    let (store, sessions) = runtime.block_on(seeded(url));
    let mut group = c.benchmark_group(format!("store/{backend}/100k_messages"));
    let mut turn = 0usize;
    group.bench_function("append_message", |b| {
        b.to_async(runtime).iter(|| {
            turn += 1;
            let session = sessions[turn % sessions.len()];
            let store = store.clone();
            async move {
                store
                    .append_message(session, &NewMessage::new(Role::User, "a new message"))
                    .await
                    .unwrap();
            }
        })
    });
    group.bench_function("newest_50_of_a_session", |b| {
        b.to_async(runtime).iter(|| {
            turn += 1;
            let session = sessions[turn % sessions.len()];
            let store = store.clone();
            async move {
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
                assert_eq!(page.len(), 50);
            }
        })
    });
    group.finish();
}

fn store_benches(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let sqlite = TestDatabase::sqlite();
    bench_backend(c, &runtime, "sqlite", sqlite.url());
    if std::env::var("LOCRIT_BENCH_POSTGRES_URL").is_ok() {
        // A schema of its own, dropped after the run.
        let postgres = runtime.block_on(async {
            let url = std::env::var("LOCRIT_BENCH_POSTGRES_URL").unwrap();
            TestDatabase::postgres_at(&url).await
        });
        bench_backend(c, &runtime, "postgres", postgres.url());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = store_benches
}
criterion_main!(benches);
