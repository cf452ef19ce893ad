//! The store on a disk that is really full (a tmpfs filled by another file): every write
//! the store reports done is there afterwards, seen from another connection, and the
//! refusals are `Full`.

use locrit_domain::{Message, NewLocrit, NewMessage, NewSession, Role, Session, SessionKind};
use locrit_store::{StoreConfig, StoreError};
use locrit_testkit::SmallDisk;
use serde_json::json;

/// Two ways a full disk made SQLite writes vanish after they were reported done:
/// - a write outside a transaction commits at its statement's last step, after its
///   `RETURNING` row: taking that row and stopping missed the failed commit;
/// - a failed commit may end SQLite's transaction by itself, or not, and sqlx's count
///   of open transactions does not follow: the writer's later "transactions" were
///   savepoints inside one that never committed.
#[tokio::test]
#[ignore = "needs root (mounts a tmpfs): run with --ignored, as the PostgreSQL suite does"]
async fn on_a_full_disk_every_write_reported_done_is_there() {
    let disk = SmallDisk::mount(4 << 20);
    let url = format!("sqlite://{}", disk.path().join("locrit.db").display());
    let store = locrit_store::open(&StoreConfig::new(&url)).await.unwrap();
    let bob = NewLocrit {
        name: "Bob".into(),
        ollama_model: "llama3.2".into(),
        ..Default::default()
    }
    .into_locrit("http://localhost:11434")
    .unwrap();
    store.insert_locrit(&bob).await.unwrap();
    disk.fill_leaving(256 << 10);

    let long = "words to keep ".repeat(4_000);
    let mut sessions: Vec<Session> = Vec::new();
    let mut questions: Vec<Message> = Vec::new();
    let mut refused = 0;
    for n in 0..100 {
        let new = NewSession {
            locrit_id: bob.id,
            key: format!("s{n}"),
            kind: SessionKind::Chat,
            name: None,
            user_id: None,
            metadata: json!({"notes": long[..(n % 4) * 8_000]}),
        };
        let session = match store.create_session(&new).await {
            Ok(session) => session,
            Err(StoreError::Full(_)) => {
                refused += 1;
                continue;
            }
            Err(other) => panic!("a full disk is reported as full: {other:?}"),
        };
        sessions.push(session.clone());
        let question = NewMessage::new(Role::User, &long);
        match store
            .append_question(session.id, &question, chrono::Utc::now())
            .await
        {
            Ok(question) => questions.push(question.message),
            Err(StoreError::Full(_)) => refused += 1,
            Err(other) => panic!("a full disk is reported as full: {other:?}"),
        }
    }
    assert!(refused > 0, "the disk filled up");
    drop(store);

    let other = locrit_store::open(&StoreConfig::new(&url)).await.unwrap();
    for session in &sessions {
        let found = other.session(bob.id, &session.key).await.unwrap();
        let found =
            found.unwrap_or_else(|| panic!("{} reported created, then missing", session.key));
        assert_eq!(found.id, session.id);
    }
    for question in &questions {
        let found = other.message(bob.id, question.id).await.unwrap();
        assert_eq!(
            found.as_ref(),
            Some(question),
            "reported stored, then missing"
        );
    }
    assert!(!questions.is_empty(), "some fitted");
}
