use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use locrit_core::Core;
use locrit_domain::{Caller, Locrit, LocritPatch, NewLocrit};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::Who;
use crate::error::ErrorBody;
use crate::extract::{JsonBody, Path, Query};

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/locrits", get(list).post(create))
        .route(
            "/api/v2/locrits/{id}",
            get(show).patch(update).delete(delete),
        )
}

#[derive(Serialize, ToSchema)]
pub struct LocritList {
    locrits: Vec<Locrit>,
}

#[derive(Deserialize, IntoParams)]
pub struct ListFilter {
    /// Only the Locrit with exactly this name.
    name: Option<String>,
}

/// Every Locrit, by name.
#[utoipa::path(operation_id = "list_locrits", get, path = "/api/v2/locrits", tag = "locrits", params(ListFilter),
    responses((status = 200, body = LocritList)))]
pub async fn list(
    State(core): State<Core>,
    Who(requester): Who,
    Query(filter): Query<ListFilter>,
) -> Result<Json<LocritList>, ApiError> {
    let mut locrits = match filter.name {
        Some(name) => match core.locrit_named(&name).await {
            Ok(locrit) => vec![locrit],
            Err(locrit_core::Error::NotFound(_)) => vec![],
            Err(other) => return Err(other.into()),
        },
        None => core.locrits().await?,
    };
    locrits.retain(|locrit| requester.caller_for(locrit) == Caller::Owner);
    Ok(Json(LocritList { locrits }))
}

/// Creates a Locrit. Without `ollama_url`, it gets the server's default Ollama server.
#[utoipa::path(operation_id = "create_locrit", post, path = "/api/v2/locrits", tag = "locrits", request_body = NewLocrit,
    responses((status = 201, body = Locrit), (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody)))]
pub async fn create(
    State(core): State<Core>,
    Who(requester): Who,
    JsonBody(new): JsonBody<NewLocrit>,
) -> Result<(StatusCode, Json<Locrit>), ApiError> {
    let locrit = core.create_locrit_for(new, &requester).await?;
    Ok((StatusCode::CREATED, Json(locrit)))
}

/// One Locrit.
#[utoipa::path(operation_id = "get_locrit", get, path = "/api/v2/locrits/{id}", tag = "locrits", params(("id" = Uuid, Path)),
    responses((status = 200, body = Locrit), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
) -> Result<Json<Locrit>, ApiError> {
    Ok(Json(core.locrit(id).await?))
}

/// Changes some fields: rename with `name`, activate or deactivate with `active`. Absent
/// fields keep their value; `null` clears `ollama_url`, `public_page`, `public_address`.
#[utoipa::path(operation_id = "update_locrit", patch, path = "/api/v2/locrits/{id}", tag = "locrits", params(("id" = Uuid, Path)),
    request_body = LocritPatch,
    responses((status = 200, body = Locrit), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    JsonBody(patch): JsonBody<LocritPatch>,
) -> Result<Json<Locrit>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(core.update_locrit(locrit, patch).await?))
}

/// Deletes a Locrit with everything it remembers.
#[utoipa::path(operation_id = "delete_locrit", delete, path = "/api/v2/locrits/{id}", tag = "locrits", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    core.delete_locrit(&locrit).await?;
    Ok(StatusCode::NO_CONTENT)
}
