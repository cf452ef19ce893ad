//! The server killed with SIGKILL in the middle of background work and imports: after a
//! restart every job ends done (taken over once its lease runs out) and learns what it
//! should exactly once; an import killed midway left all of it or none of it, and runs
//! again; `locrit doctor` finds no fault.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::locrit;
use locrit_domain::{JobStatus, NewMessage, NewSession, Role, SessionKind};
use locrit_store::{JobQuery, MemoryQuery, MessagePage, SessionQuery, Store, StoreConfig};
use locrit_testkit::{Endpoint, FakeFailure, FakeOllama, Reply};
use serde_json::{Value, json};

/// Exchanges, each queuing one extraction job.
const TURNS: usize = 6;
/// Kills, each in the middle of an extraction: fewer than a job's attempts, so even a
/// job cut every time still has a run left.
const KILLS: usize = 2;
/// Each extraction's model call takes this long: the window the kill lands in.
const EXTRACTION_TIME: Duration = Duration::from_millis(600);

/// What the model learns from an exchange about "topic-N": two facts named after it,
/// and one concept.
fn learned_from(call: &locrit_testkit::ChatCall) -> String {
    let exchange = call
        .last_user()
        .and_then(|prompt| prompt.split("Exchange:").nth(1))
        .unwrap_or_default();
    let topic = exchange
        .split_whitespace()
        .find(|word| word.starts_with("topic-"))
        .unwrap_or("topic-none")
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
    json!({
        "memories": [
            {"content": format!("{topic} is about tea"), "importance": 0.5},
            {"content": format!("{topic} happened in Lyon"), "importance": 0.6}
        ],
        "concepts": [{"name": "Lyon", "type": "place"}],
        "relations": []
    })
    .to_string()
}

#[tokio::test]
async fn sigkill_mid_extraction_resumes_every_job_and_learns_each_fact_once() {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeOllama::start().await;
    fake.set_structured_reply(Reply::func(learned_from));
    fake.fail_always_on(
        Endpoint::StructuredChat,
        FakeFailure::Delay(EXTRACTION_TIME),
    );
    let http = reqwest::Client::new();
    // A short lease, so a job of a killed server is taken over in seconds.
    let lease = ["--job-lease", "2"];
    let mut bob = String::new();
    for round in 0..KILLS {
        let (mut server, _) = common::serve(data.path(), &fake.url(), &lease).await;
        let extractions = fake.requests_on(Endpoint::StructuredChat).len();
        if round == 0 {
            bob = common::create_locrit(&http, &server.base, "Bob").await;
            for turn in 0..TURNS {
                let sessions = format!("{}/api/v2/locrits/{bob}/sessions", server.base);
                let key = format!("s{turn}");
                post(&http, &sessions, json!({"id": key})).await;
                let text = format!("Let us talk about topic-{turn} today");
                post(
                    &http,
                    &format!("{sessions}/{key}/messages"),
                    json!({"content": text}),
                )
                .await;
            }
            // Each exchange's job is stored with its reply: the kill below does not wait
            // for the jobs, yet none may be lost (counted after the restarts).
        }
        // Killed while an extraction waits for the model: its job is held, unfinished.
        wait_for("an extraction in flight", Duration::from_secs(30), || {
            fake.requests_on(Endpoint::StructuredChat).len() > extractions
        })
        .await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }

    let (server, _) = common::serve(data.path(), &fake.url(), &lease).await;
    let jobs = format!("{}/api/v2/locrits/{bob}/jobs", server.base);
    let mut listed = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(90);
    while !all_done(&listed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        listed = http.get(&jobs).send().await.unwrap().json().await.unwrap();
    }
    drop(server);
    assert!(
        all_done(&listed),
        "every job ends done after the restarts: {listed}"
    );
    assert!(
        fake.requests_on(Endpoint::StructuredChat).len() > TURNS,
        "some extractions were cut by a kill and run again"
    );

    let store = open_store(data.path()).await;
    let bob = store.locrit_by_name("Bob").await.unwrap().unwrap();
    let jobs = store
        .jobs(&JobQuery {
            locrit_id: Some(bob.id),
            ..JobQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), TURNS, "one job per exchange");
    assert!(jobs.iter().all(|job| job.status == JobStatus::Done));
    let memories = store
        .memories(bob.id, &MemoryQuery::default())
        .await
        .unwrap();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for memory in &memories {
        *copies.entry(memory.content.clone()).or_default() += 1;
    }
    for turn in 0..TURNS {
        for fact in [
            format!("topic-{turn} is about tea"),
            format!("topic-{turn} happened in Lyon"),
        ] {
            assert_eq!(copies.get(&fact), Some(&1), "{fact:?} learned once");
        }
    }
    assert_eq!(
        memories.len(),
        2 * TURNS,
        "nothing else learned: {copies:?}"
    );
    drop(store);
    assert_doctor_clean(data.path());
}

/// Locrits in the big `config.yaml`.
const CONFIG_LOCRITS: usize = 3000;
/// Messages in the big archive.
const ARCHIVE_MESSAGES: usize = 5_000;
/// Where in an uninterrupted import's time each kill lands.
const KILL_AT: [f64; 3] = [0.25, 0.5, 0.8];

#[tokio::test]
async fn sigkill_mid_config_import_stores_all_or_nothing_and_a_rerun_succeeds() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config.yaml");
    let mut yaml = String::from("locrits:\n  instances:\n");
    for n in 0..CONFIG_LOCRITS {
        yaml.push_str(&format!(
            "    Locrit {n:04}:\n      description: number {n}\n      ollama_model: llama3.2\n      active: true\n"
        ));
    }
    std::fs::write(&config, yaml).unwrap();
    let import = |data: &Path| {
        let mut command = locrit();
        command
            .arg("import-config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data);
        command
    };
    let whole = timed_run(import(&work.path().join("whole")));
    for at in KILL_AT {
        let data = tempfile::tempdir().unwrap();
        kill_after(import(data.path()), whole.mul_f64(at));
        let count = open_store(data.path()).await.locrits().await.unwrap().len();
        assert!(
            count == 0 || count == CONFIG_LOCRITS,
            "killed at {at} of the import: {count} Locrits stored"
        );
        let rerun = import(data.path()).output().unwrap();
        assert!(rerun.status.success(), "{rerun:?}");
        let count = open_store(data.path()).await.locrits().await.unwrap().len();
        assert_eq!(count, CONFIG_LOCRITS, "the rerun imports everything");
        assert_doctor_clean(data.path());
    }
}

#[tokio::test]
async fn sigkill_mid_archive_import_stores_all_or_nothing_and_a_rerun_succeeds() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let archive = work.path().join("big.locrit");
    big_locrit(&source).await;
    let export = locrit()
        .args(["export", "Big", "--output"])
        .arg(&archive)
        .arg("--data-dir")
        .arg(&source)
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let import = |data: &Path| {
        let mut command = locrit();
        command
            .arg("import")
            .arg(&archive)
            .arg("--data-dir")
            .arg(data);
        command
    };
    let whole = timed_run(import(&work.path().join("whole")));
    let mut cut = 0;
    for at in KILL_AT {
        let data = tempfile::tempdir().unwrap();
        kill_after(import(data.path()), whole.mul_f64(at));
        let messages = stored_messages(data.path()).await;
        assert!(
            messages.is_none() || messages == Some(ARCHIVE_MESSAGES),
            "killed at {at} of the import: {messages:?} messages stored"
        );
        if messages.is_none() {
            cut += 1;
            let rerun = import(data.path()).output().unwrap();
            assert!(rerun.status.success(), "{rerun:?}");
        }
        assert_eq!(stored_messages(data.path()).await, Some(ARCHIVE_MESSAGES));
        assert_doctor_clean(data.path());
    }
    assert!(cut > 0, "some kill landed before the import's commit");
}

/// A Locrit named Big with `ARCHIVE_MESSAGES` messages in one session.
async fn big_locrit(data: &Path) {
    let config = data.join("config.yaml");
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(
        &config,
        "locrits:\n  instances:\n    Big:\n      ollama_model: llama3.2\n",
    )
    .unwrap();
    let imported = locrit()
        .arg("import-config")
        .arg(&config)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let store = open_store(data).await;
    let big = store.locrit_by_name("Big").await.unwrap().unwrap();
    let session = store
        .create_session(&NewSession {
            locrit_id: big.id,
            key: "long".into(),
            kind: SessionKind::Chat,
            name: None,
            user_id: None,
            metadata: json!({}),
        })
        .await
        .unwrap();
    let batch: Vec<NewMessage> = (0..500)
        .map(|n| NewMessage::new(Role::User, format!("message {n} of a long conversation")))
        .collect();
    for _ in 0..ARCHIVE_MESSAGES / batch.len() {
        store.append_messages(session.id, &batch).await.unwrap();
    }
}

/// The messages of the Locrit named Big; `None` when there is no such Locrit.
async fn stored_messages(data: &Path) -> Option<usize> {
    let store = open_store(data).await;
    let big = store.locrit_by_name("Big").await.unwrap()?;
    let query = SessionQuery {
        locrit_id: Some(big.id),
        ..SessionQuery::default()
    };
    let mut count = 0;
    for session in store.sessions(&query).await.unwrap() {
        let page = MessagePage::After {
            after: 0,
            limit: u32::MAX,
        };
        count += store.messages(session.id, page).await.unwrap().len();
    }
    Some(count)
}

/// Runs a command to its successful end; how long it took.
fn timed_run(mut command: std::process::Command) -> Duration {
    let start = Instant::now();
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let took = start.elapsed();
    assert!(
        took > Duration::from_millis(300),
        "the import takes {took:?}: too short to be killed midway"
    );
    took
}

/// Starts a command and kills it with SIGKILL after `delay`, if it still runs then.
fn kill_after(mut command: std::process::Command, delay: Duration) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
}

/// Whether the job list (of `GET …/jobs`) holds one job per exchange, each done.
fn all_done(listed: &Value) -> bool {
    let jobs = listed.as_array().or_else(|| listed["jobs"].as_array());
    jobs.is_some_and(|jobs| jobs.len() == TURNS && jobs.iter().all(|job| job["status"] == "done"))
}

/// A POST that must succeed; its JSON answer.
async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert!(status.is_success(), "POST {url}: {status} {answer}");
    answer
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn open_store(data: &Path) -> std::sync::Arc<dyn Store> {
    let url = format!("sqlite://{}", data.join("locrit.db").display());
    locrit_store::open(&StoreConfig::new(&url)).await.unwrap()
}

fn assert_doctor_clean(data: &Path) {
    let doctor = locrit()
        .args(["doctor", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        doctor.status.success(),
        "{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );
}
