//! Search over a Locrit's messages and memories: keyword, semantic or hybrid, with
//! HTML-safe highlighted snippets (see docs/API.md for the snippet contract).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use locrit_core::Core;
use locrit_core::search::{
    ItemKind, Kinds, MAX_SEARCH_LIMIT, SearchFilter, SearchHit, SearchMode, SearchQuery,
};
use locrit_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::error::ErrorBody;
use crate::extract::{Path, Query};

const DEFAULT_LIMIT: u32 = 20;

pub fn router() -> Router<Core> {
    Router::new().route("/api/v2/locrits/{id}/search", get(search))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The words to look for (at most 32 are used).
    q: String,
    /// `keyword`, `semantic` or `hybrid` (default).
    mode: Option<SearchMode>,
    /// Only messages of this session (leaves memories out).
    session: Option<String>,
    /// Only messages with this role (leaves memories out).
    role: Option<Role>,
    /// Only what was created at or after this instant (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only what was created before this instant (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Only `message`s or only `memory`s; both when absent.
    #[param(value_type = Option<String>)]
    kind: Option<ItemKind>,
    /// Hits per page (default 20, at most 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    /// Best first.
    hits: Vec<SearchHit>,
    /// Whether semantic search took part, and if not, why; `null` in keyword mode.
    semantic: Option<locrit_core::search::SemanticStatus>,
    /// Pass as `cursor` for the next page; absent when there is none.
    next_cursor: Option<String>,
}

/// Searches a Locrit's messages and memories.
#[utoipa::path(operation_id = "search", get, path = "/api/v2/locrits/{id}/search", tag = "search",
    params(("id" = Uuid, Path), SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    let locrit = core.locrit(id).await?;
    if params.q.trim().is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "q must not be blank",
        )
        .with_field("q"));
    }
    let offset = match &params.cursor {
        None => 0,
        Some(cursor) => cursor.parse().map_err(|_| {
            ApiError::bad_request("cursor is not one this server gave").with_field("cursor")
        })?,
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(
            ApiError::bad_request(format!("limit must be between 1 and {MAX_SEARCH_LIMIT}"))
                .with_field("limit"),
        );
    }
    let query = SearchQuery {
        text: params.q,
        mode: params.mode.unwrap_or_default(),
        filter: SearchFilter {
            session_key: params.session,
            role: params.role,
            since: params.since,
            until: params.until,
            kinds: match params.kind {
                None => Kinds::default(),
                Some(kind) => Kinds {
                    messages: kind == ItemKind::Message,
                    memories: kind == ItemKind::Memory,
                },
            },
        },
        any_word: false,
        limit,
        offset,
    };
    let results = core.search(&locrit, &query).await?;
    Ok(Json(SearchPage {
        hits: results.hits,
        semantic: results.semantic,
        next_cursor: results.next_offset.map(|o| o.to_string()),
    }))
}
