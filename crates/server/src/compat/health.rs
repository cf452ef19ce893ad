//! Liveness (§1.1): the routes scripts ping before anything else.

use axum::routing::get;
use axum::{Json, Router};
use locrit_core::Core;
use locrit_domain::now;

use super::settings::timestamp;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<Core> {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/ping", get(ping))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "service": "Locrit API", "timestamp": timestamp(now())}))
}

async fn ping() -> Json<Value> {
    Json(json!({
        "success": true,
        "message": "Locrit API v1 is running",
        "timestamp": timestamp(now()),
        "version": "1.0.0",
    }))
}
