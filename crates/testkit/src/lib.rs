//! Test helpers for Locrit: [`FakeOllama`], an in-process HTTP server that
//! speaks Ollama's wire protocol (`/api/tags`, `/api/version`, `/api/show`,
//! `/api/chat`, `/api/embed`) with deterministic answers and failure knobs.
//!
//! ```no_run
//! # async fn demo() {
//! use locrit_testkit::{FakeFailure, FakeOllama};
//! let fake = FakeOllama::start().await; // one model, "llama3.2", context 4096
//! fake.set_reply("Hello there!");
//! fake.fail_next(FakeFailure::Http(500, "boom".into()));
//! let base_url = fake.url(); // "http://127.0.0.1:PORT"
//! // ... point the code under test at base_url ...
//! let prompts = fake.requests(); // every /api/chat body, in order
//! fake.shutdown().await;
//! # }
//! ```

mod api;
mod databases;
mod disk;
mod failure;
mod model;
mod respond;
mod server;

pub use databases::{POSTGRES_URL_VAR, TestDatabase, postgres_schema_url};
pub use disk::SmallDisk;
pub use failure::{Endpoint, FakeFailure};
pub use model::{ChatCall, ChatCallMessage, FakeModel, Reply, fake_embedding, tokenize};
pub use server::{DEFAULT_CONTEXT, DEFAULT_MODEL, FakeOllama, FakeOllamaBuilder, OLLAMA_VERSION};

/// Where `scripts/fetch-models` puts the embedded engine's models: `LOCRIT_MODELS_DIR`,
/// else `target/models` of the workspace. Real-model tests skip when they are absent.
pub fn models_dir() -> std::path::PathBuf {
    std::env::var_os("LOCRIT_MODELS_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/models"),
        Into::into,
    )
}

/// A `http://127.0.0.1:PORT` URL where nothing listens (the port was bound
/// then released), for "server down" tests. Another process could grab the
/// port in between, which is unlikely enough for tests.
pub fn unused_local_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
