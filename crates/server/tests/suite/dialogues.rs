//! Locrits talking to Locrits (issue 9): the inter-Locrit discovery API, dialogues
//! between two Locrits of one server and across two servers on loopback (each with its
//! own fake Ollama), their budgets and stop rules, pause, resume, steer and stop, and a
//! scheduled dialogue that outlives a restart.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::TestServer;
use locrit_core::{NewApiKey, dialogue_session_key};
use locrit_domain::{AccountRole, KeyScopes, Requester};
use locrit_server::ServerConfig;
use locrit_store::{MessagePage, SessionQuery};
use locrit_testkit::{Reply, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Replies that never repeat: four words of their own each time (`server` tells two
/// fake Ollamas apart).
fn fresh_replies(server: &'static str) -> Reply {
    let count = Arc::new(AtomicUsize::new(0));
    Reply::func(move |_| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        format!("{server}{n}a {server}{n}b {server}{n}c {server}{n}d")
    })
}

/// Creates an active Locrit open to other Locrits; returns its id.
async fn locrit(server: &TestServer, name: &str, open_to_locrits: bool) -> String {
    let (status, body) = server
        .post(
            "/api/v2/locrits",
            json!({"name": name, "ollama_model": "llama3.2", "active": true,
                   "open_to": {"humans": true, "locrits": open_to_locrits, "invitations": false,
                               "internet": false, "platform": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Ada and Bob, Locrits of `server` open to Locrits, and a dialogue Ada starts with
/// `body`; returns Ada's id and the dialogue.
async fn ada_talks_with_bob(server: &TestServer, body: Value) -> (String, Value) {
    let ada = locrit(server, "Ada", true).await;
    locrit(server, "Bob", true).await;
    let dialogue = start(server, &ada, body).await;
    (ada, dialogue)
}

async fn start(server: &TestServer, locrit: &str, body: Value) -> Value {
    let (status, dialogue) = server
        .post(&format!("/api/v2/locrits/{locrit}/dialogues"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dialogue}");
    dialogue
}

/// The dialogue once it is over (or in `status`), with its transcript.
async fn wait_for(server: &TestServer, id: &str, status: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, view) = server.get(&format!("/api/v2/dialogues/{id}")).await;
        let now = view["dialogue"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status.contains(&now.as_str()) {
            return view;
        }
        assert!(Instant::now() < deadline, "still {now}: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The messages of one Locrit's session, oldest first: (role, content).
async fn transcript(server: &TestServer, locrit: &str, key: &str) -> Vec<(String, String)> {
    let core = &server.core;
    let locrit = core.locrit_named(locrit).await.unwrap();
    let Ok(session) = core.session(&locrit, key).await else {
        return Vec::new();
    };
    let page = MessagePage::After {
        after: 0,
        limit: 500,
    };
    core.messages(&session, page)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.role.as_str().to_owned(), m.content))
        .collect()
}

#[tokio::test]
async fn two_locrits_of_one_server_hold_a_ten_reply_dialogue_each_with_its_transcript() {
    let server = TestServer::start().await;
    server.ollama.set_reply(fresh_replies("a"));
    let body = json!({"partner": "Bob", "topic": "the weather",
                      "opening": "Shall we talk about rain?", "max_turns": 10});
    let (_, dialogue) = ada_talks_with_bob(&server, body).await;
    let id = dialogue["id"].as_str().unwrap();
    let view = wait_for(&server, id, &["completed", "failed"]).await;
    let ended = &view["dialogue"];
    assert_eq!(ended["status"], "completed", "{view}");
    assert_eq!(ended["turns"], 10);
    assert_eq!(ended["stop_reason"], "the turn limit was reached");
    assert!(
        ended["tokens"].as_u64().unwrap() > 0,
        "the models' counts add up"
    );

    // Each side keeps its own transcript: what it heard and what it said, alternating.
    let key = dialogue_session_key(id.parse().unwrap());
    let ada_side = transcript(&server, "Ada", &key).await;
    let bob_side = transcript(&server, "Bob", &key).await;
    assert_eq!(
        ada_side[0],
        ("assistant".into(), "Shall we talk about rain?".into())
    );
    assert_eq!(
        bob_side[0],
        ("user".into(), "Shall we talk about rain?".into())
    );
    // Bob replied 5 times, Ada 5 times; the last reply (Ada's) reached Bob unanswered.
    assert_eq!(ada_side.len(), 1 + 5 + 5, "{ada_side:?}");
    assert_eq!(bob_side.len(), 5 + 5 + 1, "{bob_side:?}");
    for (said, heard) in ada_side
        .iter()
        .skip(1)
        .step_by(2)
        .zip(bob_side.iter().skip(1).step_by(2))
    {
        assert_eq!((said.0.as_str(), heard.0.as_str()), ("user", "assistant"));
        assert_eq!(said.1, heard.1, "what Bob said is what Ada heard");
    }
    assert_eq!(view["transcript"].as_array().unwrap().len(), ada_side.len());
    // The prompt told each side who it talks with.
    let requests = server.ollama.requests_on(locrit_testkit::Endpoint::Chat);
    assert!(
        requests
            .iter()
            .any(|r| r.to_string().contains("un autre Locrit"))
    );
}

#[tokio::test]
async fn repetition_a_side_ending_it_and_the_token_budget_stop_a_dialogue() {
    let server = TestServer::start().await;
    let ada = locrit(&server, "Ada", true).await;
    locrit(&server, "Bob", true).await;
    let cases = [
        (
            Reply::Text("I agree with everything you say, truly.".into()),
            json!({}),
            "the Locrits started repeating themselves",
            2,
        ),
        (
            Reply::Text("Lovely talking to you. [[END]]".into()),
            json!({}),
            "the initiator ended it",
            1,
        ),
        (
            Reply::Text("Lovely talking to you. [[END]]".into()),
            json!({"opening": "Hi Bob"}),
            "the partner ended it",
            1,
        ),
        (
            fresh_replies("a"),
            json!({"max_tokens": 10}),
            "the token budget was spent",
            3,
        ),
    ];
    for (reply, budget, reason, turns) in cases {
        server.ollama.set_reply(reply);
        let mut body = json!({"partner": "Bob", "topic": "anything", "max_turns": 50});
        body.as_object_mut()
            .unwrap()
            .extend(budget.as_object().unwrap().clone());
        let dialogue = start(&server, &ada, body).await;
        let view = wait_for(
            &server,
            dialogue["id"].as_str().unwrap(),
            &["completed", "failed"],
        )
        .await;
        assert_eq!(view["dialogue"]["stop_reason"], reason, "{view}");
        assert_eq!(view["dialogue"]["turns"], turns, "{reason}: {view}");
    }
}

#[tokio::test]
async fn a_person_pauses_resumes_steers_and_stops_a_dialogue() {
    let server = TestServer::start().await;
    server.ollama.set_reply(fresh_replies("a"));
    server.ollama.set_token_delay(Duration::from_millis(60));
    let (_, dialogue) = ada_talks_with_bob(
        &server,
        json!({"partner": "Bob", "topic": "music", "max_turns": 100}),
    )
    .await;
    let id = dialogue["id"].as_str().unwrap().to_owned();
    let path = |action: &str| format!("/api/v2/dialogues/{id}/{action}");

    let (status, paused) = server.post(&path("pause"), json!({})).await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (StatusCode::OK, Some("paused")),
        "{paused}"
    );
    // The reply under way is kept; then nothing moves.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, first) = server.get(&format!("/api/v2/dialogues/{id}")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, second) = server.get(&format!("/api/v2/dialogues/{id}")).await;
    assert_eq!(
        first["dialogue"]["turns"], second["dialogue"]["turns"],
        "paused"
    );
    assert_eq!(second["dialogue"]["status"], "paused");
    let again = server.post(&path("resume"), json!({})).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    let twice = server.post(&path("resume"), json!({})).await;
    assert_eq!(twice.0, StatusCode::CONFLICT, "not paused any more");

    let (status, steered) = server
        .post(&path("steer"), json!({"message": "talk about jazz"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{steered}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server
        .ollama
        .requests_on(locrit_testkit::Endpoint::Chat)
        .iter()
        .any(|r| r.to_string().contains("talk about jazz"))
    {
        assert!(
            Instant::now() < deadline,
            "the steer never reached a prompt"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, stopped) = server.post(&path("stop"), json!({})).await;
    assert_eq!(
        (status, stopped["status"].as_str()),
        (StatusCode::OK, Some("stopped"))
    );
    let turns = stopped["turns"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = server.get(&format!("/api/v2/dialogues/{id}")).await;
    assert_eq!(after["dialogue"]["status"], "stopped");
    assert!(
        after["dialogue"]["turns"].as_u64().unwrap() <= turns + 1,
        "at most the reply under way"
    );
    let late = server.post(&path("resume"), json!({})).await;
    assert_eq!(late.0, StatusCode::CONFLICT, "over for good");
}

/// A person's control is never refused because a reply was recorded meanwhile: with
/// instant replies the dialogue changes every few milliseconds, and every steer and the
/// final stop apply.
#[tokio::test]
async fn controls_apply_while_replies_are_recorded_between_reading_and_saving() {
    let server = TestServer::start().await;
    server.ollama.set_reply(fresh_replies("a"));
    let (_, dialogue) = ada_talks_with_bob(
        &server,
        json!({"partner": "Bob", "topic": "music", "max_turns": 200}),
    )
    .await;
    let id = dialogue["id"].as_str().unwrap().to_owned();
    for n in 0..30 {
        let (status, steered) = server
            .post(
                &format!("/api/v2/dialogues/{id}/steer"),
                json!({"message": format!("point {n}")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "steer {n}: {steered}");
        assert_eq!(steered["steer"], format!("point {n}"), "{steered}");
    }
    let (status, stopped) = server
        .post(&format!("/api/v2/dialogues/{id}/stop"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert!(
        stopped["turns"].as_u64().unwrap() > 1,
        "replies went on: {stopped}"
    );
}

#[tokio::test]
async fn a_scheduled_dialogue_starts_on_time_after_a_restart() {
    let server = TestServer::start().await;
    server.ollama.set_reply(fresh_replies("a"));
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (_, dialogue) = ada_talks_with_bob(
        &server,
        json!({"partner": "Bob", "topic": "plans", "max_turns": 4, "start_at": at}),
    )
    .await;
    assert_eq!(dialogue["status"], "scheduled");
    let id = dialogue["id"].as_str().unwrap().to_owned();
    let server = server.restart().await;
    let (_, view) = server.get(&format!("/api/v2/dialogues/{id}")).await;
    assert_eq!(
        view["dialogue"]["status"], "scheduled",
        "not before its time"
    );
    let view = wait_for(&server, &id, &["completed", "failed"]).await;
    assert_eq!(view["dialogue"]["status"], "completed", "{view}");
    assert_eq!(view["dialogue"]["turns"], 4);
    let started = view["dialogue"]["started_at"].as_str().unwrap();
    let started: chrono::DateTime<chrono::Utc> = started.parse().unwrap();
    assert!(started >= at, "started {started}, scheduled {at}");
}

/// Server B: no local trust, a Locrit `Remy` open to Locrits, and a chat key of its
/// owner for server A to call it with.
async fn remote_server() -> (TestServer, String) {
    let config = ServerConfig {
        local_trust: false,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite(), config).await;
    server.ollama.set_reply(fresh_replies("b"));
    let core = &server.core;
    let owner = core
        .create_account(
            &Requester::Local,
            "remy-owner",
            "a long enough password",
            AccountRole::User,
        )
        .await
        .unwrap();
    let requester = Requester::Account {
        account: owner.clone(),
        key: None,
    };
    let new = locrit_domain::NewLocrit {
        name: "Remy".into(),
        ollama_model: "llama3.2".into(),
        active: true,
        ..Default::default()
    };
    core.create_locrit_for(new, &requester).await.unwrap();
    let key = NewApiKey {
        name: "for server A".into(),
        scopes: KeyScopes {
            chat: true,
            ..KeyScopes::default()
        },
        locrit: Some("Remy".into()),
    };
    let (_, token) = core.create_api_key(&owner, key).await.unwrap();
    (server, token)
}

#[tokio::test]
async fn a_locrit_talks_with_a_locrit_of_another_server_by_its_key() {
    let (b, key) = remote_server().await;
    let a = TestServer::start().await;
    a.ollama.set_reply(fresh_replies("a"));
    let ada = locrit(&a, "Ada", true).await;

    // Discovery on B, as another Locrit sees it.
    let discovered = a.http.get(b.url("/api/v1/locrits")).send().await.unwrap();
    let (status, listed) = common::read(discovered).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["locrits"][0]["name"], "Remy");
    assert_eq!(
        listed["locrits"][0]["capabilities"],
        json!({"chat": true, "stream": true})
    );
    let info = a
        .http
        .get(b.url("/api/v1/locrits/Remy/info"))
        .send()
        .await
        .unwrap();
    let (status, info) = common::read(info).await;
    assert_eq!(
        (status, info["locrit"]["active"].clone()),
        (StatusCode::OK, json!(true))
    );

    let (status, contact) = a
        .post(
            &format!("/api/v2/locrits/{ada}/contacts"),
            json!({"name": "Remy", "server_url": b.base, "api_key": key}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    assert!(
        contact.get("api_key").is_none(),
        "the key is never answered"
    );
    let dialogue = start(
        &a,
        &ada,
        json!({"contact_id": contact["id"], "topic": "two servers", "max_turns": 10}),
    )
    .await;
    let id = dialogue["id"].as_str().unwrap();
    let view = wait_for(&a, id, &["completed", "failed"]).await;
    assert_eq!(view["dialogue"]["status"], "completed", "{view}");
    assert_eq!(view["dialogue"]["turns"], 10);

    // A's side on A; Remy's side on B, in its own session for this dialogue.
    let ada_side = transcript(&a, "Ada", &dialogue_session_key(id.parse().unwrap())).await;
    let remy_key = format!("v1_locrit_Ada_{id}");
    let remy_side = transcript(&b, "Remy", &remy_key).await;
    assert_eq!(remy_side.len(), 10, "5 heard, 5 said: {remy_side:?}");
    assert_eq!(
        ada_side.len(),
        11,
        "the topic, 5 said, 5 heard (Remy's last one too)"
    );
    assert_eq!(ada_side[1].1, remy_side[0].1, "what Ada said, Remy heard");
    assert_eq!(ada_side[2].1, remy_side[1].1, "what Remy said, Ada heard");
    assert_eq!(sessions_of(&b, "Remy").await, 1);
    // Remy learns from it in its own memory: its extraction jobs were queued on B.
    let remy = b.core.locrit_named("Remy").await.unwrap();
    let jobs = b
        .core
        .jobs(&locrit_store::JobQuery {
            locrit_id: Some(remy.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        jobs.iter().any(|job| job.kind == "extract_memories"),
        "{jobs:?}"
    );
}

/// How many live sessions the Locrit has.
async fn sessions_of(server: &TestServer, name: &str) -> usize {
    let locrit = server.core.locrit_named(name).await.unwrap();
    let query = SessionQuery {
        locrit_id: Some(locrit.id),
        ..SessionQuery::default()
    };
    server.core.sessions(&query).await.unwrap().len()
}

#[tokio::test]
async fn a_wrong_key_or_a_closed_door_fails_the_dialogue_saying_why() {
    let (b, key) = remote_server().await;
    let a = TestServer::start().await;
    let ada = locrit(&a, "Ada", true).await;
    let attempt = async |key: &str| -> Value {
        let (_, contact) = a
            .post(
                &format!("/api/v2/locrits/{ada}/contacts"),
                json!({"name": "Remy", "server_url": b.base, "api_key": key}),
            )
            .await;
        let dialogue = start(
            &a,
            &ada,
            json!({"contact_id": contact["id"], "opening": "Hello Remy", "max_turns": 4}),
        )
        .await;
        let view = wait_for(
            &a,
            dialogue["id"].as_str().unwrap(),
            &["completed", "failed"],
        )
        .await;
        a.delete(&format!(
            "/api/v2/locrits/{ada}/contacts/{}",
            contact["id"].as_str().unwrap()
        ))
        .await;
        view
    };
    let wrong = attempt("lk_not_the_key").await;
    assert_eq!(wrong["dialogue"]["status"], "failed", "{wrong}");
    assert!(
        wrong["dialogue"]["stop_reason"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{wrong}"
    );

    let remy = b.core.locrit_named("Remy").await.unwrap();
    let closed = locrit_domain::LocritPatch {
        open_to: Some(locrit_domain::OpenTo {
            locrits: false,
            ..remy.open_to
        }),
        ..locrit_domain::LocritPatch::default()
    };
    b.core.update_locrit(remy.clone(), closed).await.unwrap();
    let refused = attempt(&key).await;
    assert_eq!(refused["dialogue"]["status"], "failed", "{refused}");
    assert!(
        refused["dialogue"]["stop_reason"]
            .as_str()
            .unwrap()
            .contains("403"),
        "{refused}"
    );
    assert_eq!(sessions_of(&b, "Remy").await, 0, "nothing reached Remy");

    // A Locrit closed to Locrits refuses a local dialogue too.
    locrit(&a, "Hermit", false).await;
    let dialogue = start(
        &a,
        &ada,
        json!({"partner": "Hermit", "opening": "Hi", "max_turns": 2}),
    )
    .await;
    let view = wait_for(
        &a,
        dialogue["id"].as_str().unwrap(),
        &["completed", "failed"],
    )
    .await;
    assert_eq!(view["dialogue"]["status"], "failed", "{view}");
}

#[tokio::test]
async fn bad_dialogue_requests_are_clear_errors() {
    let server = TestServer::start().await;
    let ada = locrit(&server, "Ada", true).await;
    let path = format!("/api/v2/locrits/{ada}/dialogues");
    for (body, status) in [
        (json!({"topic": "x"}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"partner": "Ada", "topic": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"partner": "Nobody", "topic": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"partner": "Ada", "topic": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"contact_id": uuid::Uuid::nil(), "topic": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"partner": "Ada", "topic": "x", "max_turns": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, answer) = server.post(&path, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["success"], false);
    }
    let (status, _) = server
        .post(
            &format!("/api/v2/locrits/{ada}/contacts"),
            json!({"name": "X", "server_url": "file:///etc"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = server
        .get("/api/v2/dialogues/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Watching live: the dialogue's events give its state, each local reply's turn (whose
/// tokens stream at `/api/v2/turns/{id}/events`) and each message, as they happen.
#[tokio::test]
async fn a_dialogue_is_watched_live_over_sse() {
    use futures::StreamExt;
    let server = TestServer::start().await;
    server.ollama.set_reply(fresh_replies("a"));
    server.ollama.set_token_delay(Duration::from_millis(20));
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(500);
    let (_, dialogue) = ada_talks_with_bob(
        &server,
        json!({"partner": "Bob", "opening": "Hello Bob", "max_turns": 4, "start_at": at}),
    )
    .await;
    let id = dialogue["id"].as_str().unwrap();
    let response = server
        .http
        .get(server.url(&format!("/api/v2/dialogues/{id}/events")))
        .send()
        .await
        .unwrap();
    let mut events = Box::pin(common::sse_events(response));
    let (mut turns, mut messages, mut tokens_followed) = (Vec::new(), 0, false);
    let first = events.next().await.unwrap();
    assert_eq!(
        (first.event.as_str(), first.data["status"].clone()),
        ("dialogue", json!("scheduled"))
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the dialogue ends in time")
            .expect("the stream stays open");
        match event.event.as_str() {
            "turn" => {
                turns.push(event.data["speaker"].as_str().unwrap().to_owned());
                if !tokens_followed {
                    // The reply's tokens, from its turn log.
                    let turn = event.data["turn_id"].as_str().unwrap();
                    let log = server
                        .http
                        .get(server.url(&format!("/api/v2/turns/{turn}/events")))
                        .send()
                        .await
                        .unwrap();
                    let deltas: Vec<_> = common::sse_events(log)
                        .take_while(|e| std::future::ready(e.event == "delta"))
                        .collect()
                        .await;
                    assert!(!deltas.is_empty(), "tokens streamed");
                    tokens_followed = true;
                }
            }
            "message" => messages += 1,
            "dialogue" if event.data["status"] == "completed" => break,
            _ => {}
        }
    }
    assert_eq!(
        turns,
        ["Bob", "Ada", "Bob", "Ada"],
        "each side's replies, in order"
    );
    // Ada answered twice: Bob's words and her reply each time; Bob's side is not sent.
    assert_eq!(messages, 4, "the initiator's transcript grew live");
}

#[tokio::test]
async fn the_discovery_routes_answer_the_contract_s_errors() {
    let server = TestServer::start().await;
    locrit(&server, "Open", true).await;
    locrit(&server, "Closed", false).await;
    let (_, asleep) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Asleep", "ollama_model": "llama3.2", "active": false}),
        )
        .await;
    assert!(asleep["id"].is_string());
    for (name, status, error) in [
        ("Nobody", StatusCode::NOT_FOUND, "Locrit non trouvé"),
        ("Asleep", StatusCode::BAD_REQUEST, "Locrit inactif"),
        (
            "Closed",
            StatusCode::FORBIDDEN,
            "Locrit non accessible aux autres Locrits",
        ),
    ] {
        let (got, body) = server.get(&format!("/api/v1/locrits/{name}/info")).await;
        assert_eq!(got, status, "{name}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(error),
            "{name}: {body}"
        );
    }
    let (_, listed) = server.get("/api/v1/locrits").await;
    assert_eq!(
        listed["count"], 1,
        "only the active Locrit open to Locrits: {listed}"
    );
    let (status, _) = server
        .post(
            "/api/v2/dialogues/not-a-uuid/steer",
            json!({"message": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
