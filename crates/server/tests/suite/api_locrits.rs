//! The clean API's Locrit management, over real HTTP.

use crate::common;

use common::{TestServer, segment};
use locrit_domain::{NewMessage, NewSession, Role, SessionKind};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn create(server: &TestServer, name: &str) -> Value {
    let (status, body) = server
        .post(
            "/api/v2/locrits",
            json!({"name": name, "ollama_model": "llama3.2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn create_read_rename_list_delete() {
    let server = TestServer::start().await;
    let created = create(&server, "Pixie l'Organisateur").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["ollama_url"],
        json!(server.ollama.url()),
        "the server's default Ollama is stored"
    );
    assert_eq!(created["active"], json!(false));
    assert_eq!(created["memory_service"], json!("plaintext_file"));
    assert!(
        created["created_at"].as_str().unwrap().ends_with("Z")
            || created["created_at"].as_str().unwrap().contains('+')
    );

    let (status, read) = server.get(&format!("/api/v2/locrits/{id}")).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));

    let (status, renamed) = server
        .patch(
            &format!("/api/v2/locrits/{id}"),
            json!({"name": "Élodie", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (
            renamed["name"].as_str(),
            renamed["id"].as_str(),
            renamed["active"].as_bool()
        ),
        (Some("Élodie"), Some(id.as_str()), Some(true))
    );

    create(&server, "v1.2").await;
    let (_, list) = server.get("/api/v2/locrits").await;
    let names: Vec<&str> = list["locrits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v1.2", "Élodie"]);
    let (_, by_name) = server
        .get(&format!("/api/v2/locrits?name={}", segment("Élodie")))
        .await;
    assert_eq!(by_name["locrits"][0]["id"], json!(id));

    let (status, body) = server.delete(&format!("/api/v2/locrits/{id}")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = server.get(&format!("/api/v2/locrits/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], json!("not_found"));
}

#[tokio::test]
async fn deleting_a_locrit_deletes_its_memory_so_a_namesake_starts_blank() {
    let server = TestServer::start().await;
    let first = create(&server, "Bob").await;
    let first_id = first["id"].as_str().unwrap().parse().unwrap();
    let store = server.core.store();
    let session = store
        .create_session(&NewSession {
            locrit_id: first_id,
            key: "s".into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: None,
            metadata: json!({}),
        })
        .await
        .unwrap();
    store
        .append_message(session.id, &NewMessage::new(Role::User, "secret"))
        .await
        .unwrap();
    server.delete(&format!("/api/v2/locrits/{first_id}")).await;
    let second = create(&server, "Bob").await;
    let stats = store
        .locrit_stats(second["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stats.messages, 0);
    assert!(store.session(first_id, "s").await.unwrap().is_none());
}

#[tokio::test]
async fn patch_clears_with_null_and_rejects_bad_values() {
    let server = TestServer::start().await;
    let id = create(&server, "Bob").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v2/locrits/{id}");
    let (_, set) = server
        .patch(
            &path,
            json!({"public_address": "bob.example", "public_page": {"title": "Hi"}}),
        )
        .await;
    assert_eq!(
        (
            set["public_address"].as_str(),
            set["public_page"]["title"].as_str()
        ),
        (Some("bob.example"), Some("Hi"))
    );
    let (_, cleared) = server
        .patch(&path, json!({"public_address": null, "ollama_url": null}))
        .await;
    assert_eq!(
        (
            cleared["public_address"].clone(),
            cleared["ollama_url"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert_eq!(
        cleared["public_page"]["title"],
        json!("Hi"),
        "absent fields keep their value"
    );

    let (status, body) = server
        .patch(&path, json!({"ollama_url": "file:///etc/passwd"}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ollama_url"))
    );
    let (status, body) = server
        .patch(&path, json!({"memory_service": "magic"}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("memory_service"))
    );
    let (status, body) = server
        .patch(&path, json!({"open_to": {"humans": "yes"}}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("open_to.humans"))
    );
    let (status, body) = server.patch(&path, json!({"colour": "blue"})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused: {body}"
    );
    let (status, body) = server.patch(&path, json!({"name": "a/b"})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    create(&server, "Taken").await;
    let (status, body) = server.patch(&path, json!({"name": "Taken"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (_, unchanged) = server.get(&path).await;
    assert_eq!(unchanged["name"], json!("Bob"));
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_the_right_status() {
    let server = TestServer::start().await;
    create(&server, "Bob").await;
    let (status, body) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Bob", "ollama_model": "m"}),
        )
        .await;
    assert_eq!(
        (status, body["success"].as_bool()),
        (StatusCode::CONFLICT, Some(false))
    );
    assert!(body["error"].as_str().unwrap().contains("Bob"));
    let (status, body) = server
        .post("/api/v2/locrits", json!({"ollama_model": "m"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server
        .post("/api/v2/locrits", json!({"name": " ", "ollama_model": "m"}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/api/v2/locrits",
            "application/json",
            "{\"name\": ",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/api/v2/locrits",
            "application/json",
            "{} trailing",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let (status, body) = server
        .send_raw(Method::POST, "/api/v2/locrits", "text/plain", "{}")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let huge = format!(
        "{{\"name\": \"{}\", \"ollama_model\": \"m\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, body) = server
        .send_raw(Method::POST, "/api/v2/locrits", "application/json", huge)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, _) = server
        .send_raw(Method::POST, "/api/v2/locrits", "application/json", deep)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "deep JSON is refused, not a stack overflow"
    );
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/api/v2/locrits",
            "application/json",
            vec![b'"', 0xff, 0xfe, b'"'],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server.get("/api/v2/locrits/not-a-uuid").await;
    assert_eq!(
        (status, body["success"].as_bool()),
        (StatusCode::BAD_REQUEST, Some(false))
    );
    let (status, _) = server
        .get("/api/v2/locrits/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = server
        .call(Method::PUT, "/api/v2/locrits", Some(json!({})))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("Method not allowed"))
    );
    let (status, body) = server.get("/api/v2/nothing/here").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("Not found"))
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_name_let_exactly_one_win() {
    let server = TestServer::start().await;
    let attempts = (0..10).map(|_| {
        server.post(
            "/api/v2/locrits",
            json!({"name": "Racer", "ollama_model": "m"}),
        )
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        9,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn data_survives_a_restart() {
    let server = TestServer::start().await;
    let id = create(&server, "Bob").await["id"].clone();
    let server = server.restart().await;
    let (status, body) = server
        .get(&format!("/api/v2/locrits/{}", id.as_str().unwrap()))
        .await;
    assert_eq!(
        (status, body["name"].as_str()),
        (StatusCode::OK, Some("Bob"))
    );
}

/// The OpenAPI document is well formed: it parses as OpenAPI 3.1, every operation
/// of the router is in it, and every `$ref` points at a schema it defines.
#[tokio::test]
async fn openapi_document_is_complete_and_its_refs_resolve() {
    let server = TestServer::start().await;
    let (status, document) = server.get("/api/v2/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(document.clone()).expect("an OpenAPI document");
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = &parsed.paths.paths;
    for (path, methods) in [
        ("/api/v2/locrits", vec!["get", "post"]),
        ("/api/v2/locrits/{id}", vec!["get", "patch", "delete"]),
    ] {
        let item = serde_json::to_value(&paths[path]).unwrap();
        for method in methods {
            assert!(item.get(method).is_some(), "{method} {path} is documented");
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected ref {reference}"));
        assert!(schemas.contains_key(name), "{reference} is defined");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}
