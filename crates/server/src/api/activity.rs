//! A Locrit's activity over the last days, for charts.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{FixedOffset, NaiveDate};
use locrit_core::{Core, MAX_ACTIVITY_DAYS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::error::ErrorBody;
use crate::extract::{Path, Query};

const DEFAULT_DAYS: u32 = 14;
/// The widest offset a time zone has (UTC+14, UTC-12), with room.
const MAX_OFFSET_MINUTES: i32 = 18 * 60;

pub fn router() -> Router<Core> {
    Router::new().route("/api/v2/locrits/{id}/activity", get(activity))
}

#[derive(Deserialize, IntoParams)]
pub struct ActivityQuery {
    /// How many days, today included (1 to 366; 14 by default).
    days: Option<u32>,
    /// The client's offset from UTC in minutes (60 for UTC+1), so that days start at its
    /// midnight; 0 by default.
    utc_offset_minutes: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct Activity {
    days: Vec<Day>,
}

#[derive(Serialize, ToSchema)]
pub struct Day {
    date: NaiveDate,
    /// Messages written that day (deleted conversations left out).
    messages: u64,
    /// Memories held at the end of that day.
    memories: u64,
}

/// Messages per day and memory growth over the last days.
#[utoipa::path(operation_id = "locrit_activity", get, path = "/api/v2/locrits/{id}/activity", tag = "locrits",
    params(("id" = Uuid, Path), ActivityQuery), responses((status = 200, body = Activity),
        (status = 400, description = "`days` or `utc_offset_minutes` out of range", body = ErrorBody),
        (status = 404, description = "No such Locrit", body = ErrorBody)))]
pub async fn activity(
    State(core): State<Core>,
    Path(id): Path<Uuid>,
    Query(query): Query<ActivityQuery>,
) -> Result<Json<Activity>, ApiError> {
    let days = query.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_ACTIVITY_DAYS).contains(&days) {
        return Err(
            ApiError::bad_request(format!("days must be 1 to {MAX_ACTIVITY_DAYS}"))
                .with_field("days"),
        );
    }
    let minutes = query.utc_offset_minutes.unwrap_or(0);
    let offset = (minutes.abs() <= MAX_OFFSET_MINUTES)
        .then(|| FixedOffset::east_opt(minutes * 60))
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request("utc_offset_minutes must be within ±1080")
                .with_field("utc_offset_minutes")
        })?;
    let locrit = core.locrit(id).await?;
    let series = core.activity(&locrit, days, offset).await?;
    Ok(Json(Activity {
        days: series
            .into_iter()
            .map(|day| Day {
                date: day.date,
                messages: day.messages,
                memories: day.memories,
            })
            .collect(),
    }))
}
