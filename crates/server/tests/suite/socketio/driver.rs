//! Real python-socketio clients (`driver.py`), driven from the tests: each [`Client`] is
//! one `socketio.Client` in one Python process that records every event it receives.
//!
//! The Python comes from `LOCRIT_TEST_PYTHON`, else `target/py-venv/bin/python`; both
//! are made by `./scripts/py-venv` (which `./scripts/test` runs). Without it the tests
//! fail, saying so: they never pass without a real client.
#![allow(dead_code)] // each test file uses its own part of this

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// How long any one event may take to arrive.
pub const WAIT: Duration = Duration::from_secs(15);

struct Process {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// One Python process holding any number of clients.
#[derive(Clone)]
pub struct Driver {
    process: Arc<Mutex<Process>>,
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("LOCRIT_TEST_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with python-socketio for the Socket.IO tests: run ./scripts/test, or \
         `export LOCRIT_TEST_PYTHON=\"$(./scripts/py-venv)\"` before cargo test"
    );
    venv
}

impl Driver {
    pub async fn start() -> Self {
        let python = python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/socketio/driver.py");
        let mut child = Command::new(&python)
            .arg("-u")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the Socket.IO driver starts")
            .expect("read the driver");
        let ready: Value = ready
            .as_deref()
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| {
                panic!(
                    "{} cannot import python-socketio: run ./scripts/py-venv",
                    python.display()
                )
            });
        assert_eq!(ready["ready"], true, "{ready}");
        Self {
            process: Arc::new(Mutex::new(Process {
                _child: child,
                stdin,
                stdout,
            })),
        }
    }

    async fn call(&self, command: Value) -> Value {
        let mut process = self.process.lock().await;
        let mut line = command.to_string();
        line.push('\n');
        process
            .stdin
            .write_all(line.as_bytes())
            .await
            .expect("write");
        let answer =
            tokio::time::timeout(WAIT + Duration::from_secs(5), process.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("the driver did not answer {command}"))
                .expect("read")
                .expect("the driver exited");
        serde_json::from_str(&answer).expect("a JSON answer")
    }

    /// A client connected to `namespace`; it panics if the connection fails.
    pub async fn connect(&self, name: &str, base: &str, namespace: &str) -> Client {
        self.connect_with(name, base, namespace, Value::Null, json!({}))
            .await
            .unwrap_or_else(|error| panic!("{name} could not connect: {error}"))
    }

    /// A client with the given transports (`["polling"]`, `["websocket"]`, or null for
    /// the default: polling, then upgrade) and request headers.
    pub async fn connect_with(
        &self,
        name: &str,
        base: &str,
        namespace: &str,
        transports: Value,
        headers: Value,
    ) -> Result<Client, String> {
        let command = json!({
            "cmd": "connect", "client": name, "url": base, "namespace": namespace,
            "transports": transports, "headers": headers,
        });
        self.connect_command(name, command).await
    }

    /// A client sending `auth` in its connect packet (as browsers send an API key).
    pub async fn connect_with_auth(
        &self,
        name: &str,
        base: &str,
        auth: Value,
    ) -> Result<Client, String> {
        let command = json!({
            "cmd": "connect", "client": name, "url": base, "namespace": "/", "auth": auth,
        });
        self.connect_command(name, command).await
    }

    async fn connect_command(&self, name: &str, command: Value) -> Result<Client, String> {
        let answer = self.call(command).await;
        if answer["ok"] != true {
            return Err(answer["error"].as_str().unwrap_or("?").to_owned());
        }
        Ok(Client {
            driver: self.clone(),
            name: name.to_owned(),
        })
    }
}

/// One received event.
pub type Received = (String, Value);

pub struct Client {
    driver: Driver,
    name: String,
}

impl Client {
    pub async fn emit(&self, event: &str, data: Value) {
        let answer = self
            .driver
            .call(json!({"cmd": "emit", "client": self.name, "event": event, "data": data}))
            .await;
        assert_eq!(answer["ok"], true, "{answer}");
    }

    /// Emits an event with no payload at all.
    pub async fn emit_bare(&self, event: &str) {
        let answer = self
            .driver
            .call(json!({"cmd": "emit", "client": self.name, "event": event}))
            .await;
        assert_eq!(answer["ok"], true, "{answer}");
    }

    /// Every event so far, once `count` events named `event` have arrived; panics after
    /// [`WAIT`].
    pub async fn wait_for_count(&self, event: &str, count: usize) -> Vec<Received> {
        let answer = self
            .driver
            .call(json!({
                "cmd": "wait", "client": self.name, "event": event, "count": count,
                "timeout": WAIT.as_secs_f64(),
            }))
            .await;
        let events = parse(&answer);
        assert_eq!(
            answer["ok"], true,
            "{}: no {count} × {event} within {WAIT:?}; got {events:#?}",
            self.name
        );
        events
    }

    pub async fn wait_for(&self, event: &str) -> Vec<Received> {
        self.wait_for_count(event, 1).await
    }

    /// The payload of the first event named `event`, once it arrived.
    pub async fn first(&self, event: &str) -> Value {
        let events = self.wait_for(event).await;
        events
            .into_iter()
            .find(|(name, _)| name == event)
            .unwrap()
            .1
    }

    pub async fn events(&self) -> Vec<Received> {
        parse(
            &self
                .driver
                .call(json!({"cmd": "events", "client": self.name}))
                .await,
        )
    }

    pub async fn transport(&self) -> String {
        let answer = self
            .driver
            .call(json!({"cmd": "transport", "client": self.name}))
            .await;
        answer["transport"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn disconnect(&self) {
        self.driver
            .call(json!({"cmd": "disconnect", "client": self.name}))
            .await;
    }
}

fn parse(answer: &Value) -> Vec<Received> {
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {answer}"))
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].clone()))
        .collect()
}

/// The events named `event`, in order.
pub fn named<'a>(events: &'a [Received], event: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(name, _)| name == event)
        .map(|(_, data)| data)
        .collect()
}

/// The names of the events, in order.
pub fn names(events: &[Received]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

/// The concatenated `content` of the `chat_chunk`s.
pub fn chunks_text(events: &[Received]) -> String {
    named(events, "chat_chunk")
        .iter()
        .map(|chunk| chunk["content"].as_str().unwrap())
        .collect()
}
