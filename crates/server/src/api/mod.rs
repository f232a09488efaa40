//! `/api/v1`: the token-protected JSON API, and its OpenAPI document (which is open).

mod log;
pub(crate) mod openapi;
pub(crate) mod params;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// The routes under `/api/v1` that need the token.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/events", get(log::list_events))
        .route("/events/{id}", get(log::get_event))
        .route("/requests", get(log::list_requests))
        .route("/requests/{id}", get(log::get_request))
        .route("/quarantine", get(log::list_quarantine))
        .route("/stats", get(log::stats))
}
