//! The chat engine against the fake Ollama: what reaches the model, what is stored, and
//! that what is stored is exactly what the engine reports, in every fault.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use locrit_core::chat::{SessionTarget, Turn, TurnEnd, TurnError, TurnEvent, TurnRequest};
use locrit_core::{Core, Error, NewSessionSpec};
use locrit_domain::{
    Caller, Locrit, Message, MessageStatus, NewLocrit, NewMessage, OpenTo, Role, SessionKind,
};
use locrit_llm::LlmError;
use locrit_store::{MessagePage, StoreConfig};
use locrit_testkit::{Endpoint, FakeFailure, FakeOllama, Reply, TestDatabase};
use serde_json::{Value, json};

struct Setup {
    core: Core,
    ollama: FakeOllama,
    locrit: Locrit,
    _db: TestDatabase,
}

async fn setup() -> Setup {
    setup_with(|url| StoreConfig::new(url)).await
}

async fn setup_with(config: impl FnOnce(&str) -> StoreConfig) -> Setup {
    let db = TestDatabase::sqlite();
    let store = locrit_store::open(&config(db.url())).await.unwrap();
    let core = Core::new(store);
    let ollama = FakeOllama::start().await;
    let new = NewLocrit {
        name: "Bob".into(),
        description: "Expert en programmation".into(),
        ollama_model: "llama3.2".into(),
        ollama_url: Some(ollama.url()),
        active: true,
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

fn request(locrit: &Locrit, session: &str, text: &str) -> TurnRequest {
    TurnRequest {
        locrit: locrit.clone(),
        session: SessionTarget::Open(NewSessionSpec {
            key: session.into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: Some("alice".into()),
            metadata: json!({}),
        }),
        caller: Caller::Owner,
        text: text.into(),
        user_id: Some("alice".into()),
        system_additions: vec![],
    }
}

async fn chat(setup: &Setup, session: &str, text: &str) -> (Turn, TurnEnd) {
    let turn = setup
        .core
        .start_turn(request(&setup.locrit, session, text))
        .await
        .unwrap();
    let end = turn.finished().await;
    (turn, end)
}

async fn stored(setup: &Setup, session: &str) -> Vec<Message> {
    let session = setup.core.session(&setup.locrit, session).await.unwrap();
    setup
        .core
        .messages(
            &session,
            MessagePage::After {
                after: 0,
                limit: 1000,
            },
        )
        .await
        .unwrap()
}

fn prompt_of(request: &Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_turn_stores_both_messages_and_reports_them() {
    let setup = setup().await;
    let (turn, end) = chat(&setup, "s1", "Bonjour").await;
    let TurnEnd::Completed(reply) = end else {
        panic!("{end:?}")
    };
    assert_eq!(reply.content, "You said: Bonjour");
    assert_eq!(reply.metadata["answers"], json!([turn.user_message.id]));
    assert_eq!(reply.metadata["model"], json!("llama3.2"));
    assert_eq!(reply.metadata["stats"]["eval_count"], json!(3));
    assert_eq!(reply.metadata["finish_reason"], json!("stop"));
    assert_eq!(
        stored(&setup, "s1").await,
        vec![turn.user_message.clone(), reply],
        "stored exactly as reported"
    );
    let deltas: Vec<String> = turn
        .log
        .follow(0)
        .filter_map(|e| async move {
            match e {
                TurnEvent::Delta { text, .. } => Some(text),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(
        deltas.concat(),
        "You said: Bonjour",
        "the deltas make the stored reply"
    );
}

#[tokio::test]
async fn the_prompt_is_persona_then_history_in_order_then_the_message_once() {
    let setup = setup().await;
    chat(&setup, "s1", "My name is TestUser").await;
    chat(&setup, "other", "unrelated").await;
    chat(&setup, "s1", "What is my name?").await;
    let requests = setup.ollama.requests();
    let last = prompt_of(requests.last().unwrap());
    assert_eq!(
        last,
        vec![
            (
                "system".into(),
                "Tu es Bob, un Locrit. Expert en programmation".into()
            ),
            ("user".into(), "My name is TestUser".into()),
            ("assistant".into(), "You said: My name is TestUser".into()),
            ("user".into(), "What is my name?".into()),
        ],
        "no other session's message, the current one exactly once"
    );
    assert_eq!(
        requests.last().unwrap()["options"]["num_ctx"],
        json!(4096),
        "the model's window from /api/show"
    );
}

/// A history longer than one read of the store (pages grow 32, 64, 128…) reaches the
/// prompt whole and in order, across the pages' boundaries.
#[tokio::test]
async fn a_long_history_is_read_back_whole_and_in_order() {
    let setup = setup().await;
    chat(&setup, "s", "first").await;
    let session = setup.core.session(&setup.locrit, "s").await.unwrap();
    let earlier: Vec<NewMessage> = (0..200)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            NewMessage::new(role, format!("m{i}"))
        })
        .collect();
    setup
        .core
        .store()
        .append_messages(session.id, &earlier)
        .await
        .unwrap();
    chat(&setup, "s", "last").await;

    let prompt = prompt_of(setup.ollama.requests().last().unwrap());
    let history: Vec<&str> = prompt[1..].iter().map(|(_, c)| c.as_str()).collect();
    let mut expected = vec!["first", "You said: first"];
    let numbered: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    expected.extend(numbered.iter().map(String::as_str));
    expected.push("last");
    assert_eq!(history, expected);
}

/// The history a turn leaves for the session's next one is that turn's prompt and
/// exchange, in order, each once; a change made to the session by anything else (an
/// edit, a delete, another server writing to the store) is in the next prompt.
#[tokio::test]
async fn the_history_kept_between_turns_is_exact_and_follows_changes_made_elsewhere() {
    let setup = setup().await;
    let mut expected: Vec<(String, String)> = Vec::new();
    for i in 0..5 {
        let text = format!("message {i}");
        chat(&setup, "s", &text).await;
        let prompt = prompt_of(setup.ollama.requests().last().unwrap());
        expected.push(("user".into(), text.clone()));
        assert_eq!(prompt[1..], expected, "turn {i}");
        expected.push(("assistant".into(), format!("You said: {text}")));
    }
    let stored_now = stored(&setup, "s").await;
    let store = setup.core.store();
    store
        .edit_message(setup.locrit.id, stored_now[0].id, "message 0, edited")
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .delete_message(setup.locrit.id, stored_now[3].id)
            .await
            .unwrap()
    );
    let session = setup.core.session(&setup.locrit, "s").await.unwrap();
    store
        .append_message(session.id, &NewMessage::new(Role::User, "from elsewhere"))
        .await
        .unwrap();
    chat(&setup, "s", "and now?").await;

    let prompt = prompt_of(setup.ollama.requests().last().unwrap());
    expected[0].1 = "message 0, edited".into();
    expected.remove(3);
    expected.push(("user".into(), "from elsewhere".into()));
    expected.push(("user".into(), "and now?".into()));
    assert_eq!(prompt[1..], expected);
}

#[tokio::test]
async fn a_small_window_drops_the_oldest_turns_first() {
    let setup = setup().await;
    setup.ollama.add_model("tiny", 512);
    let mut locrit = setup.locrit.clone();
    locrit.ollama_model = "tiny".into();
    let long = "word ".repeat(60);
    for i in 0..6 {
        let turn = setup
            .core
            .start_turn(request(&locrit, "s", &format!("turn {i} {long}")))
            .await
            .unwrap();
        turn.finished().await;
    }
    let last = prompt_of(setup.ollama.requests().last().unwrap());
    assert_eq!(last[0].0, "system");
    assert!(last.len() < 12, "some history was dropped: {}", last.len());
    assert!(last.last().unwrap().1.starts_with("turn 5"));
    let kept_turns: Vec<&str> = last[1..]
        .iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, c)| &c[..6])
        .collect();
    let mut sorted = kept_turns.clone();
    sorted.sort();
    assert_eq!(kept_turns, sorted, "what is kept is the newest, in order");
    assert_eq!(
        setup.ollama.requests().last().unwrap()["options"]["num_ctx"],
        json!(512)
    );
}

#[tokio::test]
async fn a_model_that_refuses_before_any_token_keeps_the_user_message_and_invents_nothing() {
    let setup = setup().await;
    for (failure, expect) in [
        (FakeFailure::ModelNotFound, 404u16),
        (FakeFailure::Http(500, "out of memory".into()), 500),
    ] {
        setup.ollama.fail_next(failure);
        let error = setup
            .core
            .start_turn(request(&setup.locrit, "s", "hello?"))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&error, Error::Llm(LlmError::Status { status, .. }) if *status == expect),
            "{error:?}"
        );
    }
    let messages = stored(&setup, "s").await;
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .all(|m| m.role == Role::User && m.content == "hello?")
    );
}

#[tokio::test]
async fn an_unreachable_model_server_is_a_connect_error() {
    let mut setup = setup().await;
    setup.locrit.ollama_url = Some(locrit_testkit::unused_local_url());
    let error = setup
        .core
        .start_turn(request(&setup.locrit, "s", "anyone?"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, Error::Llm(LlmError::Connect(_))),
        "{error:?}"
    );
    assert_eq!(
        stored(&setup, "s").await.len(),
        1,
        "the user's message is kept"
    );
}

#[tokio::test]
async fn a_stream_cut_midway_stores_the_partial_reply_as_interrupted() {
    let setup = setup().await;
    setup.ollama.set_reply(Reply::Tokens(
        ["one", " two", " three", " four"]
            .map(String::from)
            .to_vec(),
    ));
    for failure in [
        FakeFailure::CutAfter(2),
        FakeFailure::MalformedAfter(2),
        FakeFailure::ErrorLineAfter(2, "boom".into()),
    ] {
        setup.ollama.fail_next(failure.clone());
        let (_, end) = chat(&setup, "s", "count").await;
        let TurnEnd::Failed {
            error: TurnError::Llm(_),
            partial: Some(partial),
        } = &end
        else {
            panic!("{failure:?}: {end:?}")
        };
        assert_eq!(
            (partial.content.as_str(), partial.status),
            ("one two", MessageStatus::Interrupted)
        );
        assert_eq!(
            stored(&setup, "s").await.last(),
            Some(partial),
            "stored as reported"
        );
    }
    setup.ollama.fail_next(FakeFailure::CutAfter(0));
    let (_, end) = chat(&setup, "s", "count").await;
    assert!(
        matches!(end, TurnEnd::Failed { partial: None, .. }),
        "nothing generated, nothing invented: {end:?}"
    );
    let messages = stored(&setup, "s").await;
    assert_eq!(messages.last().unwrap().role, Role::User);
}

#[tokio::test]
async fn a_caller_that_goes_away_does_not_lose_the_reply_and_cancel_keeps_what_was_generated() {
    let setup = setup().await;
    setup
        .ollama
        .set_reply(Reply::Tokens((0..20).map(|i| format!("t{i} ")).collect()));
    setup.ollama.set_token_delay(Duration::from_millis(20));
    let turn = setup
        .core
        .start_turn(request(&setup.locrit, "left", "talk"))
        .await
        .unwrap();
    let log = turn.log.clone();
    drop(turn); // the caller is gone
    let TurnEnd::Completed(reply) = log.finished().await else {
        panic!("completed")
    };
    assert_eq!(reply.content.split_whitespace().count(), 20);
    assert_eq!(stored(&setup, "left").await.last(), Some(&reply));

    let turn = setup
        .core
        .start_turn(request(&setup.locrit, "stop", "talk"))
        .await
        .unwrap();
    let mut events = Box::pin(turn.log.follow(0));
    for _ in 0..3 {
        assert!(matches!(events.next().await, Some(TurnEvent::Delta { .. })));
    }
    assert!(setup.core.cancel_turn(turn.id));
    let TurnEnd::Cancelled(Some(partial)) = turn.finished().await else {
        panic!("cancelled with text")
    };
    assert_eq!(partial.status, MessageStatus::Cancelled);
    assert!(partial.content.split_whitespace().count() < 20);
    assert_eq!(stored(&setup, "stop").await.last(), Some(&partial));
    assert!(
        !setup.core.cancel_turn(turn.id),
        "a finished turn cannot be cancelled"
    );
}

#[tokio::test]
async fn a_reader_joining_midway_gets_the_text_so_far_then_the_rest() {
    let setup = setup().await;
    setup
        .ollama
        .set_reply(Reply::Tokens((0..10).map(|i| format!("{i},")).collect()));
    setup.ollama.set_token_delay(Duration::from_millis(15));
    let turn = setup
        .core
        .start_turn(request(&setup.locrit, "s", "go"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let session = setup.core.session(&setup.locrit, "s").await.unwrap();
    let running = setup
        .core
        .running_turn(session.id)
        .expect("a turn is running");
    let so_far = running.text();
    let rest: Vec<TurnEvent> = running.follow(so_far.matches(',').count()).collect().await;
    let mut text = so_far.clone();
    for event in &rest {
        if let TurnEvent::Delta { text: t, .. } = event {
            text.push_str(t);
        }
    }
    let TurnEnd::Completed(reply) = turn.finished().await else {
        panic!()
    };
    assert_eq!(text, reply.content);
    assert!(matches!(
        rest.last(),
        Some(TurnEvent::End(TurnEnd::Completed(_)))
    ));
}

#[tokio::test]
async fn gates_and_missing_settings_are_refused_before_anything_is_stored() {
    let setup = setup().await;
    let mut locrit = setup.locrit.clone();
    locrit.open_to = OpenTo::default();
    let mut human = request(&locrit, "s", "hi");
    human.caller = Caller::Human;
    assert!(matches!(
        setup.core.start_turn(human).await,
        Err(Error::Denied(_))
    ));
    locrit.active = false;
    assert!(matches!(
        setup.core.start_turn(request(&locrit, "s", "hi")).await,
        Err(Error::Inactive)
    ));
    let mut no_model = setup.locrit.clone();
    no_model.ollama_model.clear();
    assert!(matches!(
        setup.core.start_turn(request(&no_model, "s", "hi")).await,
        Err(Error::NoModel)
    ));
    let mut no_server = setup.locrit.clone();
    no_server.ollama_url = None;
    assert!(matches!(
        setup.core.start_turn(request(&no_server, "s", "hi")).await,
        Err(Error::NoModelServer)
    ));
    assert!(
        setup.core.session(&setup.locrit, "s").await.is_err(),
        "nothing was stored"
    );
    let mut missing = request(&setup.locrit, "s", "hi");
    missing.session = SessionTarget::Existing {
        kind: Some(SessionKind::Conversation),
        key: "nope".into(),
    };
    assert!(matches!(
        setup.core.start_turn(missing).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn a_hundred_concurrent_chats_over_ten_sessions_keep_every_message_in_order() {
    let setup = Arc::new(setup().await);
    let chats = (0..100).map(|i| {
        let setup = setup.clone();
        tokio::spawn(async move {
            let session = format!("s{}", i % 10);
            let turn = setup
                .core
                .start_turn(request(&setup.locrit, &session, &format!("msg {i}")))
                .await
                .unwrap();
            let end = turn.finished().await;
            assert!(matches!(end, TurnEnd::Completed(_)), "{end:?}");
        })
    });
    for chat in futures::future::join_all(chats).await {
        chat.unwrap();
    }
    let mut total = 0;
    for s in 0..10 {
        let messages = stored(&setup, &format!("s{s}")).await;
        total += messages.len();
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
        for pair in messages.chunks(2) {
            assert_eq!(
                (pair[0].role, pair[1].role),
                (Role::User, Role::Assistant),
                "turns are not interleaved"
            );
            assert_eq!(pair[1].content, format!("You said: {}", pair[0].content));
        }
    }
    assert_eq!(total, 200);
}

/// Starts a turn while another connection holds the store's write lock: the turn fails
/// as the store is busy.
async fn turn_while_locked(
    setup: &Setup,
    other_writer: &mut sqlx::SqliteConnection,
    session: &str,
    text: &str,
) {
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut *other_writer)
        .await
        .unwrap();
    let error = setup
        .core
        .start_turn(request(&setup.locrit, session, text))
        .await
        .err()
        .unwrap();
    sqlx::query("COMMIT")
        .execute(&mut *other_writer)
        .await
        .unwrap();
    assert!(
        matches!(error, Error::Store(locrit_store::StoreError::Busy)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_locked_store_fails_the_turn_and_only_what_is_stored_is_reported() {
    use sqlx::Connection;
    let setup = setup_with(|url| StoreConfig {
        busy_timeout: Duration::from_millis(200),
        ..StoreConfig::new(url)
    })
    .await;
    let mut other_writer = sqlx::SqliteConnection::connect(setup._db.url())
        .await
        .unwrap();

    // Locked before the turn: nothing is stored, and the caller is told.
    turn_while_locked(&setup, &mut other_writer, "locked", "hello").await;
    assert!(
        setup.core.session(&setup.locrit, "locked").await.is_err(),
        "nothing was stored"
    );

    // Locked while the reply is being stored: the turn fails after bounded retries, and
    // the store holds exactly the user's message the engine reported.
    setup
        .ollama
        .set_reply(Reply::Tokens((0..5).map(|i| format!("t{i} ")).collect()));
    setup.ollama.set_token_delay(Duration::from_millis(40));
    let turn = setup
        .core
        .start_turn(request(&setup.locrit, "late", "hello"))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other_writer)
        .await
        .unwrap();
    let end = turn.finished().await;
    sqlx::query("COMMIT")
        .execute(&mut other_writer)
        .await
        .unwrap();
    assert!(
        matches!(
            &end,
            TurnEnd::Failed {
                error: TurnError::Store(locrit_store::StoreFault::Busy),
                partial: None
            }
        ),
        "{end:?}"
    );
    assert_eq!(
        stored(&setup, "late").await,
        vec![turn.user_message.clone()]
    );

    // Locked when the next question is committed: the model, asked alongside the
    // commit, answers, and its answer is dropped unread; the caller is told.
    setup.ollama.set_token_delay(Duration::ZERO);
    let asked = setup.ollama.requests_on(Endpoint::Chat).len();
    turn_while_locked(&setup, &mut other_writer, "late", "again").await;
    assert_eq!(
        setup.ollama.requests_on(Endpoint::Chat).len(),
        asked + 1,
        "the model was asked while the question was being committed"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored(&setup, "late").await,
        vec![turn.user_message.clone()],
        "neither the question nor its answer is stored"
    );
}

#[tokio::test]
async fn the_bus_announces_turns_and_every_stored_message() {
    let setup = setup().await;
    let mut events = setup.core.subscribe();
    let (turn, end) = chat(&setup, "s", "hello").await;
    let TurnEnd::Completed(reply) = end else {
        panic!()
    };
    let mut stored = Vec::new();
    let mut started = None;
    while let Ok(event) = events.try_recv() {
        match event {
            locrit_core::events::Event::MessageStored(message) => stored.push(message),
            locrit_core::events::Event::TurnStarted {
                session_key, log, ..
            } => started = Some((session_key, log.turn_id)),
            _ => {}
        }
    }
    assert_eq!(stored, vec![turn.user_message.clone(), reply]);
    assert_eq!(started, Some(("s".to_owned(), turn.id)));
}

#[tokio::test]
async fn a_message_the_model_never_answered_is_marked_and_left_out_of_later_prompts() {
    let setup = setup().await;
    setup
        .ollama
        .fail_next(FakeFailure::Http(500, "model crashed".into()));
    assert!(
        setup
            .core
            .start_turn(request(&setup.locrit, "s", "lost question"))
            .await
            .is_err()
    );
    setup.ollama.fail_next(FakeFailure::CutAfter(0));
    let (_, end) = chat(&setup, "s", "second try").await;
    assert!(matches!(end, TurnEnd::Failed { partial: None, .. }));
    let (_, end) = chat(&setup, "s", "third try").await;
    assert!(matches!(end, TurnEnd::Completed(_)));

    let messages = stored(&setup, "s").await;
    let flags: Vec<(&str, bool)> = messages
        .iter()
        .map(|m| (m.content.as_str(), m.metadata.get("unanswered").is_some()))
        .collect();
    assert_eq!(
        flags,
        [
            ("lost question", true),
            ("second try", true),
            ("third try", false),
            ("You said: third try", false)
        ]
    );
    assert!(
        messages[0].metadata["unanswered"]
            .as_str()
            .unwrap()
            .contains("model crashed")
    );
    let last_prompt = prompt_of(setup.ollama.requests().last().unwrap());
    assert_eq!(
        last_prompt
            .iter()
            .filter(|(role, _)| role == "user")
            .count(),
        1,
        "no unanswered turn in the prompt: {last_prompt:?}"
    );
    let an_hour_on = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        setup
            .core
            .store()
            .settle_expired_leases(an_hour_on)
            .await
            .unwrap(),
        [],
        "every question's wait ended with its turn, answered or not"
    );
}

/// A question is leased to its server until its reply begins, so that a server that
/// stops before is noticed (see `crates/cli/tests/crash.rs`); a slow model must not
/// pass for a stopped server: the lease (10 s) is renewed while the turn is prepared,
/// while the model's answer is late to start, and while its first token is. Checked by
/// asking, at three points, which leases would have run out 7.5 s later.
#[tokio::test]
async fn a_question_waiting_for_a_slow_model_keeps_its_lease() {
    let setup = setup().await;
    setup.ollama.set_reply("ok");
    // The model's window is known after 4 s, its answer starts 4 s later, its one
    // token comes 4 s after that.
    let late = || FakeFailure::Delay(Duration::from_secs(4));
    setup.ollama.fail_next_on(Endpoint::Show, late());
    setup.ollama.fail_next(late());
    setup.ollama.set_token_delay(Duration::from_secs(4));
    let core = setup.core.clone();
    let locrit = setup.locrit.clone();
    let turn = tokio::spawn(async move {
        let turn = core.start_turn(request(&locrit, "s", "think hard")).await?;
        Ok::<_, Error>(turn.finished().await)
    });
    let started = tokio::time::Instant::now();
    let store = setup.core.store();
    for at in [3.5, 7.5, 11.5] {
        tokio::time::sleep_until(started + Duration::from_secs_f64(at)).await;
        let soon = chrono::Utc::now() + chrono::Duration::milliseconds(7500);
        let settled = store.settle_expired_leases(soon).await.unwrap();
        assert_eq!(settled, [], "taken for a stopped server after {at} s");
    }
    let end = turn.await.unwrap().unwrap();
    assert!(matches!(end, TurnEnd::Completed(_)), "{end:?}");
    let messages = stored(&setup, "s").await;
    assert_eq!(messages.len(), 2);
    assert!(messages[0].metadata.get("unanswered").is_none());
}
