//! The original Locrit's Memory Explorer routes (contract §1.5, shapes §4, fixes §5),
//! over real HTTP with a fake Ollama: chat first, then read, correct and wipe what the
//! Locrit remembers, with the contract's gates, order of checks and exact words.

use crate::common;

use common::{TestServer, segment};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NAME: &str = "Bob Technique";
const WEB_KEY: &str = "web_anonymous_user_Bob Technique";
const FULL_REQUIRED: &str = "Accès à la mémoire complète requis";

/// Creates an active Locrit (description "Expert"), then applies `settings`.
async fn locrit(server: &TestServer, name: &str, settings: Value) {
    server.create_active_locrit(name, settings).await;
}

fn full() -> Value {
    json!({"access_to": {"full_memory": true, "quick_memory": true}})
}

/// A server with "Bob Technique" (full memory access) who was told each of `messages`.
async fn chatted(messages: &[&str]) -> TestServer {
    let server = TestServer::start().await;
    locrit(&server, NAME, full()).await;
    for message in messages {
        say(&server, NAME, message).await;
    }
    server
}

async fn say(server: &TestServer, name: &str, message: &str) {
    let path = format!("/api/locrits/{}/chat", segment(name));
    let (status, body) = server.post(&path, json!({"message": message})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `/api/locrits/<NAME>/memory<rest>`.
fn mem(rest: &str) -> String {
    mem_of(NAME, rest)
}

fn mem_of(name: &str, rest: &str) -> String {
    format!("/api/locrits/{}/memory{rest}", segment(name))
}

fn session_path(rest: &str) -> String {
    mem(&format!("/sessions/{}{rest}", segment(WEB_KEY)))
}

#[track_caller]
fn assert_error(response: &(StatusCode, Value), status: StatusCode, message: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["error"], message, "{}", response.1);
}

#[track_caller]
fn assert_done(response: &(StatusCode, Value), message: &str) {
    assert_eq!(response.0, StatusCode::OK, "{}", response.1);
    assert_eq!(response.1, json!({"success": true, "message": message}));
}

#[track_caller]
fn assert_message_shape(message: &Value) {
    for field in [
        "id",
        "role",
        "content",
        "timestamp",
        "session_id",
        "user_id",
        "metadata",
        "edited_at",
    ] {
        assert!(message.get(field).is_some(), "{field} missing: {message}");
    }
}

fn contents(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

async fn session_messages(server: &TestServer) -> Value {
    let (status, body) = server.get(&session_path("/messages")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn statistics(server: &TestServer) -> Value {
    let (status, body) = server.get(&mem("/summary")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["statistics"].clone()
}

#[tokio::test]
async fn summary_after_chatting_has_counts_recent_messages_and_sessions() {
    let long = "x".repeat(300);
    let server = chatted(&["first", &long]).await;
    let (status, body) = server.get(&mem("/summary")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get("success").is_none(),
        "GETs carry no success: {body}"
    );
    assert_eq!(body["locrit_name"], NAME);
    let stats = &body["statistics"];
    assert_eq!(stats["total_messages"], 4, "{stats}");
    assert_eq!(stats["total_sessions"], 1);
    assert_eq!(stats["total_concepts"], 0);
    assert_eq!(stats["total_users"], 1);
    assert_eq!(stats["memory_type"], "simple_file");
    assert_eq!(stats["locrit_name"], NAME);
    // Newest first, full content.
    let reply = format!("You said: {long}");
    assert_eq!(
        contents(&body["recent_messages"]),
        [reply.as_str(), long.as_str(), "You said: first", "first"]
    );
    for message in body["recent_messages"].as_array().unwrap() {
        assert_message_shape(message);
        assert_eq!(message["session_id"], WEB_KEY);
    }
    assert_eq!(body["recent_messages"][1]["user_id"], "anonymous_user");
    assert_eq!(body["recent_messages"][1]["role"], "user");
    assert_eq!(body["recent_messages"][0]["edited_at"], Value::Null);
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], WEB_KEY);
    assert_eq!(sessions[0]["name"], WEB_KEY, "name defaults to the id");
    assert_eq!(sessions[0]["topic"], Value::Null);
    assert_eq!(sessions[0]["message_count"], 4);
    assert_eq!(sessions[0]["user_id"], "anonymous_user");
    assert_eq!(body["top_concepts"], json!([]));
}

#[tokio::test]
async fn summary_lists_sessions_most_recently_updated_first_and_caps_recent_at_20() {
    let server = chatted(&[]).await;
    for i in 0..11 {
        say(&server, NAME, &format!("m{i}")).await;
    }
    // A second session, a conversation, updated last.
    let (status, created) = server
        .post(
            "/api/conversations/create",
            json!({"locrit_name": NAME, "user_id": "eve"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let cid = created["conversation_id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            &format!("/api/conversations/{cid}/message"),
            json!({"message": "m11"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = server.get(&mem("/summary")).await;
    assert_eq!(body["recent_messages"].as_array().unwrap().len(), 20);
    assert_eq!(body["recent_messages"][0]["content"], "You said: m11");
    assert_eq!(body["recent_messages"][0]["session_id"], cid);
    assert_eq!(body["recent_messages"][2]["content"], "You said: m10");
    let ids: Vec<&Value> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(
        ids,
        [&json!(cid), &json!(WEB_KEY)],
        "most recently updated first"
    );
    assert_eq!(body["statistics"]["total_sessions"], 2);
    assert_eq!(body["statistics"]["total_users"], 2);
    let (_, sessions) = server.get(&mem("/sessions")).await;
    assert_eq!(
        sessions["total"],
        body["sessions"].as_array().unwrap().len()
    );
    assert_eq!(sessions["sessions"], body["sessions"]);
}

#[tokio::test]
async fn gates_and_the_order_of_checks() {
    let server = TestServer::start().await;
    locrit(
        &server,
        "Closed",
        json!({"access_to": {"full_memory": false, "quick_memory": false}}),
    )
    .await;
    locrit(
        &server,
        "Quick",
        json!({"access_to": {"full_memory": false, "quick_memory": true}}),
    )
    .await;
    locrit(
        &server,
        "Full",
        json!({"access_to": {"full_memory": true, "quick_memory": false}}),
    )
    .await;

    let full_routes: [(Method, &str); 10] = [
        (Method::GET, "/sessions"),
        (Method::GET, "/sessions/s"),
        (Method::DELETE, "/sessions/s"),
        (Method::GET, "/sessions/s/messages?limit=abc"),
        (Method::GET, "/messages/nope"),
        (Method::PUT, "/messages/nope"),
        (Method::DELETE, "/messages/nope"),
        (Method::GET, "/memories"),
        (Method::POST, "/memories"),
        (Method::DELETE, "/memories/nope"),
    ];
    let call = |name: &'static str, method: Method, rest: &str| {
        let path = mem_of(name, rest);
        let server = &server;
        async move { server.call(method, &path, Some(json!({}))).await }
    };
    for (method, rest) in full_routes
        .iter()
        .cloned()
        .chain([(Method::DELETE, "/clear")])
    {
        // 404 before anything else, then the gate before the route's own validation.
        let missing = call("Nobody", method.clone(), rest).await;
        assert_error(&missing, StatusCode::NOT_FOUND, "Locrit non trouvé");
        for name in ["Closed", "Quick"] {
            let refused = call(name, method.clone(), rest).await;
            assert_error(&refused, StatusCode::FORBIDDEN, FULL_REQUIRED);
        }
        let allowed = call("Full", method.clone(), rest).await;
        assert_ne!(
            allowed.0,
            StatusCode::FORBIDDEN,
            "{method} {rest}: {}",
            allowed.1
        );
        assert_ne!(
            allowed.0,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {rest}"
        );
    }

    let summary = "Accès à la mémoire complète non autorisé pour ce Locrit";
    assert_error(
        &server.get(&mem_of("Nobody", "/summary")).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
    assert_error(
        &server.get(&mem_of("Closed", "/summary")).await,
        StatusCode::FORBIDDEN,
        summary,
    );
    assert_error(
        &server.get(&mem_of("Quick", "/summary")).await,
        StatusCode::FORBIDDEN,
        summary,
    );
    assert_eq!(
        server.get(&mem_of("Full", "/summary")).await.0,
        StatusCode::OK
    );

    let stats = "Accès à la mémoire requis";
    assert_error(
        &server.get(&mem_of("Nobody", "/stats")).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
    assert_error(
        &server.get(&mem_of("Closed", "/stats")).await,
        StatusCode::FORBIDDEN,
        stats,
    );
    let (status, body) = server.get(&mem_of("Quick", "/stats")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["access_level"], "quick");
    assert_eq!(body["locrit_name"], "Quick");
    assert_eq!(body["statistics"]["total_messages"], 0);
    let (_, body) = server.get(&mem_of("Full", "/stats")).await;
    assert_eq!(body["access_level"], "full");
}

#[tokio::test]
async fn stats_after_chatting() {
    let server = chatted(&["hi"]).await;
    let (status, body) = server.get(&mem("/stats")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("success").is_none());
    for field in [
        "total_messages",
        "total_sessions",
        "total_concepts",
        "total_users",
        "memory_type",
        "locrit_name",
    ] {
        assert!(body["statistics"].get(field).is_some(), "{field}: {body}");
    }
    assert_eq!(body["statistics"]["total_messages"], 2);
    assert_eq!(body["statistics"]["total_sessions"], 1);
}

#[tokio::test]
async fn disabled_memory_answers_a_zeroed_summary() {
    let server = TestServer::start().await;
    let mut settings = full();
    settings["memory_service"] = json!("disabled");
    locrit(&server, NAME, settings).await;
    say(&server, NAME, "hi").await;
    for rest in ["/summary", "/stats"] {
        let (status, body) = server.get(&mem(rest)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("error").is_none(), "{body}");
        let stats = &body["statistics"];
        assert_eq!(stats["memory_type"], "disabled", "{body}");
        for field in [
            "total_messages",
            "total_sessions",
            "total_concepts",
            "total_users",
        ] {
            assert_eq!(stats[field], 0, "{field}: {body}");
        }
    }
    let (_, body) = server.get(&mem("/summary")).await;
    assert_eq!(body["recent_messages"], json!([]));
    assert_eq!(body["sessions"], json!([]));
    assert_eq!(body["top_concepts"], json!([]));
}

#[tokio::test]
async fn sessions_and_their_last_messages() {
    let server = chatted(&["one", "two", "three"]).await;
    let (status, body) = server.get(&mem("/sessions")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["sessions"][0]["id"], WEB_KEY);
    for field in [
        "created_at",
        "updated_at",
        "user_id",
        "message_count",
        "topic",
    ] {
        assert!(body["sessions"][0].get(field).is_some(), "{field}");
    }

    let (status, body) = server.get(&session_path("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session"]["id"], WEB_KEY);
    assert_eq!(body["session"]["message_count"], 6);

    let all = session_messages(&server).await;
    assert_eq!(all["session_id"], WEB_KEY);
    assert_eq!(all["total"], 6);
    assert_eq!(
        contents(&all["messages"]),
        [
            "one",
            "You said: one",
            "two",
            "You said: two",
            "three",
            "You said: three"
        ]
    );
    all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(assert_message_shape);

    // The LAST n, in chronological order.
    let (status, body) = server.get(&session_path("/messages?limit=3")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        contents(&body["messages"]),
        ["You said: two", "three", "You said: three"]
    );
    assert_eq!(body["total"], 3);
    let (status, body) = server.get(&session_path("/messages?limit=100000")).await;
    assert_eq!(status, StatusCode::OK, "capped, not refused: {body}");
    assert_eq!(body["total"], 6);

    for bad in ["abc", "1.5", "0", "-2", ""] {
        let (status, body) = server
            .get(&session_path(&format!("/messages?limit={bad}")))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={bad}: {body}");
        assert!(body["error"].is_string());
    }

    for rest in ["/sessions/nope", "/sessions/nope/messages"] {
        let response = server.get(&mem(rest)).await;
        assert_error(&response, StatusCode::NOT_FOUND, "Session non trouvée");
    }
    let response = server.delete(&mem("/sessions/nope")).await;
    assert_error(&response, StatusCode::NOT_FOUND, "Session non trouvée");
}

#[tokio::test]
async fn read_edit_and_delete_a_message() {
    let server = chatted(&["hello", "bye"]).await;
    let all = session_messages(&server).await;
    let first = all["messages"][0].clone();
    let id = first["id"].as_str().unwrap().to_owned();
    let path = mem(&format!("/messages/{id}"));

    let (status, body) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], first);

    // Edit: the route's validation, then the new content with `edited_at`.
    for bad in [json!({}), json!({"content": ""}), json!({"content": 3})] {
        let response = server.put(&path, bad).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "Nouveau contenu requis");
    }
    assert_done(
        &server.put(&path, json!({"content": "bonjour"})).await,
        "Message modifié avec succès",
    );
    let (_, body) = server.get(&path).await;
    assert_eq!(body["message"]["content"], "bonjour");
    assert!(body["message"]["edited_at"].is_string(), "{body}");
    assert_eq!(body["message"]["timestamp"], first["timestamp"]);
    // An edited message keeps its place: the summary orders by timestamp.
    let (_, summary) = server.get(&mem("/summary")).await;
    assert_eq!(summary["recent_messages"][3]["content"], "bonjour");

    // Delete: gone from its session, its counts and the summary.
    assert_done(&server.delete(&path).await, "Message supprimé avec succès");
    assert_error(
        &server.get(&path).await,
        StatusCode::NOT_FOUND,
        "Message non trouvé",
    );
    let after = session_messages(&server).await;
    assert_eq!(after["total"], 3);
    assert!(!contents(&after["messages"]).contains(&"bonjour"));
    let (_, session) = server.get(&session_path("")).await;
    assert_eq!(session["session"]["message_count"], 3);
    assert_eq!(statistics(&server).await["total_messages"], 3);

    // Unknown ids, well-formed or not, are 404 everywhere.
    let unknown = mem(&format!("/messages/{}", uuid::Uuid::now_v7()));
    let garbage = mem("/messages/not-an-id");
    for path in [&path, &unknown, &garbage] {
        assert_error(
            &server.get(path).await,
            StatusCode::NOT_FOUND,
            "Message non trouvé",
        );
        assert_error(
            &server.delete(path).await,
            StatusCode::NOT_FOUND,
            "Message non trouvé",
        );
        let edit = server.put(path, json!({"content": "x"})).await;
        assert_error(&edit, StatusCode::NOT_FOUND, "Message non trouvé");
    }
}

#[tokio::test]
async fn deleting_a_session_deletes_its_messages() {
    let server = chatted(&["hello"]).await;
    let all = session_messages(&server).await;
    let id = all["messages"][0]["id"].as_str().unwrap().to_owned();
    assert_done(
        &server.delete(&session_path("")).await,
        "Session supprimée avec succès",
    );
    assert_error(
        &server.get(&session_path("")).await,
        StatusCode::NOT_FOUND,
        "Session non trouvée",
    );
    let message = server.get(&mem(&format!("/messages/{id}"))).await;
    assert_error(&message, StatusCode::NOT_FOUND, "Message non trouvé");
    let (_, sessions) = server.get(&mem("/sessions")).await;
    assert_eq!(sessions["total"], 0);
    let stats = statistics(&server).await;
    assert_eq!(
        (
            stats["total_messages"].clone(),
            stats["total_sessions"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_error(
        &server.delete(&session_path("")).await,
        StatusCode::NOT_FOUND,
        "Session non trouvée",
    );
}

#[tokio::test]
async fn the_v1_alias_deletes_a_session_without_memory_flags() {
    let server = TestServer::start().await;
    locrit(
        &server,
        NAME,
        json!({"access_to": {"full_memory": false, "quick_memory": false}}),
    )
    .await;
    say(&server, NAME, "hello").await;
    let path = format!(
        "/api/v1/locrits/{}/memory/sessions/{}",
        segment(NAME),
        segment(WEB_KEY)
    );
    let (status, body) = server.delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let locrit = server.core.locrit_named(NAME).await.unwrap();
    assert!(
        server.core.session(&locrit, WEB_KEY).await.is_err(),
        "deleted"
    );
    assert_error(
        &server.delete(&path).await,
        StatusCode::NOT_FOUND,
        "Session non trouvée",
    );
    let missing = format!(
        "/api/v1/locrits/Nobody/memory/sessions/{}",
        segment(WEB_KEY)
    );
    assert_error(
        &server.delete(&missing).await,
        StatusCode::NOT_FOUND,
        "Locrit non trouvé",
    );
}

#[tokio::test]
async fn standalone_memories_add_list_and_delete() {
    let server = chatted(&["I like tea"]).await;
    // Only standalone memories: chatting adds none.
    let (status, body) = server.get(&mem("/memories")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"memories": [], "total": 0}));

    let (status, added) = server
        .post(
            &mem("/memories"),
            json!({"content": "Bob likes tea", "importance": 0.9, "metadata": {"source": "owner"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["success"], true);
    assert_eq!(added["message"], "Mémoire ajoutée avec succès");
    let first = added["memory_id"].as_str().unwrap().to_owned();
    let (_, second) = server
        .post(&mem("/memories"), json!({"content": "Bob lives in Lyon"}))
        .await;
    let second = second["memory_id"].as_str().unwrap().to_owned();

    let (_, body) = server.get(&mem("/memories")).await;
    assert_eq!(body["total"], 2);
    let listed = body["memories"].as_array().unwrap();
    assert_eq!(listed[0]["id"], second, "newest first");
    assert_eq!(listed[1]["id"], first);
    for field in [
        "id",
        "content",
        "importance",
        "created_at",
        "last_accessed",
        "metadata",
        "tags",
    ] {
        assert!(listed[0].get(field).is_some(), "{field}: {body}");
    }
    assert_eq!(listed[0]["importance"], 0.5, "the default importance");
    assert_eq!(listed[1]["importance"], 0.9);
    assert_eq!(listed[1]["metadata"], json!({"source": "owner"}));
    assert_eq!(listed[1]["content"], "Bob likes tea");
    assert_eq!(listed[1]["tags"], json!([]));
    assert_eq!(
        statistics(&server).await["total_messages"],
        2,
        "memories are not messages"
    );

    // Validation.
    const RANGE: &str = "L'importance doit être entre 0.0 et 1.0";
    for importance in [
        json!(1.5),
        json!(-0.1),
        json!("abc"),
        json!(true),
        json!([1]),
    ] {
        let response = server
            .post(
                &mem("/memories"),
                json!({"content": "x", "importance": importance}),
            )
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST, RANGE);
    }
    for body in [
        json!({}),
        json!({"content": ""}),
        json!({"content": "  "}),
        json!({"importance": 0.5}),
    ] {
        let response = server.post(&mem("/memories"), body).await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "Contenu de la mémoire requis",
        );
    }
    let (_, body) = server.get(&mem("/memories")).await;
    assert_eq!(body["total"], 2, "nothing added by refused requests");

    // Delete.
    let path = mem(&format!("/memories/{first}"));
    assert_done(&server.delete(&path).await, "Mémoire supprimée avec succès");
    let (_, body) = server.get(&mem("/memories")).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["memories"][0]["id"], second);
    for path in [path, mem("/memories/not-an-id")] {
        assert_error(
            &server.delete(&path).await,
            StatusCode::NOT_FOUND,
            "Mémoire non trouvée",
        );
    }
}

#[tokio::test]
async fn clear_requires_confirmation_then_wipes_everything() {
    let server = chatted(&["hello", "again"]).await;
    let (status, _) = server
        .post(&mem("/memories"), json!({"content": "a fact"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    const REQUIRED: &str = "Confirmation requise pour supprimer toute la mémoire";
    assert_error(
        &server.delete(&mem("/clear")).await,
        StatusCode::BAD_REQUEST,
        REQUIRED,
    );
    for body in [
        json!({}),
        json!({"confirm": false}),
        json!({"confirm": "true"}),
    ] {
        let response = server
            .call(Method::DELETE, &mem("/clear"), Some(body))
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST, REQUIRED);
    }
    with_concepts(&server).await;
    let before = statistics(&server).await;
    let counts = (&before["total_messages"], &before["total_concepts"]);
    assert_eq!(counts, (&json!(4), &json!(4)), "nothing wiped yet");

    let response = server
        .call(
            Method::DELETE,
            &mem("/clear"),
            Some(json!({"confirm": true})),
        )
        .await;
    assert_done(&response, "Toute la mémoire a été supprimée avec succès");
    let (_, summary) = server.get(&mem("/summary")).await;
    let stats = &summary["statistics"];
    for field in [
        "total_messages",
        "total_sessions",
        "total_concepts",
        "total_users",
    ] {
        assert_eq!(stats[field], 0, "{field}: {summary}");
    }
    assert_eq!(summary["recent_messages"], json!([]));
    assert_eq!(summary["sessions"], json!([]));
    assert_eq!(summary["top_concepts"], json!([]));
    let (_, memories) = server.get(&mem("/memories")).await;
    assert_eq!(memories["total"], 0);

    // The Locrit is still there and starts again from nothing.
    say(&server, NAME, "new start").await;
    let stats = statistics(&server).await;
    assert_eq!(stats["total_messages"], 2);
    assert_eq!(stats["total_sessions"], 1);
}

#[tokio::test]
async fn search_ranks_matching_messages() {
    let server = chatted(&["tea, TEA time", "Coffee please", "I like tea"]).await;
    let (status, body) = server.get(&mem("/search?q=tea")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("success").is_none());
    assert_eq!(body["query"], "tea");
    assert_eq!(body["access_level"], "full");
    assert_eq!(body["total"], 4);
    // Ranked by the full-text index: more occurrences in fewer words first.
    assert_eq!(
        contents(&body["results"]),
        [
            "tea, TEA time",
            "You said: tea, TEA time",
            "I like tea",
            "You said: I like tea"
        ]
    );
    for result in body["results"].as_array().unwrap() {
        assert_message_shape(result);
        assert!(result["similarity_score"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        body["results"][0]["snippet"],
        "<mark>tea</mark>, <mark>TEA</mark> time"
    );
    // The fake Ollama has no embedding model: keyword search alone, and why.
    assert_eq!(body["mode"], "hybrid");
    assert_eq!(body["semantic"]["available"], false);
    assert!(
        body["semantic"]["reason"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
    let (_, body) = server.get(&mem("/search?q=TEA&limit=1")).await;
    assert_eq!(contents(&body["results"]), ["tea, TEA time"]);
    let (_, body) = server.get(&mem("/search?q=absent")).await;
    assert_eq!(
        (body["total"].clone(), body["results"].clone()),
        (json!(0), json!([]))
    );

    const REQUIRED: &str = "Paramètre de recherche requis";
    for rest in ["/search", "/search?q=", "/search?q=%20%20"] {
        assert_error(
            &server.get(&mem(rest)).await,
            StatusCode::BAD_REQUEST,
            REQUIRED,
        );
    }
    for bad in ["abc", "0", "-1"] {
        let (status, body) = server
            .get(&mem(&format!("/search?q=tea&limit={bad}")))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={bad}: {body}");
    }
    let (status, body) = server.get(&mem("/search?q=a&limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "capped, not refused: {body}");
}

#[tokio::test]
async fn search_gates_and_quick_access_sees_five_results() {
    let server = TestServer::start().await;
    let closed = json!({"access_to": {"full_memory": false, "quick_memory": false}});
    locrit(&server, "Closed", closed).await;
    let quick = json!({"access_to": {"full_memory": false, "quick_memory": true}});
    locrit(&server, "Quick", quick).await;
    for i in 0..4 {
        say(&server, "Quick", &format!("tea {i}")).await;
    }
    const DENIED: &str = "Accès à la mémoire non autorisé pour ce Locrit";
    for rest in ["/search?q=tea", "/search"] {
        let missing = server.get(&mem_of("Nobody", rest)).await;
        assert_error(&missing, StatusCode::NOT_FOUND, "Locrit non trouvé");
        let refused = server.get(&mem_of("Closed", rest)).await;
        assert_error(&refused, StatusCode::FORBIDDEN, DENIED);
    }
    let (status, body) = server.get(&mem_of("Quick", "/search?q=tea&limit=50")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["access_level"], "quick");
    assert_eq!(body["total"], 5, "quick access sees at most 5: {body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 5);
}

/// Concepts of "Bob Technique" (nothing extracts them yet): Alice (2 mentions) lives
/// in Lyon, who is the home of the OL; tea is alone.
async fn with_concepts(server: &TestServer) -> [uuid::Uuid; 4] {
    let locrit = server.core.locrit_named(NAME).await.unwrap();
    let store = server.core.store();
    let mention = |name: &'static str, kind: &'static str, description: Option<&'static str>| {
        let store = store.clone();
        async move {
            store
                .mention_concept(locrit.id, name, kind, description)
                .await
                .unwrap()
                .id
        }
    };
    let alice = mention("Alice", "person", Some("a friend")).await;
    mention("Alice", "person", None).await;
    let lyon = mention("Lyon", "place", Some("a city")).await;
    let ol = mention("OL", "team", None).await;
    let tea = mention("tea", "thing", None).await;
    store
        .relate_concepts(alice, lyon, "lives_in")
        .await
        .unwrap();
    store.relate_concepts(ol, lyon, "based_in").await.unwrap();
    [alice, lyon, ol, tea]
}

#[tokio::test]
async fn concepts_list_details_and_related() {
    let server = chatted(&["Alice lives in Lyon", "and Alice likes tea"]).await;
    let [alice, lyon, ol, _] = with_concepts(&server).await;

    let (status, body) = server.get(&mem("/concepts")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 4);
    let first = &body["concepts"][0];
    assert_eq!(
        (
            &first["id"],
            &first["name"],
            &first["type"],
            &first["mentions"]
        ),
        (&json!(alice), &json!("Alice"), &json!("person"), &json!(2)),
        "most mentioned first, with an id: {body}"
    );
    let (_, summary) = server.get(&mem("/summary")).await;
    assert_eq!(summary["top_concepts"], body["concepts"]);
    assert_eq!(summary["statistics"]["total_concepts"], 4);

    let (status, details) = server.get(&mem("/concepts/details?name=Alice")).await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(
        details["id"],
        json!(alice),
        "the top-level object: {details}"
    );
    assert_eq!(details["name"], "Alice");
    assert_eq!(details["type"], "person");
    assert_eq!(details["description"], "a friend");
    assert_eq!(details["mentions"], 2);
    for field in ["confidence", "first_mentioned", "last_mentioned"] {
        assert!(details.get(field).is_some(), "{field}: {details}");
    }
    let examples = details["context_examples"].as_array().unwrap();
    assert!(!examples.is_empty(), "{details}");
    for example in examples {
        assert!(example["content"].as_str().unwrap().contains("Alice"));
        assert!(example["role"].is_string() && example["timestamp"].is_string());
    }
    assert_eq!(
        details["related_concepts"],
        json!([{"name": "Lyon", "type": "place", "description": "a city",
                "relation": "lives_in", "id": lyon}])
    );
    let (status, _) = server
        .get(&mem("/concepts/details?name=Alice&type=person"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let wrong_type = server
        .get(&mem("/concepts/details?name=Alice&type=place"))
        .await;
    assert_error(&wrong_type, StatusCode::NOT_FOUND, "Concept non trouvé");
    let unknown = server.get(&mem("/concepts/details?name=Nobody")).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "Concept non trouvé");
    for rest in ["/concepts/details", "/concepts/details?name="] {
        let missing = server.get(&mem(rest)).await;
        assert_error(&missing, StatusCode::BAD_REQUEST, "Nom du concept requis");
    }

    // Related, to a depth: Alice -> Lyon (1) -> OL (2).
    let (status, body) = server.get(&mem("/concepts/Alice/related")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["concept"], "Alice");
    assert_eq!(body["depth"], 2, "the default depth");
    assert_eq!(body["total"], 2);
    let names: Vec<&Value> = body["related_concepts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("Lyon"), &json!("OL")], "nearest first");
    assert_eq!(body["related_concepts"][1]["id"], json!(ol));
    let (_, body) = server.get(&mem("/concepts/Alice/related?depth=1")).await;
    assert_eq!(body["total"], 1);
    let (status, body) = server.get(&mem("/concepts/Alice/related?depth=99")).await;
    assert_eq!(status, StatusCode::OK, "capped, not refused: {body}");
    assert_eq!(body["depth"], 5);
    for bad in ["abc", "0", "-1"] {
        let (status, body) = server
            .get(&mem(&format!("/concepts/Alice/related?depth={bad}")))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "depth={bad}: {body}");
    }
    let unknown = server.get(&mem("/concepts/Nobody/related")).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "Concept non trouvé");
}

#[tokio::test]
async fn concepts_are_edited_and_deleted() {
    let server = chatted(&[]).await;
    let [alice, lyon, _, _] = with_concepts(&server).await;
    let path = mem(&format!("/concepts/{lyon}"));

    const REQUIRED: &str = "Données de modification requises";
    const RANGE: &str = "La confiance doit être entre 0.0 et 1.0";
    for body in [json!({}), json!({"name": ""}), json!({"unknown": 1})] {
        assert_error(
            &server.put(&path, body).await,
            StatusCode::BAD_REQUEST,
            REQUIRED,
        );
    }
    for confidence in [json!(1.2), json!(-1), json!("high"), json!(false)] {
        let response = server.put(&path, json!({"confidence": confidence})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, RANGE);
    }
    assert_done(
        &server
            .put(
                &path,
                json!({"name": "Lugdunum", "description": "old Lyon", "confidence": 0.8}),
            )
            .await,
        "Concept modifié avec succès",
    );
    let (_, details) = server.get(&mem("/concepts/details?name=Lugdunum")).await;
    assert_eq!(details["id"], json!(lyon), "{details}");
    assert_eq!(details["description"], "old Lyon");
    assert_eq!(details["confidence"], 0.8);
    let gone = server.get(&mem("/concepts/details?name=Lyon")).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "Concept non trouvé");

    assert_done(&server.delete(&path).await, "Concept supprimé avec succès");
    let (_, related) = server.get(&mem("/concepts/Alice/related")).await;
    assert_eq!(related["total"], 0, "its relations went with it: {related}");
    let (_, list) = server.get(&mem("/concepts")).await;
    assert_eq!(list["total"], 3);

    let unknown = mem(&format!("/concepts/{}", uuid::Uuid::now_v7()));
    for path in [&path, &unknown, &mem("/concepts/not-an-id")] {
        assert_error(
            &server.delete(path).await,
            StatusCode::NOT_FOUND,
            "Concept non trouvé",
        );
        let edit = server.put(path, json!({"description": "x"})).await;
        assert_error(&edit, StatusCode::NOT_FOUND, "Concept non trouvé");
    }

    // Gates: full memory, after the Locrit.
    let closed = json!({"access_to": {"full_memory": false, "quick_memory": true}});
    locrit(&server, "Quick", closed).await;
    for rest in [
        "/concepts".to_owned(),
        "/concepts/details".to_owned(),
        "/concepts/Alice/related?depth=abc".to_owned(),
        format!("/concepts/{alice}"),
    ] {
        let mut allowed = 0;
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let (nobody, quick) = (mem_of("Nobody", &rest), mem_of("Quick", &rest));
            let missing = server.call(method.clone(), &nobody, Some(json!({}))).await;
            if missing.0 == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            allowed += 1;
            assert_error(&missing, StatusCode::NOT_FOUND, "Locrit non trouvé");
            let refused = server.call(method.clone(), &quick, Some(json!({}))).await;
            assert_error(&refused, StatusCode::FORBIDDEN, FULL_REQUIRED);
        }
        assert!(allowed > 0, "{rest}");
    }
}
