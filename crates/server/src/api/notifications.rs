//! `GET /api/v1/incidents/{id}/notifications`: what the routing targets were sent about an
//! incident, and where each message stands.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::answer::List;
use super::deliveries::MessageView;
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// Most messages listed.
const LIMIT: u32 = 200;

/// List an incident's notifications
///
/// The messages routing targets were sent about the incident's changes (opened,
/// acknowledged, resolved, ...), newest first, at most 200: the target (`webhook_id` is
/// `target:<name>`), when each was built, and its delivery state.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/notifications",
    tag = "correlation",
    params(("id" = i64, Path, description = "The incident's id.")),
    responses(
        (status = 200, description = "The messages about the incident.", body = List<MessageView>),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn notifications(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<List<MessageView>>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no incident with id `{id}`"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    app.store.incident(n).await?.ok_or_else(not_found)?;
    let rows = app.store.incident_batches(n, LIMIT).await?;
    Ok(Json(List::new(
        rows.into_iter().map(MessageView::from).collect(),
        None,
    )))
}
