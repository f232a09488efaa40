//! `/healthz` (the process answers), `/readyz` (the store can be read and its writer
//! runs) and `/metrics`. None of them needs the token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

// For the OpenAPI document only: the handlers build this body with `json!`.
/// The body of `/healthz` and `/readyz`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HealthStatus {
    /// `ok` (`/healthz`), `ready` or `unavailable` (`/readyz`).
    status: String,
    /// Why the store is unavailable; only with `unavailable`.
    #[schema(nullable = false)]
    detail: Option<String>,
}

/// Liveness
///
/// Answers as long as the process serves HTTP. No token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`.", body = HealthStatus))
)]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness
///
/// Ready when the store can be read and its writer runs. No token.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`.", body = HealthStatus),
        (status = 503, description = "`{\"status\": \"unavailable\", \"detail\": ...}`.", body = HealthStatus),
    )
)]
pub async fn readyz(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "detail": e.to_string()})),
        ),
    }
}

/// Prometheus metrics
///
/// The Prometheus text exposition format (version 0.0.4). No token.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Every `mistgate_*` metric.", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
