//! What the log says at its default level (info): what happened, never a password, a
//! key, a session token or what people said to their Locrits.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestServer;
use locrit_domain::{AccountRole, Requester};
use locrit_server::ServerConfig;
use locrit_testkit::TestDatabase;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_default_log_holds_no_secret_and_no_conversation() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .init();

    let config = ServerConfig {
        local_trust: false,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(TestDatabase::sqlite(), config).await;
    let password = "correct horse battery staple";
    server
        .core
        .create_account(&Requester::Local, "ada", password, AccountRole::Admin)
        .await
        .unwrap();
    let login = server
        .http
        .post(server.url("/api/v2/auth/login"))
        .json(&json!({"username": "ada", "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();
    let signed_in: serde_json::Value = login.json().await.unwrap();
    let csrf = signed_in["csrf_token"].as_str().unwrap().to_owned();
    let created = server
        .http
        .post(server.url("/api/v2/auth/keys"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "k", "scopes": {"read": true, "chat": true, "manage": true}}))
        .send()
        .await
        .unwrap();
    let created: serde_json::Value = created.json().await.unwrap();
    let key = created["token"].as_str().unwrap().to_owned();
    let wrong = server
        .http
        .post(server.url("/api/v2/auth/login"))
        .json(&json!({"username": "ada", "password": "a wrong password, logged?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let locrit = server
        .http
        .post(server.url("/api/v2/locrits"))
        .bearer_auth(&key)
        .json(&json!({"name": "Bob", "ollama_model": "llama3.2", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(locrit.status(), 201);
    let said = "my bank pin is pumpernickel";
    let chat = server
        .http
        .post(server.url("/api/locrits/Bob/chat"))
        .bearer_auth(&key)
        .json(&json!({"message": said}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    let _ = chat.bytes().await;

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("Locrit created"),
        "the log says what happened: {text}"
    );
    let token = session.trim_start_matches("locrit_session=");
    for secret in [
        password,
        "a wrong password",
        &key,
        token,
        &csrf,
        "pumpernickel",
    ] {
        assert!(!text.contains(secret), "{secret:?} is in the log:\n{text}");
    }
}
