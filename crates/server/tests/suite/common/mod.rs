//! A real Locrit server on a loopback port, over a fresh store, with a fake Ollama as
//! its default model server; and a small JSON client for it.
#![allow(dead_code)] // each test file uses its own part of this

use std::time::Duration;

use locrit_core::{Background, Core, GlobalConfigChanges, JobSettings};
use locrit_server::{ServerConfig, router, serve};
use locrit_store::StoreConfig;
use locrit_testkit::{FakeOllama, TestDatabase, models_dir};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub core: Core,
    pub ollama: FakeOllama,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    background: Option<Background>,
    db: TestDatabase,
}

/// Jobs retried and polled fast, so a test sees a job fail for good in well under a second.
pub fn test_job_settings() -> JobSettings {
    JobSettings {
        retry_base: Duration::from_millis(20),
        poll: Duration::from_millis(50),
        ..JobSettings::default()
    }
}

impl TestServer {
    /// A server on a new SQLite database.
    pub async fn start() -> Self {
        Self::start_with(TestDatabase::sqlite(), ServerConfig::default()).await
    }

    pub async fn start_with(db: TestDatabase, config: ServerConfig) -> Self {
        let store = StoreConfig::new(db.url());
        Self::launch(db, store, config, FakeOllama::start().await).await
    }

    /// A server on `db`, opened with the settings `store` makes from its URL.
    pub async fn start_with_store(
        db: TestDatabase,
        store: impl FnOnce(&str) -> StoreConfig,
    ) -> Self {
        let store = store(db.url());
        Self::launch(
            db,
            store,
            ServerConfig::default(),
            FakeOllama::start().await,
        )
        .await
    }

    async fn launch(
        db: TestDatabase,
        store: StoreConfig,
        config: ServerConfig,
        ollama: FakeOllama,
    ) -> Self {
        let store = locrit_store::open(&store).await.expect("open the store");
        // The real models, if `scripts/fetch-models` put them there (loaded on first use).
        let core = Core::new(store).with_embedded_models(models_dir());
        // Only if needed: a restarted server may be on a store that takes no writes.
        let configured = core.global_config().await.expect("read the settings");
        if configured.ollama_url() != ollama.url() {
            core.save_global_config(GlobalConfigChanges {
                ollama_base_url: Some(ollama.url()),
                ..Default::default()
            })
            .await
            .expect("point the server at the fake Ollama");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let background = core.start_background(test_job_settings());
        let app = router(core.clone(), &config);
        let task = tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            core,
            ollama,
            stop: Some(stop),
            task: Some(task),
            background: Some(background),
            db,
        }
    }

    /// Stops the server and starts a new one on the same database and model server, as
    /// after a restart.
    pub async fn restart(self) -> Self {
        self.restart_with_store(|url| StoreConfig::new(url)).await
    }

    /// Restarts on the same database opened with the settings `store` makes from its URL.
    pub async fn restart_with_store(mut self, store: impl FnOnce(&str) -> StoreConfig) -> Self {
        self.stop.take().map(|s| s.send(()));
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        if let Some(background) = self.background.take() {
            background.stop().await;
        }
        let Self { db, ollama, .. } = self;
        let store = store(db.url());
        Self::launch(db, store, ServerConfig::default(), ollama).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates an active Locrit (description "Expert") through the original's routes,
    /// then applies `settings` with `PUT /api/locrits/<name>/config`.
    pub async fn create_active_locrit(&self, name: &str, settings: Value) {
        let (status, body) = self
            .post(
                "/api/create-locrit",
                serde_json::json!({"name": name, "description": "Expert", "model": "llama3.2"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut update = serde_json::json!({"active": true});
        update
            .as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        let (status, body) = self
            .put(&format!("/api/locrits/{}/config", segment(name)), update)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Sends a raw body with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }
}

/// Reads a response that must be JSON (an empty body reads as `null`).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.bytes().await.expect("body read");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    assert!(
        content_type.starts_with("application/json"),
        "{status}: not JSON ({content_type}): {}",
        String::from_utf8_lossy(&bytes)
    );
    (
        status,
        serde_json::from_slice(&bytes).expect("valid JSON body"),
    )
}

/// Percent-encodes one path segment (a Locrit name).
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One Server-Sent Event, as a standard SSE client parses it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: Value,
}

/// The SSE events of a response, as they arrive.
pub fn sse_events(response: reqwest::Response) -> impl futures::Stream<Item = SseEvent> {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "an event stream"
    );
    response.bytes_stream().eventsource().map(|event| {
        let event = event.expect("a well-formed SSE event");
        SseEvent {
            event: event.event,
            id: event.id,
            data: serde_json::from_str(&event.data).expect("JSON data"),
        }
    })
}
