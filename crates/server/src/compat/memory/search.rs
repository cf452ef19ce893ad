//! `GET|POST /api/locrits/<name>/memory/search`: the original's route, in its shape
//! (`{query, results: [Message], total, access_level}`), now a ranked hybrid search of
//! the Locrit's messages. Each result adds `snippet` (HTML-safe, hits in `<mark>`) and
//! `similarity_score` (the hit's score); the answer adds `semantic` (whether semantic
//! search took part, and why not). GET reads `q`, `limit`, `mode` from the query
//! string, POST from a JSON body.

use axum::Json;
use axum::extract::State;
use locrit_core::{Core, Error};
use locrit_domain::Locrit;
use locrit_core::search::{Kinds, SearchFilter, SearchMode, SearchQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DEFAULT_RESULTS, Gate, MAX_RESULTS, QUICK_RESULTS, READ_FAILED, Reply, gated, limit};
use crate::ApiError;
use crate::compat::failure;
use crate::compat::turn::{RawBody, message_json};
use crate::extract::{Path, Query};

const DENIED: &str = "Accès à la mémoire non autorisé pour ce Locrit";
const REQUIRED: &str = "Paramètre de recherche requis";

/// The parameters, as text: they are read only after the Locrit and its gate.
#[derive(Deserialize, Default)]
pub(super) struct SearchParams {
    q: Option<String>,
    limit: Option<String>,
    mode: Option<String>,
}

pub(super) async fn search_get(
    State(core): State<Core>,
    Path(name): Path<String>,
    Query(params): Query<SearchParams>,
) -> Reply {
    let locrit = gated(&core, &name, Gate::Quick(DENIED), READ_FAILED).await?;
    search(&core, &locrit, params).await
}

pub(super) async fn search_post(
    State(core): State<Core>,
    Path(name): Path<String>,
    body: RawBody,
) -> Reply {
    #[derive(Deserialize)]
    struct Body {
        #[serde(alias = "query")]
        q: Option<Value>,
        limit: Option<Value>,
        mode: Option<String>,
    }
    let locrit = gated(&core, &name, Gate::Quick(DENIED), READ_FAILED).await?;
    let body: Option<Body> = body.parse()?;
    let params = body.map_or_else(SearchParams::default, |b| SearchParams {
        q: b.q.and_then(|q| q.as_str().map(str::to_owned)),
        limit: b.limit.map(|l| match l {
            Value::String(text) => text,
            other => other.to_string(),
        }),
        mode: b.mode,
    });
    search(&core, &locrit, params).await
}

async fn search(core: &Core, locrit: &Locrit, params: SearchParams) -> Reply {
    let Some(text) = params.q.filter(|q| !q.trim().is_empty()) else {
        return Err(ApiError::bad_request(REQUIRED).with_field("q"));
    };
    let limit = limit(&params.limit, DEFAULT_RESULTS, MAX_RESULTS)?;
    let (limit, access_level) = if locrit.access_to.full_memory {
        (limit, "full")
    } else {
        (limit.min(QUICK_RESULTS), "quick")
    };
    let mode = match params.mode.as_deref().map(str::trim) {
        None | Some("") => SearchMode::Hybrid,
        Some(mode) => serde_json::from_value(json!(mode)).map_err(|_| {
            ApiError::bad_request("mode must be keyword, semantic or hybrid").with_field("mode")
        })?,
    };
    let query = SearchQuery {
        text: text.clone(),
        mode,
        filter: SearchFilter {
            kinds: Kinds {
                messages: true,
                memories: false,
            },
            ..Default::default()
        },
        any_word: false,
        limit,
        offset: 0,
    };
    let found = core
        .search(locrit, &query)
        .await
        .map_err(failure(READ_FAILED))?;
    let mut results = Vec::with_capacity(found.hits.len());
    for hit in &found.hits {
        let message = match core.message(locrit, hit.id).await {
            Ok(message) => message,
            // Deleted between the search and now: left out.
            Err(Error::NotFound(_)) => continue,
            Err(error) => return Err(failure(READ_FAILED)(error)),
        };
        let mut value = message_json(&message);
        value["snippet"] = json!(hit.snippet);
        value["similarity_score"] = json!(hit.score);
        results.push(value);
    }
    Ok(Json(json!({
        "query": text,
        "total": results.len(),
        "results": results,
        "access_level": access_level,
        "mode": mode,
        "semantic": found.semantic,
    })))
}
