//! The original Locrit's management routes (contract §1.1, §1.2, §1.8, §1.9), over real
//! HTTP: exact field names, French messages, statuses, and the original's defects fixed.

use crate::common;

use common::{TestServer, read, segment};
use locrit_core::ImportOutcome;
use locrit_testkit::{Endpoint, FakeFailure, unused_local_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NOT_JSON: &str = "Content-Type doit être application/json";

fn locrit_path(name: &str, action: &str) -> String {
    format!("/api/locrits/{}/{action}", segment(name))
}

/// Creates a Locrit through the original's route, with its required fields only.
async fn create(server: &TestServer, name: &str) -> Value {
    let (status, body) = server
        .post(
            "/api/create-locrit",
            json!({"name": name, "description": "Un test", "model": "llama3.2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn settings(server: &TestServer, name: &str) -> Value {
    let (status, body) = server.get(&locrit_path(name, "config")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    body["settings"].clone()
}

/// Posts a body with no `Content-Type` at all.
async fn post_untyped(server: &TestServer, path: &str, body: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url(path))
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    read(response).await
}

fn assert_error(response: &(StatusCode, Value), status: StatusCode, message: &str) {
    let (got, body) = response;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"], message, "{body}");
}

fn is_rfc3339_with_offset(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with("+00:00"))
}

#[tokio::test]
async fn health_and_ping_answer_the_original_shapes() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "Locrit API");
    assert!(is_rfc3339_with_offset(&body["timestamp"]), "{body}");

    let (status, body) = server.get("/api/v1/ping").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Locrit API v1 is running");
    assert_eq!(body["version"], "1.0.0");
    assert!(is_rfc3339_with_offset(&body["timestamp"]), "{body}");

    let (status, body) = server.post("/api/test-create", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"success": true, "message": "Test endpoint working"})
    );
}

#[tokio::test]
async fn create_stores_the_original_defaults_plus_an_ollama_url() {
    let server = TestServer::start().await;
    let body = create(&server, "  Bob Technique  ").await;
    assert_eq!(body["success"], true);
    assert_eq!(
        body["message"],
        "Locrit \"Bob Technique\" créé avec succès !"
    );
    assert_eq!(body["locrit"]["name"], "Bob Technique");
    let settings = &body["locrit"]["settings"];
    assert!(
        settings.get("name").is_none(),
        "the name is the key, not a field: {settings}"
    );
    assert_eq!(settings["description"], "Un test");
    assert_eq!(settings["ollama_model"], "llama3.2");
    assert_eq!(settings["ollama_url"], server.ollama.url());
    assert_eq!(settings["memory_service"], "plaintext_file");
    assert_eq!(settings["active"], false);
    assert_eq!(settings["public_address"], Value::Null);
    assert!(settings.get("public_page").is_none());
    assert_eq!(
        settings["open_to"],
        json!({"humans": true, "locrits": true, "invitations": true, "internet": false, "platform": false})
    );
    assert_eq!(
        settings["access_to"],
        json!({"logs": true, "quick_memory": true, "full_memory": false, "llm_info": true})
    );
    assert!(
        is_rfc3339_with_offset(&settings["created_at"]),
        "{settings}"
    );
    assert!(
        is_rfc3339_with_offset(&settings["updated_at"]),
        "{settings}"
    );
    // What create answered is what the config route reads back.
    assert_eq!(&self::settings(&server, "Bob Technique").await, settings);
}

#[tokio::test]
async fn create_takes_flat_flags_and_the_optional_fixes() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/api/create-locrit",
            json!({
                "name": "Marie", "description": " Chercheuse ", "model": " qwen3 ",
                "public_address": "  marie.example.com ", "humans": false, "internet": true,
                "platform": true, "logs": false, "full_memory": true, "llm_info": false,
                "ollama_url": "http://127.0.0.1:9/", "memory_service": "kuzu_graph",
                "unknown_key": "ignored",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settings = &body["locrit"]["settings"];
    assert_eq!(settings["description"], "Chercheuse");
    assert_eq!(settings["ollama_model"], "qwen3");
    assert_eq!(settings["public_address"], "marie.example.com");
    assert_eq!(settings["ollama_url"], "http://127.0.0.1:9");
    assert_eq!(settings["memory_service"], "kuzu_graph");
    assert_eq!(settings["active"], false);
    assert_eq!(
        settings["open_to"],
        json!({"humans": false, "locrits": true, "invitations": true, "internet": true, "platform": true})
    );
    assert_eq!(
        settings["access_to"],
        json!({"logs": false, "quick_memory": true, "full_memory": true, "llm_info": false})
    );
}

#[tokio::test]
async fn create_validates_in_the_original_order() {
    let server = TestServer::start().await;
    let full = json!({"name": "Bob", "description": "d", "model": "m"});

    assert_error(
        &post_untyped(&server, "/api/create-locrit", &full.to_string()).await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );
    assert_error(
        &server
            .send_raw(
                Method::POST,
                "/api/create-locrit",
                "text/plain",
                full.to_string(),
            )
            .await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );
    let name_required = "Le nom du Locrit est obligatoire";
    assert_error(
        &server.post("/api/create-locrit", json!({})).await,
        StatusCode::BAD_REQUEST,
        name_required,
    );
    assert_error(
        &server
            .post(
                "/api/create-locrit",
                json!({"name": "   ", "description": "", "model": ""}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        name_required,
    );
    assert_error(
        &server
            .post("/api/create-locrit", json!({"name": null}))
            .await,
        StatusCode::BAD_REQUEST,
        name_required,
    );
    assert_error(
        &server
            .post("/api/create-locrit", json!({"name": "Bob", "model": "m"}))
            .await,
        StatusCode::BAD_REQUEST,
        "La description est obligatoire",
    );
    assert_error(
        &server
            .post(
                "/api/create-locrit",
                json!({"name": "Bob", "description": "d", "model": " "}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "Le modèle Ollama est obligatoire",
    );

    let (status, _) = server.post("/api/create-locrit", full.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let duplicate = server.post("/api/create-locrit", full).await;
    assert_error(
        &duplicate,
        StatusCode::CONFLICT,
        "Un Locrit avec le nom \"Bob\" existe déjà",
    );

    // Beyond the original's checks: a bad name, flag or memory service is a 400 naming it.
    for (body, field) in [
        (
            json!({"name": "a/b", "description": "d", "model": "m"}),
            "name",
        ),
        (
            json!({"name": "list", "description": "d", "model": "m"}),
            "name",
        ),
        (
            json!({"name": "C", "description": "d", "model": "m", "humans": "yes"}),
            "humans",
        ),
        (
            json!({"name": "C", "description": "d", "model": "m", "memory_service": "magic"}),
            "memory_service",
        ),
        (
            json!({"name": "C", "description": "d", "model": "m", "ollama_url": "ftp://x"}),
            "ollama_url",
        ),
    ] {
        let (status, error) = server.post("/api/create-locrit", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["success"], false);
        assert_eq!(error["field"], field, "{body} → {error}");
    }
    let (_, list) = server.get("/api/locrits").await;
    assert_eq!(
        list["locrits"]["instances"].as_object().map(|i| i.len()),
        Some(1),
        "{list}"
    );
}

#[tokio::test]
async fn malformed_json_is_a_json_400() {
    let server = TestServer::start().await;
    create(&server, "Bob").await;
    for (method, path) in [
        (Method::POST, "/api/create-locrit".to_owned()),
        (Method::PUT, locrit_path("Bob", "config")),
        (Method::POST, locrit_path("Bob", "rename")),
        (Method::POST, "/api/config/save".to_owned()),
        (Method::POST, "/config/test-ollama".to_owned()),
    ] {
        let (status, body) = server
            .send_raw(method, &path, "application/json", "{\"name\": ")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["success"], false, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn unicode_names_round_trip_through_create_rename_list_delete() {
    let server = TestServer::start().await;
    let names = ["Pixie l'Organisateur", "Élodie", "v1.2", "Bob Technique"];
    for name in names {
        create(&server, name).await;
        assert_eq!(settings(&server, name).await["description"], "Un test");
    }
    // Exact and case-sensitive.
    let (status, body) = server.get(&locrit_path("élodie", "config")).await;
    assert_error(
        &(status, body),
        StatusCode::NOT_FOUND,
        "Locrit \"élodie\" non trouvé",
    );
    // The browser sends spaces encoded, whoever wrote the URL.
    let (status, _) = server.get("/api/locrits/Bob Technique/config").await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = server
        .post(
            &locrit_path("Élodie", "rename"),
            json!({"new_name": " Élodie l'Érudite "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "success": true,
            "message": "Locrit \"Élodie\" renommé en \"Élodie l'Érudite\" avec succès !",
            "old_name": "Élodie",
            "new_name": "Élodie l'Érudite",
        })
    );
    let (status, body) = server
        .post(&locrit_path("v1.2", "rename"), json!({"new_name": "v1.3"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = server.get("/api/locrits").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    let instances = body["locrits"]["instances"]
        .as_object()
        .expect("instances is an object keyed by name");
    let mut listed: Vec<&str> = instances.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "Bob Technique",
            "Pixie l'Organisateur",
            "v1.3",
            "Élodie l'Érudite"
        ]
    );
    assert_eq!(instances["Élodie l'Érudite"]["active"], false);
    assert_eq!(
        body["locrits"]["default_settings"]["memory_service"],
        "plaintext_file"
    );
    let (status, _) = server.get(&locrit_path("Élodie", "config")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for name in [
        "Pixie l'Organisateur",
        "Élodie l'Érudite",
        "v1.3",
        "Bob Technique",
    ] {
        let (status, body) = server.post(&locrit_path(name, "delete"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({"success": true, "message": format!("Locrit \"{name}\" supprimé avec succès !")})
        );
        let (status, _) = server.get(&locrit_path(name, "config")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, body) = server.get("/api/locrits").await;
    assert_eq!(body["locrits"]["instances"], json!({}));
}

#[tokio::test]
async fn rename_validates_in_the_original_order() {
    let server = TestServer::start().await;
    create(&server, "Bob").await;
    create(&server, "Pixie").await;
    let rename = |name: &str| locrit_path(name, "rename");

    assert_error(
        &post_untyped(&server, &rename("Bob"), "{\"new_name\": \"Bill\"}").await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );
    let required = "Le nouveau nom du Locrit est obligatoire";
    assert_error(
        &server.post(&rename("Bob"), json!({})).await,
        StatusCode::BAD_REQUEST,
        required,
    );
    assert_error(
        &server.post(&rename("Bob"), json!({"new_name": "  "})).await,
        StatusCode::BAD_REQUEST,
        required,
    );
    assert_error(
        &server
            .post(&rename("Bob"), json!({"new_name": " Bob "}))
            .await,
        StatusCode::BAD_REQUEST,
        "Le nouveau nom doit être différent de l'ancien",
    );
    let taken = "Un Locrit avec le nom \"Pixie\" existe déjà";
    assert_error(
        &server
            .post(&rename("Bob"), json!({"new_name": "Pixie"}))
            .await,
        StatusCode::CONFLICT,
        taken,
    );
    // The new name is checked before the old one.
    assert_error(
        &server
            .post(&rename("Nobody"), json!({"new_name": "Pixie"}))
            .await,
        StatusCode::CONFLICT,
        taken,
    );
    assert_error(
        &server
            .post(&rename("Nobody"), json!({"new_name": "Bill"}))
            .await,
        StatusCode::NOT_FOUND,
        "Locrit \"Nobody\" non trouvé",
    );
    // Case matters: "bob" is another name.
    let (status, body) = server
        .post(&rename("Bob"), json!({"new_name": "bob"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(settings(&server, "bob").await["description"], "Un test");
}

#[tokio::test]
async fn unknown_locrits_get_each_routes_exact_404() {
    let server = TestServer::start().await;
    let name = "Pixie l'Organisateur";
    let message = format!("Locrit \"{name}\" non trouvé");
    assert_error(
        &server.get(&locrit_path(name, "config")).await,
        StatusCode::NOT_FOUND,
        &message,
    );
    assert_error(
        &server.put(&locrit_path(name, "config"), json!({})).await,
        StatusCode::NOT_FOUND,
        &message,
    );
    assert_error(
        &server.post(&locrit_path(name, "toggle"), json!({})).await,
        StatusCode::NOT_FOUND,
        &message,
    );
    assert_error(
        &server
            .post(&locrit_path(name, "toggle-edit"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        &message,
    );
    assert_error(
        &server.post(&locrit_path(name, "delete"), json!({})).await,
        StatusCode::NOT_FOUND,
        &format!("Locrit \"{name}\" non trouvé."),
    );
    // The body check comes first on PUT.
    assert_error(
        &post_untyped(&server, &locrit_path(name, "rename"), "{}").await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );
    let response = server
        .http
        .put(server.url(&locrit_path(name, "config")))
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_error(&read(response).await, StatusCode::BAD_REQUEST, NOT_JSON);
}

#[tokio::test]
async fn put_config_applies_every_field_and_keeps_the_missing_ones() {
    let server = TestServer::start().await;
    create(&server, "Bob Technique").await;
    let before = settings(&server, "Bob Technique").await;
    let page = json!({"title": "Parlez avec Bob", "avatar": "🤖", "theme": "dark", "show_model_info": true});
    let (status, body) = server
        .put(
            &locrit_path("Bob Technique", "config"),
            json!({
                "ollama_model": "qwen3",
                "ollama_url": "http://127.0.0.1:11500/",
                "memory_service": "disabled",
                "public_page": page,
                "public_address": "bob.example.com",
                "active": true,
                "open_to": {"humans": true, "internet": true},
                "access_to": {"full_memory": true},
                "name": "ignored", "id": "ignored too", "anything": [1, 2],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(
        body["message"],
        "Configuration du Locrit \"Bob Technique\" sauvegardée avec succès !"
    );
    let settings = self::settings(&server, "Bob Technique").await;
    assert_eq!(body["settings"], settings);
    assert_eq!(
        settings["description"], before["description"],
        "a missing field keeps its value"
    );
    assert_eq!(settings["ollama_model"], "qwen3");
    assert_eq!(settings["ollama_url"], "http://127.0.0.1:11500");
    assert_eq!(settings["memory_service"], "disabled");
    assert_eq!(settings["public_page"], page);
    assert_eq!(settings["public_address"], "bob.example.com");
    assert_eq!(settings["active"], true);
    assert_eq!(settings["id"], before["id"]);
    // open_to and access_to are replaced as a whole: a missing flag is false.
    assert_eq!(
        settings["open_to"],
        json!({"humans": true, "locrits": false, "invitations": false, "internet": true, "platform": false})
    );
    assert_eq!(
        settings["access_to"],
        json!({"logs": false, "quick_memory": false, "full_memory": true, "llm_info": false})
    );
    assert!(settings["updated_at"].as_str() >= before["updated_at"].as_str());

    // `null` and "" clear the nullable fields.
    let (status, body) = server
        .put(
            &locrit_path("Bob Technique", "config"),
            json!({"public_address": "", "public_page": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settings = self::settings(&server, "Bob Technique").await;
    assert_eq!(settings["public_address"], Value::Null);
    assert!(settings.get("public_page").is_none(), "{settings}");
    assert_eq!(settings["memory_service"], "disabled");
}

#[tokio::test]
async fn put_config_rejects_bad_values_naming_the_field() {
    let server = TestServer::start().await;
    create(&server, "Bob").await;
    let before = settings(&server, "Bob").await;
    for (body, field) in [
        (json!({"active": "yes"}), "active"),
        (json!({"description": 12}), "description"),
        (json!({"open_to": {"humans": "true"}}), "open_to.humans"),
        (json!({"access_to": []}), "access_to"),
        (json!({"open_to": [true, true]}), "open_to"),
        (json!({"public_page": "page"}), "public_page"),
        (json!({"memory_service": "magic"}), "memory_service"),
        (
            json!({"public_page": {"show_model_info": "yes"}}),
            "public_page.show_model_info",
        ),
        (json!({"ollama_url": "localhost:11434"}), "ollama_url"),
    ] {
        let (status, error) = server
            .put(&locrit_path("Bob", "config"), body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["success"], false);
        assert_eq!(error["field"], field, "{body} → {error}");
    }
    assert_eq!(
        settings(&server, "Bob").await,
        before,
        "nothing was applied"
    );
}

#[tokio::test]
async fn toggle_flips_active_and_toggle_edit_sets_both_flags() {
    let server = TestServer::start().await;
    create(&server, "Bob Technique").await;
    let toggle = locrit_path("Bob Technique", "toggle");
    let (status, body) = server.post(&toggle, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"success": true, "active": true, "message": "Locrit \"Bob Technique\" activé !"})
    );
    assert_eq!(settings(&server, "Bob Technique").await["active"], true);
    // No body at all is fine.
    let response = server
        .http
        .post(server.url(&toggle))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"success": true, "active": false, "message": "Locrit \"Bob Technique\" désactivé !"})
    );

    // Created with logs on and full_memory off: "edit" is off, so it turns both on.
    let toggle_edit = locrit_path("Bob Technique", "toggle-edit");
    let (status, body) = server.post(&toggle_edit, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "success": true,
            "edit_enabled": true,
            "access_to": {"logs": true, "quick_memory": true, "full_memory": true, "llm_info": true},
            "message": "Édition édition activée pour le Locrit \"Bob Technique\"",
        })
    );
    let (_, body) = server.post(&toggle_edit, json!({})).await;
    assert_eq!(body["edit_enabled"], false);
    assert_eq!(
        body["message"],
        "Édition édition désactivée pour le Locrit \"Bob Technique\""
    );
    let access = settings(&server, "Bob Technique").await["access_to"].clone();
    assert_eq!(
        access,
        json!({"logs": false, "quick_memory": true, "full_memory": false, "llm_info": true})
    );
}

#[tokio::test]
async fn global_config_round_trips_with_aliases_and_forms() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/api/config").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], true);
    assert_eq!(body["config"]["ollama"]["base_url"], server.ollama.url());
    assert_eq!(body["config"]["ollama"]["timeout"], 30);
    assert!(
        body["config"]["ollama"]["default_model"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        body["config"]["network"]["api_server"]["port"].is_u64(),
        "{body}"
    );

    let saved = json!({"success": true, "message": "Configuration sauvegardée avec succès !"});
    let (status, body) = server
        .post(
            "/api/config/save",
            json!({
                "ollama_base_url": "http://ollama.lan:11434/", "ollama_default_model": "qwen3",
                "ollama_timeout": 60, "api_port": 8000, "api_host": "0.0.0.0", "ui_theme": "light",
                "refresh_interval": "10", "unknown": true,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, saved);
    let (_, body) = server.get("/api/config").await;
    let config = &body["config"];
    assert_eq!(
        config["ollama"],
        json!({"base_url": "http://ollama.lan:11434", "default_model": "qwen3", "timeout": 60})
    );
    assert_eq!(config["network"]["api_server"]["port"], 8000);
    assert_eq!(config["network"]["api_server"]["host"], "0.0.0.0");
    assert_eq!(config["ui"]["theme"], "light");
    assert_eq!(config["ui"]["refresh_interval"], 10);

    // What the admin Settings page posts: the aliases, to /config/save.
    let (status, body) =
        server.post("/config/save", json!({"ollama_url": "http://other:11434", "default_model": "mistral", "api_port": 8001})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, saved);
    let (_, body) = server.get("/api/config").await;
    assert_eq!(body["config"]["ollama"]["base_url"], "http://other:11434");
    assert_eq!(body["config"]["ollama"]["default_model"], "mistral");
    assert_eq!(body["config"]["network"]["api_server"]["port"], 8001);
    assert_eq!(
        body["config"]["ui"]["theme"], "light",
        "keys not sent keep their value"
    );

    // What the legacy page posted: a form, answered with the same JSON.
    let form = "ollama_base_url=http%3A%2F%2Fform%3A11434&ollama_default_model=llama3.2%3Alatest&api_port=8002&ui_theme=dark";
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/config/save",
            "application/x-www-form-urlencoded",
            form,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, saved);
    let (_, body) = server.get("/api/config").await;
    assert_eq!(body["config"]["ollama"]["base_url"], "http://form:11434");
    assert_eq!(body["config"]["ollama"]["default_model"], "llama3.2:latest");
    assert_eq!(body["config"]["network"]["api_server"]["port"], 8002);
    assert_eq!(body["config"]["ui"]["theme"], "dark");

    // /api/config/save is JSON only.
    let response = server
        .send_raw(
            Method::POST,
            "/api/config/save",
            "application/x-www-form-urlencoded",
            "api_port=1",
        )
        .await;
    assert_error(&response, StatusCode::BAD_REQUEST, NOT_JSON);
    assert_error(
        &post_untyped(&server, "/config/save", "{}").await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );
}

#[tokio::test]
async fn global_config_rejects_non_integers_with_a_400() {
    let server = TestServer::start().await;
    for (path, body, field) in [
        (
            "/api/config/save",
            json!({"api_port": "huit mille"}),
            "api_port",
        ),
        ("/api/config/save", json!({"api_port": 70000}), "api_port"),
        (
            "/config/save",
            json!({"ollama_timeout": 1.5}),
            "ollama_timeout",
        ),
        (
            "/config/save",
            json!({"refresh_interval": -1}),
            "refresh_interval",
        ),
        ("/config/save", json!({"ui_theme": 3}), "ui_theme"),
        (
            "/config/save",
            json!({"ollama_url": "localhost:11434"}),
            "ollama_url",
        ),
    ] {
        let (status, error) = server.post(path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["success"], false);
        assert_eq!(error["field"], field, "{body} → {error}");
    }
    let (status, error) = server
        .send_raw(
            Method::POST,
            "/config/save",
            "application/x-www-form-urlencoded",
            "api_port=abc",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["field"], "api_port");
    let (_, body) = server.get("/api/config").await;
    assert_eq!(
        body["config"]["ollama"]["base_url"],
        server.ollama.url(),
        "nothing was saved"
    );
}

#[tokio::test]
async fn ollama_models_lists_sorted_models_of_the_given_or_global_server() {
    let server = TestServer::start().await;
    server.ollama.add_model("zephyr", 4096);
    server.ollama.add_model("alpha:7b", 4096);
    let expected = ["alpha:7b", "llama3.2:latest", "zephyr:latest"];
    let names = |body: &Value| -> Vec<String> {
        body["models"]
            .as_array()
            .expect("models")
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Without a URL: the global server, which the test server points at the fake.
    let (status, body) = server.get("/api/ollama/models").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(names(&body), expected);
    assert_eq!(body["total_models"], 3);
    let model = &body["models"][0];
    assert!(
        model["modified_at"].is_string() && model["size"].is_u64(),
        "{model}"
    );

    let (status, body) = server
        .get(&format!(
            "/api/ollama/models?ollama_url={}/",
            server.ollama.url()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), expected);
    let (status, body) = server
        .post(
            "/api/ollama/models",
            json!({"base_url": format!("{}/", server.ollama.url())}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), expected);

    // Unreachable: success false, the contract's message, models [] and a 5xx.
    let (status, body) = server
        .post(
            "/api/ollama/models",
            json!({"ollama_url": unused_local_url()}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["models"], json!([]));
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Impossible de se connecter au serveur Ollama: "),
        "{body}"
    );

    // The server answers, but with an error.
    server
        .ollama
        .fail_next_on(Endpoint::Tags, FakeFailure::Http(500, "boom".into()));
    let (status, body) = server.get("/api/ollama/models").await;
    assert!(status.is_server_error(), "{status}: {body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["models"], json!([]));
    assert!(body["error"].as_str().unwrap().contains("boom"), "{body}");
}

#[tokio::test]
async fn test_ollama_reports_the_stripped_url_and_failures() {
    let server = TestServer::start().await;
    for name in ["a", "b", "c", "d", "e", "f"] {
        server.ollama.add_model(name, 4096);
    }
    let url = server.ollama.url();
    let (status, body) = server
        .post(
            "/config/test-ollama",
            json!({"ollama_url": format!("{url}/")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "success": true,
            "message": "Connexion réussie",
            "models": ["a:latest", "b:latest", "c:latest", "d:latest", "e:latest"],
            "total_models": 7,
            "tested_url": url,
        })
    );
    let (status, body) = server
        .post("/config/test-ollama", json!({"base_url": url}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tested_url"], url);

    // Required, with no fallback to the global server.
    let required =
        "URL Ollama requise. Chaque Locrit doit avoir son propre serveur Ollama configuré.";
    assert_error(
        &server.post("/config/test-ollama", json!({})).await,
        StatusCode::BAD_REQUEST,
        required,
    );
    assert_error(
        &server
            .post("/config/test-ollama", json!({"ollama_url": " "}))
            .await,
        StatusCode::BAD_REQUEST,
        required,
    );
    assert_error(
        &post_untyped(&server, "/config/test-ollama", "{}").await,
        StatusCode::BAD_REQUEST,
        NOT_JSON,
    );

    let down = unused_local_url();
    let (status, body) = server
        .post(
            "/config/test-ollama",
            json!({"ollama_url": format!("{down}/")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(
        body["error"],
        "Impossible de se connecter au serveur Ollama. Vérifiez que le serveur est démarré."
    );
    assert_eq!(body["tested_url"], down);
    assert!(
        body["technical_details"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );

    server
        .ollama
        .fail_next_on(Endpoint::Tags, FakeFailure::Http(500, "boom".into()));
    let (status, body) = server
        .post("/config/test-ollama", json!({"ollama_url": url}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["success"], false);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Erreur de requête: "),
        "{body}"
    );
    assert_eq!(body["tested_url"], url);
}

#[tokio::test]
async fn ollama_status_probes_the_global_server() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/api/ollama/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"success": true, "status": "connected", "base_url": server.ollama.url()})
    );

    let down = unused_local_url();
    let (status, _) = server
        .post("/api/config/save", json!({"ollama_base_url": down}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.get("/api/ollama/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], false);
    assert_eq!(body["status"], "disconnected");
    assert_eq!(body["base_url"], down);
}

#[tokio::test]
async fn cors_preflight_answers_listed_origins_only() {
    let server = TestServer::start().await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(Method::OPTIONS, server.url("/config/test-ollama"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let response = preflight("http://localhost:5173").await.expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }

    let response = preflight("http://evil.example").await.expect("sent");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_big_bodies_answer_json() {
    let server = TestServer::start().await;
    for path in [
        "/api/nope",
        "/api/locrits/Bob/nope",
        "/config/nope",
        "/public/x/y/z",
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "Not found", "{path}: {body}");
    }
    let (status, body) = server.get("/api/create-locrit").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "Method not allowed");
    let (status, body) = server.delete(&locrit_path("Bob", "config")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "Method not allowed");

    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(1024 * 1024));
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/api/create-locrit",
            "application/json",
            big.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["success"], false);
    let form = format!("ui_theme={}", "a".repeat(1024 * 1024));
    let (status, body) = server
        .send_raw(
            Method::POST,
            "/config/save",
            "application/x-www-form-urlencoded",
            form,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["success"], false);
}

fn fixture() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/original-config.yaml"
    );
    std::fs::read_to_string(path).expect("read the original config.yaml fixture")
}

#[tokio::test]
async fn imported_fixture_lists_with_its_flags_and_default_settings() {
    let server = TestServer::start().await;
    let report = server.core.import_config(&fixture()).await.expect("import");
    assert_eq!(report.count(ImportOutcome::Created), 4, "{report:?}");

    let (status, body) = server.get("/api/locrits").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["locrits"]["default_settings"],
        json!({
            "access_to": {"full_memory": false, "llm_info": true, "logs": true, "quick_memory": true},
            "memory_service": "plaintext_file",
            "open_to": {"humans": true, "internet": false, "invitations": true, "locrits": true, "platform": false},
        })
    );
    let instances = body["locrits"]["instances"]
        .as_object()
        .expect("an object keyed by name");
    let mut names: Vec<&str> = instances.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Bob Technique",
            "Locrit root",
            "Marie Recherche",
            "Pixie Assistant"
        ]
    );

    let bob = &instances["Bob Technique"];
    assert_eq!(bob["active"], true);
    assert_eq!(
        bob["open_to"],
        json!({"humans": true, "locrits": true, "invitations": true, "internet": true, "platform": false})
    );
    assert_eq!(
        bob["access_to"],
        json!({"logs": true, "quick_memory": true, "full_memory": true, "llm_info": true})
    );
    assert_eq!(bob["public_page"]["title"], "Parlez avec Bob Technique");
    assert_eq!(bob["public_page"]["show_model_info"], true);
    assert_eq!(bob["public_address"], "https://fb73aa2142137f.lhr.life");
    assert_eq!(bob["ollama_url"], "http://localhost:11434");
    assert_eq!(bob["ollama_model"], "llama3.1:8b-instruct-q3_K_M");
    assert_eq!(bob["created_at"], "2025-09-13T14:29:07.098618+00:00");
    assert_eq!(bob["updated_at"], "2025-10-05T14:29:55.066197+00:00");

    let pixie = &instances["Pixie Assistant"];
    assert_eq!(pixie["active"], true);
    assert_eq!(pixie["access_to"]["full_memory"], false);
    assert_eq!(pixie["open_to"]["internet"], false);
    assert_eq!(pixie["open_to"]["platform"], false);
    assert!(pixie.get("public_page").is_none());
    assert_eq!(instances["Marie Recherche"]["active"], false);
    assert_eq!(
        instances["Marie Recherche"]["public_address"],
        "marie.example.com"
    );
    assert_eq!(instances["Locrit root"]["active"], false);
    assert_eq!(
        instances["Locrit root"]["public_address"],
        Value::Null,
        "'' reads as null"
    );

    let (_, config) = server.get("/api/config").await;
    assert_eq!(
        config["config"]["ollama"]["base_url"],
        "http://localhost:11434"
    );
    assert_eq!(
        config["config"]["ollama"]["default_model"],
        "llama3.1:8b-instruct-q3_K_M"
    );
    assert_eq!(config["config"]["network"]["api_server"]["port"], 8000);
    assert_eq!(config["config"]["ui"]["theme"], "dark");

    let again = server
        .core
        .import_config(&fixture())
        .await
        .expect("import again");
    assert_eq!(again.locrits.len(), 4);
    for entry in &again.locrits {
        assert_eq!(entry.outcome, ImportOutcome::Skipped, "{entry:?}");
        assert_eq!(entry.reason, "already up to date", "{entry:?}");
    }
    assert!(!again.config_updated);
}

#[tokio::test]
async fn imported_unknown_keys_are_shown_in_the_settings() {
    let server = TestServer::start().await;
    let yaml = "locrits:\n  instances:\n    Zoé:\n      description: Test\n      ollama_model: m\n      tags: [a, b]\n      custom: {x: 1}\n";
    server.core.import_config(yaml).await.expect("import");
    let settings = settings(&server, "Zoé").await;
    assert_eq!(settings["tags"], json!(["a", "b"]));
    assert_eq!(settings["custom"], json!({"x": 1}));
    // The original's rules: a missing flag is false, a missing memory service plaintext.
    assert_eq!(settings["active"], false);
    assert_eq!(settings["open_to"]["humans"], false);
    assert_eq!(settings["memory_service"], "plaintext_file");
    assert_eq!(settings["ollama_url"], Value::Null);
}
