//! Locrit's web app: plain HTML, CSS and JavaScript modules (no build step), embedded
//! in the binary and served at `/`.
//!
//! Every client route answers the app shell, which routes in the browser. Only the
//! embedded files are routes, so an unknown path (an asset, `/api/…`) falls through to
//! the server's JSON 404.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::{EmbeddedFile, RustEmbed};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// The app's pages; each answers the shell.
pub const CLIENT_ROUTES: [&str; 15] = [
    "/",
    "/login",
    "/setup",
    "/account",
    "/my-locrits",
    "/create-locrit",
    "/settings",
    "/my-locrits/{name}/settings",
    "/my-locrits/{name}/chat",
    "/my-locrits/{name}/memory-explorer",
    "/conversations",
    "/conversations/{id}",
    "/explore",
    "/p/{name}",
    EMBED_ROUTE,
];

/// The compact public chat the widget frames: the one page any site may put in a frame.
pub const EMBED_ROUTE: &str = "/p/{name}/embed";

/// The widget's script, at a short address for the snippet
/// `<script src="https://host/widget.js" data-locrit="Name" async></script>`.
const WIDGET_ROUTE: &str = "/widget.js";
const WIDGET_FILE: &str = "widget.js";

const SHELL: &str = "index.html";

/// Where the assets are served.
const ASSET_PREFIX: &str = "/assets/";

/// No inline script or style, nothing from elsewhere, never in a frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The same for the embedded chat, which any site may frame.
const EMBED_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors *";

/// The app's routes, for the server to merge. Every page refuses to be framed except
/// the embedded chat ([`EMBED_ROUTE`]).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let shell = get(|headers: HeaderMap| async move { serve(SHELL, &headers) });
    let pages = CLIENT_ROUTES
        .iter()
        .filter(|path| **path != EMBED_ROUTE)
        .fold(Router::new(), |router, path| {
            router.route(path, shell.clone())
        });
    let assets = Assets::iter()
        .filter(|file| file != SHELL)
        .fold(pages, |router, file| {
            let path = format!("{ASSET_PREFIX}{file}");
            router.route(
                &path,
                get(move |headers: HeaderMap| async move { serve(&file, &headers) }),
            )
        })
        .route(
            WIDGET_ROUTE,
            get(|headers: HeaderMap| async move { serve(WIDGET_FILE, &headers) }),
        );
    let unframable = assets
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"));
    let framable = Router::new().route(EMBED_ROUTE, shell).layer(header_layer(
        header::CONTENT_SECURITY_POLICY,
        EMBED_CONTENT_SECURITY_POLICY,
    ));
    unframable
        .merge(framable)
        .layer(CompressionLayer::new())
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// One embedded file, revalidated on every use: the names carry no hash, so a new
/// binary's files must replace the cached ones at once. Its digest is the ETag.
fn serve(file: &str, headers: &HeaderMap) -> Response {
    let Some(EmbeddedFile { data, metadata }) = Assets::get(file) else {
        // Only embedded files are routed.
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex(&metadata.sha256_hash()[..16]));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type = (header::CONTENT_TYPE, metadata.mimetype().to_owned());
    (common, [content_type], data).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, headers: &[(HeaderName, &str)]) -> Response {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        router::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn client_routes_answer_the_shell_with_security_headers() {
        for path in [
            "/",
            "/login",
            "/setup",
            "/account",
            "/my-locrits",
            "/my-locrits/Pixie/chat",
            "/settings",
            "/explore",
            "/p/Pixie",
        ] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        }
    }

    #[tokio::test]
    async fn only_the_embedded_chat_may_be_framed_by_other_sites() {
        for path in [
            "/",
            "/explore",
            "/p/Pixie",
            "/assets/js/main.js",
            "/widget.js",
        ] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(
                response.headers()[header::X_FRAME_OPTIONS],
                "DENY",
                "{path}"
            );
        }
        let response = get("/p/Pixie%20l'Organisateur/embed", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors *") && csp.contains("script-src 'self';"),
            "{csp}"
        );
        assert!(headers.get(header::X_FRAME_OPTIONS).is_none());
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[tokio::test]
    async fn the_widget_script_is_served_at_the_root() {
        let response = get("/widget.js", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
    }

    #[tokio::test]
    async fn assets_have_their_type_and_revalidate_by_etag() {
        let response = get("/assets/js/main.js", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        let again = get("/assets/js/main.js", &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn assets_are_gzipped_for_clients_that_ask() {
        let response = get("/assets/app.css", &[(header::ACCEPT_ENCODING, "gzip")]).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    }

    #[tokio::test]
    async fn unknown_paths_are_not_routes() {
        let router = router::<()>();
        for path in ["/assets/nope.js", "/assets/index.html", "/my-locrits/a/b/c"] {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            // No route: the merging server's fallback answers (an empty 404 here).
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
}
