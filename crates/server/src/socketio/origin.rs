//! The Socket.IO handshake accepts the same browser origins as CORS (§0.3). CORS alone
//! does not protect a WebSocket: a page of any site may open one to this server and
//! read what it says, so a request that names another origin is refused outright.
//! The server's own origin (pages it serves) is allowed too, and so are clients that
//! send no `Origin` (not browsers).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The origins allowed to open a Socket.IO connection.
#[derive(Clone)]
pub(crate) struct OriginCheck {
    allowed: Arc<Vec<HeaderValue>>,
}

impl OriginCheck {
    pub(crate) fn new(allowed: Vec<HeaderValue>) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }

    /// The middleware: 403 for a Socket.IO request from an origin not on the list.
    pub(crate) async fn check(State(check): State<Self>, request: Request, next: Next) -> Response {
        let socket_io = request.uri().path().starts_with("/socket.io");
        let headers = request.headers();
        // Every `Origin` given must be allowed (a browser sends one; a forged second one
        // must not hide it).
        let refused = socket_io
            && headers.get_all(header::ORIGIN).iter().any(|origin| {
                !check.allowed.contains(origin) && !same_origin(origin, headers.get(header::HOST))
            });
        if refused {
            return ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Origin not allowed")
                .into_response();
        }
        next.run(request).await
    }
}

/// Whether `origin` is this server itself, as the request reached it.
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_own_origin_is_its_host() {
        let host = HeaderValue::from_static("127.0.0.1:5000");
        let same = |origin| same_origin(&HeaderValue::from_static(origin), Some(&host));
        assert!(same("http://127.0.0.1:5000"));
        assert!(same("https://127.0.0.1:5000"));
        assert!(!same("http://127.0.0.1:5001"));
        assert!(!same("http://evil.example"));
        assert!(!same("127.0.0.1:5000"));
        let origin = HeaderValue::from_static("http://127.0.0.1:5000");
        assert!(!same_origin(&origin, None));
    }
}
