//! Locrits talking to Locrits: a Locrit's contacts (Locrits of other servers) and its
//! dialogues, which its owner starts, schedules, watches, pauses, steers and stops.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use locrit_core::events::Event;
use locrit_core::{
    Core, DialogueControl, NewContact, NewDialogue, PartnerRef, dialogue_session_key,
};
use locrit_domain::{Budget, Contact, Dialogue, Message};
use locrit_store::MessagePage;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiError;
use crate::auth::Who;
use crate::error::ErrorBody;
use crate::extract::{JsonBody, Path};

/// The most messages a transcript answers.
const TRANSCRIPT_LIMIT: u32 = 1000;

pub fn router() -> Router<Core> {
    Router::new()
        .route(
            "/api/v2/locrits/{id}/contacts",
            get(contacts).post(add_contact),
        )
        .route(
            "/api/v2/locrits/{id}/contacts/{contact}",
            delete(delete_contact),
        )
        .route("/api/v2/locrits/{id}/dialogues", get(dialogues).post(start))
        .route("/api/v2/dialogues/{dialogue}", get(show))
        .route("/api/v2/dialogues/{dialogue}/events", get(events))
        .route("/api/v2/dialogues/{dialogue}/pause", post(pause))
        .route("/api/v2/dialogues/{dialogue}/resume", post(resume))
        .route("/api/v2/dialogues/{dialogue}/stop", post(stop))
        .route("/api/v2/dialogues/{dialogue}/steer", post(steer))
}

#[derive(Serialize, ToSchema)]
pub struct ContactList {
    contacts: Vec<Contact>,
}

/// The Locrit's contacts: Locrits of other servers it may talk with.
#[utoipa::path(operation_id = "list_contacts", get, path = "/api/v2/locrits/{id}/contacts", tag = "dialogues",
    params(("id" = Uuid, Path)), responses((status = 200, body = ContactList), (status = 404, body = ErrorBody)))]
pub async fn contacts(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<ContactList>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(ContactList {
        contacts: core.contacts(&requester, &locrit).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactBody {
    /// The remote Locrit's name.
    name: String,
    /// The remote Locrit server (`http://host:port`).
    server_url: String,
    /// An API key of the remote server (chat scope), from its owner.
    api_key: Option<String>,
}

/// Adds a Locrit of another server to the Locrit's contacts.
#[utoipa::path(operation_id = "add_contact", post, path = "/api/v2/locrits/{id}/contacts", tag = "dialogues",
    params(("id" = Uuid, Path)), request_body = NewContactBody,
    responses((status = 201, body = Contact), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_contact(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewContactBody>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let locrit = core.locrit(id).await?;
    let new = NewContact {
        name: body.name,
        server_url: body.server_url,
        api_key: body.api_key,
    };
    let contact = core.add_contact(&requester, &locrit, new).await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// Removes a contact.
#[utoipa::path(operation_id = "delete_contact", delete, path = "/api/v2/locrits/{id}/contacts/{contact}", tag = "dialogues",
    params(("id" = Uuid, Path), ("contact" = Uuid, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_contact(
    State(core): State<Core>,
    Who(requester): Who,
    Path((id, contact)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let locrit = core.locrit(id).await?;
    core.delete_contact(&requester, &locrit, contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct DialogueList {
    dialogues: Vec<Dialogue>,
}

/// The Locrit's dialogues, newest first.
#[utoipa::path(operation_id = "list_dialogues", get, path = "/api/v2/locrits/{id}/dialogues", tag = "dialogues",
    params(("id" = Uuid, Path)), responses((status = 200, body = DialogueList), (status = 404, body = ErrorBody)))]
pub async fn dialogues(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<DialogueList>, ApiError> {
    let locrit = core.locrit(id).await?;
    Ok(Json(DialogueList {
        dialogues: core.dialogues(&requester, &locrit).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDialogueBody {
    /// A Locrit of this server, by name…
    partner: Option<String>,
    /// …or one of this Locrit's contacts.
    contact_id: Option<Uuid>,
    #[serde(default)]
    topic: String,
    /// What this Locrit says first; it opens on the topic when absent.
    opening: Option<String>,
    /// Replies, both sides together (default 10).
    max_turns: Option<u32>,
    max_seconds: Option<u32>,
    max_tokens: Option<u64>,
    /// Start later (RFC 3339); now when absent.
    start_at: Option<DateTime<Utc>>,
}

/// Starts, or schedules, a dialogue of this Locrit with another.
#[utoipa::path(operation_id = "start_dialogue", post, path = "/api/v2/locrits/{id}/dialogues", tag = "dialogues",
    params(("id" = Uuid, Path)), request_body = NewDialogueBody,
    responses((status = 201, body = Dialogue), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewDialogueBody>,
) -> Result<(StatusCode, Json<Dialogue>), ApiError> {
    let locrit = core.locrit(id).await?;
    let partner = match (body.partner, body.contact_id) {
        (Some(name), None) => PartnerRef::Local(name),
        (None, Some(contact)) => PartnerRef::Contact(contact),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "name either `partner` (a Locrit of this server) or `contact_id`",
            )
            .with_field("partner"));
        }
    };
    let new = NewDialogue {
        partner,
        topic: body.topic,
        opening: body.opening,
        budget: Budget {
            max_turns: body.max_turns.unwrap_or(10),
            max_seconds: body.max_seconds,
            max_tokens: body.max_tokens,
        },
        start_at: body.start_at,
    };
    let dialogue = core.start_dialogue(&requester, &locrit, new).await?;
    Ok((StatusCode::CREATED, Json(dialogue)))
}

#[derive(Serialize, ToSchema)]
pub struct DialogueView {
    dialogue: Dialogue,
    /// The initiator's transcript: what it heard (`user`) and said (`assistant`).
    transcript: Vec<Message>,
}

/// A dialogue and its initiator's transcript.
#[utoipa::path(operation_id = "get_dialogue", get, path = "/api/v2/dialogues/{dialogue}", tag = "dialogues",
    params(("dialogue" = Uuid, Path)), responses((status = 200, body = DialogueView), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<DialogueView>, ApiError> {
    let (dialogue, locrit) = core.dialogue(&requester, id).await?;
    let transcript = match core.session(&locrit, &dialogue_session_key(id)).await {
        Ok(session) => {
            let page = MessagePage::After {
                after: 0,
                limit: TRANSCRIPT_LIMIT,
            };
            core.messages(&session, page).await?
        }
        Err(locrit_core::Error::NotFound(_)) => Vec::new(),
        Err(other) => return Err(other.into()),
    };
    Ok(Json(DialogueView {
        dialogue,
        transcript,
    }))
}

/// The dialogue live, as Server-Sent Events: `dialogue` (its state, at once and after
/// each change), `turn` (a local reply began: follow its tokens at
/// `/api/v2/turns/{turn_id}/events`), `message` (a message stored in the initiator's
/// transcript).
#[utoipa::path(operation_id = "dialogue_events", get, path = "/api/v2/dialogues/{dialogue}/events", tag = "dialogues",
    params(("dialogue" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "The dialogue's events"), (status = 404, body = ErrorBody)))]
pub async fn events(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribe first, then read the state: no change falls in between.
    let bus = BroadcastStream::new(core.subscribe());
    let (dialogue, locrit) = core.dialogue(&requester, id).await?;
    let initiator = locrit.id;
    let key = dialogue_session_key(id);
    let first = futures::stream::once(async move { sse("dialogue", &json!(dialogue)) });
    let changes = bus.filter_map(move |event| {
        let key = key.clone();
        async move {
            match event.ok()? {
                Event::DialogueUpdated(dialogue) if dialogue.id == id => {
                    Some(sse("dialogue", &json!(dialogue)))
                }
                Event::DialogueTurn {
                    dialogue_id,
                    speaker,
                    turn_id,
                    ..
                } if dialogue_id == id => Some(sse(
                    "turn",
                    &json!({"speaker": speaker, "turn_id": turn_id}),
                )),
                // A local partner's transcript has the same key: only the initiator's.
                Event::MessageStored(message)
                    if message.session_id == key && message.locrit_id == initiator =>
                {
                    Some(sse("message", &json!(message)))
                }
                _ => None,
            }
        }
    });
    Ok(Sse::new(first.chain(changes)).keep_alive(KeepAlive::default()))
}

fn sse(name: &str, data: &serde_json::Value) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().event(name).data(data.to_string()))
}

async fn control(
    core: &Core,
    requester: &locrit_domain::Requester,
    id: Uuid,
    control: DialogueControl,
) -> Result<Json<Dialogue>, ApiError> {
    Ok(Json(core.control_dialogue(requester, id, control).await?))
}

/// Pauses a dialogue after the reply under way.
#[utoipa::path(operation_id = "pause_dialogue", post, path = "/api/v2/dialogues/{dialogue}/pause", tag = "dialogues",
    params(("dialogue" = Uuid, Path)), responses((status = 200, body = Dialogue), (status = 409, body = ErrorBody)))]
pub async fn pause(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<Dialogue>, ApiError> {
    control(&core, &requester, id, DialogueControl::Pause).await
}

/// Resumes a paused dialogue.
#[utoipa::path(operation_id = "resume_dialogue", post, path = "/api/v2/dialogues/{dialogue}/resume", tag = "dialogues",
    params(("dialogue" = Uuid, Path)), responses((status = 200, body = Dialogue), (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<Dialogue>, ApiError> {
    control(&core, &requester, id, DialogueControl::Resume).await
}

/// Stops a dialogue for good.
#[utoipa::path(operation_id = "stop_dialogue", post, path = "/api/v2/dialogues/{dialogue}/stop", tag = "dialogues",
    params(("dialogue" = Uuid, Path)), responses((status = 200, body = Dialogue), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
) -> Result<Json<Dialogue>, ApiError> {
    control(&core, &requester, id, DialogueControl::Stop).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SteerBody {
    /// A word for the next reply (the next speaker reads it as the watcher's request).
    message: String,
}

/// Steers a dialogue: the next reply is told what the person watching asks.
#[utoipa::path(operation_id = "steer_dialogue", post, path = "/api/v2/dialogues/{dialogue}/steer", tag = "dialogues",
    params(("dialogue" = Uuid, Path)), request_body = SteerBody,
    responses((status = 200, body = Dialogue), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn steer(
    State(core): State<Core>,
    Who(requester): Who,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<SteerBody>,
) -> Result<Json<Dialogue>, ApiError> {
    control(&core, &requester, id, DialogueControl::Steer(body.message)).await
}
