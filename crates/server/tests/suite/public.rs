//! Public routes (contract §1.6) over real HTTP with a fake Ollama: the directory and
//! profiles show only what the owner opened, visitors chat in isolated sessions that
//! are kept (and survive restarts), conversation mode keeps its gates, chat is
//! rate-limited, the page settings persist, and bad input is a JSON 4xx.

use crate::common;

use std::time::Duration;

use common::{TestServer, read, segment, sse_events};
use futures::StreamExt;
use locrit_domain::{Message, MessageStatus, Role};
use locrit_server::{PublicLimits, RateLimit, ServerConfig};
use locrit_store::{MessagePage, SessionQuery};
use locrit_testkit::{FakeFailure, Reply, TestDatabase};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The settings of a Locrit open to people and to the internet.
fn public() -> Value {
    json!({"open_to": {"humans": true, "internet": true}})
}

fn path(name: &str, rest: &str) -> String {
    format!("/public/{}{rest}", segment(name))
}

fn assert_error(response: &(StatusCode, Value), status: StatusCode, message: &str) {
    let (got, body) = response;
    assert_eq!(
        (*got, body["error"].as_str(), &body["success"]),
        (status, Some(message), &json!(false)),
        "{body}"
    );
}

async fn chat(server: &TestServer, name: &str, body: Value) -> (StatusCode, Value) {
    server.post(&path(name, "/chat"), body).await
}

async fn history(server: &TestServer, name: &str, visitor: &str) -> (StatusCode, Value) {
    server
        .get(&path(name, &format!("/chat/history?visitor_id={visitor}")))
        .await
}

/// The (role, content) of a visitor's history.
fn contents(history: &Value) -> Vec<(String, String)> {
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap().to_owned();
            (text("role"), text("content"))
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect()
}

/// Every session of a Locrit, with its messages.
async fn everything_stored(server: &TestServer, name: &str) -> Vec<(String, Vec<Message>)> {
    let locrit = server.core.locrit_named(name).await.unwrap();
    let sessions = server
        .core
        .sessions(&SessionQuery {
            locrit_id: Some(locrit.id),
            ..SessionQuery::default()
        })
        .await
        .unwrap();
    let mut all = Vec::new();
    for session in sessions {
        let page = MessagePage::Before {
            before: None,
            limit: 1000,
        };
        let messages = server.core.messages(&session, page).await.unwrap();
        all.push((session.key, messages));
    }
    all
}

#[tokio::test]
async fn the_directory_lists_only_active_locrits_open_to_the_internet() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    server
        .create_active_locrit(
            "Pixie l'Organisateur",
            json!({"open_to": {"internet": true}, "public_address": "pixie.example",
                   "public_page": {"title": "Pixie !", "avatar": "🦊"}}),
        )
        .await;
    server
        .create_active_locrit("Private", json!({"open_to": {"humans": true}}))
        .await;
    server
        .create_active_locrit(
            "Asleep",
            json!({"active": false, "open_to": {"internet": true}}),
        )
        .await;

    let (status, body) = server.get("/public/list").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "count": 2, "locrits": [
            {"name": "Bob Technique", "description": "Expert", "public_address": null,
             "avatar": "🤖", "title": "Parlez avec Bob Technique"},
            {"name": "Pixie l'Organisateur", "description": "Expert", "public_address": "pixie.example",
             "avatar": "🦊", "title": "Pixie !"},
        ]})
    );
}

#[tokio::test]
async fn profiles_answer_the_contract_errors_and_defaults_and_hide_the_model_when_asked() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    server
        .create_active_locrit("Private", json!({"open_to": {"humans": true}}))
        .await;
    server
        .create_active_locrit(
            "Asleep",
            json!({"active": false, "open_to": {"internet": true}}),
        )
        .await;
    server
        .create_active_locrit(
            "Discreet",
            json!({"open_to": {"internet": true}, "access_to": {"llm_info": false},
                   "public_page": {"title": "Chut", "show_model_info": true}}),
        )
        .await;

    assert_error(
        &server.get(&path("Nobody", "")).await,
        StatusCode::NOT_FOUND,
        "Locrit introuvable",
    );
    assert_error(
        &server.get(&path("Asleep", "")).await,
        StatusCode::FORBIDDEN,
        "Ce Locrit n'est pas actif pour le moment",
    );
    assert_error(
        &server.get(&path("Private", "")).await,
        StatusCode::FORBIDDEN,
        "Ce Locrit n'est pas accessible publiquement",
    );

    let (status, body) = server.get(&path("Bob Technique", "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "invited": false, "locrit": {
            "name": "Bob Technique", "description": "Expert", "model": "llama3.2",
            "public_address": null, "active": true,
            "page_config": {
                "title": "Parlez avec Bob Technique", "description": "Expert",
                "welcome_message": "Bonjour ! Je suis Bob Technique. Comment puis-je vous aider ?",
                "theme": "default", "avatar": "🤖",
            },
        }})
    );

    let (status, body) = server.get(&path("Discreet", "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["locrit"]["model"], Value::Null, "llm_info is off");
    assert_eq!(
        body["locrit"]["page_config"],
        json!({"title": "Chut", "show_model_info": true}),
        "a stored page is shown as stored"
    );

    // The static route wins over a Locrit's name (`list` is not a valid name anyway).
    let (status, body) = server.get("/public/list").await;
    assert_eq!(
        (status, body.get("locrits").is_some()),
        (StatusCode::OK, true)
    );
}

#[tokio::test]
async fn a_closed_locrit_refuses_visitors_and_stores_nothing() {
    let server = TestServer::start().await;
    server
        .create_active_locrit("Private", json!({"open_to": {"humans": true}}))
        .await;
    server
        .create_active_locrit(
            "Asleep",
            json!({"active": false, "open_to": {"internet": true}}),
        )
        .await;

    for stream in ["/chat", "/chat/stream"] {
        let refused = server
            .post(&path("Private", stream), json!({"message": "hello"}))
            .await;
        assert_error(
            &refused,
            StatusCode::FORBIDDEN,
            "Ce Locrit n'est pas accessible publiquement",
        );
        let refused = server
            .post(&path("Asleep", stream), json!({"message": "hello"}))
            .await;
        assert_error(
            &refused,
            StatusCode::FORBIDDEN,
            "Ce Locrit n'est pas actif pour le moment",
        );
        assert_error(
            &server
                .post(&path("Nobody", stream), json!({"message": "hello"}))
                .await,
            StatusCode::NOT_FOUND,
            "Locrit introuvable",
        );
    }
    assert!(everything_stored(&server, "Private").await.is_empty());
    assert!(everything_stored(&server, "Asleep").await.is_empty());
    assert!(server.ollama.requests().is_empty(), "no model was called");
}

#[tokio::test]
async fn a_visitor_gets_an_id_and_their_own_session_which_keeps_both_turns() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;

    let response = server
        .http
        .post(server.url(&path("Bob Technique", "/chat")))
        .json(&json!({"message": "Bonjour", "visitor_name": "Zoé"}))
        .send()
        .await
        .unwrap();
    let header = response.headers()["x-locrit-visitor"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let visitor = body["visitor_id"].as_str().unwrap().to_owned();
    assert_eq!(visitor, header);
    assert_eq!(visitor.len(), 32, "a random 128-bit id: {visitor}");
    assert!(visitor.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["success"], true);
    assert_eq!(body["response"], "You said: Bonjour");
    assert_eq!(body["locrit_name"], "Bob Technique");
    assert!(body["timestamp"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(body["session_id"], format!("public_{visitor}"));
    assert!(body["message_id"].is_string() && body["user_message_id"].is_string());

    // The model heard who is speaking.
    let first = &server.ollama.requests()[0]["messages"];
    assert!(
        first[0]["content"].as_str().unwrap().ends_with(
            "\n\nTu es en train de communiquer avec Zoé, un visiteur humain sur ton interface web publique."
        ),
        "{first}"
    );

    // The id comes back in the header: same session, whose history reaches the model.
    let response = server
        .http
        .post(server.url(&path("Bob Technique", "/chat")))
        .header("X-Locrit-Visitor", &visitor)
        .json(&json!({"message": "Encore", "visitor_name": "Zoé"}))
        .send()
        .await
        .unwrap();
    let (status, again) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["visitor_id"], visitor);
    let requests = server.ollama.requests();
    let prompt: Vec<&str> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        prompt[1..],
        ["Bonjour", "You said: Bonjour", "Encore"],
        "the visitor's history, then the message once"
    );

    let stored = everything_stored(&server, "Bob Technique").await;
    assert_eq!(stored.len(), 1);
    let (key, messages) = &stored[0];
    assert_eq!(key, &format!("public_{visitor}"));
    let summary: Vec<(Role, &str, Option<&str>)> = messages
        .iter()
        .map(|m| (m.role, m.content.as_str(), m.user_id.as_deref()))
        .collect();
    let user_id = format!("visitor:{visitor}");
    assert_eq!(
        summary,
        [
            (Role::User, "Bonjour", Some(user_id.as_str())),
            (Role::Assistant, "You said: Bonjour", None),
            (Role::User, "Encore", Some(user_id.as_str())),
            (Role::Assistant, "You said: Encore", None),
        ]
    );
    let locrit = server.core.locrit_named("Bob Technique").await.unwrap();
    let session = server.core.session(&locrit, key).await.unwrap();
    assert_eq!(session.metadata["visitor_name"], "Zoé");
    assert_eq!(session.metadata["source"], "public");
}

#[tokio::test]
async fn visitors_are_isolated_and_history_survives_a_restart() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;

    let (_, a) = chat(&server, "Bob Technique", json!({"message": "I am A"})).await;
    let (_, b) = chat(&server, "Bob Technique", json!({"message": "I am B"})).await;
    let (a, b) = (
        a["visitor_id"].as_str().unwrap().to_owned(),
        b["visitor_id"].as_str().unwrap().to_owned(),
    );
    assert_ne!(a, b, "each new visitor gets their own id");
    chat(
        &server,
        "Bob Technique",
        json!({"message": "A again", "visitor_id": a}),
    )
    .await;

    let (status, history_a) = history(&server, "Bob Technique", &a).await;
    assert_eq!(status, StatusCode::OK, "{history_a}");
    assert_eq!(
        contents(&history_a),
        pairs(&[
            ("user", "I am A"),
            ("assistant", "You said: I am A"),
            ("user", "A again"),
            ("assistant", "You said: A again"),
        ])
    );
    assert_eq!(history_a["visitor_id"], a);
    assert_eq!(history_a["count"], 4);
    assert!(
        history_a["messages"][0].get("metadata").is_none(),
        "no recall details"
    );
    let (_, history_b) = history(&server, "Bob Technique", &b).await;
    assert_eq!(
        contents(&history_b),
        pairs(&[("user", "I am B"), ("assistant", "You said: I am B")])
    );
    // The header works as well as the query.
    let response = server
        .http
        .get(server.url(&path("Bob Technique", "/chat/history")))
        .header("X-Locrit-Visitor", &b)
        .send()
        .await
        .unwrap();
    assert_eq!(contents(&read(response).await.1), contents(&history_b));

    // A made-up id sees nothing; anything that is not an id is refused.
    let (status, nobody) = history(&server, "Bob Technique", &"4".repeat(32)).await;
    assert_eq!(
        (status, nobody["count"].clone()),
        (StatusCode::OK, json!(0))
    );
    let made_up = uuid::Uuid::new_v4().simple().to_string();
    let (_, nobody) = history(&server, "Bob Technique", &made_up).await;
    assert_eq!(nobody["messages"], json!([]));
    for bad in [
        "../../etc",
        "public_x",
        "web_anonymous_user_Bob%20Technique",
    ] {
        let refused = history(&server, "Bob Technique", bad).await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "Identifiant de visiteur invalide",
        );
        let refused = chat(
            &server,
            "Bob Technique",
            json!({"message": "hi", "visitor_id": bad}),
        )
        .await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "Identifiant de visiteur invalide",
        );
    }
    assert_error(
        &server.get(&path("Bob Technique", "/chat/history")).await,
        StatusCode::BAD_REQUEST,
        "Identifiant de visiteur requis",
    );

    let server = server.restart().await;
    let (status, after) = history(&server, "Bob Technique", &a).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(contents(&after), contents(&history_a));

    // A Locrit closed to the internet no longer shows its visitors anything.
    let (status, _) = server
        .put(
            "/api/locrits/Bob%20Technique/config",
            json!({"open_to": {"internet": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &history(&server, "Bob Technique", &a).await,
        StatusCode::FORBIDDEN,
        "Ce Locrit n'est pas accessible publiquement",
    );
}

#[tokio::test]
async fn a_failed_model_call_keeps_the_visitors_message_and_names_the_visitor() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    server
        .ollama
        .fail_next(FakeFailure::Http(500, "model crashed".into()));

    let (status, body) = chat(&server, "Bob Technique", json!({"message": "one"})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(
        body["error"],
        "Erreur de génération: the model server answered HTTP 500: model crashed"
    );
    assert_eq!(body["success"], false);
    let visitor = body["visitor_id"].as_str().unwrap().to_owned();

    let (_, history) = history(&server, "Bob Technique", &visitor).await;
    assert_eq!(contents(&history), pairs(&[("user", "one")]));
    let stored = everything_stored(&server, "Bob Technique").await;
    assert_eq!(stored[0].1[0].status, MessageStatus::Complete);
    assert_eq!(stored[0].1.len(), 1, "no invented reply");
}

#[tokio::test]
async fn the_stream_sends_the_reply_token_by_token_and_stores_it() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    server.ollama.set_reply(Reply::Tokens(
        ["Bon", "jour", " !"].map(String::from).to_vec(),
    ));

    let response = server
        .http
        .post(server.url(&path("Bob Technique", "/chat/stream")))
        .json(&json!({"message": "Salut", "visitor_name": "Léa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let visitor = response.headers()["x-locrit-visitor"]
        .to_str()
        .unwrap()
        .to_owned();
    let frames: Vec<Value> = sse_events(response).map(|e| e.data).collect().await;
    let chunks: Vec<&str> = frames
        .iter()
        .filter(|f| f["done"] == false)
        .map(|f| f["chunk"].as_str().unwrap())
        .collect();
    assert_eq!(chunks, ["Bon", "jour", " !"]);
    let last = frames.last().unwrap();
    assert_eq!(last["done"], true, "{last}");
    assert!(last["message_id"].is_string());

    let (_, history) = history(&server, "Bob Technique", &visitor).await;
    assert_eq!(
        contents(&history),
        pairs(&[("user", "Salut"), ("assistant", "Bonjour !")])
    );
}

async fn conversation(server: &TestServer, name: &str) -> String {
    let body = json!({"locrit_name": name, "user_id": "u1"});
    let (status, body) = server.post("/api/conversations/create", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["conversation_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn conversation_mode_keeps_the_public_gates_and_the_locrits_own_conversations() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    server.create_active_locrit("Alice", public()).await;
    server
        .create_active_locrit("Private", json!({"open_to": {"humans": true}}))
        .await;
    let bobs = conversation(&server, "Bob Technique").await;
    let alices = conversation(&server, "Alice").await;
    let privates = conversation(&server, "Private").await;

    let (status, reply) = chat(
        &server,
        "Bob Technique",
        json!({"message": "Hello", "conversation_id": bobs}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["conversation_id"], bobs);
    assert_eq!(reply["message_count"], 2);
    assert_eq!(reply["response"], "You said: Hello");

    // Another Locrit's conversation, through Bob's public page: as if it did not exist.
    assert_error(
        &chat(
            &server,
            "Bob Technique",
            json!({"message": "Hi", "conversation_id": alices}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "Conversation not found",
    );
    assert_error(
        &chat(
            &server,
            "Bob Technique",
            json!({"message": "Hi", "conversation_id": "nope"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "Conversation not found",
    );
    // A private Locrit's own conversation is not reachable from the public route.
    assert_error(
        &chat(
            &server,
            "Private",
            json!({"message": "Hi", "conversation_id": privates}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "Ce Locrit n'est pas accessible publiquement",
    );
    let private_messages = everything_stored(&server, "Private").await;
    assert!(private_messages.iter().all(|(_, m)| m.is_empty()));
    let alice_messages = everything_stored(&server, "Alice").await;
    assert!(alice_messages.iter().all(|(_, m)| m.is_empty()));
}

fn limited(per_visitor: RateLimit, per_locrit: RateLimit) -> ServerConfig {
    ServerConfig {
        public_limits: PublicLimits {
            per_visitor,
            per_locrit,
        },
        ..ServerConfig::default()
    }
}

async fn assert_limited(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let (_, body) = read(response).await;
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["error"].as_str().unwrap().contains("rop de messages"),
        "{body}"
    );
    retry_after
}

#[tokio::test]
async fn a_visitor_over_their_limit_gets_429_with_retry_after_then_may_write_again() {
    let every = RateLimit {
        requests: 2,
        per: Duration::from_secs(2),
    };
    let server = TestServer::start_with(
        TestDatabase::sqlite(),
        limited(every, RateLimit::per_minute(0)),
    )
    .await;
    server.create_active_locrit("Bob Technique", public()).await;
    let send = |visitor: Option<&str>| {
        let mut body = json!({"message": "hi"});
        if let Some(visitor) = visitor {
            body["visitor_id"] = json!(visitor);
        }
        server
            .http
            .post(server.url(&path("Bob Technique", "/chat")))
            .json(&body)
            .send()
    };
    // A new visitor counts by address until they have an id, then by their id.
    let (status, first) = read(send(None).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let visitor = first["visitor_id"].as_str().unwrap().to_owned();
    assert_eq!(send(Some(&visitor)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(send(Some(&visitor)).await.unwrap().status(), StatusCode::OK);
    let retry_after = assert_limited(send(Some(&visitor)).await.unwrap()).await;
    assert_eq!(retry_after, 1, "one message back each second");
    // Another visitor is not held back by this one.
    let other = uuid::Uuid::new_v4().simple().to_string();
    assert_eq!(send(Some(&other)).await.unwrap().status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(Some(&visitor)).await.unwrap().status(), StatusCode::OK);
    let (_, history) = history(&server, "Bob Technique", &visitor).await;
    assert_eq!(history["count"], 8, "the refused message was not stored");
}

#[tokio::test]
async fn a_locrit_over_its_limit_turns_every_visitor_away_for_a_while() {
    let every = RateLimit {
        requests: 2,
        per: Duration::from_secs(2),
    };
    let server = TestServer::start_with(
        TestDatabase::sqlite(),
        limited(RateLimit::per_minute(0), every),
    )
    .await;
    server.create_active_locrit("Bob Technique", public()).await;
    server.create_active_locrit("Alice", public()).await;
    let send = |name: &str| {
        server
            .http
            .post(server.url(&path(name, "/chat/stream")))
            .json(&json!({"message": "hi"}))
            .send()
    };
    assert_eq!(
        send("Bob Technique").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        send("Bob Technique").await.unwrap().status(),
        StatusCode::OK
    );
    assert_limited(send("Bob Technique").await.unwrap()).await;
    assert_eq!(
        send("Alice").await.unwrap().status(),
        StatusCode::OK,
        "per Locrit"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        send("Bob Technique").await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn page_settings_are_rebuilt_with_defaults_and_persist() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;

    let (status, body) = server
        .put(
            &path("Bob Technique", "/settings"),
            json!({"page_config": {"title": "Chez Bob", "avatar": "🦊", "unknown": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json!({
        "title": "Chez Bob", "description": "Expert",
        "welcome_message": "Bonjour ! Je suis Bob Technique.", "theme": "default",
        "avatar": "🦊", "custom_css": "", "show_model_info": false,
    });
    assert_eq!(
        body,
        json!({"success": true, "message": "Page publique mise à jour", "page_config": page})
    );
    let (_, profile) = server.get(&path("Bob Technique", "")).await;
    assert_eq!(profile["locrit"]["page_config"], page);

    // Missing keys take their default, not their previous value.
    let (status, body) = server
        .put(
            &path("Bob Technique", "/settings"),
            json!({"page_config": {"theme": "dark"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["page_config"]["title"], "Parlez avec Bob Technique");
    assert_eq!(body["page_config"]["avatar"], "🤖");
    assert_eq!(body["page_config"]["theme"], "dark");

    let server = server.restart().await;
    let (_, profile) = server.get(&path("Bob Technique", "")).await;
    assert_eq!(profile["locrit"]["page_config"], body["page_config"]);
    let (_, list) = server.get("/public/list").await;
    assert_eq!(list["locrits"][0]["title"], "Parlez avec Bob Technique");

    assert_error(
        &server
            .put(&path("Nobody", "/settings"), json!({"page_config": {}}))
            .await,
        StatusCode::NOT_FOUND,
        "Locrit introuvable",
    );
    let (status, body) = server
        .send_raw(
            Method::PUT,
            &path("Bob Technique", "/settings"),
            "text/plain",
            "{}",
        )
        .await;
    assert_eq!(
        (status, body["success"].clone()),
        (StatusCode::BAD_REQUEST, json!(false))
    );
    let (status, body) = server
        .put(
            &path("Bob Technique", "/settings"),
            json!({"page_config": {"show_model_info": "yes"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server
        .put(
            &path("Bob Technique", "/settings"),
            json!({"page_config": [1]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob Technique", public()).await;
    let chat_path = path("Bob Technique", "/chat");

    for body in [
        json!({}),
        json!({"message": ""}),
        json!({"message": "  \n"}),
    ] {
        assert_error(
            &server.post(&chat_path, body).await,
            StatusCode::BAD_REQUEST,
            "Le message ne peut pas être vide",
        );
    }
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("text/plain", "hello"),
        ("application/json", r#"{"message": 5}"#),
        ("application/json", "[1, 2]"),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, &chat_path, content_type, body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["success"], false);
    }
    let (status, answer) = server
        .send_raw(Method::POST, &chat_path, "application/json", "")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let huge = json!({"message": "x".repeat(2 * 1024 * 1024)}).to_string();
    let (status, answer) = server
        .send_raw(Method::POST, &chat_path, "application/json", huge)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["success"], false);
    let (status, answer) = server
        .get(&path(
            "Bob Technique",
            "/chat/history?visitor_id=x&limit=abc",
        ))
        .await;
    assert_eq!(
        (status, answer["success"].clone()),
        (StatusCode::BAD_REQUEST, json!(false))
    );
    let visitor = uuid::Uuid::new_v4().simple().to_string();
    let (status, answer) = server
        .get(&path(
            "Bob Technique",
            &format!("/chat/history?visitor_id={visitor}&limit=0"),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = server.delete(&path("Bob Technique", "/chat")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    let (status, answer) = server.get(&path("Bob Technique", "/nothing/here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    // A very long visitor name is cut; it is only ever text.
    let long = "N".repeat(500);
    let (status, body) = chat(
        &server,
        "Bob Technique",
        json!({"message": "hi", "visitor_name": long}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let system = server.ollama.requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains(&format!("avec {}, un visiteur", "N".repeat(64))));
    assert!(everything_stored(&server, "Bob Technique").await.len() == 1);
}
