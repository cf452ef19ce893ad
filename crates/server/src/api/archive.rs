//! Taking a Locrit away and bringing it back: its archive (see `locrit_core::archive`),
//! streamed both ways so a large Locrit never sits whole in memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use http_body_util::LengthLimitError;
use locrit_core::{ArchiveCounts, Core, ImportOptions};
use locrit_domain::Locrit;
use serde::{Deserialize, Serialize};
use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufReader};
use tokio_util::io::ReaderStream;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::Who;
use crate::error::ErrorBody;
use crate::extract::{Path, Query};

/// The largest archive an import reads, compressed.
const ARCHIVE_LIMIT: usize = 1 << 30;
/// How much of an export is produced ahead of a slow client.
const EXPORT_BUFFER: usize = 64 * 1024;

pub fn router() -> Router<Core> {
    Router::new()
        .route("/api/v2/locrits/{id}/export", get(export))
        .route(
            "/api/v2/locrits/import",
            post(import).layer(RequestBodyLimitLayer::new(ARCHIVE_LIMIT)),
        )
}

/// The Locrit's archive: settings, sessions, messages, memories and concepts, as
/// gzip-compressed JSON lines (`application/gzip`).
#[utoipa::path(operation_id = "export_locrit", get, path = "/api/v2/locrits/{id}/export", tag = "locrits",
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/gzip", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn export(State(core): State<Core>, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    let locrit = core.locrit(id).await?;
    let (writer, reader) = tokio::io::duplex(EXPORT_BUFFER);
    let file_name = format!("{}.locrit.gz", ascii_name(&locrit.name));
    tokio::spawn(async move {
        // A client that goes away ends the export; nothing is left half-written.
        if let Err(error) = core.export_locrit(&locrit, writer).await {
            tracing::info!(locrit = %locrit.name, %error, "export stopped");
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(ReaderStream::new(reader)),
    )
        .into_response())
}

/// A file name from a Locrit's name: ASCII letters, digits, `-` and `_` only.
fn ascii_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if kept.trim_matches('_').is_empty() {
        "locrit".into()
    } else {
        kept
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Import under this name instead of the archived one.
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    locrit: Locrit,
    #[schema(value_type = Object)]
    counts: ArchiveCounts,
}

/// Creates a Locrit from an archive (the body, as exported): all of it or nothing.
#[utoipa::path(operation_id = "import_locrit", post, path = "/api/v2/locrits/import", tag = "locrits",
    params(ImportQuery), request_body(content = Vec<u8>, content_type = "application/gzip"),
    responses((status = 201, body = Imported), (status = 409, description = "Name or ids taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, description = "Not a valid archive", body = ErrorBody)))]
pub async fn import(
    State(core): State<Core>,
    Who(requester): Who,
    Query(query): Query<ImportQuery>,
    body: Body,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let input = spool(body).await?;
    let options = ImportOptions {
        name: query.name,
        owner_id: requester.account().map(|account| account.id.to_string()),
    };
    let (locrit, counts) = core.import_archive(input, options).await?;
    Ok((StatusCode::CREATED, Json(Imported { locrit, counts })))
}

/// The upload copied to an unnamed temporary file: the import's transaction then reads
/// it at disk speed, never at a slow client's pace.
async fn spool(body: Body) -> Result<BufReader<File>, ApiError> {
    let mut file = File::from_std(tempfile::tempfile().map_err(locrit_core::Error::from)?);
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            if error.into_inner().is::<LengthLimitError>() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the archive is too large",
                )
            } else {
                ApiError::bad_request("the archive could not be read")
            }
        })?;
        file.write_all(&chunk)
            .await
            .map_err(locrit_core::Error::from)?;
    }
    file.rewind().await.map_err(locrit_core::Error::from)?;
    Ok(BufReader::new(file))
}
