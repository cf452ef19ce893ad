//! Sending an answer as timed frames through a body channel, so the fake can
//! pace tokens, cut connections, and notice a client that went away.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::server::Shared;

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// An answer to send: a status, then frames each preceded by a delay.
pub(crate) struct Plan {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub frames: Vec<(Duration, Bytes)>,
    /// End by dropping the connection instead of finishing the body.
    pub cut: bool,
}

impl Plan {
    pub(crate) fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            content_type: JSON,
            frames: vec![(Duration::ZERO, Bytes::from(value.to_string()))],
            cut: false,
        }
    }

    /// Ollama's error shape.
    pub(crate) fn error(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::json(status, &json!({ "error": message }))
    }
}

pub(crate) fn send(shared: &Arc<Shared>, plan: Plan) -> Response {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(1);
    let shared = Arc::clone(shared);
    let frames = plan.frames;
    let cut = plan.cut;
    tokio::spawn(async move {
        if let Outcome::ClientGone = produce(&shared, &tx, frames, cut).await {
            shared.aborted.fetch_add(1, Ordering::SeqCst);
        }
    });
    Response::builder()
        .status(plan.status)
        .header(header::CONTENT_TYPE, plan.content_type)
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

enum Outcome {
    Sent,
    ClientGone,
    Shutdown,
}

async fn produce(
    shared: &Shared,
    tx: &mpsc::Sender<io::Result<Bytes>>,
    frames: Vec<(Duration, Bytes)>,
    cut: bool,
) -> Outcome {
    for (delay, bytes) in frames {
        if !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return Outcome::ClientGone,
                () = shared.cancel.cancelled() => {
                    // An error body makes hyper drop the connection at once.
                    let _ = tx.send(Err(io::Error::other("fake Ollama shut down"))).await;
                    return Outcome::Shutdown;
                }
            }
        }
        if tx.send(Ok(bytes)).await.is_err() {
            return Outcome::ClientGone;
        }
    }
    if cut {
        let _ = tx
            .send(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "fake cut",
            )))
            .await;
    }
    Outcome::Sent
}
