//! The clean API, version 2 (`/api/v2`; `/api/v1` is the original's inter-Locrit API).
//! Resources are addressed by stable ids; errors are [`ApiError`](crate::ApiError)s;
//! the OpenAPI document is served at `/api/v2/openapi.json`.

mod activity;
mod archive;
mod dialogues;
mod locrits;
mod memory;
mod search;
mod server;
mod sessions;

use axum::routing::get;
use axum::{Json, Router};
use locrit_core::Core;
use utoipa::OpenApi;

use crate::auth::routes as auth;

#[derive(OpenApi)]
#[openapi(
    info(title = "Locrit API", description = "Manage and talk to Locrits: persistent AI personas with a memory."),
    paths(
        locrits::list, locrits::create, locrits::show, locrits::update, locrits::delete,
        sessions::create, sessions::list, sessions::show, sessions::rename, sessions::remove,
        sessions::messages, sessions::send,
        sessions::events, sessions::cancel,
        memory::summary, memory::clear, memory::memories, memory::add_memory, memory::memory,
        memory::update_memory, memory::delete_memory, memory::message, memory::edit_message,
        memory::delete_message, memory::recall_sources, memory::concepts, memory::update_concept, memory::delete_concept,
        memory::related, memory::jobs, memory::retry_job, archive::export, archive::import,
        search::search, server::status, server::import_config, activity::activity,
        auth::status, auth::setup, auth::login, auth::logout, auth::change_password, auth::keys,
        auth::create_key, auth::revoke_key, auth::accounts, auth::create_account,
        auth::delete_account, auth::invitations, auth::invite, auth::revoke_invitation,
        dialogues::contacts, dialogues::add_contact, dialogues::delete_contact,
        dialogues::dialogues, dialogues::start, dialogues::show, dialogues::events,
        dialogues::pause, dialogues::resume, dialogues::stop, dialogues::steer,
    ),
    components(schemas(crate::error::ErrorBody, locrit_core::search::SearchMode)),
    tags(
        (name = "locrits", description = "Locrit management"),
        (name = "chat", description = "Sessions, messages and chat turns"),
        (name = "memory", description = "What a Locrit remembers: memories, messages, concepts, jobs"),
        (name = "search", description = "Keyword, semantic and hybrid search of a Locrit's memory"),
        (name = "server", description = "The server as a whole"),
        (name = "auth", description = "Accounts, sign-in, API keys and invitations: see docs/ACCESS.md"),
        (name = "dialogues", description = "Locrits talking to Locrits: contacts on other servers, autonomous dialogues")
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<Core> {
    Router::new()
        .route(
            "/api/v2/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .merge(locrits::router())
        .merge(sessions::router())
        .merge(memory::router())
        .merge(archive::router())
        .merge(search::router())
        .merge(server::router())
        .merge(activity::router())
        .merge(dialogues::router())
}
