//! The original's Socket.IO contract (§2), with a real client library (python-socketio,
//! see `socketio/driver.rs`) against a real server and the fake Ollama: the events and
//! their fields, what is stored, rooms, joining mid-stream, stopping, failures, the
//! contract's error words, both transports and namespaces, and live memory events.

// The server runs in each test's runtime: on several threads, as in production (on one
// thread, engineioxide can leave a polling client's last request hanging at disconnect).

use crate::common;
use crate::socketio_driver as driver;

use std::time::Duration;

use common::{TestServer, segment};
use driver::{Driver, Received, chunks_text, named, names};
use locrit_domain::{
    AccessTo, LocritPatch, Message, MessageStatus, NewLocrit, NewMemory, OpenTo, Role,
};
use locrit_server::{ServerConfig, SocketIoSettings};
use locrit_store::{MessagePage, StoreConfig};
use locrit_testkit::{FakeFailure, Reply, TestDatabase, unused_local_url};
use serde_json::{Value, json};

const BOB: &str = "Bob Technique";

async fn setup() -> (TestServer, Driver) {
    let server = TestServer::start().await;
    create(&server, BOB).await;
    (server, Driver::start().await)
}

/// An active Locrit on the fake Ollama, open to humans (the create default).
async fn create(server: &TestServer, name: &str) {
    server
        .core
        .create_locrit(NewLocrit {
            name: name.into(),
            description: "Expert".into(),
            ollama_model: "llama3.2".into(),
            ollama_url: Some(server.ollama.url()),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn patch(server: &TestServer, name: &str, patch: LocritPatch) {
    let locrit = server.core.locrit_named(name).await.unwrap();
    server.core.update_locrit(locrit, patch).await.unwrap();
}

/// Every stored message of a session, in order (none if there is no such session).
async fn stored(server: &TestServer, name: &str, key: &str) -> Vec<Message> {
    let locrit = server.core.locrit_named(name).await.unwrap();
    let Ok(session) = server.core.session(&locrit, key).await else {
        return Vec::new();
    };
    let page = MessagePage::Before {
        before: None,
        limit: 1000,
    };
    server.core.messages(&session, page).await.unwrap()
}

fn summary(messages: &[Message]) -> Vec<(Role, &str, MessageStatus)> {
    messages
        .iter()
        .map(|m| (m.role, m.content.as_str(), m.status))
        .collect()
}

fn join(session: &str) -> Value {
    json!({"locrit_name": BOB, "session_id": session})
}

fn say(session: &str, text: &str) -> Value {
    json!({"locrit_name": BOB, "session_id": session, "message": text, "stream": true})
}

fn tokens(count: usize) -> Vec<String> {
    (0..count).map(|i| format!(" t{i}")).collect()
}

/// connect → join → message → chunks → complete, on one namespace and transport.
async fn whole_exchange(namespace: &str, transports: Value) {
    let (server, py) = setup().await;
    server.ollama.set_reply("Bonjour, je suis Bob.");
    let client = py
        .connect_with("a", &server.base, namespace, transports.clone(), json!({}))
        .await
        .unwrap();
    let session = "session_1700000000000_abcdefghi";
    client.emit("join_chat", join(session)).await;
    client.wait_for("joined_chat").await;
    client
        .emit("chat_message", say(session, "  Salut Bob  "))
        .await;
    let events = client.wait_for("chat_complete").await;

    let chunks = named(&events, "chat_chunk");
    let mut expected = vec!["connected", "joined_chat"];
    expected.extend(std::iter::repeat_n("chat_chunk", chunks.len()));
    expected.push("chat_complete");
    assert_eq!(names(&events), expected, "{events:#?}");
    assert_eq!(events[0].1, json!({"status": "connected"}));
    assert_eq!(
        events[1].1,
        json!({"locrit_name": BOB, "session_id": session, "room": format!("chat_{BOB}_{session}")})
    );
    assert_eq!(chunks.len(), 4, "one chunk per token: {chunks:#?}");
    for chunk in &chunks {
        assert_eq!(chunk["locrit_name"], BOB);
        assert_eq!(chunk["session_id"], session);
        assert!(!chunk["content"].as_str().unwrap().is_empty());
        chrono::DateTime::parse_from_rfc3339(chunk["timestamp"].as_str().unwrap()).unwrap();
    }
    let complete = &events.last().unwrap().1;
    assert_eq!(complete["locrit_name"], BOB);
    assert_eq!(complete["session_id"], session);
    assert_eq!(complete["status"], "completed");
    assert_eq!(chunks_text(&events), "Bonjour, je suis Bob.");
    assert_eq!(complete["response"], "Bonjour, je suis Bob.");

    let messages = stored(&server, BOB, session).await;
    assert_eq!(
        summary(&messages),
        vec![
            (Role::User, "Salut Bob", MessageStatus::Complete),
            (
                Role::Assistant,
                "Bonjour, je suis Bob.",
                MessageStatus::Complete
            ),
        ]
    );
    assert_eq!(complete["user_message_id"], json!(messages[0].id));
    assert_eq!(complete["message_id"], json!(messages[1].id));
    assert_eq!(messages[0].user_id.as_deref(), Some("websocket_user"));
    // The model saw the message once, trimmed.
    let prompt = &server.ollama.requests()[0]["messages"];
    assert_eq!(
        prompt.as_array().unwrap().last().unwrap()["content"],
        "Salut Bob"
    );
    if transports.is_null() {
        // python-socketio starts with polling, then upgrades.
        let mut transport = client.transport().await;
        for _ in 0..50 {
            if transport == "websocket" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            transport = client.transport().await;
        }
        assert_eq!(transport, "websocket");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_exchange_on_the_default_namespace_over_polling() {
    whole_exchange("/", json!(["polling"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_exchange_on_the_chat_namespace_over_websocket() {
    whole_exchange("/chat", json!(["websocket"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_exchange_after_an_upgrade_from_polling_to_websocket() {
    whole_exchange("/chat", Value::Null).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_in_a_room_sees_the_same_chunks_and_no_one_else_does() {
    let (server, py) = setup().await;
    server.ollama.set_reply(Reply::Tokens(tokens(12)));
    server.ollama.set_token_delay(Duration::from_millis(15));
    let a = py.connect("a", &server.base, "/chat").await;
    let b = py.connect("b", &server.base, "/").await;
    let leaver = py.connect("leaver", &server.base, "/chat").await;
    let outsider = py.connect("outsider", &server.base, "/chat").await;
    for client in [&a, &b, &leaver] {
        client.emit("join_chat", join("shared")).await;
        client.wait_for("joined_chat").await;
    }
    outsider.emit("join_chat", join("elsewhere")).await;
    outsider.wait_for("joined_chat").await;
    leaver.emit("leave_chat", join("shared")).await;
    assert_eq!(
        leaver.first("left_chat").await,
        json!({"locrit_name": BOB, "session_id": "shared"})
    );

    a.emit("chat_message", say("shared", "hello")).await;
    let a_events = a.wait_for("chat_complete").await;
    let b_events = b.wait_for("chat_complete").await;
    let contents = |events: &[Received]| -> Vec<String> {
        named(events, "chat_chunk")
            .iter()
            .map(|c| c["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(contents(&a_events), tokens(12));
    assert_eq!(
        contents(&b_events),
        tokens(12),
        "the other tab, on another namespace"
    );
    let complete = |events: &[Received]| named(events, "chat_complete")[0].clone();
    assert_eq!(complete(&a_events), complete(&b_events));
    assert_eq!(
        names(&a_events)
            .iter()
            .filter(|n| **n == "chat_complete")
            .count(),
        1
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        names(&leaver.events().await),
        ["connected", "joined_chat", "left_chat"]
    );
    assert_eq!(
        names(&outsider.events().await),
        ["connected", "joined_chat"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_joined_no_room_still_gets_its_own_turn() {
    let (server, py) = setup().await;
    let a = py.connect("a", &server.base, "/").await;
    a.emit("chat_message", say("not-joined", "ping")).await;
    let events = a.wait_for("chat_complete").await;
    assert_eq!(chunks_text(&events), "You said: ping");
    assert_eq!(names(&events)[0], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_isolated() {
    let (server, py) = setup().await;
    server.ollama.set_token_delay(Duration::from_millis(10));
    let a = py.connect("a", &server.base, "/chat").await;
    let b = py.connect("b", &server.base, "/chat").await;
    a.emit("join_chat", join("s-a")).await;
    b.emit("join_chat", join("s-b")).await;
    a.emit("chat_message", say("s-a", "from A")).await;
    b.emit("chat_message", say("s-b", "from B")).await;
    let a_events = a.wait_for("chat_complete").await;
    let b_events = b.wait_for("chat_complete").await;
    assert_eq!(chunks_text(&a_events), "You said: from A");
    assert_eq!(chunks_text(&b_events), "You said: from B");
    for (events, own) in [(&a_events, "s-a"), (&b_events, "s-b")] {
        for (name, data) in events.iter().skip(2) {
            assert_eq!(data["session_id"], own, "{name}: {data}");
        }
    }
    let a_stored = stored(&server, BOB, "s-a").await;
    let b_stored = stored(&server, BOB, "s-b").await;
    assert_eq!(
        summary(&a_stored),
        [
            (Role::User, "from A", MessageStatus::Complete),
            (Role::Assistant, "You said: from A", MessageStatus::Complete)
        ]
    );
    assert_eq!(
        summary(&b_stored),
        [
            (Role::User, "from B", MessageStatus::Complete),
            (Role::Assistant, "You said: from B", MessageStatus::Complete)
        ]
    );
    // Each session's history reached only its own prompt.
    let later = py.connect("later", &server.base, "/chat").await;
    later.emit("chat_message", say("s-a", "again")).await;
    later.wait_for("chat_complete").await;
    let prompt = server.ollama.requests().last().unwrap()["messages"].to_string();
    assert!(
        prompt.contains("from A") && !prompt.contains("from B"),
        "{prompt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_joining_mid_stream_gets_the_text_so_far_then_the_rest() {
    let (server, py) = setup().await;
    server.ollama.set_reply(Reply::Tokens(tokens(30)));
    server.ollama.set_token_delay(Duration::from_millis(40));
    let a = py.connect("a", &server.base, "/chat").await;
    a.emit("join_chat", join("live")).await;
    a.emit("chat_message", say("live", "tell me")).await;
    a.wait_for_count("chat_chunk", 5).await;

    let late = py.connect("late", &server.base, "/").await;
    late.emit("join_chat", join("live")).await;
    let late_events = late.wait_for("chat_complete").await;
    let a_events = a.wait_for("chat_complete").await;

    let full: String = tokens(30).concat();
    assert_eq!(chunks_text(&late_events), full);
    assert_eq!(chunks_text(&a_events), full);
    assert_eq!(
        names(&late_events)[..3],
        ["connected", "joined_chat", "chat_chunk"]
    );
    let first = named(&late_events, "chat_chunk")[0]["content"]
        .as_str()
        .unwrap();
    assert!(
        first.starts_with(" t0 t1 t2 t3 t4"),
        "the first chunk is the text so far: {first:?}"
    );
    let late_chunks = named(&late_events, "chat_chunk").len();
    assert!(late_chunks < 30, "{late_chunks} chunks");
    assert_eq!(
        named(&late_events, "chat_complete")[0]["message_id"],
        named(&a_events, "chat_complete")[0]["message_id"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_started_over_rest_reaches_the_room() {
    let (server, py) = setup().await;
    let key = format!("web_anonymous_user_{BOB}");
    let a = py.connect("a", &server.base, "/").await;
    a.emit("join_chat", join(&key)).await;
    a.wait_for("joined_chat").await;
    let (status, body) = server
        .post(
            &format!("/api/locrits/{}/chat", segment(BOB)),
            json!({"message": "over REST"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events = a.wait_for("chat_complete").await;
    assert_eq!(chunks_text(&events), "You said: over REST");
    let complete = named(&events, "chat_complete")[0];
    assert_eq!(complete["message_id"], body["message_id"]);
    assert_eq!(complete["user_message_id"], body["user_message_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_generation_ends_the_turn_as_cancelled_and_keeps_what_was_generated() {
    let (server, py) = setup().await;
    server.ollama.set_reply(Reply::Tokens(tokens(100)));
    server.ollama.set_token_delay(Duration::from_millis(30));
    let a = py.connect("a", &server.base, "/chat").await;
    let b = py.connect("b", &server.base, "/chat").await;
    b.emit("join_chat", join("stop")).await;
    b.wait_for("joined_chat").await;
    a.emit("chat_message", say("stop", "talk a lot")).await;
    a.wait_for_count("chat_chunk", 3).await;
    a.emit("stop_generation", join("stop")).await;
    let events = a.wait_for("chat_complete").await;
    let b_events = b.wait_for("chat_complete").await;

    let stopped = named(&events, "generation_stopped")[0];
    assert_eq!(stopped["locrit_name"], BOB);
    assert_eq!(stopped["session_id"], "stop");
    let complete = named(&events, "chat_complete")[0];
    assert_eq!(complete["status"], "cancelled");
    assert_eq!(named(&b_events, "chat_complete")[0]["status"], "cancelled");
    let messages = stored(&server, BOB, "stop").await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].status, MessageStatus::Cancelled);
    assert_eq!(complete["message_id"], json!(messages[1].id));
    assert_eq!(complete["response"], messages[1].content.as_str());
    assert_eq!(chunks_text(&events), messages[1].content);
    assert!(messages[1].content.len() < tokens(100).concat().len());
    assert!(named(&events, "error").is_empty(), "{events:#?}");

    // By turn id, from a chunk; and nothing left to stop.
    a.emit("chat_message", say("stop", "again")).await;
    let events = a
        .wait_for_count("chat_chunk", chunks_text(&events).len() + 1)
        .await;
    let turn_id = named(&events, "chat_chunk").last().unwrap()["turn_id"].clone();
    a.emit("stop_generation", json!({"turn_id": turn_id})).await;
    let events = a.wait_for_count("chat_complete", 2).await;
    assert_eq!(named(&events, "chat_complete")[1]["status"], "cancelled");
    a.emit("stop_generation", join("stop")).await;
    let events = a.wait_for("error").await;
    assert_eq!(
        named(&events, "error")[0],
        &json!({"locrit_name": BOB, "session_id": "stop", "message": "No generation running"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_failure_is_one_error_event_and_the_users_message_is_kept() {
    let (server, py) = setup().await;
    let a = py.connect("a", &server.base, "/chat").await;
    server
        .ollama
        .fail_next(FakeFailure::Http(500, "model crashed".into()));
    a.emit("chat_message", say("fail", "hello")).await;
    let events = a.wait_for("error").await;
    let error = named(&events, "error")[0];
    assert_eq!(error["locrit_name"], BOB);
    assert_eq!(error["session_id"], "fail");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error generating response: "),
        "{message}"
    );
    assert!(message.contains("model crashed"), "{message}");
    assert_eq!(
        summary(&stored(&server, BOB, "fail").await),
        [(Role::User, "hello", MessageStatus::Complete)]
    );

    // Mid-stream: what arrived is stored as interrupted, and the turn ends with `error`.
    server.ollama.set_reply(Reply::Tokens(tokens(10)));
    server.ollama.fail_next(FakeFailure::CutAfter(3));
    a.emit("chat_message", say("fail", "again")).await;
    let events = a.wait_for_count("error", 2).await;
    let after_first: Vec<_> = events
        .iter()
        .skip_while(|(name, _)| name != "error")
        .skip(1)
        .cloned()
        .collect();
    assert_eq!(
        names(&after_first),
        ["chat_chunk", "chat_chunk", "chat_chunk", "error"]
    );
    let messages = stored(&server, BOB, "fail").await;
    assert_eq!(
        summary(&messages)[1..],
        [
            (Role::User, "again", MessageStatus::Complete),
            (Role::Assistant, " t0 t1 t2", MessageStatus::Interrupted)
        ]
    );
    let error = named(&events, "error")[1];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Error generating response: ")
    );
    assert_eq!(error["user_message_id"], json!(messages[1].id));
    assert_eq!(error["partial_message_id"], json!(messages[2].id));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(named(&a.events().await, "chat_complete").is_empty());
}

/// The `error` payload answering `event` with `data` (the last event received).
async fn refusal(client: &driver::Client, count: &mut usize, event: &str, data: Value) -> Value {
    if data.is_null() {
        client.emit_bare(event).await;
    } else {
        client.emit(event, data).await;
    }
    *count += 1;
    let events = client.wait_for_count("error", *count).await;
    let (name, payload) = events.last().unwrap().clone();
    assert_eq!(name, "error", "{events:#?}");
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_use_the_contracts_words() {
    let (server, py) = setup().await;
    create(&server, "Closed").await;
    let closed = OpenTo {
        humans: false,
        ..OpenTo::default()
    };
    patch(
        &server,
        "Closed",
        LocritPatch {
            open_to: Some(closed),
            ..Default::default()
        },
    )
    .await;
    create(&server, "Asleep").await;
    patch(
        &server,
        "Asleep",
        LocritPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await;
    create(&server, "NoModel").await;
    let no_model = LocritPatch {
        ollama_model: Some(String::new()),
        ..Default::default()
    };
    patch(&server, "NoModel", no_model).await;
    create(&server, "NoServer").await;
    patch(
        &server,
        "NoServer",
        LocritPatch {
            ollama_url: Some(None),
            ..Default::default()
        },
    )
    .await;
    create(&server, "Unreachable").await;
    let unreachable = LocritPatch {
        ollama_url: Some(Some(unused_local_url())),
        ..Default::default()
    };
    patch(&server, "Unreachable", unreachable).await;

    let a = py.connect("a", &server.base, "/chat").await;
    let mut n = 0;
    let required = json!({"message": "Locrit name and message required"});
    assert_eq!(
        refusal(&a, &mut n, "chat_message", Value::Null).await,
        required
    );
    assert_eq!(
        refusal(&a, &mut n, "chat_message", json!({"locrit_name": BOB})).await,
        required
    );
    let blank = json!({"locrit_name": BOB, "message": "   ", "session_id": "s"});
    assert_eq!(refusal(&a, &mut n, "chat_message", blank).await, required);
    let no_target = json!({"locrit_name": BOB, "message": "hi"});
    assert_eq!(
        refusal(&a, &mut n, "chat_message", no_target).await,
        json!({"message": "Either conversation_id or session_id is required"})
    );
    let cases = [
        ("Nobody", "Locrit not found".to_owned()),
        ("Closed", "Locrit not accessible for humans".to_owned()),
        ("Asleep", "Locrit is inactive".to_owned()),
        ("NoModel", "No model configured for this Locrit".to_owned()),
        (
            "NoServer",
            "Ollama service unavailable: Locrit 'NoServer' has no 'ollama_url' configured"
                .to_owned(),
        ),
        (
            "Unreachable",
            "Ollama service unavailable - connection failed".to_owned(),
        ),
    ];
    for (name, message) in cases {
        let data = json!({"locrit_name": name, "session_id": "s1", "message": "hi"});
        assert_eq!(
            refusal(&a, &mut n, "chat_message", data).await,
            json!({"locrit_name": name, "session_id": "s1", "message": message}),
            "{name}"
        );
    }
    // Refused before anything was stored, except where the model was to be called.
    assert!(stored(&server, "Closed", "s1").await.is_empty());
    assert!(stored(&server, "Asleep", "s1").await.is_empty());
    assert_eq!(stored(&server, "Unreachable", "s1").await.len(), 1);

    let bad_id = json!({"locrit_name": BOB, "session_id": "a\u{1}b", "message": "hi"});
    let error = refusal(&a, &mut n, "chat_message", bad_id).await;
    assert_eq!(
        error["message"],
        "session_id: must not contain control characters"
    );
    let join_required = json!({"message": "Locrit name and session ID required"});
    assert_eq!(
        refusal(&a, &mut n, "join_chat", json!({"locrit_name": BOB})).await,
        join_required
    );
    assert_eq!(
        refusal(&a, &mut n, "join_chat", Value::Null).await,
        join_required
    );
    assert_eq!(
        refusal(&a, &mut n, "leave_chat", json!({})).await,
        join_required
    );
    // Each refusal was the only answer.
    let events = a.events().await;
    assert_eq!(names(&events).len(), 1 + n, "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_mode_answers_one_chat_response() {
    let (server, py) = setup().await;
    create(&server, "Alice").await;
    let (status, created) = server
        .post(
            "/api/conversations/create",
            json!({"locrit_name": BOB, "user_id": "u1"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let cid = created["conversation_id"].as_str().unwrap();
    let a = py.connect("a", &server.base, "/chat").await;
    let message =
        |name: &str| json!({"locrit_name": name, "conversation_id": cid, "message": "hi"});
    a.emit("chat_message", message(BOB)).await;
    let events = a.wait_for("chat_response").await;
    assert_eq!(
        names(&events),
        ["connected", "chat_response"],
        "no streaming"
    );
    let response = named(&events, "chat_response")[0];
    assert_eq!(response["locrit_name"], BOB);
    assert_eq!(response["conversation_id"], cid);
    assert_eq!(response["response"], "You said: hi");
    assert_eq!(response["message_count"], 2);
    chrono::DateTime::parse_from_rfc3339(response["timestamp"].as_str().unwrap()).unwrap();
    let (_, history) = server.get(&format!("/api/conversations/{cid}")).await;
    assert_eq!(history["messages"][1]["id"], response["message_id"]);
    assert_eq!(history["messages"][0]["user_id"], "u1");

    // Another Locrit's conversation is not found; the humans gate applies.
    a.emit("chat_message", message("Alice")).await;
    let events = a.wait_for("error").await;
    assert_eq!(
        named(&events, "error")[0],
        &json!({"locrit_name": "Alice", "conversation_id": cid, "message": "Conversation not found"})
    );
    let closed = OpenTo {
        humans: false,
        ..OpenTo::default()
    };
    patch(
        &server,
        BOB,
        LocritPatch {
            open_to: Some(closed),
            ..Default::default()
        },
    )
    .await;
    a.emit("chat_message", message(BOB)).await;
    let events = a.wait_for_count("error", 2).await;
    assert_eq!(
        named(&events, "error")[1]["message"],
        "Locrit not accessible for humans"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_false_answers_one_chat_response() {
    let (server, py) = setup().await;
    let a = py.connect("a", &server.base, "/").await;
    let mut data = say("quiet", "hello");
    data["stream"] = json!(false);
    a.emit("chat_message", data).await;
    let events = a.wait_for("chat_response").await;
    assert_eq!(names(&events), ["connected", "chat_response"]);
    let response = named(&events, "chat_response")[0];
    assert_eq!(response["response"], "You said: hello");
    assert_eq!(response["session_id"], "quiet");
    let messages = stored(&server, BOB, "quiet").await;
    assert_eq!(response["message_id"], json!(messages[1].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_loses_no_reply() {
    let (server, py) = setup().await;
    server.ollama.set_reply(Reply::Tokens(tokens(20)));
    server.ollama.set_token_delay(Duration::from_millis(30));
    let a = py.connect("a", &server.base, "/chat").await;
    a.emit("chat_message", say("gone", "hello")).await;
    a.wait_for_count("chat_chunk", 2).await;
    a.disconnect().await;
    let mut messages = Vec::new();
    for _ in 0..100 {
        messages = stored(&server, BOB, "gone").await;
        if messages.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        summary(&messages),
        [
            (Role::User, "hello", MessageStatus::Complete),
            (
                Role::Assistant,
                tokens(20).concat().as_str(),
                MessageStatus::Complete
            )
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_accepts_the_contracts_origins_only() {
    let (server, py) = setup().await;
    for transports in [json!(["polling"]), json!(["websocket"])] {
        let allowed = json!({"Origin": "http://localhost:5173"});
        let client = py
            .connect_with("ok", &server.base, "/chat", transports.clone(), allowed)
            .await;
        assert!(client.is_ok(), "{transports}: {:?}", client.err());
        client.unwrap().disconnect().await;
        let foreign = json!({"Origin": "http://evil.example"});
        let refused = py
            .connect_with("evil", &server.base, "/chat", transports.clone(), foreign)
            .await;
        assert!(refused.is_err(), "{transports}: a foreign origin connected");
    }
    let response = server
        .http
        .get(server.url("/socket.io/?EIO=4&transport=polling"))
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_watchers_get_every_change_live() {
    let (server, py) = setup().await;
    let full = AccessTo {
        full_memory: true,
        ..AccessTo::default()
    };
    patch(
        &server,
        BOB,
        LocritPatch {
            access_to: Some(full),
            ..Default::default()
        },
    )
    .await;
    create(&server, "Private").await;
    let watcher = py.connect("watcher", &server.base, "/").await;
    watcher
        .emit("watch_memory", json!({"locrit_name": "Private"}))
        .await;
    assert_eq!(
        watcher.first("error").await,
        json!({"locrit_name": "Private", "message": "Accès à la mémoire complète requis"})
    );
    watcher
        .emit("watch_memory", json!({"locrit_name": BOB}))
        .await;
    assert_eq!(
        watcher.first("watching_memory").await,
        json!({"locrit_name": BOB})
    );

    let chatter = py.connect("chatter", &server.base, "/chat").await;
    chatter
        .emit("chat_message", say("mem", "remember me"))
        .await;
    chatter.wait_for("chat_complete").await;
    let updates = [nth_update(&watcher, 1).await, nth_update(&watcher, 2).await];
    let messages = stored(&server, BOB, "mem").await;
    for (update, message) in updates.iter().zip(&messages) {
        assert_eq!(update["locrit_name"], BOB);
        assert_eq!(update["kind"], "message_stored");
        assert_eq!(update["session_id"], "mem");
        assert_eq!(update["message"]["id"], json!(message.id));
        assert_eq!(update["message"]["content"], message.content.as_str());
        assert_eq!(update["message"]["role"], message.role.as_str());
    }

    let locrit = server.core.locrit_named(BOB).await.unwrap();
    let core = &server.core;
    core.edit_message(&locrit, messages[0].id, "edited")
        .await
        .unwrap();
    let update = nth_update(&watcher, 3).await;
    assert_eq!(update["kind"], "message_edited");
    assert_eq!(update["message"]["content"], "edited");
    assert!(update["message"]["edited_at"].is_string());

    core.delete_message(&locrit, messages[1].id).await.unwrap();
    let update = nth_update(&watcher, 4).await;
    assert_eq!(update["kind"], "message_deleted");
    assert_eq!(update["message_id"], json!(messages[1].id));
    assert_eq!(update["session_id"], "mem");

    let memory = NewMemory {
        content: "likes tea".into(),
        importance: 0.8,
        metadata: json!({}),
        ..NewMemory::default()
    };
    let memory = core.add_memory(&locrit, memory).await.unwrap();
    let update = nth_update(&watcher, 5).await;
    assert_eq!(update["kind"], "memory_added");
    assert_eq!(update["memory"]["id"], json!(memory.id));
    assert_eq!(update["memory"]["content"], "likes tea");
    assert_eq!(update["memory"]["importance"], 0.8);

    let session = core.session(&locrit, "mem").await.unwrap();
    core.delete_session(&session).await.unwrap();
    let update = nth_update(&watcher, 6).await;
    assert_eq!(update["kind"], "session_deleted");
    assert_eq!(update["session_id"], "mem");

    watcher
        .emit("unwatch_memory", json!({"locrit_name": BOB}))
        .await;
    watcher.wait_for("unwatched_memory").await;
    chatter.emit("chat_message", say("mem2", "more")).await;
    chatter.wait_for_count("chat_complete", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_unwatch = watcher.events().await;
    let changes = named(&after_unwatch, "memory_updated");
    let background = changes
        .iter()
        .filter(|u| u["kind"] == "job_updated")
        .count();
    assert_eq!(
        changes.len() - background,
        6,
        "nothing after unwatch_memory"
    );
}

/// The `n`th change of the memory itself (news of background jobs left out).
async fn nth_update(client: &driver::Client, n: usize) -> Value {
    let mut wanted = n;
    loop {
        let events = client.wait_for_count("memory_updated", wanted).await;
        let changes: Vec<&Value> = named(&events, "memory_updated")
            .into_iter()
            .filter(|update| update["kind"] != "job_updated")
            .collect();
        if changes.len() >= n {
            return changes[n - 1].clone();
        }
        wanted += n - changes.len();
    }
}

/// A raw Engine.IO long-polling client that reads only when told: the slow client.
struct Polling {
    http: reqwest::Client,
    url: String,
}

impl Polling {
    async fn open(base: &str) -> Self {
        let http = reqwest::Client::new();
        let open = http
            .get(format!("{base}/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let handshake: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
        let sid = handshake["sid"].as_str().unwrap();
        let client = Self {
            http,
            url: format!("{base}/socket.io/?EIO=4&transport=polling&sid={sid}"),
        };
        client.send("40").await;
        client
    }

    async fn send(&self, packet: &str) {
        let response = self
            .http
            .post(&self.url)
            .body(packet.to_owned())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    async fn emit(&self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data]))).await;
    }

    /// One poll: the Socket.IO events it carried.
    /// Polls until some event comes: the connect acknowledgement (`40…`) may arrive in
    /// a poll of its own, before the `connected` event.
    async fn poll_until_some(&self) -> Vec<Received> {
        for _ in 0..5 {
            let events = self.poll().await;
            if !events.is_empty() {
                return events;
            }
        }
        panic!("no event in five polls")
    }

    async fn poll(&self) -> Vec<Received> {
        let body = tokio::time::timeout(Duration::from_secs(10), async {
            self.http
                .get(&self.url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
        .await
        .expect("a poll answers");
        body.split('\u{1e}')
            .filter_map(|packet| packet.strip_prefix("42"))
            .map(|event| {
                let event: Value = serde_json::from_str(event).unwrap();
                (event[0].as_str().unwrap().to_owned(), event[1].clone())
            })
            .collect()
    }
}

/// A client that stops reading neither slows the model nor the other clients, its
/// buffer stays bounded, and it gets the whole reply later, merged into few chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_gets_the_rest_merged_later_without_slowing_anyone() {
    const BUFFER: usize = 8;
    const TOKENS: usize = 200;
    let config = ServerConfig {
        socketio: SocketIoSettings {
            buffer: BUFFER,
            ..SocketIoSettings::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite(), config).await;
    create(&server, BOB).await;
    let py = Driver::start().await;
    server.ollama.set_reply(Reply::Tokens(tokens(TOKENS)));
    server.ollama.set_token_delay(Duration::from_millis(2));

    let slow = Polling::open(&server.base).await;
    assert_eq!(names(&slow.poll_until_some().await), ["connected"]);
    slow.emit("join_chat", join("busy")).await;
    let fast = py.connect("fast", &server.base, "/").await;
    fast.emit("join_chat", join("busy")).await;
    fast.wait_for("joined_chat").await;
    fast.emit("chat_message", say("busy", "go")).await;
    let events = fast.wait_for("chat_complete").await;
    let full = tokens(TOKENS).concat();
    assert_eq!(chunks_text(&events), full);
    assert_eq!(named(&events, "chat_chunk").len(), TOKENS);
    // Stored while the slow client had read nothing.
    let messages = stored(&server, BOB, "busy").await;
    assert_eq!(messages[1].content, full);

    let mut received = slow.poll().await;
    assert!(
        received.len() <= BUFFER,
        "at most the buffer waits for a slow client: {}",
        received.len()
    );
    while named(&received, "chat_complete").is_empty() {
        received.extend(slow.poll().await);
    }
    assert_eq!(chunks_text(&received), full, "nothing lost");
    let chunks = named(&received, "chat_chunk").len();
    assert!(
        chunks < TOKENS / 2,
        "what waited was merged: {chunks} chunks"
    );
    let complete = named(&received, "chat_complete");
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0]["response"], full.as_str());
    assert_eq!(complete[0]["message_id"], json!(messages[1].id));
}

/// A store that is full (SQLite's page limit, as a full disk) answers a message with one
/// `error` event saying so; every exchange completed before is stored, the message
/// refused is not (or, when only its reply did not fit, the error names it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_is_one_error_event_and_stores_nothing_it_refused() {
    let server = TestServer::start_with_store(TestDatabase::sqlite(), |url| StoreConfig {
        sqlite_max_size: Some(1 << 20),
        ..StoreConfig::new(url)
    })
    .await;
    create(&server, BOB).await;
    // Short replies: the questions fill the store, and few chunks are streamed.
    server.ollama.set_reply("Noted.");
    let py = Driver::start().await;
    let a = py.connect("a", &server.base, "/chat").await;
    let long = "words to keep ".repeat(4_000);
    let mut sent = Vec::new();
    let error = loop {
        assert!(sent.len() < 40, "the store never filled up");
        let text = format!("{} {long}", sent.len());
        a.emit("chat_message", say("full", &text)).await;
        sent.push(text);
        // The answer to this message: a complete reply, or the error.
        let answered = loop {
            let events = a.events().await;
            let completes = named(&events, "chat_complete").len();
            if let Some(error) = named(&events, "error").first() {
                break Some((*error).clone());
            }
            if completes == sent.len() {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if let Some(error) = answered {
            break error;
        }
    };
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("full"), "{message}");
    assert_eq!(error["session_id"], "full");
    let refused = sent.pop().unwrap();
    let questions: Vec<String> = stored(&server, BOB, "full")
        .await
        .into_iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content)
        .collect();
    let kept = error
        .get("user_message_id")
        .is_some_and(|id| id.is_string());
    if kept {
        sent.push(refused);
    }
    let first_words = |texts: &[String]| -> Vec<String> {
        texts
            .iter()
            .map(|t| t.split(' ').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        first_words(&questions),
        first_words(&sent),
        "the acknowledged, in order, and only the error's: {error}"
    );
}
