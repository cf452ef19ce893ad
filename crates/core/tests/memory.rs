//! Changing what a Locrit remembers: each operation stores its change, then announces it
//! on the event bus (what the Socket.IO `memory_updated` events are made of).

mod common;

use common::Setup;
use locrit_core::Error;
use locrit_core::events::Event;
use locrit_domain::{Caller, NewMemory};
use locrit_store::MessagePage;
use serde_json::json;
use tokio::sync::broadcast::Receiver;
use uuid::Uuid;

async fn setup() -> Setup {
    common::setup(|_| {}).await
}

/// One exchange in session `key`: the user's message and the reply, as stored.
async fn exchange(setup: &Setup, key: &str) -> Vec<locrit_domain::Message> {
    let request = common::turn(&setup.locrit, Caller::Owner, None, key, "hello");
    let (question, reply) = common::exchange(setup, request).await;
    vec![question, reply]
}

/// The next event that is not about a turn running or the memory extraction it queued.
fn next_change(events: &mut Receiver<Event>) -> Event {
    loop {
        match events.try_recv().expect("an event was published") {
            Event::TurnStarted { .. } | Event::MessageStored(_) | Event::JobUpdated(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn editing_and_deleting_a_message_are_stored_then_announced() {
    let setup = setup().await;
    let messages = exchange(&setup, "s").await;
    let mut events = setup.core.subscribe();
    let (core, locrit) = (&setup.core, &setup.locrit);

    let edited = core
        .edit_message(locrit, messages[0].id, "bonjour")
        .await
        .unwrap();
    assert_eq!(edited.content, "bonjour");
    assert!(edited.edited_at.is_some());
    let Event::MessageEdited(announced) = next_change(&mut events) else {
        panic!("not an edit")
    };
    assert_eq!(announced, edited);
    assert_eq!(core.message(locrit, messages[0].id).await.unwrap(), edited);

    core.delete_message(locrit, messages[1].id).await.unwrap();
    let Event::MessageDeleted {
        locrit_id,
        session_key,
        message_id,
    } = next_change(&mut events)
    else {
        panic!("not a deletion")
    };
    assert_eq!(
        (locrit_id, session_key.as_str(), message_id),
        (locrit.id, "s", messages[1].id)
    );
    let session = core.session(locrit, "s").await.unwrap();
    let left = core
        .messages(
            &session,
            MessagePage::After {
                after: 0,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(left, vec![edited]);

    assert!(matches!(
        core.delete_message(locrit, messages[1].id).await,
        Err(Error::NotFound("message"))
    ));
    assert!(matches!(
        core.edit_message(locrit, Uuid::now_v7(), "x").await,
        Err(Error::NotFound("message"))
    ));
    assert!(matches!(
        core.edit_message(locrit, messages[0].id, "  ").await,
        Err(Error::Invalid(_))
    ));
    assert!(events.try_recv().is_err(), "failures announce nothing");
}

#[tokio::test]
async fn deleting_a_session_and_adding_a_memory_are_announced() {
    let setup = setup().await;
    exchange(&setup, "gone").await;
    let mut events = setup.core.subscribe();
    let (core, locrit) = (&setup.core, &setup.locrit);

    let session = core.session(locrit, "gone").await.unwrap();
    core.delete_session(&session).await.unwrap();
    let Event::SessionDeleted {
        locrit_id,
        session_key,
    } = next_change(&mut events)
    else {
        panic!("not a session deletion")
    };
    assert_eq!((locrit_id, session_key.as_str()), (locrit.id, "gone"));
    assert!(core.session(locrit, "gone").await.is_err());

    let memory = NewMemory {
        content: "likes tea".into(),
        importance: 0.7,
        metadata: json!({"source": "test"}),
        tags: vec!["taste".into()],
        ..NewMemory::default()
    };
    let added = core.add_memory(locrit, memory.clone()).await.unwrap();
    let Event::MemoryAdded(announced) = next_change(&mut events) else {
        panic!("not a memory")
    };
    assert_eq!(announced, added);
    assert_eq!(added.content, "likes tea");
    let too_important = NewMemory {
        importance: 1.5,
        ..memory
    };
    assert!(matches!(
        core.add_memory(locrit, too_important).await,
        Err(Error::Invalid(_))
    ));
    assert!(
        std::iter::from_fn(|| events.try_recv().ok()).all(|e| matches!(e, Event::JobUpdated(_))),
        "nothing else was announced"
    );
}
