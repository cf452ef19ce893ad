use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::failure::{Endpoint, Failures, FakeFailure};
use crate::model::{FakeModel, Reply, canonical_name};

/// The model a fresh fake has.
pub const DEFAULT_MODEL: &str = "llama3.2";
/// Its context length. The real llama3.2 reports 131072; a small window makes
/// context-budget tests cheap.
pub const DEFAULT_CONTEXT: u32 = 4096;
/// What `/api/version` answers.
pub const OLLAMA_VERSION: &str = "0.12.6";
const DEFAULT_EMBED_DIM: usize = 384;

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Streams whose client went away before the last frame.
    pub(crate) aborted: AtomicUsize,
    pub(crate) cancel: CancellationToken,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test must not poison the fake for the others.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
pub(crate) struct State {
    /// Keyed by canonical name (`name:tag`).
    pub(crate) models: BTreeMap<String, FakeModel>,
    pub(crate) reply: Reply,
    /// The answer to structured (`format`) requests; `None`: the smallest value the
    /// requested JSON schema accepts.
    pub(crate) structured_reply: Option<Reply>,
    pub(crate) token_delay: Duration,
    pub(crate) embed_dim: usize,
    pub(crate) failures: Failures,
    pub(crate) requests: Vec<(Endpoint, Value)>,
}

impl State {
    pub(crate) fn model(&self, name: &str) -> Option<&FakeModel> {
        self.models.get(&canonical_name(name))
    }

    fn insert(&mut self, model: FakeModel) {
        self.models.insert(model.name.clone(), model);
    }
}

impl Default for State {
    fn default() -> Self {
        let mut state = Self {
            models: BTreeMap::new(),
            reply: Reply::default(),
            structured_reply: None,
            token_delay: Duration::ZERO,
            embed_dim: DEFAULT_EMBED_DIM,
            failures: Failures::default(),
            requests: Vec::new(),
        };
        state.insert(FakeModel::new(DEFAULT_MODEL, DEFAULT_CONTEXT));
        state
    }
}

/// Configures a [`FakeOllama`] before it starts. Everything here can also be
/// changed on the running fake.
#[derive(Debug, Default)]
pub struct FakeOllamaBuilder {
    state: State,
}

impl FakeOllamaBuilder {
    /// Drops the default `llama3.2` model.
    pub fn without_default_model(mut self) -> Self {
        self.state.models.clear();
        self
    }

    pub fn model(mut self, name: &str, context_length: impl Into<Option<u32>>) -> Self {
        self.state.insert(FakeModel::new(name, context_length));
        self
    }

    pub fn fake_model(mut self, model: FakeModel) -> Self {
        self.state.insert(model);
        self
    }

    pub fn reply(mut self, reply: impl Into<Reply>) -> Self {
        self.state.reply = reply.into();
        self
    }

    pub fn token_delay(mut self, delay: Duration) -> Self {
        self.state.token_delay = delay;
        self
    }

    pub fn embed_dim(mut self, dim: usize) -> Self {
        self.state.embed_dim = dim;
        self
    }

    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(self) -> FakeOllama {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Ollama: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake Ollama: local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(self.state),
            aborted: AtomicUsize::new(0),
            cancel: CancellationToken::new(),
        });
        let app = crate::api::router(Arc::clone(&shared));
        let stop = shared.cancel.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            // Streamed lines are small writes: without NODELAY, Nagle and delayed ACKs
            // hold each one back by ~40 ms, as a real Ollama does not.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        });
        FakeOllama {
            addr,
            url: format!("http://{addr}"),
            shared,
            task: Some(task),
        }
    }
}

/// A fake Ollama server on a free loopback port. Stops on
/// [`shutdown`](Self::shutdown) or drop; in-flight streams are then cut.
pub struct FakeOllama {
    addr: SocketAddr,
    url: String,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl FakeOllama {
    /// Starts a fake with the defaults: model `llama3.2` (context 4096),
    /// reply `"You said: <last user message>"`, no token delay, 384-dim
    /// embeddings, no failures.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> FakeOllamaBuilder {
        FakeOllamaBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds (or replaces) a `llama`-architecture model.
    pub fn add_model(&self, name: &str, context_length: impl Into<Option<u32>>) {
        self.add_fake_model(FakeModel::new(name, context_length));
    }

    pub fn add_fake_model(&self, model: FakeModel) {
        self.shared.lock().insert(model);
    }

    /// True if the model was there.
    pub fn remove_model(&self, name: &str) -> bool {
        self.shared
            .lock()
            .models
            .remove(&canonical_name(name))
            .is_some()
    }

    pub fn set_reply(&self, reply: impl Into<Reply>) {
        self.shared.lock().reply = reply.into();
    }

    /// What structured requests (with a `format`) are answered; by default the smallest
    /// value their JSON schema accepts.
    pub fn set_structured_reply(&self, reply: impl Into<Reply>) {
        self.shared.lock().structured_reply = Some(reply.into());
    }

    /// Delay before each streamed token (with `"stream": false`, the sum of
    /// them before the answer).
    pub fn set_token_delay(&self, delay: Duration) {
        self.shared.lock().token_delay = delay;
    }

    pub fn set_embed_dim(&self, dim: usize) {
        self.shared.lock().embed_dim = dim;
    }

    /// Makes the next `/api/chat` request fail. Queued one-shot failures are
    /// used in order, before any persistent one.
    pub fn fail_next(&self, failure: FakeFailure) {
        self.fail_next_on(Endpoint::Chat, failure);
    }

    pub fn fail_next_on(&self, endpoint: Endpoint, failure: FakeFailure) {
        self.shared.lock().failures.push_once(endpoint, failure);
    }

    /// Makes every `/api/chat` request fail until [`clear_failures`](Self::clear_failures)
    /// (replacing an earlier persistent failure on the same endpoint).
    pub fn fail_always(&self, failure: FakeFailure) {
        self.fail_always_on(Endpoint::Chat, failure);
    }

    pub fn fail_always_on(&self, endpoint: Endpoint, failure: FakeFailure) {
        self.shared.lock().failures.set_always(endpoint, failure);
    }

    /// Drops both one-shot and persistent failures, on every endpoint.
    pub fn clear_failures(&self) {
        self.shared.lock().failures.clear();
    }

    /// Every conversation `/api/chat` request body received (valid JSON ones, failed
    /// requests included), in arrival order; structured requests (with a `format`) are
    /// apart, under [`Endpoint::StructuredChat`].
    pub fn requests(&self) -> Vec<Value> {
        self.requests_on(Endpoint::Chat)
    }

    /// Bodies received on a POST endpoint; GET endpoints record `null`.
    pub fn requests_on(&self, endpoint: Endpoint) -> Vec<Value> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|(e, _)| *e == endpoint)
            .map(|(_, body)| body.clone())
            .collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many answers were abandoned because the client went away before
    /// the last frame, i.e. how many generations a client cancelled.
    pub fn aborted_streams(&self) -> usize {
        self.shared.aborted.load(Ordering::SeqCst)
    }

    /// Stops accepting, cuts in-flight streams, and waits for the server task.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        // The serve task notices this and winds down on its own.
        self.shared.cancel.cancel();
    }
}
