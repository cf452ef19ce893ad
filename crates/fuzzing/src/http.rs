//! The whole HTTP surface: any method, route, parameters, headers and body through the
//! router, as a client on this machine (local trust) or elsewhere.

use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Response, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tower::ServiceExt;

use crate::harness::{Harness, harness};
use crate::json::{Json, Text};

/// The routes, `{…}` standing for a parameter the input chooses.
const ROUTES: [&str; 88] = [
    "/health",
    "/boom",
    "/search",
    "/config/save",
    "/config/test-ollama",
    "/api/config",
    "/api/config/save",
    "/api/create-locrit",
    "/api/test-create",
    "/api/locrits",
    "/api/locrits/{}/chat",
    "/api/locrits/{}/chat/stream",
    "/api/locrits/{}/delete",
    "/api/locrits/{}/rename",
    "/api/locrits/{}/toggle",
    "/api/locrits/{}/toggle-edit",
    "/api/locrits/{}/config",
    "/api/ollama/status",
    "/api/ollama/models",
    "/api/conversations",
    "/api/conversations/create",
    "/api/conversations/{}",
    "/api/conversations/{}/info",
    "/api/conversations/{}/message",
    "/api/locrits/{}/memory/summary",
    "/api/locrits/{}/memory/search",
    "/api/locrits/{}/memory/stats",
    "/api/locrits/{}/memory/sessions",
    "/api/locrits/{}/memory/sessions/{}",
    "/api/locrits/{}/memory/sessions/{}/messages",
    "/api/locrits/{}/memory/messages/{}",
    "/api/locrits/{}/memory/memories",
    "/api/locrits/{}/memory/memories/{}",
    "/api/locrits/{}/memory/concepts",
    "/api/locrits/{}/memory/concepts/details",
    "/api/locrits/{}/memory/concepts/{}/related",
    "/api/locrits/{}/memory/concepts/{}",
    "/api/locrits/{}/memory/clear",
    "/api/v1/locrits/{}/memory/sessions/{}",
    "/api/v1/ping",
    "/api/v1/locrits",
    "/api/v1/locrits/{}/chat",
    "/api/v1/locrits/{}/chat/stream",
    "/api/v1/locrits/{}/info",
    "/api/v2/accounts",
    "/api/v2/accounts/{}",
    "/api/v2/auth/keys",
    "/api/v2/auth/keys/{}",
    "/api/v2/auth/login",
    "/api/v2/auth/logout",
    "/api/v2/auth/password",
    "/api/v2/auth/setup",
    "/api/v2/auth/status",
    "/api/v2/dialogues/{}",
    "/api/v2/dialogues/{}/pause",
    "/api/v2/dialogues/{}/resume",
    "/api/v2/dialogues/{}/steer",
    "/api/v2/dialogues/{}/stop",
    "/api/v2/import/config",
    "/api/v2/status",
    "/api/v2/openapi.json",
    "/api/v2/locrits",
    "/api/v2/locrits/import",
    "/api/v2/locrits/{}",
    "/api/v2/locrits/{}/activity",
    "/api/v2/locrits/{}/concepts",
    "/api/v2/locrits/{}/concepts/{}",
    "/api/v2/locrits/{}/dialogues",
    "/api/v2/locrits/{}/jobs",
    "/api/v2/locrits/{}/memory",
    "/api/v2/locrits/{}/memory/clear",
    "/api/v2/locrits/{}/memories",
    "/api/v2/locrits/{}/memories/{}",
    "/api/v2/locrits/{}/messages/{}",
    "/api/v2/locrits/{}/messages/{}/recall",
    "/api/v2/locrits/{}/search",
    "/api/v2/locrits/{}/sessions",
    "/api/v2/locrits/{}/sessions/{}",
    "/api/v2/locrits/{}/sessions/{}/messages",
    "/api/v2/locrits/{}/invitations",
    "/api/v2/locrits/{}/contacts",
    "/public/list",
    "/public/{}",
    "/public/{}/chat",
    "/public/{}/chat/history",
    "/v1/chat/completions",
    "/v1/models",
    "/api/chat",
];

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

#[derive(Arbitrary, Debug)]
enum Param {
    BobId,
    BobName,
    Id(u128),
    Any(Text),
}

#[derive(Arbitrary, Debug)]
enum Header {
    ContentType(Text),
    Json,
    Authorization(Text),
    Cookie(Text),
    Origin(Text),
    Accept(Text),
    Other(Text, Text),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    None,
    Json(Json),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    route: u8,
    params: Vec<Param>,
    /// Appended to the path as it is (unencoded).
    suffix: Option<String>,
    query: Vec<(Text, Text)>,
    headers: Vec<Header>,
    payload: Payload,
    from_elsewhere: bool,
}

/// Any request: no panic; no 5xx but a 503 (a model server down); every error JSON.
pub fn http_request(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let h = harness();
    let Some(request) = input.request(h) else {
        return;
    };
    h.block_on(async {
        let shown = format!("{} {}", request.method(), request.uri());
        let response = h.send(request).await;
        h.assert_answer(&shown, response).await;
    });
}

impl Input {
    fn request(&self, h: &Harness) -> Option<Request<Body>> {
        let route = ROUTES[usize::from(self.route) % ROUTES.len()];
        let mut params = self.params.iter().map(|p| p.segment(h));
        let mut path = String::new();
        for (i, part) in route.split("{}").enumerate() {
            if i > 0 {
                path.push_str(&params.next().unwrap_or_else(|| h.bob.name.clone()));
            }
            path.push_str(part);
        }
        path.push_str(self.suffix.as_deref().unwrap_or_default());
        if !self.query.is_empty() {
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k.as_str()), encode(v.as_str())))
                .collect();
            path = format!("{path}?{}", pairs.join("&"));
        }
        let method = METHODS[usize::from(self.method) % METHODS.len()].clone();
        let mut request = Request::builder().method(method).uri(path);
        for header in &self.headers {
            let (name, value) = header.pair();
            request = request.header(name, value);
        }
        let body = match &self.payload {
            Payload::None => Body::empty(),
            Payload::Json(json) => Body::from(json.to_value().to_string()),
            Payload::Raw(bytes) => Body::from(bytes.clone()),
        };
        let mut request = request.body(body).ok()?;
        let peer: SocketAddr = if self.from_elsewhere {
            ([203, 0, 113, 7], 40000).into()
        } else {
            ([127, 0, 0, 1], 40000).into()
        };
        request.extensions_mut().insert(ConnectInfo(peer));
        Some(request)
    }
}

impl Param {
    fn segment(&self, h: &Harness) -> String {
        match self {
            Param::BobId => h.bob.id.to_string(),
            Param::BobName => encode(&h.bob.name),
            Param::Id(id) => uuid::Uuid::from_u128(*id).to_string(),
            Param::Any(text) => encode(text.as_str()),
        }
    }
}

impl Header {
    fn pair(&self) -> (&str, &str) {
        match self {
            Header::ContentType(t) => ("content-type", t.as_str()),
            Header::Json => ("content-type", "application/json"),
            Header::Authorization(t) => ("authorization", t.as_str()),
            Header::Cookie(t) => ("cookie", t.as_str()),
            Header::Origin(t) => ("origin", t.as_str()),
            Header::Accept(t) => ("accept", t.as_str()),
            Header::Other(name, value) => (name.as_str(), value.as_str()),
        }
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// How long a successful answer is read: event streams may never end.
const SUCCESS_READ: Duration = Duration::from_millis(500);
/// An error body is small and complete: not read within this, it hangs.
const ERROR_READ: Duration = Duration::from_secs(10);

impl Harness {
    pub(crate) async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.app
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers every request")
    }

    /// No 5xx but 503; an error's body is JSON.
    pub(crate) async fn assert_answer(&self, shown: &str, response: Response<Body>) {
        let status = response.status();
        assert!(
            status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE,
            "{shown} answered {status}"
        );
        let body = response.into_body();
        if status.is_success() || status.is_redirection() || status.is_informational() {
            let _ = tokio::time::timeout(SUCCESS_READ, to_bytes(body, usize::MAX)).await;
            return;
        }
        let bytes = tokio::time::timeout(ERROR_READ, to_bytes(body, usize::MAX))
            .await
            .unwrap_or_else(|_| panic!("{shown}: the {status} body never ends"))
            .unwrap_or_else(|e| panic!("{shown}: the {status} body fails: {e}"));
        assert!(
            serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
            "{shown} answered {status} with a body that is not JSON: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}
