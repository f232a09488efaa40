//! The routing targets' deliveries: the same views as a webhook's (see `deliveries.rs`),
//! by target name.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::deliveries::Owner;
use super::deliveries_doc::{AttemptQuery, BatchQuery, DistinctQuery, RangeQuery};
use super::params::{PageQuery, Params};
use super::webhooks_doc::{
    BatchListDoc, DeliveryCountDoc, DeliverySearchDoc, ReplayedDoc, TargetDoc,
};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// List routing targets
///
/// The targets of the configuration file (`[targets.<name>]`), with their type; their
/// settings (and secrets) are not shown.
#[utoipa::path(
    get,
    path = "/api/v1/targets",
    tag = "routing",
    responses(
        (status = 200, description = "Every configured target.", body = [TargetDoc]),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list(State(app): State<Arc<AppState>>) -> Json<Value> {
    Json(Value::Array(
        app.targets
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect(),
    ))
}

/// Search a target's delivery results
#[utoipa::path(
    get,
    path = "/api/v1/targets/{name}/events/search",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        AttemptQuery, RangeQuery, PageQuery,
    ),
    responses(
        (status = 200, description = "One page of results.", body = DeliverySearchDoc),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such target.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn search(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    super::deliveries::search(&app, Owner::Target(name), q).await
}

/// Count a target's delivery results
#[utoipa::path(
    get,
    path = "/api/v1/targets/{name}/events/count",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        DistinctQuery, AttemptQuery, RangeQuery,
    ),
    responses(
        (status = 200, description = "The counts, largest first.", body = DeliveryCountDoc),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn count(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    super::deliveries::count(&app, Owner::Target(name), q).await
}

/// List a target's messages
///
/// Its outbox, newest first; `state=dead` lists the dead letters.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{name}/deliveries",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        BatchQuery, RangeQuery, PageQuery,
    ),
    responses(
        (status = 200, description = "One page of messages.", body = BatchListDoc),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn batches(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    super::deliveries::batches(&app, Owner::Target(name), q).await
}

/// Replay a target's dead message
#[utoipa::path(
    post,
    path = "/api/v1/targets/{name}/deliveries/{batch_id}/replay",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        ("batch_id" = i64, Path, description = "The message's id."),
    ),
    responses(
        (status = 200, description = "Queued again, due now.", body = ReplayedDoc),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 409, description = "`conflict`: the message is not dead.", body = ErrorBody),
        (status = 503, description = "`delivery_unavailable` (`[delivery] enabled = false`) or `store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn replay_one(
    State(app): State<Arc<AppState>>,
    Path((name, batch)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    super::deliveries::replay_one(&app, Owner::Target(name), batch).await
}

/// Replay a target's dead messages
#[utoipa::path(
    post,
    path = "/api/v1/targets/{name}/deliveries/replay",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        RangeQuery,
    ),
    responses(
        (status = 200, description = "The ids queued again.", body = ReplayedDoc),
        (status = 400, description = "`invalid_query`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 503, description = "`delivery_unavailable` (`[delivery] enabled = false`) or `store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn replay_all(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    super::deliveries::replay_all(&app, Owner::Target(name), q).await
}
