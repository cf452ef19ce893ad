//! The store refusing writes, made real rather than mocked: a write lock held by another
//! connection (busy), SQLite's size limit reached (full, `SQLITE_FULL` as on a full
//! disk), a database opened read-only, and a PostgreSQL role switched to read-only while
//! the server runs. Every chat surface answers the same status and code, nothing is
//! reported stored that is not, `/api/v2/status` shows the state, and reads go on.

use crate::common;

use std::time::Duration;

use common::{TestServer, segment};
use locrit_store::StoreConfig;
use locrit_testkit::{SmallDisk, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

/// A Locrit with an open session.
struct Chat {
    id: String,
    name: String,
    session: String,
}

impl Chat {
    fn messages(&self) -> String {
        format!(
            "/api/v2/locrits/{}/sessions/{}/messages",
            self.id, self.session
        )
    }
}

async fn ready(server: &TestServer, name: &str) -> Chat {
    let (status, locrit) = server
        .post(
            "/api/v2/locrits",
            json!({"name": name, "ollama_model": "llama3.2", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{locrit}");
    let id = locrit["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            &format!("/api/v2/locrits/{id}/sessions"),
            json!({"id": "main"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Chat {
        id,
        name: name.to_owned(),
        session: "main".to_owned(),
    }
}

/// How one surface refused a message: status, code (absent from Ollama's error shape)
/// and `Retry-After`.
#[derive(Debug, PartialEq)]
struct Refusal {
    surface: &'static str,
    status: StatusCode,
    code: Option<String>,
    retry_after: Option<String>,
}

/// The chat surfaces: the clean API, the original's REST chat, OpenAI's and Ollama's.
const SURFACES: [&str; 4] = ["v2", "original", "openai", "ollama"];

/// Sends a message through one chat surface; how it answered (a success is status 200).
async fn send(server: &TestServer, chat: &Chat, surface: &'static str, text: &str) -> Refusal {
    let messages = json!([{"role": "user", "content": text}]);
    let (path, body) = match surface {
        "v2" => (chat.messages(), json!({"content": text})),
        "original" => (
            format!("/api/locrits/{}/chat", segment(&chat.name)),
            json!({"message": text}),
        ),
        "openai" => (
            "/v1/chat/completions".to_owned(),
            json!({"model": chat.name, "messages": messages}),
        ),
        "ollama" => (
            "/api/chat".to_owned(),
            json!({"model": chat.name, "messages": messages, "stream": false}),
        ),
        _ => unreachable!("{surface}"),
    };
    let response = server
        .http
        .post(server.url(&path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = common::read(response).await;
    let code = body["code"]
        .as_str()
        .or(body["error"]["code"].as_str())
        .map(str::to_owned);
    if status != StatusCode::OK {
        assert!(
            body["error"].is_string() || body["error"]["message"].is_string(),
            "{surface}: a message for people: {body}"
        );
    }
    Refusal {
        surface,
        status,
        code,
        retry_after,
    }
}

/// The same message sent through each chat surface.
async fn send_everywhere(server: &TestServer, chat: &Chat, text: &str) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for surface in SURFACES {
        refusals.push(send(server, chat, surface, text).await);
    }
    refusals
}

/// What every surface answers when the store refuses writes this way.
fn expected(status: StatusCode, code: &str, retry_after: Option<&str>) -> Vec<Refusal> {
    SURFACES
        .into_iter()
        .map(|surface| Refusal {
            surface,
            status,
            code: (surface != "ollama").then(|| code.to_owned()),
            retry_after: retry_after.map(str::to_owned),
        })
        .collect()
}

/// The store's state as the owner sees it, and how many messages it holds.
async fn owner_view(server: &TestServer) -> (Value, i64) {
    let (status, body) = server.get("/api/v2/status").await;
    assert_eq!(status, StatusCode::OK, "the status is a read: {body}");
    (body["store"].clone(), body["messages"].as_i64().unwrap())
}

/// The contents of a session, read back through the API.
async fn contents(server: &TestServer, chat: &Chat) -> Vec<String> {
    let (status, body) = server.get(&format!("{}?limit=200", chat.messages())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_busy_store_asks_to_retry_everywhere_keeps_reading_then_takes_writes_again() {
    let db = TestDatabase::sqlite();
    let url = db.url().to_owned();
    let server = TestServer::start_with_store(db, |url| StoreConfig {
        busy_timeout: Duration::from_millis(200),
        ..StoreConfig::new(url)
    })
    .await;
    let bob = ready(&server, "Bob").await;
    let (status, _) = server
        .post(&bob.messages(), json!({"content": "before"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, stored) = owner_view(&server).await;

    // Another program holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    assert_eq!(
        send_everywhere(&server, &bob, "while locked").await,
        expected(StatusCode::SERVICE_UNAVAILABLE, "store_busy", Some("1"))
    );
    let (store, messages) = owner_view(&server).await;
    assert_eq!(store["writable"], false, "{store}");
    assert_eq!(store["code"], "store_busy", "{store}");
    assert_eq!(messages, stored, "nothing stored");
    assert_eq!(contents(&server, &bob).await.len(), 2, "reads go on");

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    let (status, body) = server
        .post(&bob.messages(), json!({"content": "after"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(contents(&server, &bob).await.len(), 4);
    let (store, _) = owner_view(&server).await;
    assert_eq!(store, json!({"writable": true}));
}

#[tokio::test]
async fn a_full_store_refuses_with_507_stores_only_what_it_acknowledged_and_keeps_reading() {
    // SQLite's page limit: a write past it fails with SQLITE_FULL, the code a full disk
    // gives. The migrated, empty store takes well under 1 MiB.
    let server = TestServer::start_with_store(TestDatabase::sqlite(), |url| StoreConfig {
        sqlite_max_size: Some(1 << 20),
        ..StoreConfig::new(url)
    })
    .await;
    let (bob, alice) = two_chatting(&server).await;
    fill_up(&server, &bob, &alice).await;
    // The status checks for room for a write of 256 KiB: a refused long message may have
    // needed more (its search index, a merge of it), so short ones take what is left.
    for n in 0.. {
        assert!(n < 200, "short messages never filled the store");
        let mut text = words(1000 + n);
        text.truncate(2_000);
        let (status, body) = server.post(&bob.messages(), json!({"content": text})).await;
        if status != StatusCode::OK {
            assert_eq!(body["code"], "store_full", "{body}");
            break;
        }
    }
    let (store, _) = owner_view(&server).await;
    assert_eq!(store["code"], "store_full", "{store}");
}

/// Eight writers at once on a filling store, their messages sharing SQLite's commits:
/// each is refused on its own with 507, and every message acknowledged is stored, in
/// order, in its writer's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_under_concurrent_writers_stores_every_acknowledged_message() {
    let server = TestServer::start_with_store(TestDatabase::sqlite(), |url| StoreConfig {
        sqlite_max_size: Some(2 << 20),
        ..StoreConfig::new(url)
    })
    .await;
    // Short replies: the questions fill the store.
    server.ollama.set_reply("Noted.");
    let bob = ready(&server, "Bob").await;
    let writers = (0..8).map(|writer| {
        let (server, bob) = (&server, &bob);
        async move {
            let key = format!("w{writer}");
            let sessions = format!("/api/v2/locrits/{}/sessions", bob.id);
            let (status, body) = server.post(&sessions, json!({"id": key})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let mut acknowledged = Vec::new();
            loop {
                assert!(acknowledged.len() < 100, "the store never filled up");
                let text = format!(
                    "{key}.{}{}",
                    acknowledged.len(),
                    words(writer * 100 + acknowledged.len())
                );
                let (status, body) = server
                    .post(
                        &format!("{sessions}/{key}/messages"),
                        json!({"content": text}),
                    )
                    .await;
                if status == StatusCode::OK {
                    acknowledged.push(text);
                    continue;
                }
                assert_eq!(
                    (status, body["code"].as_str()),
                    (StatusCode::INSUFFICIENT_STORAGE, Some("store_full")),
                    "{body}"
                );
                // Its reply may be what did not fit: the refusal then names it, stored.
                if body["user_message_id"].is_string() {
                    acknowledged.push(text);
                }
                return (key, acknowledged);
            }
        }
    });
    let named = |text: &String| text.split(" words").next().unwrap().to_owned();
    for (key, acknowledged) in futures::future::join_all(writers).await {
        let chat = Chat {
            id: bob.id.clone(),
            name: bob.name.clone(),
            session: key,
        };
        let questions: Vec<String> = contents(&server, &chat)
            .await
            .iter()
            .filter(|text| *text != "Noted.")
            .map(named)
            .collect();
        assert_eq!(
            questions,
            acknowledged.iter().map(named).collect::<Vec<_>>()
        );
    }
}

/// The same on a disk that is really full: a tmpfs of 16 MiB, the store on it, then a
/// file taking all but 4 MiB; removing the file lets writes in again, without a
/// restart. One long exchange with its search index takes about 600 KiB under
/// PostgreSQL: with 1 MiB left, a background write (autovacuum) could leave no room
/// for even the first, as it once did in CI.
#[tokio::test]
#[ignore = "needs root (mounts a tmpfs): run with --ignored, as the PostgreSQL suite does"]
async fn a_full_disk_under_sqlite_refuses_with_507_then_takes_writes_once_freed() {
    let disk = SmallDisk::mount(16 << 20);
    let url = format!("sqlite://{}", disk.path().join("locrit.db").display());
    let server =
        TestServer::start_with_store(TestDatabase::sqlite(), |_| StoreConfig::new(&url)).await;
    refused_while_the_disk_is_full(&server, &disk).await;
}

/// PostgreSQL's tables on a tablespace of a full disk: its "could not extend file".
#[tokio::test]
#[ignore = "needs PostgreSQL and root: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_full_disk_under_postgres_refuses_with_507_then_takes_writes_once_freed() {
    let disk = SmallDisk::mount(16 << 20);
    let db = TestDatabase::postgres_on(&disk).await;
    let server = TestServer::start_with_store(db, |url| StoreConfig::new(url)).await;
    refused_while_the_disk_is_full(&server, &disk).await;
}

async fn refused_while_the_disk_is_full(server: &TestServer, disk: &SmallDisk) {
    let (bob, alice) = two_chatting(server).await;
    let filler = disk.fill_leaving(4 << 20);
    fill_up(server, &bob, &alice).await;
    std::fs::remove_file(filler).unwrap();
    let (status, body) = server
        .post(&bob.messages(), json!({"content": "room again"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = contents(server, &bob).await;
    assert_eq!(
        stored[stored.len() - 2..],
        ["room again", "You said: room again"]
    );
    let (store, _) = owner_view(server).await;
    assert_eq!(store, json!({"writable": true}));
}

/// Bob and Alice, Alice with one exchange stored.
async fn two_chatting(server: &TestServer) -> (Chat, Chat) {
    let bob = ready(server, "Bob").await;
    let alice = ready(server, "Alice").await;
    let (status, _) = server
        .post(&alice.messages(), json!({"content": "hello"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    (bob, alice)
}

/// About 56 KB of words that do not repeat as a whole (PostgreSQL compresses long
/// texts: a repeated phrase would take next to no room), named " words" first.
fn words(seed: usize) -> String {
    let mut state = seed as u64 * 2_654_435_761 + 1;
    let mut text = String::from(" words");
    while text.len() < 56_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        text.push(' ');
        text.extend(
            (0..3 + state % 6).map(|i| char::from(b'a' + (state >> (8 + i * 5)) as u8 % 26)),
        );
    }
    text
}

/// Sends Bob long messages through each surface in turn until that surface is refused
/// (on a real disk, room comes and goes as SQLite reuses its log): each refusal is 507
/// `store_full`, every message acknowledged is stored once and in order (a refused one
/// may be stored: its reply is what did not fit), the owner sees why, and Alice's
/// messages are read on.
async fn fill_up(server: &TestServer, bob: &Chat, alice: &Chat) {
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    let full = expected(StatusCode::INSUFFICIENT_STORAGE, "store_full", None);
    for (surface, full) in SURFACES.into_iter().zip(full) {
        loop {
            let text = format!(
                "{surface} {}{}",
                acknowledged.len(),
                words(acknowledged.len())
            );
            let answer = send(server, bob, surface, &text).await;
            if answer.status != StatusCode::OK {
                assert_eq!(answer, full);
                refused.push(text);
                break;
            }
            acknowledged.push(text);
            assert!(acknowledged.len() < 200, "the store never filled up");
        }
    }
    assert!(!acknowledged.is_empty(), "some messages fitted");
    let stored = contents(server, bob).await;
    let questions: Vec<&String> = stored
        .iter()
        .filter(|text| !text.starts_with("You said: "))
        .collect();
    for text in &refused {
        assert!(questions.iter().filter(|q| **q == text).count() <= 1);
    }
    // Compared by their first words, which name them.
    let named = |text: &String| text.split(" words").next().unwrap().to_owned();
    let answered: Vec<String> = questions
        .into_iter()
        .filter(|text| !refused.contains(text))
        .map(named)
        .collect();
    assert_eq!(
        answered,
        acknowledged.iter().map(named).collect::<Vec<_>>(),
        "every acknowledged message stored once, in order, and nothing else"
    );
    assert_eq!(
        contents(server, alice).await.len(),
        2,
        "other Locrits are read"
    );
    let (status, body) = server.get(&format!("/api/v2/locrits/{}", alice.id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_read_only_sqlite_store_refuses_writes_everywhere_and_serves_reads() {
    let server = TestServer::start().await;
    let bob = ready(&server, "Bob").await;
    let (status, _) = server
        .post(&bob.messages(), json!({"content": "written before"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The same file, opened as one the server may not write (as SQLite does by itself
    // with a file it lacks the permission to write).
    let server = server
        .restart_with_store(|url| StoreConfig::new(format!("{url}?mode=ro")))
        .await;

    assert_eq!(
        send_everywhere(&server, &bob, "refused").await,
        expected(StatusCode::SERVICE_UNAVAILABLE, "store_read_only", None)
    );
    let (status, body) = server
        .patch(
            &format!("/api/v2/locrits/{}", bob.id),
            json!({"description": "edited"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("store_read_only")),
        "{body}"
    );
    let (store, messages) = owner_view(&server).await;
    assert_eq!(store["writable"], false, "{store}");
    assert_eq!(store["code"], "store_read_only", "{store}");
    assert_eq!(messages, 2);
    assert_eq!(
        contents(&server, &bob).await[0],
        "written before",
        "reads go on"
    );
    let (status, body) = server.get("/api/v2/locrits").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The URL's user replaced by `role`.
fn as_role(url: &str, role: &str) -> String {
    url.replacen("postgres@", &format!("{role}@"), 1)
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set LOCRIT_TEST_POSTGRES_URL and run with --ignored"]
async fn a_postgres_role_made_read_only_while_serving_refuses_writes_and_spares_other_servers() {
    let admin_url = std::env::var(locrit_testkit::POSTGRES_URL_VAR).unwrap();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let role = format!("locrit_ro_{}", uuid::Uuid::new_v4().simple());
    let db = TestDatabase::postgres().await;
    let schema = db.url().rsplit("search_path%3D").next().unwrap().to_owned();
    sqlx::raw_sql(&format!(
        "CREATE ROLE {role} LOGIN; ALTER SCHEMA {schema} OWNER TO {role}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let server =
        TestServer::start_with_store(db, |url| StoreConfig::new(as_role(url, &role))).await;
    let other = TestServer::start_with(TestDatabase::postgres().await, Default::default()).await;
    let bob = ready(&server, "Bob").await;
    let (status, _) = server
        .post(&bob.messages(), json!({"content": "written before"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The role turns read-only (as on a demoted primary); its open connections end. The
    // setting is committed first, so that a connection the pool reopens at once has it,
    // and the requests wait until the ended backends are gone (termination is a signal).
    sqlx::raw_sql(&format!(
        "ALTER ROLE {role} SET default_transaction_read_only = on"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let ended: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM (SELECT pid, pg_terminate_backend(pid) AS ended \
         FROM pg_stat_activity WHERE usename = $1) AS t WHERE ended",
    )
    .bind(&role)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the server had connections open");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let alive: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)")
                .bind(&ended)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if alive == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "backends not ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request on a connection that was ended is refused too, as unavailable.
    for _ in 0..10 {
        let (status, body) = server
            .post(&bob.messages(), json!({"content": "refused"}))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        if body["code"] == "store_read_only" {
            break;
        }
        assert_eq!(body["code"], "store_unavailable", "{body}");
    }
    assert_eq!(
        send_everywhere(&server, &bob, "refused").await,
        expected(StatusCode::SERVICE_UNAVAILABLE, "store_read_only", None)
    );
    let (store, messages) = owner_view(&server).await;
    assert_eq!(store["code"], "store_read_only", "{store}");
    assert_eq!(messages, 2, "nothing refused was stored");
    assert_eq!(contents(&server, &bob).await[0], "written before");

    let alice = ready(&other, "Alice").await;
    let (status, body) = other
        .post(&alice.messages(), json!({"content": "elsewhere"}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another database is not affected: {body}"
    );

    drop(server); // drops its schema
    sqlx::raw_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; \
         DROP ROLE {role}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
}
