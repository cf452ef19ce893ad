//! A Locrit's archive: a round trip to another store reproduces the same data, and a bad
//! or clashing archive is refused with nothing left behind.

use std::sync::Arc;

use locrit_core::{Core, Error, ImportOptions};
use locrit_domain::{
    Locrit, MessageStatus, NewLocrit, NewMemory, NewMessage, NewSession, Role, SessionKind,
    SessionStatus,
};
use locrit_store::{MemoryQuery, MessagePage, SessionQuery, Store, StoreConfig};
use locrit_testkit::TestDatabase;
use serde_json::json;

async fn core(db: &TestDatabase) -> Core {
    Core::new(
        locrit_store::open(&StoreConfig::new(db.url()))
            .await
            .unwrap(),
    )
}

/// A Locrit with a bit of everything: two sessions (one marked deleted), an edited
/// message, an interrupted reply, memories superseded, pinned and invalidated, concepts
/// and a relation.
async fn rich_locrit(core: &Core) -> Locrit {
    let locrit = core
        .create_locrit(NewLocrit {
            name: "Élodie".into(),
            ollama_model: "llama3.2".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let store = core.store();
    let session = |key: &str| NewSession {
        locrit_id: locrit.id,
        key: key.into(),
        kind: SessionKind::Chat,
        name: Some(format!("{key} name")),
        user_id: Some("alice".into()),
        metadata: json!({"k": key}),
    };
    let main = store.create_session(&session("main")).await.unwrap();
    let gone = store.create_session(&session("gone")).await.unwrap();
    let said = store
        .append_messages(
            main.id,
            &[
                NewMessage::new(Role::User, "I live in Lyon"),
                NewMessage {
                    status: MessageStatus::Interrupted,
                    metadata: json!({"model": "llama3.2"}),
                    ..NewMessage::new(Role::Assistant, "Noted, Ly")
                },
                NewMessage::new(Role::User, "Actually Paris"),
            ],
        )
        .await
        .unwrap();
    store
        .edit_message(locrit.id, said[2].id, "Actually Paris, 11e")
        .await
        .unwrap();
    store
        .append_message(gone.id, &NewMessage::new(Role::User, "bye"))
        .await
        .unwrap();
    store
        .set_session_status(gone.id, SessionStatus::Deleted)
        .await
        .unwrap();
    let memory = |text: &str| NewMemory {
        content: text.into(),
        importance: 0.6,
        metadata: json!({"by": "test"}),
        ..NewMemory::default()
    };
    let lyon = NewMemory {
        source_message_ids: vec![said[0].id],
        ..memory("lives in Lyon")
    };
    let lyon = store.insert_memory(locrit.id, &lyon).await.unwrap();
    let paris = NewMemory {
        supersedes: vec![lyon.id],
        pinned: true,
        source_message_ids: vec![said[2].id],
        ..memory("lives in Paris")
    };
    store.insert_memory(locrit.id, &paris).await.unwrap();
    let from_reply = NewMemory {
        source_message_ids: vec![said[1].id],
        ..memory("was interrupted")
    };
    store.insert_memory(locrit.id, &from_reply).await.unwrap();
    store.delete_message(locrit.id, said[1].id).await.unwrap(); // invalidates it
    let alice = store
        .mention_concept(locrit.id, "Alice", "person", Some("a user"))
        .await
        .unwrap();
    let paris = store
        .mention_concept(locrit.id, "Paris", "place", None)
        .await
        .unwrap();
    store
        .relate_concepts(alice.id, paris.id, "lives in")
        .await
        .unwrap();
    locrit
}

/// Everything a store holds about a Locrit, in a comparable form.
async fn everything(store: &Arc<dyn Store>, locrit: &Locrit) -> String {
    let mut sessions = Vec::new();
    for status in [None, Some(SessionStatus::Deleted)] {
        let query = SessionQuery {
            locrit_id: Some(locrit.id),
            status,
            ..SessionQuery::default()
        };
        sessions.extend(store.sessions(&query).await.unwrap());
    }
    let mut messages = Vec::new();
    for session in &sessions {
        let page = MessagePage::After {
            after: 0,
            limit: 1000,
        };
        messages.push(store.messages(session.id, page).await.unwrap());
    }
    let memories = store
        .memories(locrit.id, &MemoryQuery::default())
        .await
        .unwrap();
    let concepts = store.concepts(locrit.id).await.unwrap();
    let relations = store.concept_relations(locrit.id).await.unwrap();
    let stored = store.locrit(locrit.id).await.unwrap().unwrap();
    format!("{stored:?}\n{sessions:?}\n{messages:?}\n{memories:?}\n{concepts:?}\n{relations:?}")
}

async fn export(core: &Core, locrit: &Locrit) -> Vec<u8> {
    let mut archive = Vec::new();
    let counts = core.export_locrit(locrit, &mut archive).await.unwrap();
    assert_eq!(
        (
            counts.sessions,
            counts.messages,
            counts.memories,
            counts.concepts,
            counts.relations
        ),
        (2, 3, 3, 2, 1)
    );
    archive
}

#[tokio::test]
async fn a_round_trip_to_another_store_reproduces_the_same_data() {
    let (here_db, there_db) = (TestDatabase::sqlite(), TestDatabase::sqlite());
    let (here, there) = (core(&here_db).await, core(&there_db).await);
    let locrit = rich_locrit(&here).await;
    let archive = export(&here, &locrit).await;

    let (imported, counts) = there
        .import_archive(&archive[..], ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(imported, locrit);
    assert_eq!(counts.messages, 3);
    assert_eq!(
        everything(there.store(), &locrit).await,
        everything(here.store(), &locrit).await
    );
    let memories = there
        .memories(
            &imported,
            &MemoryQuery {
                current_only: true,
                ..MemoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(memories.len(), 1, "superseded and invalidated stay so");

    // The copy lives on: its memory links still work after the trip.
    let paris = memories[0].clone();
    let source = paris.source_message_ids[0];
    there.delete_message(&imported, source).await.unwrap();
    let paris = there.memory(&imported, paris.id).await.unwrap();
    assert!(paris.invalidated_at.is_some(), "its sources came along");
}

#[tokio::test]
async fn a_clashing_or_broken_archive_is_refused_and_leaves_nothing() {
    let db = TestDatabase::sqlite();
    let core = core(&db).await;
    let locrit = rich_locrit(&core).await;
    let archive = export(&core, &locrit).await;
    let before = everything(core.store(), &locrit).await;

    let same = core
        .import_archive(&archive[..], ImportOptions::default())
        .await;
    assert!(matches!(same, Err(Error::Conflict(_))), "{same:?}");
    assert_eq!(everything(core.store(), &locrit).await, before);

    let other_db = TestDatabase::sqlite();
    let other = self::core(&other_db).await;
    for (bytes, what) in [
        (archive[..archive.len() / 2].to_vec(), "cut in half"),
        (b"not an archive at all".to_vec(), "not gzip"),
        (Vec::new(), "empty"),
    ] {
        let result = other
            .import_archive(&bytes[..], ImportOptions::default())
            .await;
        assert!(
            matches!(result, Err(Error::Invalid(_))),
            "{what}: {result:?}"
        );
        assert!(
            other.locrits().await.unwrap().is_empty(),
            "{what}: nothing is left"
        );
    }

    let renamed = ImportOptions {
        name: Some("bad/name".into()),
        ..ImportOptions::default()
    };
    let result = other.import_archive(&archive[..], renamed).await;
    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
}
