//! Exporting a Locrit from one server and importing it on another, over HTTP.

use crate::common;

use common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_locrit_exported_from_one_server_imports_on_another_with_its_history() {
    let (a, b) = (TestServer::start().await, TestServer::start().await);
    let (_, locrit) = a
        .post(
            "/api/v2/locrits",
            json!({"name": "Bob", "ollama_model": "llama3.2", "active": true}),
        )
        .await;
    let bob = format!("/api/v2/locrits/{}", locrit["id"].as_str().unwrap());
    a.post(&format!("{bob}/sessions"), json!({"id": "s"})).await;
    for text in ["one", "two"] {
        let (status, _) = a
            .post(
                &format!("{bob}/sessions/s/messages"),
                json!({"content": text}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    a.post(
        &format!("{bob}/memories"),
        json!({"content": "likes tea", "pinned": true}),
    )
    .await;

    let response = a
        .http
        .get(a.url(&format!("{bob}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Bob.locrit.gz")
    );
    let archive = response.bytes().await.unwrap();

    let (status, imported) = b
        .send_raw(
            Method::POST,
            "/api/v2/locrits/import",
            "application/gzip",
            archive.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["counts"]["messages"], json!(4));
    assert_eq!(imported["locrit"]["id"], locrit["id"]);
    let (_, there) = b.get(&format!("{bob}/sessions/s/messages")).await;
    let (_, here) = a.get(&format!("{bob}/sessions/s/messages")).await;
    assert_eq!(there, here, "the same messages, ids and times");
    let (_, memories) = b.get(&format!("{bob}/memories")).await;
    assert_eq!(memories["memories"][0]["pinned"], json!(true));

    let (status, error) = b
        .send_raw(
            Method::POST,
            "/api/v2/locrits/import",
            "application/gzip",
            archive,
        )
        .await;
    assert_eq!(
        (status, error["success"].clone()),
        (StatusCode::CONFLICT, json!(false)),
        "{error}"
    );
}

#[tokio::test]
async fn bad_archives_and_unknown_locrits_get_json_errors() {
    let server = TestServer::start().await;
    let (status, error) = server
        .send_raw(
            Method::POST,
            "/api/v2/locrits/import",
            "application/gzip",
            "garbage",
        )
        .await;
    assert_eq!(
        (status, error["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("archive")),
        "{error}"
    );
    let (_, list) = server.get("/api/v2/locrits").await;
    assert_eq!(
        list["locrits"],
        json!([]),
        "nothing is left of a failed import"
    );
    let unknown = uuid::Uuid::now_v7();
    let (status, _) = server
        .get(&format!("/api/v2/locrits/{unknown}/export"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
