//! The server's integration tests, one binary: each module a surface or a promise,
//! `common` the test server they share (a real router on a loopback port, the fake
//! Ollama, SQLite or PostgreSQL). One binary links once and runs them all in parallel.

#[path = "chat_clients/driver.rs"]
mod chat_clients;
mod common;
#[path = "socketio/driver.rs"]
mod socketio_driver;

mod access;
mod api_archive;
mod api_chat;
mod api_locrits;
mod api_memory;
mod api_server;
mod compat_chat;
mod compat_management;
mod compat_memory;
mod dialogues;
mod embedded_chat;
mod hostile;
mod logs;
mod ollama_api;
mod openai_api;
mod public;
mod search;
mod socketio;
mod store_faults;
