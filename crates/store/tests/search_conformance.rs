//! Search in the store, one behaviour on both databases: ranked keyword search with its
//! filters, hostile queries, the index following edits and deletes, and the stored
//! embeddings the semantic search is built from. The PostgreSQL cases run with
//! `--ignored` and `LOCRIT_TEST_POSTGRES_URL` set.

use std::sync::Arc;

use chrono::{Duration, Utc};
use locrit_domain::{Locrit, NewLocrit, NewMemory, NewMessage, NewSession, Role, SessionKind};
use locrit_domain::{Message, SessionStatus};
use locrit_store::{
    EmbedTask, ItemKind, ItemRef, KEYWORD_WINDOW, KeywordQuery, Kinds, NewEmbedding, SearchFilter,
    Store, StoreConfig, query_terms,
};
use locrit_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    locrit_store::open(&StoreConfig::new(db.url()))
        .await
        .expect("open the store")
}

async fn new_locrit(store: &Arc<dyn Store>, name: &str) -> Locrit {
    let locrit = NewLocrit {
        name: name.into(),
        ollama_model: "llama3.2".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")
    .unwrap();
    store.insert_locrit(&locrit).await.unwrap();
    locrit
}

async fn session_with(
    store: &Arc<dyn Store>,
    locrit: &Locrit,
    key: &str,
    messages: &[(Role, &str)],
) -> (Uuid, Vec<Message>) {
    let session = store
        .create_session(&NewSession {
            locrit_id: locrit.id,
            key: key.into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: Some("alice".into()),
            metadata: json!({}),
        })
        .await
        .unwrap();
    let batch: Vec<NewMessage> = messages
        .iter()
        .map(|(role, text)| NewMessage::new(*role, *text))
        .collect();
    let stored = store.append_messages(session.id, &batch).await.unwrap();
    (session.id, stored)
}

fn memory(text: &str) -> NewMemory {
    NewMemory {
        content: text.into(),
        importance: 0.5,
        metadata: json!({}),
        ..NewMemory::default()
    }
}

fn query(text: &str) -> KeywordQuery {
    KeywordQuery {
        terms: query_terms(text),
        limit: 20,
        ..Default::default()
    }
}

async fn found(store: &Arc<dyn Store>, locrit: Uuid, q: &KeywordQuery) -> Vec<String> {
    store
        .keyword_search(locrit, q)
        .await
        .unwrap()
        .into_iter()
        .map(|hit| hit.content)
        .collect()
}

mod cases {
    use super::*;

    /// Past [`KEYWORD_WINDOW`] matches, the newest are ranked: the best match, older
    /// than them, is left out, unless a filter narrows the search (then exact). Both
    /// kinds share the window, and another Locrit's rows do not take its places.
    pub async fn a_query_matching_more_rows_than_the_window_ranks_the_newest(
        store: Arc<dyn Store>,
    ) {
        let pixie = new_locrit(&store, "Pixie").await;
        let other = new_locrit(&store, "Other").await;
        let window = KEYWORD_WINDOW as usize;
        session_with(&store, &pixie, "old", &[(Role::User, "zebra zebra zebra")]).await;
        let newer: Vec<String> = (0..window)
            .map(|n| format!("a zebra seen on walk number {n} of the long summer"))
            .collect();
        let newer: Vec<(Role, &str)> = newer
            .iter()
            .map(|t| (Role::Assistant, t.as_str()))
            .collect();
        session_with(&store, &pixie, "new", &newer).await;
        let others: Vec<(Role, &str)> = (0..50).map(|_| (Role::User, "zebra")).collect();
        session_with(&store, &other, "x", &others).await;

        let hits = store
            .keyword_search(pixie.id, &query("zebra"))
            .await
            .unwrap();
        assert_eq!(hits.len(), 20, "the window is the Locrit's own");
        assert!(
            hits.iter().all(|h| h.content != "zebra zebra zebra"),
            "{:?}",
            hits[0]
        );
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let narrowed = KeywordQuery {
            filter: SearchFilter {
                role: Some(Role::User),
                ..Default::default()
            },
            ..query("zebra")
        };
        let exact = store.keyword_search(pixie.id, &narrowed).await.unwrap();
        assert_eq!(
            exact[0].content, "zebra zebra zebra",
            "narrowed: every match ranked"
        );

        // A memory is newer than all but the window's last message: it takes a place.
        store
            .insert_memory(pixie.id, &memory("zebra zebra stripes"))
            .await
            .unwrap();
        let hits = store
            .keyword_search(pixie.id, &query("zebra"))
            .await
            .unwrap();
        assert_eq!(hits[0].content, "zebra zebra stripes");
        let deep = KeywordQuery {
            limit: 100,
            offset: KEYWORD_WINDOW - 50,
            ..query("zebra")
        };
        let last_page = store.keyword_search(pixie.id, &deep).await.unwrap();
        assert_eq!(last_page.len(), 50, "the window holds {window} rows in all");
    }

    pub async fn keyword_search_ranks_and_filters(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        let other = new_locrit(&store, "Other").await;
        session_with(
            &store,
            &pixie,
            "morning",
            &[
                (Role::User, "My cat sleeps all day. Cat, cat, cat!"),
                (
                    Role::Assistant,
                    "A long answer about many things: the weather, the garden, tea, \
                     the neighbours, and also, once, a cat.",
                ),
                (Role::User, "Nothing to see here."),
            ],
        )
        .await;
        session_with(
            &store,
            &pixie,
            "evening",
            &[(Role::User, "Un été à Paris avec mon chat et mon cat")],
        )
        .await;
        session_with(&store, &other, "x", &[(Role::User, "another cat")]).await;
        store
            .insert_memory(pixie.id, &memory("Alice has a cat named Tom"))
            .await
            .unwrap();

        // Ranked: the message saying "cat" four times in few words comes first; other
        // Locrits' rows never show.
        let hits = store.keyword_search(pixie.id, &query("cat")).await.unwrap();
        assert_eq!(hits.len(), 4, "{hits:?}");
        assert!(hits[0].content.starts_with("My cat sleeps"));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(hits.iter().all(|h| h.locrit_id == pixie.id));
        let long = hits
            .iter()
            .position(|h| h.content.starts_with("A long"))
            .unwrap();
        assert_eq!(long, 3, "the long answer ranks last");
        let message = &hits[0];
        assert_eq!(message.item.kind, ItemKind::Message);
        assert_eq!(message.session_key.as_deref(), Some("morning"));
        assert_eq!(message.role, Some(Role::User));
        let tom = hits
            .iter()
            .find(|h| h.item.kind == ItemKind::Memory)
            .unwrap();
        assert_eq!(tom.session_key, None);
        assert_eq!(tom.role, None);

        // By recency: the same rows, newest first, none weighed.
        let newest_first = KeywordQuery {
            by_recency: true,
            ..query("cat")
        };
        let recent = store.keyword_search(pixie.id, &newest_first).await.unwrap();
        assert_eq!(recent.len(), 4, "{recent:?}");
        assert_eq!(recent[0].content, "Alice has a cat named Tom");
        assert!(
            recent
                .windows(2)
                .all(|w| w[0].created_at >= w[1].created_at),
            "{recent:?}"
        );
        assert!(recent.iter().all(|h| h.score == 0.0), "{recent:?}");

        // Every word must match by default; any of them with `any`.
        assert_eq!(found(&store, pixie.id, &query("cat garden")).await.len(), 1);
        let any = KeywordQuery {
            any: true,
            ..query("garden nothing")
        };
        assert_eq!(found(&store, pixie.id, &any).await.len(), 2);

        // Diacritics and case are ignored, both ways.
        assert_eq!(
            found(&store, pixie.id, &query("ETE paris")).await,
            ["Un été à Paris avec mon chat et mon cat"]
        );
        assert_eq!(found(&store, pixie.id, &query("été")).await.len(), 1);

        // Filters: session, role, kinds, time; limit and offset.
        let in_session = |key: &str| KeywordQuery {
            filter: SearchFilter {
                session_key: Some(key.into()),
                ..Default::default()
            },
            ..query("cat")
        };
        assert_eq!(
            found(&store, pixie.id, &in_session("evening")).await.len(),
            1
        );
        assert_eq!(found(&store, pixie.id, &in_session("nope")).await.len(), 0);
        let by_assistant = KeywordQuery {
            filter: SearchFilter {
                role: Some(Role::Assistant),
                ..Default::default()
            },
            ..query("cat")
        };
        assert_eq!(found(&store, pixie.id, &by_assistant).await.len(), 1);
        let memories_only = KeywordQuery {
            filter: SearchFilter {
                kinds: Kinds {
                    messages: false,
                    memories: true,
                },
                ..Default::default()
            },
            ..query("cat")
        };
        assert_eq!(
            found(&store, pixie.id, &memories_only).await,
            ["Alice has a cat named Tom"]
        );
        let messages_only = KeywordQuery {
            filter: SearchFilter {
                kinds: Kinds {
                    messages: true,
                    memories: false,
                },
                ..Default::default()
            },
            ..query("cat")
        };
        assert_eq!(found(&store, pixie.id, &messages_only).await.len(), 3);
        let neither = KeywordQuery {
            filter: SearchFilter {
                kinds: Kinds {
                    messages: false,
                    memories: false,
                },
                ..Default::default()
            },
            ..query("cat")
        };
        assert!(found(&store, pixie.id, &neither).await.is_empty());
        let future = KeywordQuery {
            filter: SearchFilter {
                since: Some(Utc::now() + Duration::hours(1)),
                ..Default::default()
            },
            ..query("cat")
        };
        assert!(found(&store, pixie.id, &future).await.is_empty());
        let past = KeywordQuery {
            filter: SearchFilter {
                since: Some(Utc::now() - Duration::hours(1)),
                until: Some(Utc::now() + Duration::hours(1)),
                ..Default::default()
            },
            ..query("cat")
        };
        assert_eq!(found(&store, pixie.id, &past).await.len(), 4);
        let before = KeywordQuery {
            filter: SearchFilter {
                until: Some(Utc::now() - Duration::hours(1)),
                ..Default::default()
            },
            ..query("cat")
        };
        assert!(found(&store, pixie.id, &before).await.is_empty());
        let all = found(&store, pixie.id, &query("cat")).await;
        let page = KeywordQuery {
            limit: 2,
            offset: 1,
            ..query("cat")
        };
        assert_eq!(found(&store, pixie.id, &page).await, all[1..3]);
    }

    pub async fn hostile_queries_never_fail(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        session_with(
            &store,
            &pixie,
            "s",
            &[(Role::User, "NEAR the \"quoted\" words AND stars*")],
        )
        .await;
        let long = "é\"*(".repeat(2_600);
        for text in [
            "",
            "   ",
            "\"",
            "\"unbalanced",
            "*",
            "a*",
            "NEAR(a b, 2)",
            "NEAR",
            "AND OR NOT",
            "col:value",
            "^start",
            "-minus +plus",
            "(((",
            "'; DROP TABLE messages; --",
            "\\",
            "%_",
            "\u{0}",
            long.as_str(),
        ] {
            let q = query(text);
            let hits = store
                .keyword_search(pixie.id, &q)
                .await
                .unwrap_or_else(|e| panic!("{text:?} failed: {e}"));
            assert!(hits.len() <= 1, "{text:?}");
            let any = KeywordQuery { any: true, ..q };
            store.keyword_search(pixie.id, &any).await.unwrap();
        }
        // Operators are plain words.
        assert_eq!(found(&store, pixie.id, &query("NEAR")).await.len(), 1);
        assert_eq!(found(&store, pixie.id, &query("\"quoted\"")).await.len(), 1);
        assert_eq!(found(&store, pixie.id, &query("AND stars")).await.len(), 1);
    }

    pub async fn the_index_follows_edits_and_deletes(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        let (session, messages) = session_with(
            &store,
            &pixie,
            "s",
            &[
                (Role::User, "pineapple pizza"),
                (Role::User, "banana bread"),
            ],
        )
        .await;
        let (doomed_session, _) =
            session_with(&store, &pixie, "doomed", &[(Role::User, "banana split")]).await;
        let (hidden_session, _) =
            session_with(&store, &pixie, "hidden", &[(Role::User, "banana boat")]).await;
        let kept = store
            .insert_memory(pixie.id, &memory("banana allergy"))
            .await
            .unwrap();
        assert_eq!(found(&store, pixie.id, &query("banana")).await.len(), 4);

        store
            .edit_message(pixie.id, messages[0].id, "mango salad")
            .await
            .unwrap()
            .unwrap();
        assert!(
            found(&store, pixie.id, &query("pineapple"))
                .await
                .is_empty()
        );
        assert_eq!(
            found(&store, pixie.id, &query("mango")).await,
            ["mango salad"]
        );

        assert!(
            store
                .delete_message(pixie.id, messages[1].id)
                .await
                .unwrap()
        );
        assert!(store.delete_session(doomed_session).await.unwrap());
        store
            .set_session_status(hidden_session, SessionStatus::Deleted)
            .await
            .unwrap();
        assert_eq!(
            found(&store, pixie.id, &query("banana")).await,
            ["banana allergy"]
        );
        assert!(store.delete_memory(pixie.id, kept.id).await.unwrap());
        assert!(found(&store, pixie.id, &query("banana")).await.is_empty());

        store.delete_locrit(pixie.id).await.unwrap();
        assert!(found(&store, pixie.id, &query("mango")).await.is_empty());
        let _ = session;
    }

    pub async fn term_rows_count_the_rows_of_every_locrit_holding_each_term(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        let other = new_locrit(&store, "Other").await;
        let texts = [
            (Role::User, "apple banana"),
            (Role::Assistant, "Apple cherry"),
        ];
        session_with(&store, &pixie, "s", &texts).await;
        session_with(
            &store,
            &other,
            "s",
            &[(Role::User, "apple pie, apple tart")],
        )
        .await;
        store
            .insert_memory(pixie.id, &memory("banana bread"))
            .await
            .unwrap();
        let terms = ["apple", "BANANA", "cherry", "zebra"].map(String::from);
        assert_eq!(store.indexed_rows().await.unwrap(), 4);
        assert_eq!(store.term_rows(&terms).await.unwrap(), [3, 2, 1, 0]);
        assert!(store.delete_locrit(other.id).await.unwrap());
        assert_eq!(store.indexed_rows().await.unwrap(), 3);
        assert_eq!(store.term_rows(&terms[..1]).await.unwrap(), [2]);
    }

    pub async fn embeddings_are_stored_per_model_and_follow_their_rows(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        let (_, messages) = session_with(
            &store,
            &pixie,
            "s",
            &[(Role::User, "first"), (Role::Assistant, "second")],
        )
        .await;
        let remembered = store
            .insert_memory(pixie.id, &memory("third"))
            .await
            .unwrap();

        let backlog = store
            .embedding_backlog(pixie.id, "m1", None, 10)
            .await
            .unwrap();
        assert_eq!(backlog.len(), 3);
        // `since` keeps the rows written from then on.
        let since = |hours| Some(Utc::now() + Duration::hours(hours));
        let backlog_since = |hours| store.embedding_backlog(pixie.id, "m1", since(hours), 10);
        assert_eq!(backlog_since(-1).await.unwrap(), backlog);
        assert!(backlog_since(1).await.unwrap().is_empty());
        let embedded: Vec<NewEmbedding> = backlog
            .iter()
            .enumerate()
            .map(|(i, task)| NewEmbedding {
                task: task.clone(),
                vector: vec![i as f32, 1.0, -0.5],
            })
            .collect();
        assert_eq!(store.put_embeddings("m1", &embedded).await.unwrap(), 3);
        assert!(
            store
                .embedding_backlog(pixie.id, "m1", None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Another model has its own vectors.
        assert_eq!(
            store
                .embedding_backlog(pixie.id, "m2", None, 10)
                .await
                .unwrap()
                .len(),
            3
        );
        let stored = store.embeddings(pixie.id, "m1", None).await.unwrap();
        assert_eq!(stored.len(), 3);
        let first = embedded
            .iter()
            .find(|e| e.task.item.id == messages[0].id)
            .unwrap();
        let first_stored = stored.iter().find(|s| s.item.id == messages[0].id).unwrap();
        assert_eq!(first_stored.vector, first.vector);
        assert!(
            store
                .embeddings(pixie.id, "m1", since(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.embeddings(pixie.id, "m1", since(-1)).await.unwrap(),
            stored
        );

        // An edit drops the stale vector; a vector computed from the old text is refused.
        store
            .edit_message(pixie.id, messages[0].id, "first, edited")
            .await
            .unwrap();
        let backlog = store
            .embedding_backlog(pixie.id, "m1", None, 10)
            .await
            .unwrap();
        assert_eq!(backlog.len(), 1);
        assert_eq!(backlog[0].content, "first, edited");
        assert_eq!(
            store
                .put_embeddings("m1", std::slice::from_ref(first))
                .await
                .unwrap(),
            0
        );
        let items = [
            ItemRef {
                kind: ItemKind::Message,
                id: messages[0].id,
            },
            ItemRef {
                kind: ItemKind::Memory,
                id: remembered.id,
            },
        ];
        let of = store.embeddings_of(pixie.id, "m1", &items).await.unwrap();
        assert_eq!(of.len(), 1);
        assert_eq!(of[0].item.kind, ItemKind::Memory);
        let dates = store.embedding_dates(pixie.id, "m1", &items).await.unwrap();
        assert_eq!(
            dates,
            [(items[1], of[0].created_at)],
            "only the memory's embedding is left, with when it was stored"
        );
        assert!(
            store
                .embedding_dates(pixie.id, "m2", &items)
                .await
                .unwrap()
                .is_empty(),
            "another model's"
        );

        // Deletes take the vectors with them.
        store.delete_memory(pixie.id, remembered.id).await.unwrap();
        store
            .delete_message(pixie.id, messages[1].id)
            .await
            .unwrap();
        assert!(
            store
                .embeddings(pixie.id, "m1", None)
                .await
                .unwrap()
                .is_empty()
        );
        let task = EmbedTask {
            item: items[1],
            locrit_id: pixie.id,
            content: "third".into(),
        };
        let gone = NewEmbedding {
            task,
            vector: vec![1.0],
        };
        assert_eq!(store.put_embeddings("m1", &[gone]).await.unwrap(), 0);
    }

    pub async fn search_items_resolves_ids_through_the_filter(store: Arc<dyn Store>) {
        let pixie = new_locrit(&store, "Pixie").await;
        let (_, messages) = session_with(
            &store,
            &pixie,
            "s",
            &[(Role::User, "hello"), (Role::Assistant, "hi")],
        )
        .await;
        let remembered = store
            .insert_memory(pixie.id, &memory("fact"))
            .await
            .unwrap();
        let refs = vec![
            ItemRef {
                kind: ItemKind::Message,
                id: messages[0].id,
            },
            ItemRef {
                kind: ItemKind::Message,
                id: messages[1].id,
            },
            ItemRef {
                kind: ItemKind::Memory,
                id: remembered.id,
            },
            ItemRef {
                kind: ItemKind::Message,
                id: Uuid::now_v7(),
            },
        ];
        let all = store
            .search_items(pixie.id, &refs, &SearchFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let by_user = SearchFilter {
            role: Some(Role::User),
            ..Default::default()
        };
        let users = store.search_items(pixie.id, &refs, &by_user).await.unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].content, "hello");
        let memories_only = SearchFilter {
            kinds: Kinds {
                messages: false,
                memories: true,
            },
            ..Default::default()
        };
        let facts = store
            .search_items(pixie.id, &refs, &memories_only)
            .await
            .unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].content, "fact");
        let other = new_locrit(&store, "Other").await;
        assert!(
            store
                .search_items(other.id, &refs, &SearchFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .search_items(pixie.id, &[], &SearchFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// The search migration indexes rows stored before it ran: undo it on a filled SQLite
/// store, open the store again (which migrates), and search.
#[tokio::test]
async fn sqlite_migration_indexes_existing_rows() {
    let db = TestDatabase::sqlite();
    let store = open(&db).await;
    let pixie = new_locrit(&store, "Pixie").await;
    session_with(&store, &pixie, "s", &[(Role::User, "an old message")]).await;
    store
        .insert_memory(pixie.id, &memory("an old memory"))
        .await
        .unwrap();
    drop(store);
    let undo = "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_delete; \
        DROP TRIGGER messages_search_update; DROP TRIGGER memories_search_insert; \
        DROP TRIGGER memories_search_delete; DROP TRIGGER memories_search_update; \
        DROP TABLE search_fts; DROP VIEW search_content; DROP TABLE search_docs; \
        DROP TABLE message_embeddings; DROP TABLE memory_embeddings; \
        DELETE FROM _sqlx_migrations WHERE version = 20261124000001;";
    let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
    sqlx::raw_sql(undo).execute(&pool).await.unwrap();
    pool.close().await;

    let store = open(&db).await;
    assert_eq!(found(&store, pixie.id, &query("old")).await.len(), 2);
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let db = TestDatabase::sqlite();
                    cases::$case(open(&db).await).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                #[ignore = "PostgreSQL suite: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
                async fn $case() {
                    let db = TestDatabase::postgres().await;
                    cases::$case(open(&db).await).await;
                }
            )*
        }
    };
}

conformance!(
    keyword_search_ranks_and_filters,
    hostile_queries_never_fail,
    the_index_follows_edits_and_deletes,
    embeddings_are_stored_per_model_and_follow_their_rows,
    search_items_resolves_ids_through_the_filter,
    term_rows_count_the_rows_of_every_locrit_holding_each_term,
    a_query_matching_more_rows_than_the_window_ranks_the_newest,
);
