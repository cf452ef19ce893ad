//! What the core's integration tests share: a core on a fresh SQLite store, a fake
//! Ollama, an active Locrit on it, and one way to send a turn.
#![allow(dead_code)] // each test file uses its own part of this

use locrit_core::chat::{SessionTarget, TurnEnd, TurnRequest};
use locrit_core::{Core, NewSessionSpec};
use locrit_domain::{Caller, Locrit, Message, NewLocrit, SessionKind};
use locrit_store::StoreConfig;
use locrit_testkit::{FakeOllama, TestDatabase};
use serde_json::json;

pub struct Setup {
    pub core: Core,
    pub ollama: FakeOllama,
    pub locrit: Locrit,
    _db: TestDatabase,
}

/// An active Locrit "Bob" on `llama3.2` of a fresh fake Ollama; `customise` changes
/// its settings before it is created.
pub async fn setup(customise: impl FnOnce(&mut NewLocrit)) -> Setup {
    let db = TestDatabase::sqlite();
    let store = locrit_store::open(&StoreConfig::new(db.url()))
        .await
        .unwrap();
    let core = Core::new(store);
    let ollama = FakeOllama::start().await;
    let mut new = NewLocrit {
        name: "Bob".into(),
        ollama_model: "llama3.2".into(),
        ollama_url: Some(ollama.url()),
        active: true,
        ..Default::default()
    };
    customise(&mut new);
    let locrit = core.create_locrit(new).await.unwrap();
    Setup {
        core,
        ollama,
        locrit,
        _db: db,
    }
}

/// A turn of `user` (if any) as `caller` in the chat session `session`.
pub fn turn(
    locrit: &Locrit,
    caller: Caller,
    user: Option<&str>,
    session: &str,
    text: &str,
) -> TurnRequest {
    TurnRequest {
        locrit: locrit.clone(),
        session: SessionTarget::Open(NewSessionSpec {
            key: session.into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: user.map(str::to_owned),
            metadata: json!({}),
        }),
        caller,
        text: text.into(),
        user_id: user.map(str::to_owned),
        system_additions: vec![],
    }
}

/// Sends a turn and waits for it: the user's message and the stored reply.
pub async fn exchange(setup: &Setup, request: TurnRequest) -> (Message, Message) {
    let turn = setup.core.start_turn(request).await.unwrap();
    let TurnEnd::Completed(reply) = turn.finished().await else {
        panic!("the turn failed")
    };
    (turn.user_message, reply)
}
