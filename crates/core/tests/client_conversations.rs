//! Clients that resend their whole history (OpenAI, Ollama) against the engine and the
//! fake Ollama: each message is stored once, in the session the conversation belongs to,
//! across restarts; edits and regenerations fork; the client's system prompt follows the
//! persona.

use locrit_core::chat::TurnEnd;
use locrit_core::{ClientChat, ClientMessage, Core, Error};
use locrit_domain::{Caller, Locrit, NewLocrit, Role, Session};
use locrit_store::{MessagePage, SessionQuery, StoreConfig};
use locrit_testkit::{Endpoint, FakeFailure, FakeOllama, TestDatabase};

struct Setup {
    core: Core,
    ollama: FakeOllama,
    locrit: Locrit,
    db: TestDatabase,
}

async fn open(db: &TestDatabase) -> Core {
    Core::new(
        locrit_store::open(&StoreConfig::new(db.url()))
            .await
            .unwrap(),
    )
}

async fn setup() -> Setup {
    let db = TestDatabase::sqlite();
    let core = open(&db).await;
    let ollama = FakeOllama::start().await;
    let locrit = core
        .create_locrit(NewLocrit {
            name: "Bob".into(),
            description: "Expert".into(),
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

fn said(role: Role, content: &str) -> ClientMessage {
    ClientMessage {
        role,
        content: content.into(),
    }
}

fn chat(locrit: &Locrit, messages: &[ClientMessage]) -> ClientChat {
    ClientChat {
        locrit: locrit.clone(),
        caller: Caller::Owner,
        messages: messages.to_vec(),
        session_key: None,
        user: None,
        protocol: "test",
    }
}

/// Sends the conversation; returns the session it went to and the reply.
async fn send(core: &Core, chat: ClientChat) -> (Session, String) {
    let turn = core.start_client_turn(chat).await.unwrap();
    let session = turn.turn.session.clone();
    match turn.end().await {
        TurnEnd::Completed(reply) => (session, reply.content),
        other => panic!("{other:?}"),
    }
}

async fn transcript(core: &Core, session: &Session) -> Vec<(Role, String)> {
    let page = MessagePage::After {
        after: 0,
        limit: 1000,
    };
    core.messages(session, page)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.role, m.content))
        .collect()
}

async fn session_count(core: &Core, locrit: &Locrit) -> usize {
    let query = SessionQuery {
        locrit_id: Some(locrit.id),
        ..Default::default()
    };
    core.sessions(&query).await.unwrap().len()
}

#[tokio::test]
async fn a_resent_history_continues_its_session_and_each_message_is_stored_once() {
    let s = setup().await;
    let mut history = vec![said(Role::User, "one")];
    let (first, mut reply) = send(&s.core, chat(&s.locrit, &history)).await;
    for text in ["two", "three"] {
        history.push(said(Role::Assistant, &reply));
        history.push(said(Role::User, text));
        let (session, next) = send(&s.core, chat(&s.locrit, &history)).await;
        assert_eq!(session.id, first.id, "the same session");
        reply = next;
    }
    let stored = transcript(&s.core, &first).await;
    let expected: Vec<(Role, String)> = ["one", "two", "three"]
        .iter()
        .flat_map(|t| {
            [
                (Role::User, (*t).to_owned()),
                (Role::Assistant, format!("You said: {t}")),
            ]
        })
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(session_count(&s.core, &s.locrit).await, 1);
    // The model saw the history from the store, the new message once.
    let last = s.ollama.requests_on(locrit_testkit::Endpoint::Chat);
    let prompt = &last.last().unwrap()["messages"];
    let users: Vec<&str> = prompt
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["one", "two", "three"]);
}

#[tokio::test]
async fn the_conversation_is_found_again_after_a_restart() {
    let s = setup().await;
    let (first, reply) = send(&s.core, chat(&s.locrit, &[said(Role::User, "hi")])).await;
    let core = open(&s.db).await;
    let history = [
        said(Role::User, "hi"),
        // Clients may trim what they show.
        said(Role::Assistant, &format!("  {reply}\n")),
        said(Role::User, "again"),
    ];
    let (session, _) = send(&core, chat(&s.locrit, &history)).await;
    assert_eq!(session.id, first.id);
    assert_eq!(transcript(&core, &first).await.len(), 4);
}

#[tokio::test]
async fn an_edit_or_a_regeneration_forks_and_leaves_the_first_session_alone() {
    let s = setup().await;
    let (first, reply) = send(&s.core, chat(&s.locrit, &[said(Role::User, "hi")])).await;
    let history = [
        said(Role::User, "hi"),
        said(Role::Assistant, &reply),
        said(Role::User, "how are you?"),
    ];
    send(&s.core, chat(&s.locrit, &history)).await;
    // The same request again (a regeneration): a fork holding the history once.
    let (fork, _) = send(&s.core, chat(&s.locrit, &history)).await;
    assert_ne!(fork.id, first.id);
    assert_eq!(transcript(&s.core, &first).await.len(), 4, "untouched");
    let forked = transcript(&s.core, &fork).await;
    assert_eq!(
        forked.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        [
            "hi",
            reply.as_str(),
            "how are you?",
            "You said: how are you?"
        ]
    );
    // The fork goes on as its own conversation.
    let mut next = history.to_vec();
    next.push(said(Role::Assistant, "You said: how are you?"));
    next.push(said(Role::User, "fine"));
    let (session, _) = send(&s.core, chat(&s.locrit, &next)).await;
    assert_eq!(session.id, fork.id);

    // An edited earlier message: another fork.
    let edited = [
        said(Role::User, "hello"),
        said(Role::Assistant, &reply),
        said(Role::User, "how are you?"),
    ];
    let (other, _) = send(&s.core, chat(&s.locrit, &edited)).await;
    assert!(other.id != first.id && other.id != fork.id);
    assert_eq!(session_count(&s.core, &s.locrit).await, 3);
}

#[tokio::test]
async fn users_never_share_a_session_and_a_named_session_uses_the_store_s_history() {
    let s = setup().await;
    let as_user = |user: &str, messages: &[ClientMessage]| ClientChat {
        user: Some(user.into()),
        ..chat(&s.locrit, messages)
    };
    let (alice, reply) = send(&s.core, as_user("alice", &[said(Role::User, "hi")])).await;
    let (bob, _) = send(&s.core, as_user("bob", &[said(Role::User, "hi")])).await;
    let next = [
        said(Role::User, "hi"),
        said(Role::Assistant, &reply),
        said(Role::User, "me again"),
    ];
    let (session, _) = send(&s.core, as_user("bob", &next)).await;
    assert_eq!(
        session.id, bob.id,
        "the same history, each user's own session"
    );
    let (session, _) = send(&s.core, as_user("alice", &next)).await;
    assert_eq!(session.id, alice.id);
    assert_eq!(session.user_id.as_deref(), Some("alice"));

    // Named: whatever the client sends before its last message is not stored.
    let named = |messages: &[ClientMessage]| ClientChat {
        session_key: Some("my chat".into()),
        ..chat(&s.locrit, messages)
    };
    let (session, _) = send(&s.core, named(&[said(Role::User, "a")])).await;
    assert_eq!(session.key, "my chat");
    let (again, _) = send(
        &s.core,
        named(&[said(Role::Assistant, "ignored"), said(Role::User, "b")]),
    )
    .await;
    assert_eq!(again.id, session.id);
    let texts: Vec<String> = transcript(&s.core, &session)
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(texts, ["a", "You said: a", "b", "You said: b"]);
}

#[tokio::test]
async fn the_client_s_system_prompt_follows_the_persona_and_is_not_stored() {
    let s = setup().await;
    let messages = [
        said(Role::System, "Answer in French."),
        said(Role::User, "hi"),
    ];
    let (session, _) = send(&s.core, chat(&s.locrit, &messages)).await;
    let requests = s.ollama.requests_on(locrit_testkit::Endpoint::Chat);
    let system = requests.last().unwrap()["messages"][0].clone();
    assert_eq!(system["role"], "system");
    let system = system["content"].as_str().unwrap();
    assert!(system.contains("Bob") && system.ends_with("\n\nAnswer in French."));
    assert_eq!(transcript(&s.core, &session).await.len(), 2);
}

#[tokio::test]
async fn bad_conversations_and_closed_locrits_are_refused_before_anything_is_stored() {
    let s = setup().await;
    for messages in [
        vec![],
        vec![said(Role::User, "hi"), said(Role::Assistant, "hello")],
        vec![said(Role::User, "  ")],
    ] {
        let error = s
            .core
            .start_client_turn(chat(&s.locrit, &messages))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, Error::Invalid(ref e) if e.field == "messages"),
            "{error:?}"
        );
    }
    let mut closed = s.locrit.clone();
    closed.active = false;
    let history = [
        said(Role::User, "hi"),
        said(Role::Assistant, "hello"),
        said(Role::User, "again"),
    ];
    let error = s
        .core
        .start_client_turn(chat(&closed, &history))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, Error::Inactive), "{error:?}");
    assert_eq!(session_count(&s.core, &s.locrit).await, 0);
}

#[tokio::test]
async fn a_retry_after_a_failed_turn_continues_the_same_session() {
    let s = setup().await;
    let (first, reply) = send(&s.core, chat(&s.locrit, &[said(Role::User, "hi")])).await;
    let history = [
        said(Role::User, "hi"),
        said(Role::Assistant, &reply),
        said(Role::User, "again"),
    ];
    // The model does not start: an error, the message kept and marked.
    s.ollama
        .fail_next_on(Endpoint::Chat, FakeFailure::Http(500, "no GPU".into()));
    let error = s
        .core
        .start_client_turn(chat(&s.locrit, &history))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, Error::Llm(_)), "{error:?}");
    // The model fails midway: what arrived is kept.
    s.ollama.fail_next_on(
        Endpoint::Chat,
        FakeFailure::ErrorLineAfter(1, "out of memory".into()),
    );
    let turn = s
        .core
        .start_client_turn(chat(&s.locrit, &history))
        .await
        .unwrap();
    assert_eq!(turn.turn.session.id, first.id);
    assert!(matches!(turn.end().await, TurnEnd::Failed { .. }));
    // The retry that works lands in the same session.
    let (session, _) = send(&s.core, chat(&s.locrit, &history)).await;
    assert_eq!(session.id, first.id);
    assert_eq!(session_count(&s.core, &s.locrit).await, 1);
    let texts: Vec<String> = transcript(&s.core, &first)
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(
        texts,
        [
            "hi",
            "You said: hi",
            "again",
            "again",
            "You",
            "again",
            "You said: again"
        ]
    );
    // And the conversation goes on there.
    let mut next = history.to_vec();
    next.push(said(Role::Assistant, "You said: again"));
    next.push(said(Role::User, "ok"));
    let (session, _) = send(&s.core, chat(&s.locrit, &next)).await;
    assert_eq!(session.id, first.id);
}
