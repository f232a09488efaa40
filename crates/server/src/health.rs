//! `/healthz` (the process answers), `/readyz` (the store can be read and written; every
//! stage's lag) and `/metrics`. None of them needs the token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use crate::app_state::AppState;
use crate::stages::{self, StageReport};

/// The body of `/healthz`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    status: &'static str,
}

/// The body of `/readyz`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`, or `unavailable` when ingest cannot store what it is sent.
    status: &'static str,
    /// Why not ready: `disk_full` (the data dir's filesystem is full: ingest answers 503
    /// until space returns, which this check notices by itself) or `store_unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<&'static str>,
    /// The store's own words for what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    detail: Option<String>,
    /// Each background stage: how far behind the log it is, whether it runs, and its
    /// restarts after a panic. A lagging stage does not make the server unready: ingest
    /// still stores everything, and the stage catches up.
    stages: Vec<StageReport>,
}

/// Liveness
///
/// Answers as long as the process serves HTTP. No token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`.", body = Liveness))
)]
pub async fn healthz() -> impl IntoResponse {
    Json(Liveness { status: "ok" })
}

/// Readiness
///
/// Ready when the store can be read and written: while the data dir's filesystem is full
/// this answers 503 with `reason: disk_full`, and tries a small write each time it is
/// asked, so it turns ready again by itself once space returns. Lists every background
/// stage with its lag. No token.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "Not ready: `reason` and `detail` say why.", body = Readiness),
    )
)]
pub async fn readyz(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    let ping = app.store.ping().await;
    let stages = stages::report(&app).await.unwrap_or_default();
    let (status, body) = match ping {
        Ok(()) => (
            StatusCode::OK,
            Readiness {
                status: "ready",
                reason: None,
                detail: None,
                stages,
            },
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Readiness {
                status: "unavailable",
                reason: Some(if e.is_disk_full() {
                    "disk_full"
                } else {
                    "store_unavailable"
                }),
                detail: Some(e.to_string()),
                stages,
            },
        ),
    };
    (status, Json(body))
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
    stages::refresh_gauges(&app).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
