//! engine.io refuses a request (a malformed packet, an unknown session) with a bare
//! status and no body; every error of this server is JSON, so it gets one here (a fuzz
//! finding). Socket.IO clients read only the status.

use axum::body::HttpBody;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let socket_io = request.uri().path().starts_with("/socket.io");
    let response = next.run(request).await;
    let bare =
        response.status().is_client_error() && response.body().size_hint().exact() == Some(0);
    if !socket_io || !bare {
        return response;
    }
    ApiError::new(
        response.status(),
        "socketio_refused",
        "the Socket.IO transport refused this request",
    )
    .into_response()
}
