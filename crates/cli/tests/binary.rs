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

/// Starts `locrit serve` on a free port and checks what it logs on the way.
fn serve(data: &std::path::Path) -> Server {
    let (server, seen) = common::serve(data, "http://127.0.0.1:9", &[]);
    let log = seen.join("\n");
    assert!(
        log.contains("store ready") && log.contains("SQLite at"),
        "{log}"
    );
    assert!(
        log.contains("Ollama servers") && log.contains("http://127.0.0.1:9"),
        "{log}"
    );
    server
}

#[tokio::test]
async fn serve_answers_both_surfaces_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut server = serve(data.path());
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let listed: Value = http
        .get(format!("{}/api/locrits", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&String> = listed["locrits"]["instances"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["Bob Technique", "Élodie"]);

    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..100 {
        if let Some(exit) = server.child.try_wait().unwrap() {
            status = Some(exit);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        status.expect("stopped within 5 s").success(),
        "a clean exit"
    );

    // The data outlives the process.
    let server = serve(data.path());
    let listed: Value = http
        .get(format!("{}/api/v2/locrits", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["locrits"].as_array().unwrap().len(), 2);
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
    let server = serve(data.path());
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
