//! Recall reaches the prompt: memories and other sessions' messages relevant to the new
//! message, after the persona, scoped to what the caller may see, and recorded with the
//! reply as its "why".

use locrit_core::chat::{SessionTarget, TurnEnd, TurnRequest};
use locrit_core::{Core, NewSessionSpec};
use locrit_domain::{
    AccessTo, Caller, Locrit, MemoryService, Message, NewLocrit, NewMemory, OpenTo, SessionKind,
};
use locrit_store::StoreConfig;
use locrit_testkit::{FakeOllama, TestDatabase};
use serde_json::{Value, json};

struct Setup {
    core: Core,
    ollama: FakeOllama,
    locrit: Locrit,
    _db: TestDatabase,
}

async fn setup(full_memory: bool, memory_service: MemoryService) -> Setup {
    let db = TestDatabase::sqlite();
    let core = Core::new(
        locrit_store::open(&StoreConfig::new(db.url()))
            .await
            .unwrap(),
    );
    let ollama = FakeOllama::start().await;
    let new = NewLocrit {
        name: "Bob".into(),
        ollama_model: "llama3.2".into(),
        ollama_url: Some(ollama.url()),
        active: true,
        memory_service,
        open_to: Some(OpenTo {
            humans: true,
            internet: true,
            ..OpenTo::default()
        }),
        access_to: Some(AccessTo {
            full_memory,
            ..AccessTo::default()
        }),
        ..Default::default()
    };
    let locrit = core.create_locrit(new).await.unwrap();
    Setup {
        core,
        ollama,
        locrit,
        _db: db,
    }
}

/// One turn in `session` as `caller` (with `user`); returns the reply.
async fn say(setup: &Setup, caller: Caller, user: &str, session: &str, text: &str) -> Message {
    let turn = setup
        .core
        .start_turn(TurnRequest {
            locrit: setup.locrit.clone(),
            session: SessionTarget::Open(NewSessionSpec {
                key: session.into(),
                kind: SessionKind::Chat,
                name: None,
                user_id: Some(user.into()),
                metadata: json!({}),
            }),
            caller,
            text: text.into(),
            user_id: Some(user.into()),
            system_additions: vec![],
        })
        .await
        .unwrap();
    let TurnEnd::Completed(reply) = turn.finished().await else {
        panic!("the turn failed")
    };
    reply
}

/// The system prompt of the last conversation request the model received.
fn last_system_prompt(setup: &Setup) -> String {
    let request = setup.ollama.requests().pop().unwrap();
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(
        messages[0]["role"], "system",
        "the persona and recall come first"
    );
    messages[0]["content"].as_str().unwrap().to_owned()
}

async fn remember(setup: &Setup, text: &str, pinned: bool) -> locrit_domain::Memory {
    let memory = NewMemory {
        content: text.into(),
        importance: 0.5,
        metadata: json!({}),
        pinned,
        ..NewMemory::default()
    };
    setup.core.add_memory(&setup.locrit, memory).await.unwrap()
}

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn relevant_and_pinned_memories_reach_the_prompt_after_the_persona_and_are_recorded() {
    let setup = setup(false, MemoryService::PlaintextFile).await;
    let lyon = remember(&setup, "Alice lived in Lyon", false).await;
    let paris = NewMemory {
        content: "Alice lives in Paris".into(),
        importance: 0.7,
        metadata: json!({}),
        supersedes: vec![lyon.id],
        ..NewMemory::default()
    };
    let paris = setup.core.add_memory(&setup.locrit, paris).await.unwrap();
    let pinned = remember(&setup, "Always answer in French", true).await;
    remember(&setup, "The printer is broken", false).await;

    let reply = say(
        &setup,
        Caller::Owner,
        "alice",
        "s",
        "Where does Alice live now?",
    )
    .await;
    let system = last_system_prompt(&setup);
    assert!(
        system.starts_with(&setup.locrit.system_prompt()),
        "{system}"
    );
    assert!(system.contains("What you remember:"), "{system}");
    assert!(system.contains("- Alice lives in Paris"), "{system}");
    assert!(
        system.contains("- Always answer in French"),
        "pinned ones always: {system}"
    );
    assert!(
        !system.contains("Lyon"),
        "a superseded memory is not recalled: {system}"
    );
    assert!(
        !system.contains("printer"),
        "an unrelated one is not: {system}"
    );

    let recalled = ids(&reply.metadata["recall"]["memories"]);
    assert_eq!(recalled.len(), 2);
    assert!(recalled.contains(&pinned.id.to_string()) && recalled.contains(&paris.id.to_string()));
    assert_eq!(reply.metadata["recall"]["messages"], json!([]));
}

#[tokio::test]
async fn the_owner_recalls_other_sessions_but_never_the_current_one() {
    let setup = setup(false, MemoryService::PlaintextFile).await;
    say(
        &setup,
        Caller::Owner,
        "alice",
        "monday",
        "My cat is named Whiskers",
    )
    .await;
    let reply = say(
        &setup,
        Caller::Owner,
        "alice",
        "tuesday",
        "What is the name of my cat?",
    )
    .await;
    let system = last_system_prompt(&setup);
    assert!(
        system.contains("From your other conversations:"),
        "{system}"
    );
    assert!(
        system.contains("they: My cat is named Whiskers"),
        "{system}"
    );
    assert!(
        !system.contains("What is the name of my cat?"),
        "the turn's own message is not recalled"
    );
    assert!(!ids(&reply.metadata["recall"]["messages"]).is_empty());

    // Within one session, history already holds it: nothing recalled twice.
    say(&setup, Caller::Owner, "alice", "wednesday", "Whiskers").await;
    let system = last_system_prompt(&setup);
    assert!(
        system.contains("Whiskers"),
        "other sessions are still recalled"
    );
}

#[tokio::test]
async fn a_person_recalls_only_their_own_conversations_and_shared_memories() {
    let private = setup(false, MemoryService::PlaintextFile).await;
    remember(&private, "Alice's cat is called Whiskers", false).await;
    say(
        &private,
        Caller::Human,
        "alice",
        "a1",
        "My cat Whiskers is ill",
    )
    .await;
    say(&private, Caller::Human, "bob", "b1", "My cat Felix is fine").await;
    say(&private, Caller::Human, "alice", "a2", "How is my cat?").await;
    let system = last_system_prompt(&private);
    assert!(
        system.contains("Whiskers is ill"),
        "her own conversation: {system}"
    );
    assert!(
        !system.contains("Felix"),
        "never another person's: {system}"
    );
    assert!(
        !system.contains("What you remember"),
        "memories are not shared: {system}"
    );

    let shared = setup(true, MemoryService::PlaintextFile).await;
    remember(&shared, "Alice's cat is called Whiskers", false).await;
    say(&shared, Caller::Human, "alice", "a", "Tell me about my cat").await;
    assert!(last_system_prompt(&shared).contains("- Alice's cat is called Whiskers"));
}

#[tokio::test]
async fn a_visitor_recalls_no_other_conversation_and_a_disabled_memory_recalls_nothing() {
    let setup = setup(false, MemoryService::PlaintextFile).await;
    say(
        &setup,
        Caller::Owner,
        "owner",
        "o",
        "The secret code is 1234",
    )
    .await;
    remember(&setup, "The secret code is 1234", true).await;
    let reply = say(
        &setup,
        Caller::Visitor,
        "visitor",
        "v",
        "What is the secret code?",
    )
    .await;
    let system = last_system_prompt(&setup);
    assert!(!system.contains("1234"), "{system}");
    assert_eq!(
        reply.metadata["recall"],
        json!({"memories": [], "messages": []})
    );

    let off = self::setup(false, MemoryService::Disabled).await;
    remember(&off, "The secret code is 1234", true).await;
    say(
        &off,
        Caller::Owner,
        "owner",
        "o",
        "What is the secret code?",
    )
    .await;
    assert!(!last_system_prompt(&off).contains("1234"));
}
