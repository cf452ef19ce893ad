//! The bodies of Locrit's fuzz targets, one function per target taking the fuzzer's
//! bytes. A bug is a panic: a crash, a 500, an error that is not JSON, a store left
//! inconsistent. `fuzz/` runs them under libFuzzer (`scripts/fuzz`); this crate's
//! test replays the saved corpus (`fuzz/corpus/<target>/`) through them, so every
//! finding kept there is checked by `cargo test` too.

mod archive;
mod config;
mod harness;
mod http;
mod json;
mod socketio;

pub use archive::archive_import;
pub use config::config_import;
pub use http::http_request;
pub use socketio::socketio_packets;

/// A target's body: one input, a panic on a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/` file and corpus folder.
pub const TARGETS: [(&str, Target); 4] = [
    ("config_import", config_import),
    ("archive_import", archive_import),
    ("http_request", http_request),
    ("socketio_packets", socketio_packets),
];
