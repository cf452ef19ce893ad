//! The whole HTTP application: every surface, and the layers they share.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use locrit_core::Core;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{self, AuthLayer};
use crate::rate_limit::PublicLimits;
use crate::socketio::{self, OriginCheck, SocketIoCloser, SocketIoSettings};
use crate::{ApiError, api, compat, ollama_api, openai};

/// The origins of the original's web clients, always allowed.
const DEFAULT_ORIGINS: [&str; 4] = [
    "http://localhost:5173",
    "http://localhost:5174",
    "http://localhost:3000",
    "http://localhost:3001",
];

/// HTTP settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Browser origins allowed besides the original's clients (CORS, Socket.IO).
    pub cors_origins: Vec<String>,
    /// The Socket.IO server's buffers.
    pub socketio: SocketIoSettings,
    /// Requests from this machine act as an admin without signing in. Only for a
    /// server that listens on loopback alone (`locrit serve` decides).
    pub local_trust: bool,
    /// Rate limits of the public chat, per visitor and per Locrit.
    pub public_limits: PublicLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            cors_origins: Vec::new(),
            socketio: SocketIoSettings::default(),
            local_trust: true,
            public_limits: PublicLimits::default(),
        }
    }
}

/// Builds the application.
pub fn router(core: Core, config: &ServerConfig) -> Router {
    app(core, config).0
}

/// Builds the application, and what closes its Socket.IO connections: call it when
/// shutting down, or a long-polling client holds the shutdown until its next ping.
pub fn app(core: Core, config: &ServerConfig) -> (Router, SocketIoCloser) {
    let routes = Router::new()
        .merge(api::router())
        .merge(auth::routes::router())
        .merge(compat::router(&config.public_limits))
        .merge(openai::router())
        .merge(ollama_api::router())
        .merge(locrit_web::router())
        .route_layer(axum::middleware::from_fn_with_state(
            core.clone(),
            auth::gate::check,
        ))
        .fallback(|| async { ApiError::not_found("Not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
        })
        .with_state(core.clone());
    let origins = OriginCheck::new(allowed_origins(&config.cors_origins));
    let (routes, closer) = socketio::layer(
        routes,
        core.clone(),
        &config.socketio,
        config.body_limit,
        origins,
    );
    let authentication = AuthLayer {
        core,
        local_trust: config.local_trust,
        origins: allowed_origins(&config.cors_origins),
    };
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        authentication,
        auth::authenticate,
    ));
    (with_layers(routes, config), closer)
}

/// The layers every route shares.
fn with_layers(routes: Router, config: &ServerConfig) -> Router {
    routes
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(cors(&config.cors_origins))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| -> Response {
                // The panic itself is logged by the hook; the client gets the usual shape.
                ApiError::internal().into_response()
            },
        ))
        .layer(TraceLayer::new_for_http())
}

/// The original's clients and the operator's origins.
fn allowed_origins(extra_origins: &[String]) -> Vec<HeaderValue> {
    DEFAULT_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(extra_origins.iter().cloned())
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect()
}

fn cors(extra_origins: &[String]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed_origins(extra_origins)))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("last-event-id"),
            crate::chat_clients::SESSION_HEADER,
            auth::CSRF_HEADER,
            auth::INVITATION_HEADER,
            compat::public::VISITOR_HEADER,
        ])
        .expose_headers([
            crate::chat_clients::SESSION_HEADER,
            compat::public::VISITOR_HEADER,
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600))
}

/// Serves the application on `listener` until `shutdown` resolves, then lets
/// requests in flight finish. Handlers may read the peer's address (`ConnectInfo`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Streamed replies are many small writes: send each at once rather than letting
    // Nagle's algorithm hold it for the previous one's acknowledgement.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    // Local trust needs each request's peer address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_the_usual_json_500() {
        async fn boom() -> &'static str {
            panic!("a bug")
        }
        let routes = Router::new().route("/boom", get(boom));
        let app = with_layers(routes, &ServerConfig::default());
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"success": false, "error": "internal error", "code": "internal"})
        );
    }
}
