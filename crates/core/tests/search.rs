//! Search through the core against the fake Ollama: the embedding worker (in the
//! background, resumable, following the model), semantic and hybrid ranking, and
//! keyword search going on when no embedding model can be reached.

use std::future::Future;
use std::time::{Duration, Instant};

use locrit_core::chat::{SessionTarget, TurnRequest};
use locrit_core::search::{ItemKind, SearchMode, SearchQuery, SearchResults};
use locrit_core::{Core, GlobalConfigChanges, NewSessionSpec};
use locrit_domain::NewSession;
use locrit_domain::{Caller, Locrit, NewLocrit, NewMemory, NewMessage, SessionKind};
use locrit_store::StoreConfig;
use locrit_testkit::{Endpoint, FakeFailure, FakeOllama, Reply, TestDatabase};
use serde_json::json;

const EMBEDDER: &str = "nomic-embed-text";

struct Setup {
    core: Core,
    ollama: FakeOllama,
    locrit: Locrit,
    db: TestDatabase,
}

async fn setup() -> Setup {
    let db = TestDatabase::sqlite();
    let core = Core::new(
        locrit_store::open(&StoreConfig::new(db.url()))
            .await
            .unwrap(),
    );
    let ollama = FakeOllama::builder()
        .model(EMBEDDER, None)
        .embed_dim(64)
        .reply(Reply::Text("Noted.".into()))
        .start()
        .await;
    let locrit = core
        .create_locrit(NewLocrit {
            name: "Pixie".into(),
            ollama_model: "llama3.2".into(),
            ollama_url: Some(ollama.url()),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    Setup {
        core,
        ollama,
        locrit,
        db,
    }
}

/// Stores messages straight in the store, as if written while no worker ran.
async fn store_messages(setup: &Setup, key: &str, texts: &[&str]) {
    let store = setup.core.store();
    let session = store
        .open_session(&NewSession {
            locrit_id: setup.locrit.id,
            key: key.into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: None,
            metadata: json!({}),
        })
        .await
        .unwrap();
    let batch: Vec<NewMessage> = texts
        .iter()
        .map(|t| NewMessage::new(locrit_domain::Role::User, *t))
        .collect();
    store.append_messages(session.id, &batch).await.unwrap();
}

/// Adds a memory through the core, which announces it to the embedding worker.
async fn remember(setup: &Setup, text: &str) {
    let memory = NewMemory {
        content: text.into(),
        importance: 0.5,
        metadata: json!({}),
        ..NewMemory::default()
    };
    setup.core.add_memory(&setup.locrit, memory).await.unwrap();
}

async fn vectors(core: &Core, locrit: &Locrit, model: &str) -> usize {
    core.store()
        .embeddings(locrit.id, model, None)
        .await
        .unwrap()
        .len()
}

async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn query(text: &str, mode: SearchMode) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        mode,
        limit: 10,
        ..Default::default()
    }
}

async fn search(setup: &Setup, text: &str, mode: SearchMode) -> SearchResults {
    setup
        .core
        .search(&setup.locrit, &query(text, mode))
        .await
        .unwrap()
}

fn contents(results: &SearchResults) -> Vec<&str> {
    results.hits.iter().map(|h| h.content.as_str()).collect()
}

#[tokio::test]
async fn chat_does_not_wait_for_embeddings_which_follow_in_the_background() {
    let setup = setup().await;
    let worker = setup.core.spawn_embedder();
    // Every embedding takes 2 s: the turn must not.
    setup
        .ollama
        .fail_always_on(Endpoint::Embed, FakeFailure::Delay(Duration::from_secs(2)));
    let started = Instant::now();
    let turn = setup
        .core
        .start_turn(TurnRequest {
            locrit: setup.locrit.clone(),
            session: SessionTarget::Open(NewSessionSpec {
                key: "s".into(),
                kind: SessionKind::Chat,
                name: None,
                user_id: None,
                metadata: json!({}),
            }),
            caller: Caller::Owner,
            text: "My cat is called Tom".into(),
            user_id: None,
            system_additions: vec![],
        })
        .await
        .unwrap();
    turn.finished().await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the turn took {:?}",
        started.elapsed()
    );
    eventually("both messages embedded", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 2
    })
    .await;
    let embeds = setup.ollama.requests_on(Endpoint::Embed);
    assert!(embeds.iter().all(|r| r["model"] == EMBEDDER));
    assert!(
        embeds
            .iter()
            .any(|r| r["input"].to_string().contains("My cat is called Tom"))
    );
    worker.abort();
}

#[tokio::test]
async fn the_worker_resumes_from_the_store_after_a_restart() {
    let setup = setup().await;
    store_messages(&setup, "before", &["one", "two", "three"]).await;
    let worker = setup.core.spawn_embedder();
    eventually("the rows stored before the start", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 3
    })
    .await;
    worker.abort();

    // Written while no worker ran, and without events: a new server finds them.
    store_messages(&setup, "meanwhile", &["four", "five"]).await;
    let store = locrit_store::open(&StoreConfig::new(setup.db.url()))
        .await
        .unwrap();
    let restarted = Core::new(store);
    let worker = restarted.spawn_embedder();
    eventually("the rows stored while stopped", || async {
        vectors(&restarted, &setup.locrit, EMBEDDER).await == 5
    })
    .await;
    worker.abort();
}

#[tokio::test]
async fn a_new_embedding_model_recomputes_every_vector() {
    let setup = setup().await;
    store_messages(&setup, "s", &["alpha beta", "gamma delta"]).await;
    remember(&setup, "epsilon").await;
    let worker = setup.core.spawn_embedder();
    eventually("vectors of the first model", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 3
    })
    .await;

    setup.ollama.add_model("other-embed", None);
    setup.ollama.set_embed_dim(16);
    setup
        .core
        .save_global_config(GlobalConfigChanges {
            ollama_embedding_model: Some("other-embed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("vectors of the new model", || async {
        vectors(&setup.core, &setup.locrit, "other-embed").await == 3
    })
    .await;
    let stored = setup
        .core
        .store()
        .embeddings(setup.locrit.id, "other-embed", None)
        .await
        .unwrap();
    assert!(stored.iter().all(|v| v.vector.len() == 16));
    let results = search(&setup, "gamma", SearchMode::Semantic).await;
    let semantic = results.semantic.as_ref().unwrap();
    assert!(semantic.available, "{semantic:?}");
    assert_eq!(semantic.model, "other-embed");
    assert_eq!(contents(&results)[0], "gamma delta");
    worker.abort();
}

#[tokio::test]
async fn semantic_and_hybrid_search_rank_by_meaning() {
    let setup = setup().await;
    store_messages(
        &setup,
        "s",
        &[
            "the cat sat on the mat",
            "the dog ran in the park",
            "stock markets fell sharply today",
        ],
    )
    .await;
    remember(&setup, "Alice keeps a cat at home").await;
    let worker = setup.core.spawn_embedder();
    eventually("every row embedded", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 4
    })
    .await;

    // No row has every word: keyword search finds nothing, semantic search finds the
    // closest texts, and hybrid search keeps them.
    let text = "the cat on a mat";
    assert!(
        search(&setup, text, SearchMode::Keyword)
            .await
            .hits
            .is_empty()
    );
    let semantic = search(&setup, text, SearchMode::Semantic).await;
    assert_eq!(semantic.semantic.as_ref().unwrap().indexed, 4);
    assert_eq!(contents(&semantic)[0], "the cat sat on the mat");
    assert_eq!(
        semantic.hits[0].snippet,
        "<mark>the</mark> <mark>cat</mark> sat <mark>on</mark> <mark>the</mark> <mark>mat</mark>"
    );
    assert!(semantic.hits.windows(2).all(|w| w[0].score >= w[1].score));
    let hybrid = search(&setup, text, SearchMode::Hybrid).await;
    assert_eq!(contents(&hybrid)[0], "the cat sat on the mat");

    // Hybrid: a hit in both lists comes before hits in one.
    let both = search(&setup, "cat", SearchMode::Hybrid).await;
    assert!(both.semantic.as_ref().unwrap().available);
    assert_eq!(both.hits.len(), 4);
    let kinds: Vec<ItemKind> = both.hits.iter().take(2).map(|h| h.kind).collect();
    assert!(kinds.contains(&ItemKind::Memory));
    assert!(both.hits[..2].iter().all(|h| h.content.contains("cat")));

    // A deleted message leaves the semantic results at once (the index keeps a stale
    // point; the store has the last word).
    let cat = semantic.hits[0].id;
    setup
        .core
        .store()
        .delete_message(setup.locrit.id, cat)
        .await
        .unwrap();
    let after = search(&setup, text, SearchMode::Semantic).await;
    assert!(after.hits.iter().all(|h| h.id != cat));

    // Pages follow each other.
    let first = setup
        .core
        .search(
            &setup.locrit,
            &SearchQuery {
                limit: 1,
                ..query("cat dog park", SearchMode::Semantic)
            },
        )
        .await
        .unwrap();
    assert_eq!(first.next_offset, Some(1));
    let second = setup
        .core
        .search(
            &setup.locrit,
            &SearchQuery {
                limit: 1,
                offset: 1,
                ..query("cat dog park", SearchMode::Semantic)
            },
        )
        .await
        .unwrap();
    assert_ne!(first.hits[0].id, second.hits[0].id);
    worker.abort();

    // An edited message drops its vector: until it is embedded again it is not found by
    // the meaning it had (the index's point of its old text no longer counts)...
    let dog_text = "the dog ran in the park";
    let dog = search(&setup, dog_text, SearchMode::Semantic).await.hits[0].clone();
    assert_eq!(dog.content, dog_text);
    let edited = "stock prices and bonds";
    setup
        .core
        .store()
        .edit_message(setup.locrit.id, dog.id, edited)
        .await
        .unwrap()
        .unwrap();
    let stale = search(&setup, dog_text, SearchMode::Semantic).await;
    assert!(stale.hits.iter().all(|h| h.id != dog.id), "{stale:?}");
    // ...and once embedded again, it is found, and scored, by its new text only.
    let worker = setup.core.spawn_embedder();
    eventually("the edited message embedded again", || async {
        let found = search(&setup, edited, SearchMode::Semantic).await;
        found.hits.first().is_some_and(|h| h.id == dog.id)
    })
    .await;
    let by_old_meaning = search(&setup, dog_text, SearchMode::Semantic).await;
    if let Some(hit) = by_old_meaning.hits.iter().find(|h| h.id == dog.id) {
        assert!(
            hit.score < dog.score - 0.2,
            "scored by its new vector: {} (was {})",
            hit.score,
            dog.score
        );
    }
    worker.abort();
}

#[tokio::test]
async fn keyword_search_goes_on_when_no_embedding_model_answers() {
    let setup = setup().await;
    store_messages(&setup, "s", &["the cat sat on the mat"]).await;

    setup.ollama.remove_model(EMBEDDER);
    let results = search(&setup, "cat", SearchMode::Hybrid).await;
    assert_eq!(contents(&results), ["the cat sat on the mat"]);
    let semantic = results.semantic.unwrap();
    assert!(!semantic.available);
    let reason = semantic.reason.unwrap();
    assert!(
        reason.contains(EMBEDDER) && reason.contains("not found"),
        "{reason}"
    );

    // A server that is not there at all.
    let down = setup
        .core
        .update_locrit(
            setup.locrit.clone(),
            locrit_domain::LocritPatch {
                ollama_url: Some(Some("http://127.0.0.1:9".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let results = setup
        .core
        .search(&down, &query("cat", SearchMode::Hybrid))
        .await
        .unwrap();
    assert_eq!(results.hits.len(), 1);
    let semantic = results.semantic.unwrap();
    assert!(!semantic.available);
    assert!(semantic.reason.unwrap().contains("127.0.0.1:9"));

    // Semantic mode alone answers with no hits and the reason, not an error.
    let results = setup
        .core
        .search(&down, &query("cat", SearchMode::Semantic))
        .await
        .unwrap();
    assert!(results.hits.is_empty());
    assert!(!results.semantic.unwrap().available);
}

#[tokio::test]
async fn the_worker_backs_off_while_the_embedding_server_fails_then_catches_up() {
    let setup = setup().await;
    store_messages(&setup, "s", &["one", "two"]).await;
    setup
        .ollama
        .fail_always_on(Endpoint::Embed, FakeFailure::Http(503, "overloaded".into()));
    let worker = setup.core.spawn_embedder();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Retries after 1 s, then 2 s: a handful of requests, not a busy loop.
    let tries = setup.ollama.requests_on(Endpoint::Embed).len();
    assert!((1..=4).contains(&tries), "{tries} embedding requests");
    assert_eq!(vectors(&setup.core, &setup.locrit, EMBEDDER).await, 0);

    setup.ollama.clear_failures();
    eventually("the vectors once the server answers", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 2
    })
    .await;
    worker.abort();
}

/// The index catches up with the store before a search once this server's worker has
/// stored vectors (so they are found at once), and at most a second later for vectors
/// stored by anyone else (another server sharing the store, an import).
#[tokio::test]
async fn new_vectors_are_found_at_once_when_embedded_here_within_a_second_otherwise() {
    let setup = setup().await;
    let semantic_hits = |text: &'static str| {
        let setup = &setup;
        async move {
            contents(&search(setup, text, SearchMode::Semantic).await)
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
        }
    };
    store_messages(&setup, "s1", &["the violin lesson is on tuesday"]).await;
    let worker = setup.core.spawn_embedder();
    eventually("the first row embedded", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 1
    })
    .await;
    let built = Instant::now();
    assert_eq!(semantic_hits("violin lesson").await.len(), 1, "index built");

    // Embedded by this server's worker (woken by the event): found well within the
    // second after the index's last catch-up, as soon as the worker has stored it.
    remember(&setup, "my bicycle has a flat tyre").await;
    loop {
        let hits = semantic_hits("bicycle flat tyre").await;
        if hits.iter().any(|h| h == "my bicycle has a flat tyre") {
            assert!(
                built.elapsed() < Duration::from_millis(900),
                "found only {:?} after the index was built",
                built.elapsed()
            );
            break;
        }
        assert!(
            built.elapsed() < Duration::from_secs(5),
            "never found: {hits:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();

    // Stored by another writer: found once a second has passed.
    store_messages(&setup, "s3", &["the harbour smells of salt and tar"]).await;
    let store = setup.core.store();
    let tasks = store
        .embedding_backlog(setup.locrit.id, EMBEDDER, None, 10)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    let vector = locrit_testkit::fake_embedding("the harbour smells of salt and tar", 64);
    let embedded = [locrit_store::NewEmbedding {
        task: tasks[0].clone(),
        vector,
    }];
    assert_eq!(store.put_embeddings(EMBEDDER, &embedded).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hits = semantic_hits("harbour salt tar").await;
    assert!(
        hits.iter()
            .any(|h| h == "the harbour smells of salt and tar"),
        "{hits:?}"
    );
}

#[tokio::test]
async fn a_search_that_stops_waiting_leaves_the_index_building_for_the_next() {
    // Enough vectors that building their index takes longer than the searches below
    // wait (recall gives up after half a second): about 0.5 ms each on this project's
    // machines, so seconds.
    const COUNT: usize = 10_000;
    let setup = setup().await;
    let texts: Vec<String> = (0..COUNT).map(|i| format!("note number {i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    store_messages(&setup, "many", &texts).await;
    let store = setup.core.store();
    let backlog = store
        .embedding_backlog(setup.locrit.id, EMBEDDER, None, COUNT as u32)
        .await
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let embeddings: Vec<locrit_store::NewEmbedding> = backlog
        .into_iter()
        .map(|task| {
            let vector = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 2_000) as f32 / 1_000.0 - 1.0
                })
                .collect();
            locrit_store::NewEmbedding { task, vector }
        })
        .collect();
    store.put_embeddings(EMBEDDER, &embeddings).await.unwrap();

    // Each search gives up after 300 ms. Were the build the first search's own work,
    // each would start it again and throw it away, and none would ever find the index.
    let deadline = Instant::now() + Duration::from_secs(90);
    let hybrid = query("note number 7", SearchMode::Hybrid);
    loop {
        let searching = setup.core.search(&setup.locrit, &hybrid);
        if let Ok(results) = tokio::time::timeout(Duration::from_millis(300), searching).await {
            let semantic = results.unwrap().semantic.unwrap();
            if semantic.available {
                assert!(semantic.indexed >= COUNT, "{semantic:?}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the index was never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Recall's any-word query leaves out the words most rows hold: among a thousand
/// greetings, "hello zebra" is asked as "zebra", while a search for every word still
/// finds the greetings.
#[tokio::test]
async fn recall_leaves_out_the_words_most_rows_hold() {
    let setup = setup().await;
    let greetings: Vec<String> = (0..1_000).map(|n| format!("hello number {n}")).collect();
    let greetings: Vec<&str> = greetings.iter().map(String::as_str).collect();
    store_messages(&setup, "greetings", &greetings).await;
    store_messages(&setup, "zoo", &["a zebra at the zoo"]).await;
    let recall = |text: &str| SearchQuery {
        any_word: true,
        ..query(text, SearchMode::Keyword)
    };
    let found = setup
        .core
        .search(&setup.locrit, &recall("hello zebra"))
        .await;
    assert_eq!(contents(&found.unwrap()), ["a zebra at the zoo"]);
    let found = setup.core.search(&setup.locrit, &recall("hello")).await;
    assert!(found.unwrap().hits.is_empty());
    let found = search(&setup, "hello", SearchMode::Keyword).await;
    assert_eq!(found.hits.len(), 10);
}

/// An every-word search weighs only the rarer words and checks the common ones (held by
/// more than one row in eight) as whole words on the texts found; when every word is
/// common, the newest rows holding them all come first.
#[tokio::test]
async fn an_every_word_search_checks_the_common_words_on_what_the_rare_ones_found() {
    let setup = setup().await;
    let filler: Vec<String> = (0..1_000)
        .map(|n| format!("hello world number {n}"))
        .collect();
    let filler: Vec<&str> = filler.iter().map(String::as_str).collect();
    store_messages(&setup, "greetings", &filler).await;
    store_messages(
        &setup,
        "zoo",
        &[
            "Hello, zebra zebra zebra!",
            "a zebra alone",
            "hellos to the zebra",
            "hello to the zebra at the zoo, a long way from home",
            "HELLO to the whole wide WORLD, and to everyone in it",
        ],
    )
    .await;

    let found = search(&setup, "zebra hello", SearchMode::Keyword).await;
    assert_eq!(
        contents(&found),
        [
            "Hello, zebra zebra zebra!",
            "hello to the zebra at the zoo, a long way from home"
        ],
        "both words, as whole words, the best first"
    );
    // Snippets still mark every word of the query.
    assert!(found.hits[0].snippet.contains("<mark>Hello</mark>"));

    let found = search(&setup, "world hello", SearchMode::Keyword).await;
    assert_eq!(found.hits.len(), 10);
    assert_eq!(
        found.hits[0].content, "HELLO to the whole wide WORLD, and to everyone in it",
        "the newest first, though bm25 would rank it last"
    );
    assert_eq!(found.hits[1].content, "hello world number 999");
}

/// A server keeping its indexes on disk loads the graph at its next start instead of
/// building it, catches it up with what was stored meanwhile, and removes it with the
/// Locrit.
#[tokio::test]
async fn a_restart_loads_the_saved_index_and_catches_up_with_the_store() {
    let setup = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let saved_in = dir.path().join("search-index");
    let server = || async {
        let store = locrit_store::open(&StoreConfig::new(setup.db.url()))
            .await
            .unwrap();
        Core::new(store).with_search_index_dir(saved_in.clone())
    };
    let semantic = |core: Core, text: &'static str| {
        let locrit = setup.locrit.clone();
        async move {
            core.search(&locrit, &query(text, SearchMode::Semantic))
                .await
                .unwrap()
        }
    };
    let dog_text = "the dog ran in the park";
    store_messages(&setup, "s", &["the cat sat on the mat", dog_text]).await;
    let worker = setup.core.spawn_embedder();
    eventually("every row embedded", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 2
    })
    .await;

    // The first search builds the index and saves it at once.
    let first = server().await;
    let found = semantic(first.clone(), dog_text).await;
    assert_eq!(found.semantic.as_ref().unwrap().indexed, 2);
    let dog = found.hits[0].id;
    assert!(saved_in.join(format!("{}.ann", setup.locrit.id)).exists());
    assert_eq!(first.save_search_indexes().await, 0, "nothing new to save");
    drop(first);

    // While it is stopped, a message is edited (and embedded again) and one is added.
    let edited = "stock prices and bonds";
    setup
        .core
        .store()
        .edit_message(setup.locrit.id, dog, edited)
        .await
        .unwrap()
        .unwrap();
    store_messages(&setup, "s", &["a whale sang in the sea"]).await;
    eventually("the new texts embedded", || async {
        vectors(&setup.core, &setup.locrit, EMBEDDER).await == 3
    })
    .await;
    worker.abort();

    // The next start loads the graph: it still holds the point of the edited
    // message's old text (built from the store, it would have 3), which no longer
    // counts; what came meanwhile is found.
    let second = server().await;
    let whale = semantic(second.clone(), "a whale sang in the sea").await;
    assert_eq!(
        whale.semantic.as_ref().unwrap().indexed,
        4,
        "loaded, then caught up"
    );
    assert_eq!(contents(&whale)[0], "a whale sang in the sea");
    let new_meaning = semantic(second.clone(), edited).await;
    assert_eq!(new_meaning.hits[0].id, dog);
    let old_meaning = semantic(second.clone(), dog_text).await;
    if let Some(hit) = old_meaning.hits.iter().find(|h| h.id == dog) {
        assert!(hit.score < 0.5, "scored by its new vector only: {hit:?}");
    }
    assert_eq!(second.save_search_indexes().await, 1, "it gained points");

    // A damaged save is not loaded: the index is built from the store again.
    let list = saved_in.join(format!("{}.ann", setup.locrit.id));
    let bytes = std::fs::read(&list).unwrap();
    std::fs::write(&list, &bytes[..bytes.len() - 1]).unwrap();
    let third = server().await;
    let rebuilt = semantic(third.clone(), edited).await;
    assert_eq!(
        rebuilt.semantic.as_ref().unwrap().indexed,
        3,
        "built from the store"
    );
    assert_eq!(rebuilt.hits[0].id, dog);

    third.delete_locrit(&setup.locrit).await.unwrap();
    let left: Vec<_> = std::fs::read_dir(&saved_in).unwrap().collect();
    assert!(
        left.is_empty(),
        "the deleted Locrit's index is gone: {left:?}"
    );
}
