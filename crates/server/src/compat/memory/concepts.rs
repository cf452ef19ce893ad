//! Concepts: list, details, related, edit, delete.

use axum::Json;
use axum::extract::State;
use locrit_core::{ConceptDetails, Core, MAX_RELATION_DEPTH};
use locrit_domain::Concept;
use locrit_store::ConceptChanges;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{FULL, READ_FAILED, Reply, done, gated, number, path_id, route_error};
use crate::ApiError;
use crate::compat::failure;
use crate::compat::settings::timestamp;
use crate::compat::turn::RawBody;
use crate::extract::{Path, Query};

const CONCEPT_NOT_FOUND: &str = "Concept non trouvé";

pub(super) async fn concepts(State(core): State<Core>, Path(name): Path<String>) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let concepts = core.concepts(&locrit).await.map_err(failure(READ_FAILED))?;
    Ok(Json(json!({
        "concepts": concepts.iter().map(concept_json).collect::<Vec<_>>(),
        "total": concepts.len(),
    })))
}

#[derive(Deserialize)]
pub(super) struct DetailsQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// ConceptDetails, as the top-level object.
pub(super) async fn concept_details(
    State(core): State<Core>,
    Path(name): Path<String>,
    Query(query): Query<DetailsQuery>,
) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let Some(concept) = query.name.filter(|n| !n.trim().is_empty()) else {
        return Err(ApiError::bad_request("Nom du concept requis").with_field("name"));
    };
    let kind = query.kind.filter(|k| !k.is_empty());
    let details = core
        .concept_details(&locrit, &concept, kind.as_deref())
        .await
        .map_err(route_error(CONCEPT_NOT_FOUND, READ_FAILED))?;
    Ok(Json(details_json(&details)))
}

fn details_json(details: &ConceptDetails) -> Value {
    let mut value = concept_json(&details.concept);
    value["context_examples"] = details
        .context_examples
        .iter()
        .map(|m| {
            json!({
                "content": m.content,
                "role": m.role,
                "timestamp": timestamp(m.timestamp),
                "session_id": m.session_id,
                "message_id": m.id,
            })
        })
        .collect();
    value["related_concepts"] = details.related.iter().map(related_json).collect();
    value
}

/// A RelatedConcept (§4.1), with the relation and the id.
fn related_json((concept, relation): &(Concept, String)) -> Value {
    json!({
        "name": concept.name,
        "type": concept.kind,
        "description": concept.description,
        "relation": relation,
        "id": concept.id,
    })
}

#[derive(Deserialize)]
pub(super) struct DepthQuery {
    depth: Option<String>,
}

pub(super) async fn related_concepts(
    State(core): State<Core>,
    Path((name, concept)): Path<(String, String)>,
    Query(query): Query<DepthQuery>,
) -> Reply {
    let locrit = gated(&core, &name, FULL, READ_FAILED).await?;
    let depth = match query.depth.as_deref().map(|d| d.trim().parse::<i64>()) {
        None => 2,
        Some(Ok(depth)) if depth > 0 => u32::try_from(depth)
            .unwrap_or(MAX_RELATION_DEPTH)
            .min(MAX_RELATION_DEPTH),
        Some(_) => {
            return Err(
                ApiError::bad_request("depth must be a positive integer").with_field("depth")
            );
        }
    };
    let (concept, related) = core
        .related_concepts(&locrit, &concept, depth)
        .await
        .map_err(route_error(CONCEPT_NOT_FOUND, READ_FAILED))?;
    Ok(Json(json!({
        "concept": concept.name,
        "related_concepts": related.iter().map(related_json).collect::<Vec<_>>(),
        "total": related.len(),
        "depth": depth,
    })))
}

pub(super) async fn update_concept(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
    body: RawBody,
) -> Reply {
    const REQUIRED: &str = "Données de modification requises";
    const FAILED: &str = "Échec de la modification du concept";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let fields: Map<String, Value> = body
        .parse()
        .map_err(|e| e.with_message(REQUIRED))?
        .unwrap_or_default();
    let text = |field: &'static str| match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => {
            Err(ApiError::bad_request(format!("{field} must be a string")).with_field(field))
        }
    };
    let confidence = match fields.get("confidence") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            number(value)
                .filter(|c| (0.0..=1.0).contains(c))
                .ok_or_else(|| {
                    ApiError::bad_request("La confiance doit être entre 0.0 et 1.0")
                        .with_field("confidence")
                })?,
        ),
    };
    let changes = ConceptChanges {
        name: text("name")?.filter(|n| !n.trim().is_empty()),
        description: text("description")?,
        confidence,
    };
    if changes.is_empty() {
        return Err(ApiError::bad_request(REQUIRED));
    }
    let id = path_id(&id, CONCEPT_NOT_FOUND)?;
    core.update_concept(&locrit, id, &changes)
        .await
        .map_err(route_error(CONCEPT_NOT_FOUND, FAILED))?;
    Ok(done("Concept modifié avec succès"))
}

pub(super) async fn delete_concept(
    State(core): State<Core>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    const FAILED: &str = "Échec de la suppression du concept";
    let locrit = gated(&core, &name, FULL, FAILED).await?;
    let id = path_id(&id, CONCEPT_NOT_FOUND)?;
    core.delete_concept(&locrit, id)
        .await
        .map_err(route_error(CONCEPT_NOT_FOUND, FAILED))?;
    Ok(done("Concept supprimé avec succès"))
}

/// A Concept (§4.1), with the rest of what is stored.
pub(super) fn concept_json(concept: &Concept) -> Value {
    json!({
        "id": concept.id,
        "name": concept.name,
        "type": concept.kind,
        "mentions": concept.mentions,
        "description": concept.description,
        "confidence": concept.confidence,
        "first_mentioned": timestamp(concept.first_mentioned),
        "last_mentioned": timestamp(concept.last_mentioned),
    })
}
