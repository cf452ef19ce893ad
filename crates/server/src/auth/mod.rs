//! Who is asking, decided once per request before any route runs, and what each kind
//! of requester may reach. Routes then read the [`Requester`] with [`Who`]; the
//! per-Locrit rules are [`locrit_domain::policy`]'s, applied by [`gate`].
//!
//! Credentials, in this order: an API key (`Authorization: Bearer lk_…`), a login
//! session (the `locrit_session` cookie, with the `X-CSRF-Token` header on any request
//! that changes something), then local trust. A wrong key is a 401, never a silent
//! downgrade to anonymous (but under local trust, a bearer that is not a Locrit key at
//! all is ignored: OpenAI clients cannot send none).

pub(crate) mod gate;
pub(crate) mod routes;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use locrit_core::{API_KEY_PREFIX, Core};
use locrit_domain::{Caller, Locrit, Requester, Scope, Session};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// The cookie of a login session.
pub const SESSION_COOKIE: &str = "locrit_session";
/// The header that must echo the login's CSRF token on state-changing requests.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");
/// The header (or `invitation` field) carrying an invitation token.
pub const INVITATION_HEADER: HeaderName = HeaderName::from_static("x-locrit-invitation");

/// What the authentication layer needs to know about the server.
#[derive(Clone)]
pub(crate) struct AuthLayer {
    pub core: Core,
    /// Requests from this machine act as an admin (the server listens on loopback only).
    pub local_trust: bool,
    /// Browser origins allowed to act under local trust (the CORS list).
    pub origins: Vec<HeaderValue>,
}

/// Authenticates the request and lets it through if its requester may reach the route.
pub(crate) async fn authenticate(
    State(layer): State<AuthLayer>,
    request: Request,
    next: Next,
) -> Response {
    // The parts alone: a body is not `Sync`, so a reference to it cannot cross an await.
    let (mut parts, body) = request.into_parts();
    let requester = match identify(&layer, &parts).await {
        Ok(requester) => requester,
        Err(error) => return refusal(parts.uri.path(), error),
    };
    if let Err(error) = admit(&requester, &parts.method, parts.uri.path()) {
        return refusal(parts.uri.path(), error);
    }
    parts.extensions.insert(requester);
    next.run(Request::from_parts(parts, body)).await
}

/// A refusal in the words of the protocol the path belongs to: OpenAI's and Ollama's
/// clients read errors in their own shape.
fn refusal(path: &str, error: ApiError) -> Response {
    if path.starts_with("/v1/") {
        crate::openai::OpenAiError::from(error).into_response()
    } else if crate::ollama_api::PATHS.contains(&path) {
        crate::ollama_api::OllamaError::from(error).into_response()
    } else {
        error.into_response()
    }
}

async fn identify(layer: &AuthLayer, request: &Parts) -> Result<Requester, ApiError> {
    let headers = &request.headers;
    let local = layer.local_trust && is_local(request, &layer.origins);
    if let Some(token) = bearer(headers)? {
        // OpenAI and Ollama clients always send some key; on this machine, one that is
        // not a Locrit key is no credential at all, as it was to the original.
        if !local || token.starts_with(API_KEY_PREFIX) {
            return layer
                .core
                .authenticate_key(token)
                .await?
                .ok_or_else(|| unauthenticated("this API key is not valid (unknown or revoked)"));
        }
    }
    if let Some(token) = session_token(headers)
        && let Some(login) = layer.core.login(&token).await?
    {
        if !is_safe(&request.method) {
            let sent = headers
                .get(CSRF_HEADER)
                .map_or(&[][..], HeaderValue::as_bytes);
            if !bool::from(sent.ct_eq(login.csrf_token.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "this request needs the X-CSRF-Token header of your sign-in",
                ));
            }
        }
        return Ok(Requester::Account {
            account: login.account,
            key: None,
        });
    }
    if local {
        return Ok(Requester::Local);
    }
    Ok(Requester::Anonymous)
}

/// The token of the sign-in cookie, if the request has one.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

/// The token of `Authorization: Bearer <token>`, if the header is there.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|token| Some(token.trim()))
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <API key>`"))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Local trust holds for a request from a loopback address, to a loopback host name
/// (not a rebound DNS name), and, from a browser, from a loopback or allowed origin
/// (not a web page elsewhere making the browser call this machine).
fn is_local(request: &Parts, origins: &[HeaderValue]) -> bool {
    let from_loopback = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    let headers = &request.headers;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri.host());
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            origins.contains(origin)
                || origin
                    .to_str()
                    .ok()
                    .and_then(|o| o.split_once("://"))
                    .is_some_and(|(_, host)| is_loopback_host(host))
        }
    };
    from_loopback && host.is_some_and(is_loopback_host) && origin_ok
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What a route needs of its requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RouteNeeds {
    /// Reachable without credentials (each such route applies its own Locrit flags).
    open: bool,
    /// The scope an API key needs for it; Socket.IO checks its own events (chat needs
    /// the chat scope, watching memory reading).
    scope: Option<Scope>,
    /// Only a signed-in person, never an API key (accounts and keys themselves).
    sign_in_only: bool,
}

/// The access table of the routes, by path: see `docs/ACCESS.md`.
fn route_needs(method: &Method, path: &str) -> RouteNeeds {
    let open =
        !(path.starts_with("/api/") || path.starts_with("/config/") || path.starts_with("/v1/"))
            || path.starts_with("/api/v1/")
            || matches!(
                path,
                "/api/v2/auth/status"
                    | "/api/v2/auth/login"
                    | "/api/v2/auth/logout"
                    | "/api/v2/auth/setup"
                    | "/api/v2/openapi.json"
            );
    let sign_in_only = path.starts_with("/api/v2/auth/keys")
        || path.starts_with("/api/v2/accounts")
        || path == "/api/v2/auth/password";
    let scope = if path.starts_with("/socket.io") {
        None
    } else if is_safe(method) {
        Some(Scope::Read)
    } else if is_chat(path) {
        Some(Scope::Chat)
    } else {
        Some(Scope::Manage)
    };
    RouteNeeds {
        open,
        scope,
        sign_in_only,
    }
}

/// The routes that run a chat turn (or stop one), on every surface.
fn is_chat(path: &str) -> bool {
    path.ends_with("/chat")
        || path.ends_with("/chat/stream")
        || matches!(
            path,
            "/v1/chat/completions" | "/api/generate" | "/api/conversations/create"
        )
        || (path.starts_with("/api/v2/locrits/") && path.ends_with("/messages"))
        || path.starts_with("/api/v2/turns/")
        || (path.starts_with("/api/conversations/") && path.ends_with("/message"))
}

fn admit(requester: &Requester, method: &Method, path: &str) -> Result<(), ApiError> {
    let needs = route_needs(method, path);
    match requester {
        Requester::Anonymous if !needs.open => Err(unauthenticated(
            "sign in, or send an API key as `Authorization: Bearer <key>`",
        )),
        Requester::Account { key: Some(_), .. } => {
            if needs.sign_in_only {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "sign_in_required",
                    "API keys cannot manage accounts or keys: sign in",
                ))
            } else {
                match needs.scope {
                    Some(scope) if !requester.allows(scope) => Err(missing_scope(scope)),
                    _ => Ok(()),
                }
            }
        }
        _ => Ok(()),
    }
}

fn missing_scope(scope: Scope) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!("this API key lacks the {} scope", scope.as_str()),
    )
}

pub(crate) fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

/// The requester of this request, as the authentication layer found it (anonymous
/// when the layer did not run).
pub struct Who(pub Requester);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Who(parts
            .extensions
            .get::<Requester>()
            .cloned()
            .unwrap_or(Requester::Anonymous)))
    }
}

/// The user a turn or a conversation is stored under: the owner may name any (the
/// original's clients do); anyone else is who their credentials say.
pub(crate) fn acting_user(
    requester: &Requester,
    caller: Caller,
    claimed: Option<String>,
) -> Option<String> {
    if caller == Caller::Owner {
        claimed
    } else {
        requester.user_id().or(claimed)
    }
}

/// Whether `requester` may use the conversation `session`: the owner any; a signed-in
/// person only their own; others by holding its (unguessable) id.
pub(crate) fn may_enter(requester: &Requester, caller: Caller, session: &Session) -> bool {
    caller == Caller::Owner
        || requester
            .user_id()
            .is_none_or(|me| session.user_id.as_deref() == Some(me.as_str()))
}

/// Whether `requester` may write into the session `key` of `locrit`: the owner into any;
/// anyone else into one that does not exist yet (theirs to open) or that they may enter.
/// A session of someone else is `NotFound`, as if it did not exist.
pub(crate) async fn may_continue(
    core: &Core,
    requester: &Requester,
    caller: Caller,
    locrit: &Locrit,
    key: &str,
) -> Result<(), locrit_core::Error> {
    if caller == Caller::Owner {
        return Ok(());
    }
    match core.session(locrit, key).await {
        Ok(session) if !may_enter(requester, caller, &session) => {
            Err(locrit_core::Error::NotFound("session"))
        }
        Ok(_) | Err(locrit_core::Error::NotFound(_)) => Ok(()),
        Err(other) => Err(other),
    }
}

/// What `requester` is to `locrit` on the original's human entry points (Socket.IO,
/// v1 human senders), whose contract gates everyone on `open_to.humans`: local trust
/// keeps that gate; credentials count as anywhere else.
pub(crate) async fn human_caller(
    core: &Core,
    requester: &Requester,
    locrit: &Locrit,
    invitation: Option<&str>,
) -> Result<Caller, locrit_core::Error> {
    match requester {
        Requester::Local => Ok(Caller::Human),
        other => core.caller(other, locrit, invitation).await,
    }
}

/// Whether `requester` may make this server call `url` (list its models): an admin any
/// URL; anyone else only a server already in use, the default one or one of their
/// Locrits', so the server cannot be made to probe a network for them.
pub(crate) async fn may_probe(
    core: &Core,
    requester: &Requester,
    url: &str,
) -> Result<(), ApiError> {
    if requester.is_admin() {
        return Ok(());
    }
    let same = |known: &str| known.trim_end_matches('/') == url.trim_end_matches('/');
    if same(&core.global_config().await?.ollama.base_url) {
        return Ok(());
    }
    let managed = core.managed_locrits(requester).await?;
    if managed
        .iter()
        .any(|locrit| locrit.ollama_url.as_deref().is_some_and(same))
    {
        return Ok(());
    }
    Err(admin_only(
        "only an admin may make the server call another URL",
    ))
}

/// Whether `requester` administers the server; a 403 otherwise.
pub(crate) fn require_admin(requester: &Requester) -> Result<(), ApiError> {
    if requester.is_admin() {
        Ok(())
    } else {
        Err(admin_only("only an admin may do this"))
    }
}

fn admin_only(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "admin_only", message)
}

/// The invitation token a request carries, if any.
pub(crate) fn invitation(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(INVITATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.evil.com:5000",
            "10.0.0.1:5000",
            "[::2]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_route_table() {
        let get = Method::GET;
        let post = Method::POST;
        let cases = [
            (&get, "/", true, Scope::Read),
            (&get, "/public/list", true, Scope::Read),
            (&post, "/public/Bob/chat", true, Scope::Chat),
            (&get, "/api/v1/locrits", true, Scope::Read),
            (&post, "/api/v2/auth/login", true, Scope::Manage),
            (&get, "/api/locrits", false, Scope::Read),
            (&post, "/api/locrits/Bob/chat", false, Scope::Chat),
            (&post, "/api/locrits/Bob/delete", false, Scope::Manage),
            (&post, "/v1/chat/completions", false, Scope::Chat),
            (&post, "/api/chat", false, Scope::Chat),
            (
                &post,
                "/api/v2/locrits/x/sessions/s/messages",
                false,
                Scope::Chat,
            ),
            (&post, "/api/v2/locrits/x/sessions", false, Scope::Manage),
            (&post, "/config/save", false, Scope::Manage),
        ];
        for (method, path, open, scope) in cases {
            let needs = route_needs(method, path);
            assert_eq!(
                (needs.open, needs.scope),
                (open, Some(scope)),
                "{method} {path}"
            );
        }
        let socket_io = route_needs(&post, "/socket.io/");
        assert_eq!((socket_io.open, socket_io.scope), (true, None));
        assert!(route_needs(&get, "/api/v2/auth/keys").sign_in_only);
        assert!(!route_needs(&get, "/api/v2/auth/status").sign_in_only);
    }
}
