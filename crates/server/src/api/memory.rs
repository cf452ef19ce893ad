//! What a Locrit remembers, for its owner: the summary, long-term memories (add, edit,
//! pin, supersede, delete), single messages, concepts, background jobs, and wiping it all.
//! Lists are pages, newest first, with a `before` cursor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use locrit_core::{Core, MAX_RELATION_DEPTH};
use locrit_domain::{Concept, Job, JobStatus, Memory, Message, NewMemory, Session};
use locrit_store::{ConceptChanges, JobQuery, MemoryChanges, MemoryQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::error::ErrorBody;
use crate::extract::{JsonBody, Path, Query};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/locrits/{id}/memory", get(summary))
        .route("/api/v2/locrits/{id}/memory/clear", post(clear))
        .route(
            "/api/v2/locrits/{id}/memories",
            get(memories).post(add_memory),
        )
        .route(
            "/api/v2/locrits/{id}/memories/{memory}",
            get(memory).patch(update_memory).delete(delete_memory),
        )
        .route(
            "/api/v2/locrits/{id}/messages/{message}",
            get(message).patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/v2/locrits/{id}/messages/{message}/recall",
            get(recall_sources),
        )
        .route("/api/v2/locrits/{id}/concepts", get(concepts))
        .route(
            "/api/v2/locrits/{id}/concepts/{concept}",
            axum::routing::patch(update_concept).delete(delete_concept),
        )
        .route(
            "/api/v2/locrits/{id}/concepts/{concept}/related",
            get(related),
        )
        .route("/api/v2/locrits/{id}/jobs", get(jobs))
        .route("/api/v2/locrits/{id}/jobs/{job}/retry", post(retry_job))
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(
            ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}"))
                .with_field("limit"),
        ),
    }
}

/// A page from `limit + 1` rows read newest first: the first `limit`, and the cursor
/// to the next page (the last id) when the extra row says there is one.
fn newest_first_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    id: impl Fn(&T) -> Uuid,
) -> (Vec<T>, Option<Uuid>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = rows.last().map(id).filter(|_| more);
    (rows, next)
}

#[derive(Serialize, ToSchema)]
pub struct Statistics {
    messages: i64,
    sessions: i64,
    memories: i64,
    concepts: i64,
    /// Distinct people (non-empty `user_id`s) among the messages.
    users: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MemorySummaryBody {
    /// False when the Locrit's memory is switched off: then everything else is empty.
    enabled: bool,
    statistics: Statistics,
    /// The newest messages across sessions, newest first.
    recent_messages: Vec<Message>,
    /// Live sessions, most recently active first.
    sessions: Vec<Session>,
    /// The most mentioned concepts.
    top_concepts: Vec<Concept>,
}

/// Counters, recent messages, sessions and top concepts.
#[utoipa::path(operation_id = "memory_summary", get, path = "/api/v2/locrits/{id}/memory", tag = "memory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MemorySummaryBody), (status = 404, body = ErrorBody)))]
pub async fn summary(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
) -> Result<Json<MemorySummaryBody>, ApiError> {
    let locrit = core.locrit(id).await?;
    let summary = core.memory_summary(&locrit).await?;
    let stats = summary.stats;
    Ok(Json(MemorySummaryBody {
        enabled: summary.enabled,
        statistics: Statistics {
            messages: stats.messages,
            sessions: stats.sessions,
            memories: stats.memories,
            concepts: stats.concepts,
            users: stats.users,
        },
        recent_messages: summary.recent_messages,
        sessions: summary.sessions,
        top_concepts: summary.top_concepts,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearBody {
    /// Must be `true`: wiping a memory cannot be undone.
    confirm: bool,
}

/// Wipes the Locrit's sessions, messages, memories and concepts; the Locrit stays.
#[utoipa::path(operation_id = "clear_memory", post, path = "/api/v2/locrits/{id}/memory/clear", tag = "memory",
    params(("id" = Uuid, Path)), request_body = ClearBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn clear(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<ClearBody>,
) -> Result<StatusCode, ApiError> {
    if !body.confirm {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_required",
            "set confirm to true to wipe this Locrit's memory",
        )
        .with_field("confirm"));
    }
    let locrit = core.locrit(id).await?;
    core.clear_memory(&locrit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct MemoryPage {
    /// Memories older than this one.
    before: Option<Uuid>,
    /// How many, at most (default 50, at most 500).
    limit: Option<u32>,
    /// Only memories still believed (not superseded, not invalidated).
    #[serde(default)]
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MemoryList {
    /// Newest first.
    memories: Vec<Memory>,
    /// Pass as `before` for the next page; absent on the last one.
    next: Option<Uuid>,
}

/// A page of the Locrit's long-term memories, newest first.
#[utoipa::path(operation_id = "list_memories", get, path = "/api/v2/locrits/{id}/memories", tag = "memory",
    params(("id" = Uuid, Path), MemoryPage),
    responses((status = 200, body = MemoryList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn memories(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    Query(page): Query<MemoryPage>,
) -> Result<Json<MemoryList>, ApiError> {
    let limit = page_limit(page.limit)?;
    let locrit = core.locrit(id).await?;
    let query = MemoryQuery {
        before: page.before,
        limit: Some(limit + 1),
        current_only: page.current,
        ..MemoryQuery::default()
    };
    let found = core.memories(&locrit, &query).await?;
    let (memories, next) = newest_first_page(found, limit, |m| m.id);
    Ok(Json(MemoryList { memories, next }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemoryBody {
    content: String,
    /// From 0 to 1; 0.5 when absent.
    importance: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
    #[schema(value_type = Object)]
    metadata: Option<Value>,
    #[serde(default)]
    pinned: bool,
    /// Older memories this one contradicts: they are kept, marked `superseded_by`.
    #[serde(default)]
    supersedes: Vec<Uuid>,
}

/// Adds a long-term memory, possibly superseding older ones.
#[utoipa::path(operation_id = "add_memory", post, path = "/api/v2/locrits/{id}/memories", tag = "memory",
    params(("id" = Uuid, Path)), request_body = NewMemoryBody,
    responses((status = 201, body = Memory), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_memory(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewMemoryBody>,
) -> Result<(StatusCode, Json<Memory>), ApiError> {
    let locrit = core.locrit(id).await?;
    let metadata = object_or_empty(body.metadata)?;
    let memory = NewMemory {
        content: body.content,
        importance: body.importance.unwrap_or(0.5),
        metadata,
        tags: body.tags,
        source_message_ids: Vec::new(),
        pinned: body.pinned,
        supersedes: body.supersedes,
    };
    Ok((
        StatusCode::CREATED,
        Json(core.add_memory(&locrit, memory).await?),
    ))
}

fn object_or_empty(metadata: Option<Value>) -> Result<Value, ApiError> {
    match metadata {
        None => Ok(json!({})),
        Some(object @ Value::Object(_)) => Ok(object),
        Some(_) => Err(ApiError::bad_request("metadata must be an object").with_field("metadata")),
    }
}

/// One long-term memory.
#[utoipa::path(operation_id = "get_memory", get, path = "/api/v2/locrits/{id}/memories/{memory}", tag = "memory",
    params(("id" = Uuid, Path), ("memory" = Uuid, Path)),
    responses((status = 200, body = Memory), (status = 404, body = ErrorBody)))]
pub async fn memory(
    State(core): State<Core>,
    Path((id, memory)): Path<(Uuid, Uuid)>,
) -> Result<Json<Memory>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(core.memory(&locrit, memory).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryPatch {
    content: Option<String>,
    importance: Option<f64>,
    tags: Option<Vec<String>>,
    #[schema(value_type = Object)]
    metadata: Option<Value>,
    pinned: Option<bool>,
}

/// Edits or pins a memory.
#[utoipa::path(operation_id = "update_memory", patch, path = "/api/v2/locrits/{id}/memories/{memory}", tag = "memory",
    params(("id" = Uuid, Path), ("memory" = Uuid, Path)), request_body = MemoryPatch,
    responses((status = 200, body = Memory), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_memory(
    State(core): State<Core>,
    Path((id, memory)): Path<(Uuid, Uuid)>,
    JsonBody(patch): JsonBody<MemoryPatch>,
) -> Result<Json<Memory>, ApiError> {
    let locrit = core.locrit(id).await?;
    let changes = MemoryChanges {
        content: patch.content,
        importance: patch.importance,
        metadata: patch
            .metadata
            .map(|m| object_or_empty(Some(m)))
            .transpose()?,
        tags: patch.tags,
        pinned: patch.pinned,
    };
    Ok(Json(core.update_memory(&locrit, memory, &changes).await?))
}

/// Deletes a memory.
#[utoipa::path(operation_id = "delete_memory", delete, path = "/api/v2/locrits/{id}/memories/{memory}", tag = "memory",
    params(("id" = Uuid, Path), ("memory" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_memory(
    State(core): State<Core>,
    Path((id, memory)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    core.delete_memory(&locrit, memory).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One message of the Locrit, whatever its session.
#[utoipa::path(operation_id = "get_message", get, path = "/api/v2/locrits/{id}/messages/{message}", tag = "memory",
    params(("id" = Uuid, Path), ("message" = Uuid, Path)),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn message(
    State(core): State<Core>,
    Path((id, message)): Path<(Uuid, Uuid)>,
) -> Result<Json<Message>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(core.message(&locrit, message).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePatch {
    content: String,
}

/// Replaces a message's content (`edited_at` is set).
#[utoipa::path(operation_id = "edit_message", patch, path = "/api/v2/locrits/{id}/messages/{message}", tag = "memory",
    params(("id" = Uuid, Path), ("message" = Uuid, Path)), request_body = MessagePatch,
    responses((status = 200, body = Message), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit_message(
    State(core): State<Core>,
    Path((id, message)): Path<(Uuid, Uuid)>,
    JsonBody(patch): JsonBody<MessagePatch>,
) -> Result<Json<Message>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(
        core.edit_message(&locrit, message, &patch.content).await?,
    ))
}

/// Deletes a message; memories learned only from it are invalidated.
#[utoipa::path(operation_id = "delete_message", delete, path = "/api/v2/locrits/{id}/messages/{message}", tag = "memory",
    params(("id" = Uuid, Path), ("message" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_message(
    State(core): State<Core>,
    Path((id, message)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    core.delete_message(&locrit, message).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RecallSourcesBody {
    /// The memories recalled into the reply's prompt, as they are now.
    memories: Vec<Memory>,
    /// The messages of other sessions recalled into it.
    messages: Vec<Message>,
    /// Recalled ids whose memory or message was deleted since.
    deleted: Vec<Uuid>,
}

/// Why a reply said what it said: what was recalled into its prompt.
#[utoipa::path(operation_id = "recall_sources", get, path = "/api/v2/locrits/{id}/messages/{message}/recall", tag = "memory",
    params(("id" = Uuid, Path), ("message" = Uuid, Path)),
    responses((status = 200, body = RecallSourcesBody), (status = 404, body = ErrorBody)))]
pub async fn recall_sources(
    State(core): State<Core>,
    Path((id, message)): Path<(Uuid, Uuid)>,
) -> Result<Json<RecallSourcesBody>, ApiError> {
    let locrit = core.locrit(id).await?;
    let sources = core.recall_sources(&locrit, message).await?;
    Ok(Json(RecallSourcesBody {
        memories: sources.memories,
        messages: sources.messages,
        deleted: sources.deleted,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ConceptPage {
    /// Concepts after this one in the list (most mentioned first).
    after: Option<Uuid>,
    /// How many, at most (default 50, at most 500).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ConceptList {
    /// Most mentioned first.
    concepts: Vec<Concept>,
    /// Pass as `after` for the next page; absent on the last one.
    next: Option<Uuid>,
}

/// A page of the Locrit's concepts, most mentioned first.
#[utoipa::path(operation_id = "list_concepts", get, path = "/api/v2/locrits/{id}/concepts", tag = "memory",
    params(("id" = Uuid, Path), ConceptPage),
    responses((status = 200, body = ConceptList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn concepts(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    Query(page): Query<ConceptPage>,
) -> Result<Json<ConceptList>, ApiError> {
    let limit = page_limit(page.limit)? as usize;
    let locrit = core.locrit(id).await?;
    let all = core.concepts(&locrit).await?;
    let start = match page.after {
        Some(after) => {
            let at = all.iter().position(|c| c.id == after);
            at.ok_or_else(|| ApiError::bad_request("unknown cursor").with_field("after"))? + 1
        }
        None => 0,
    };
    let concepts: Vec<Concept> = all.iter().skip(start).take(limit).cloned().collect();
    let next = concepts
        .last()
        .map(|c| c.id)
        .filter(|_| start + limit < all.len());
    Ok(Json(ConceptList { concepts, next }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConceptPatch {
    name: Option<String>,
    description: Option<String>,
    /// From 0 to 1.
    confidence: Option<f64>,
}

/// Renames or describes a concept.
#[utoipa::path(operation_id = "update_concept", patch, path = "/api/v2/locrits/{id}/concepts/{concept}", tag = "memory",
    params(("id" = Uuid, Path), ("concept" = Uuid, Path)), request_body = ConceptPatch,
    responses((status = 200, body = Concept), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_concept(
    State(core): State<Core>,
    Path((id, concept)): Path<(Uuid, Uuid)>,
    JsonBody(patch): JsonBody<ConceptPatch>,
) -> Result<Json<Concept>, ApiError> {
    let locrit = core.locrit(id).await?;
    let changes = ConceptChanges {
        name: patch.name,
        description: patch.description,
        confidence: patch.confidence,
    };
    Ok(Json(core.update_concept(&locrit, concept, &changes).await?))
}

/// Deletes a concept and its relations.
#[utoipa::path(operation_id = "delete_concept", delete, path = "/api/v2/locrits/{id}/concepts/{concept}", tag = "memory",
    params(("id" = Uuid, Path), ("concept" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_concept(
    State(core): State<Core>,
    Path((id, concept)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    core.delete_concept(&locrit, concept).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct RelatedQuery {
    /// How many relations away, from 1 to 5 (default 1).
    depth: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedConcept {
    concept: Concept,
    relation: String,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedList {
    concept: Concept,
    /// Nearest first, each concept once.
    related: Vec<RelatedConcept>,
}

/// The concepts related to one, up to `depth` relations away.
#[utoipa::path(operation_id = "related_concepts", get, path = "/api/v2/locrits/{id}/concepts/{concept}/related", tag = "memory",
    params(("id" = Uuid, Path), ("concept" = Uuid, Path), RelatedQuery),
    responses((status = 200, body = RelatedList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn related(
    State(core): State<Core>,
    Path((id, concept)): Path<(Uuid, Uuid)>,
    Query(query): Query<RelatedQuery>,
) -> Result<Json<RelatedList>, ApiError> {
    let depth = query.depth.unwrap_or(1);
    if !(1..=MAX_RELATION_DEPTH).contains(&depth) {
        return Err(ApiError::bad_request(format!(
            "depth must be between 1 and {MAX_RELATION_DEPTH}"
        ))
        .with_field("depth"));
    }
    let locrit = core.locrit(id).await?;
    let (concept, related) = core.related_concepts_of(&locrit, concept, depth).await?;
    let related = related
        .into_iter()
        .map(|(concept, relation)| RelatedConcept { concept, relation })
        .collect();
    Ok(Json(RelatedList { concept, related }))
}

#[derive(Deserialize, IntoParams)]
pub struct JobPage {
    /// Only jobs in this state: queued, running, done or failed.
    status: Option<JobStatus>,
    /// Jobs older than this one.
    before: Option<Uuid>,
    /// How many, at most (default 50, at most 500).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    jobs: Vec<Job>,
    /// Pass as `before` for the next page; absent on the last one.
    next: Option<Uuid>,
}

/// The Locrit's background jobs (memory extraction), newest first: a failed one says why.
#[utoipa::path(operation_id = "list_jobs", get, path = "/api/v2/locrits/{id}/jobs", tag = "memory",
    params(("id" = Uuid, Path), JobPage),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn jobs(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    Query(page): Query<JobPage>,
) -> Result<Json<JobList>, ApiError> {
    let limit = page_limit(page.limit)?;
    let locrit = core.locrit(id).await?;
    let query = JobQuery {
        locrit_id: Some(locrit.id),
        status: page.status,
        before: page.before,
        limit: Some(limit + 1),
    };
    let found = core.jobs(&query).await?;
    let (jobs, next) = newest_first_page(found, limit, |j| j.id);
    Ok(Json(JobList { jobs, next }))
}

/// Queues a failed job again.
#[utoipa::path(operation_id = "retry_job", post, path = "/api/v2/locrits/{id}/jobs/{job}/retry", tag = "memory",
    params(("id" = Uuid, Path), ("job" = Uuid, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody), (status = 409, description = "Not failed", body = ErrorBody)))]
pub async fn retry_job(
    State(core): State<Core>,
    Path((id, job)): Path<(Uuid, Uuid)>,
) -> Result<Json<Job>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(core.retry_job(&locrit, job).await?))
}
