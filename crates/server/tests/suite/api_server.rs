//! The clean API's server-wide routes: status for a dashboard, config import.

use crate::common;

use common::TestServer;
use locrit_testkit::{Endpoint, FakeFailure};
use reqwest::StatusCode;
use serde_json::json;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/original-config.yaml"
);

#[tokio::test]
async fn status_counts_locrits_sessions_and_todays_messages_and_probes_ollama() {
    let server = TestServer::start().await;
    server
        .create_active_locrit("Pixie", json!({"open_to": {"humans": true}}))
        .await;
    let (status, _) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Idle", "ollama_model": "llama3.2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = server
        .post(
            "/api/locrits/Pixie/chat",
            json!({"message": "hello", "session_id": "s1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = server.get("/api/v2/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["locrits"], 2);
    assert_eq!(body["active_locrits"], 1);
    assert_eq!(body["sessions"], 1);
    assert_eq!(body["messages"], 2);
    assert_eq!(body["messages_since"], 2, "both were written today");
    assert_eq!(
        body["ollama"],
        json!({"url": server.ollama.url(), "reachable": true, "models": 1})
    );

    let (_, tomorrow) = server
        .get("/api/v2/status?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(tomorrow["messages_since"], 0);
    assert_eq!(tomorrow["messages"], 2);

    server
        .ollama
        .fail_always_on(Endpoint::Tags, FakeFailure::Http(500, "down".into()));
    let (_, down) = server.get("/api/v2/status").await;
    assert_eq!(down["ollama"]["reachable"], false);
    assert_eq!(down["ollama"]["models"], json!(null));
}

#[tokio::test]
async fn status_refuses_a_malformed_since() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/api/v2/status?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn a_config_yaml_imports_once_then_changes_nothing() {
    let server = TestServer::start().await;
    let yaml = std::fs::read_to_string(FIXTURE).unwrap();
    let (status, first) = server
        .post("/api/v2/import/config", json!({"yaml": yaml}))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let outcomes: Vec<&str> = first["locrits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["created"; 4]);
    let (_, listed) = server.get("/api/v2/locrits?name=Pixie%20Assistant").await;
    assert_eq!(listed["locrits"].as_array().unwrap().len(), 1);

    let (_, second) = server
        .post("/api/v2/import/config", json!({"yaml": yaml}))
        .await;
    assert!(
        second["locrits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["outcome"] == "skipped"),
        "{second}"
    );
    assert_eq!(second["config_updated"], false);
}

#[tokio::test]
async fn a_file_that_is_not_a_config_yaml_is_a_422() {
    let server = TestServer::start().await;
    for yaml in ["locrits: [unclosed", "- just\n- a list\n"] {
        let (status, body) = server
            .post("/api/v2/import/config", json!({"yaml": yaml}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "config");
    }
    let (status, _) = server
        .post("/api/v2/import/config", json!({"file": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn activity_counts_todays_messages_and_memory_growth() {
    let server = TestServer::start().await;
    server
        .create_active_locrit(
            "Pixie",
            json!({"open_to": {"humans": true}, "access_to": {"full_memory": true}}),
        )
        .await;
    let (_, found) = server.get("/api/v2/locrits?name=Pixie").await;
    let id = found["locrits"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            "/api/locrits/Pixie/chat",
            json!({"message": "hello", "session_id": "s1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post(
            "/api/locrits/Pixie/memory/memories",
            json!({"content": "likes tea"}),
        )
        .await;
    assert!(status.is_success(), "{body}");

    let (status, body) = server
        .get(&format!("/api/v2/locrits/{id}/activity?days=3"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[2]["date"], json!(chrono::Utc::now().date_naive()));
    assert_eq!(
        (days[2]["messages"].as_u64(), days[2]["memories"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (days[0]["messages"].as_u64(), days[0]["memories"].as_u64()),
        (Some(0), Some(0))
    );

    // Two hours ahead of UTC, "today" may be another date, but today's messages are there.
    let (_, ahead) = server
        .get(&format!(
            "/api/v2/locrits/{id}/activity?days=2&utc_offset_minutes=120"
        ))
        .await;
    let total: u64 = ahead["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2);
}

#[tokio::test]
async fn activity_refuses_out_of_range_queries_and_unknown_locrits() {
    let server = TestServer::start().await;
    let (_, created) = server
        .post(
            "/api/v2/locrits",
            json!({"name": "Idle", "ollama_model": "llama3.2"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    for (query, field) in [
        ("days=0", "days"),
        ("days=367", "days"),
        ("utc_offset_minutes=5000", "utc_offset_minutes"),
    ] {
        let (status, body) = server
            .get(&format!("/api/v2/locrits/{id}/activity?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field);
    }
    let (status, _) = server
        .get(&format!("/api/v2/locrits/{id}/activity?days=many"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unknown = uuid::Uuid::new_v4();
    let (status, _) = server
        .get(&format!("/api/v2/locrits/{unknown}/activity"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
