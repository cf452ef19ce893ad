//! `GET /v1/models` and `GET /v1/models/{model}`: the Locrits the caller may chat with.

use axum::Json;
use axum::extract::State;
use locrit_core::Core;
use locrit_domain::Locrit;
use serde_json::{Value, json};

use super::OpenAiError;
use crate::auth::Who;
use crate::chat_clients;
use crate::extract::Path;

fn model(locrit: &Locrit) -> Value {
    json!({
        "id": locrit.name,
        "object": "model",
        "created": locrit.created_at.timestamp(),
        "owned_by": "locrit",
    })
}

pub async fn list(
    State(core): State<Core>,
    Who(requester): Who,
) -> Result<Json<Value>, OpenAiError> {
    let models = chat_clients::models(&core, &requester).await?;
    Ok(Json(json!({
        "object": "list",
        "data": models.iter().map(model).collect::<Vec<_>>(),
    })))
}

pub async fn show(
    State(core): State<Core>,
    Who(requester): Who,
    path: Result<Path<String>, crate::ApiError>,
) -> Result<Json<Value>, OpenAiError> {
    let Path(name) = path?;
    let (locrit, _) = chat_clients::model(&core, &requester, &name).await?;
    Ok(Json(model(&locrit)))
}
