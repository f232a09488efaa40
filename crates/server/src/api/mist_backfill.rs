//! `GET /api/v1/mist/backfill`: what backfill from Mist's API has done, per org and kind.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::app_state::AppState;
use crate::backfill::report::BackfillReport;
use crate::error::ErrorBody;

/// Backfill from Mist's API
///
/// Per org of `[mist]` and kind (`alarms`, `device-events`, `audits`): the last read of
/// Mist's searches, the event times it covered, how many results it got and how many of
/// them the log lacked (stored as source `mist-api`), the total recovered, and the last
/// error. Per org, the webhooks with deliveries Mist reports failed in the last day.
/// `enabled` is false (and `orgs` empty) without `[mist]` or with `backfill = false`.
/// With several instances on one database, each shows the report of the instance that
/// runs backfill (as of its last read).
#[utoipa::path(
    get,
    path = "/api/v1/mist/backfill",
    tag = "mist",
    responses(
        (status = 200, description = "Backfill's state.", body = BackfillReport),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_backfill(State(app): State<Arc<AppState>>) -> Json<BackfillReport> {
    Json(app.backfill.current(app.store.as_ref()).await)
}
