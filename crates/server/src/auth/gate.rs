//! The per-Locrit gate of every route that names a Locrit in its path: what the route
//! does to the Locrit (chat, read part of it, manage it) against what the requester is
//! to that Locrit ([`Caller`]). Chat routes pass: the engine checks `may_chat` with the
//! caller their handler gives it.

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use locrit_core::{Core, Error};
use locrit_domain::{Denied, Locrit, Reading, Requester, may_manage, may_read};
use uuid::Uuid;

use super::{invitation, unauthenticated};
use crate::ApiError;

/// What a route does to the Locrit it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Chat,
    Read(Reading),
    Manage,
    /// Gated by the route itself (public pages, the inter-Locrit API), or not at all:
    /// the web app's pages are its shell for anyone, and each call it makes is gated.
    OwnGate,
}

fn use_of(method: &Method, template: &str) -> Use {
    let reading = matches!(*method, Method::GET | Method::HEAD);
    if locrit_web::CLIENT_ROUTES.contains(&template)
        || (template.starts_with("/public/") && !template.ends_with("/settings"))
        || (template.starts_with("/api/v1/") && !template.contains("/memory"))
    {
        Use::OwnGate
    } else if super::is_chat(template) && !reading {
        Use::Chat
    } else if !reading {
        Use::Manage
    } else if template.ends_with("/search") || template.ends_with("/memory/stats") {
        Use::Read(Reading::QuickMemory)
    } else if ["/memory", "/concepts", "/messages", "/sessions"]
        .iter()
        .any(|part| template.contains(part))
    {
        Use::Read(Reading::FullMemory)
    } else {
        // The Locrit's settings, its export, its jobs and activity.
        Use::Manage
    }
}

/// The middleware: lets the request through, or answers 401 (anonymous) or 403.
pub(crate) async fn check(
    State(core): State<Core>,
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    let (Some(matched), Ok(params)) = (matched, params) else {
        return next.run(request).await;
    };
    let used = use_of(request.method(), matched.as_str());
    if used == Use::OwnGate || used == Use::Chat {
        return next.run(request).await;
    }
    let locrit = match named_locrit(&core, matched.as_str(), &params).await {
        Ok(Some(locrit)) => locrit,
        // No Locrit named (or none by that name): the route answers its own 404.
        Ok(None) | Err(Error::NotFound(_)) => return next.run(request).await,
        Err(other) => return ApiError::from(other).into_response(),
    };
    let requester = request
        .extensions()
        .get::<Requester>()
        .cloned()
        .unwrap_or(Requester::Anonymous);
    let caller = match core
        .caller(&requester, &locrit, invitation(request.headers()))
        .await
    {
        Ok(caller) => caller,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let allowed = match used {
        Use::Read(what) => may_read(&locrit, caller, what),
        _ => may_manage(caller),
    };
    match allowed {
        Ok(()) => next.run(request).await,
        Err(_) if requester == Requester::Anonymous => {
            unauthenticated("sign in, or send an API key as `Authorization: Bearer <key>`")
                .into_response()
        }
        Err(denied) => refused(denied).into_response(),
    }
}

fn refused(denied: Denied) -> ApiError {
    ApiError::from(Error::from(denied))
}

/// The Locrit the path names: `{id}` under `/api/v2/locrits/`, `{name}` elsewhere.
async fn named_locrit(
    core: &Core,
    template: &str,
    params: &RawPathParams,
) -> Result<Option<Locrit>, Error> {
    for (key, value) in params {
        match key {
            "id" if template.starts_with("/api/v2/locrits/") => {
                let Ok(id) = value.parse::<Uuid>() else {
                    return Ok(None);
                };
                return core.locrit(id).await.map(Some);
            }
            "name" => return core.locrit_named(value).await.map(Some),
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_routes_do_to_their_locrit() {
        let get = Method::GET;
        let post = Method::POST;
        let delete = Method::DELETE;
        let cases = [
            (&post, "/api/locrits/{name}/chat", Use::Chat),
            (
                &post,
                "/api/v2/locrits/{id}/sessions/{session}/messages",
                Use::Chat,
            ),
            (
                &get,
                "/api/v2/locrits/{id}/sessions/{session}/messages",
                Use::Read(Reading::FullMemory),
            ),
            (
                &get,
                "/api/locrits/{name}/memory/search",
                Use::Read(Reading::QuickMemory),
            ),
            (
                &get,
                "/api/locrits/{name}/memory/stats",
                Use::Read(Reading::QuickMemory),
            ),
            (
                &get,
                "/api/v2/locrits/{id}/search",
                Use::Read(Reading::QuickMemory),
            ),
            (
                &get,
                "/api/locrits/{name}/memory/summary",
                Use::Read(Reading::FullMemory),
            ),
            (
                &delete,
                "/api/locrits/{name}/memory/messages/{id}",
                Use::Manage,
            ),
            (&get, "/api/v2/locrits/{id}", Use::Manage),
            (&get, "/api/v2/locrits/{id}/export", Use::Manage),
            (&post, "/api/locrits/{name}/toggle", Use::Manage),
            (&get, "/public/{name}", Use::OwnGate),
            (&get, "/p/{name}", Use::OwnGate),
            (&get, "/p/{name}/embed", Use::OwnGate),
            (&get, "/my-locrits/{name}/settings", Use::OwnGate),
            (&Method::PUT, "/public/{name}/settings", Use::Manage),
            (&post, "/api/v1/locrits/{name}/chat", Use::OwnGate),
            (
                &post,
                "/api/v1/locrits/{name}/memory/store-conversation",
                Use::Manage,
            ),
        ];
        for (method, template, expected) in cases {
            assert_eq!(use_of(method, template), expected, "{method} {template}");
        }
    }
}
