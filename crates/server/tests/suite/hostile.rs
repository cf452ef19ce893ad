//! Hostile input, one table: each row an input an attacker or a broken client sends,
//! and the answer it must get (a clear JSON error with the right status, or a plain
//! success that stores the input as data and nothing else). Never a 500, a panic, an
//! HTML page, or a file written where a client names it.

use crate::common;

use std::time::Duration;

use common::{TestServer, segment};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

struct Row {
    what: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    expected: StatusCode,
}

fn json_row(
    what: &'static str,
    method: Method,
    path: &str,
    body: Value,
    expected: StatusCode,
) -> Row {
    Row {
        what,
        method,
        path: path.to_owned(),
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        expected,
    }
}

fn locrit(name: &str) -> Value {
    json!({"name": name, "ollama_model": "llama3.2", "active": true})
}

#[tokio::test]
async fn the_table_of_hostile_inputs() {
    let server = TestServer::start().await;
    let (_, bob) = server.post("/api/v2/locrits", locrit("Bob")).await;
    let bob = bob["id"].as_str().unwrap().to_owned();
    let sessions = format!("/api/v2/locrits/{bob}/sessions");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = json!({"name": "x".repeat(2 * 1024 * 1024), "ollama_model": "m"});
    use StatusCode as S;
    let rows = vec![
        json_row(
            "a path in a Locrit name",
            Method::POST,
            "/api/v2/locrits",
            locrit("../../etc/passwd"),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a NUL in a Locrit name",
            Method::POST,
            "/api/v2/locrits",
            locrit("Bob\u{0}"),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a newline in a Locrit name",
            Method::POST,
            "/api/v2/locrits",
            locrit("Bob\nEve"),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a 129-character name",
            Method::POST,
            "/api/v2/locrits",
            locrit(&"é".repeat(129)),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "the reserved name 'list'",
            Method::POST,
            "/api/v2/locrits",
            locrit("list"),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "an unknown field",
            Method::POST,
            "/api/v2/locrits",
            json!({"name": "Z", "ollama_model": "m", "is_admin": true}),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a string where a bool goes",
            Method::POST,
            "/api/v2/locrits",
            json!({"name": "Z", "ollama_model": "m", "active": "yes"}),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a 2 MiB body",
            Method::POST,
            "/api/v2/locrits",
            huge,
            S::PAYLOAD_TOO_LARGE,
        ),
        Row {
            what: "JSON nested 100,000 deep",
            method: Method::POST,
            path: "/api/v2/locrits".into(),
            content_type: "application/json",
            body: deep.into_bytes(),
            expected: S::BAD_REQUEST,
        },
        Row {
            what: "invalid UTF-8",
            method: Method::POST,
            path: "/api/v2/locrits".into(),
            content_type: "application/json",
            body: vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            expected: S::BAD_REQUEST,
        },
        Row {
            what: "a form where JSON goes",
            method: Method::POST,
            path: "/api/v2/locrits".into(),
            content_type: "application/x-www-form-urlencoded",
            body: b"name=Z&ollama_model=m".to_vec(),
            expected: S::UNSUPPORTED_MEDIA_TYPE,
        },
        json_row(
            "a non-UUID where an id goes",
            Method::GET,
            "/api/v2/locrits/not-a-uuid",
            Value::Null,
            S::BAD_REQUEST,
        ),
        json_row(
            "a negative page size",
            Method::GET,
            &format!("/api/v2/locrits/{bob}/memories?limit=-1"),
            Value::Null,
            S::BAD_REQUEST,
        ),
        json_row(
            "an unknown route",
            Method::GET,
            "/api/v2/../../etc/passwd",
            Value::Null,
            S::NOT_FOUND,
        ),
        json_row(
            "a session id of 300 bytes",
            Method::POST,
            &sessions,
            json!({"id": "s".repeat(300)}),
            S::UNPROCESSABLE_ENTITY,
        ),
        json_row(
            "a control character in a session id",
            Method::POST,
            &sessions,
            json!({"id": "a\u{7}b"}),
            S::UNPROCESSABLE_ENTITY,
        ),
        // Stored as data, nothing more.
        json_row(
            "SQL in a Locrit name",
            Method::POST,
            "/api/v2/locrits",
            locrit("Robert'); DROP TABLE locrits;--"),
            S::CREATED,
        ),
        json_row(
            "a right-to-left override in a name",
            Method::POST,
            "/api/v2/locrits",
            locrit("\u{202E}txt.exe"),
            S::CREATED,
        ),
        json_row(
            "a zero-width space in a name",
            Method::POST,
            "/api/v2/locrits",
            locrit("Bo\u{200B}b"),
            S::CREATED,
        ),
        json_row(
            "an emoji and a combining accent",
            Method::POST,
            "/api/v2/locrits",
            locrit("🤖 e\u{301}lodie"),
            S::CREATED,
        ),
        json_row(
            "a path as a session id",
            Method::POST,
            &sessions,
            json!({"id": "../../../../tmp/locrit-owned"}),
            S::CREATED,
        ),
        json_row(
            "SQL in a search",
            Method::GET,
            &format!("/api/v2/locrits/{bob}/search?q=%27%20OR%201%3D1%20--"),
            Value::Null,
            S::OK,
        ),
        json_row(
            "FTS syntax in a search",
            Method::GET,
            &format!("/api/v2/locrits/{bob}/search?q=NEAR(%22a%22%20*)%20OR%20%5E"),
            Value::Null,
            S::OK,
        ),
    ];
    for row in rows {
        let mut request = server
            .http
            .request(row.method.clone(), server.url(&row.path))
            .header("content-type", row.content_type);
        if row.method != Method::GET {
            request = request.body(row.body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let (_, body) = common::read(response).await;
        assert_eq!(status, row.expected, "{}: {body}", row.what);
        if !status.is_success() {
            assert_eq!(body["success"], false, "{}: {body}", row.what);
            assert!(body["error"].is_string(), "{}: {body}", row.what);
        }
    }

    // The hostile names are names: listed as given, each found by its exact self.
    let (_, listed) = server.get("/api/v2/locrits").await;
    let names: Vec<&str> = listed["locrits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    for name in [
        "Bob",
        "Robert'); DROP TABLE locrits;--",
        "\u{202E}txt.exe",
        "Bo\u{200B}b",
        "🤖 e\u{301}lodie",
    ] {
        assert!(names.contains(&name), "{name:?} in {names:?}");
        let (status, found) = server
            .get(&format!("/api/locrits/{}/config", segment(name)))
            .await;
        assert_eq!(status, StatusCode::OK, "{name:?}: {found}");
    }
    // A path-like session id is a key in the store, not a file.
    assert!(!std::path::Path::new("/tmp/locrit-owned").exists());
    let path = format!("{sessions}/{}", segment("../../../../tmp/locrit-owned"));
    assert_eq!(server.get(&path).await.0, StatusCode::OK);
}

#[tokio::test]
async fn html_in_a_message_is_stored_and_answered_as_text() {
    let server = TestServer::start().await;
    server.create_active_locrit("Bob", json!({})).await;
    let attack = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let response = server
        .http
        .post(server.url("/api/locrits/Bob/chat"))
        .json(&json!({"message": attack}))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let (status, reply) = common::read(response).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let bob = server.core.locrit_named("Bob").await.unwrap();
    let recent = server
        .core
        .store()
        .recent_messages(bob.id, 10)
        .await
        .unwrap();
    assert!(
        recent.iter().any(|m| m.content == attack),
        "stored verbatim"
    );
}

/// A client that sends its request a byte at a time, or never finishes it, holds its own
/// connection only: everyone else is served.
#[tokio::test]
async fn a_slow_client_does_not_hold_up_the_others() {
    let server = TestServer::start().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(
                b"POST /api/v2/locrits HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"na",
            )
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = std::time::Instant::now();
    for _ in 0..10 {
        let (status, _) = server.get("/api/v2/locrits").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served while 20 clients stall"
    );
    drop(slow);
}
