//! The routing targets and their deliveries: the same views as a webhook's (see
//! `deliveries/`), by target name.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use super::answer::List;
use super::deliveries::{
    AttemptQuery, CountAnswers, DeliveryCountView, DeliverySearchView, DistinctQuery, MessageQuery,
    MessageView, MessagesAnswers, Owner, RangeQuery, ReplayAllAnswers, ReplayOneAnswers,
    ReplayedView, SearchAnswers, WindowQuery,
};
use super::params::{PageQuery, Params};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// A routing target (its settings and secrets are not shown).
#[derive(Serialize, ToSchema)]
pub struct TargetView {
    /// The name of `[targets.<name>]`.
    name: String,
    /// What it is.
    #[serde(rename = "type")]
    #[schema(schema_with = target_types)]
    kind: &'static str,
}

/// The types of routing target, as `deliver::targets::TargetConfig::kind` names them.
fn target_types() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            "webhook",
            "slack",
            "teams",
            "pagerduty",
            "servicenow",
            "splunk",
            "syslog",
            "nats",
        ]))
        .into()
}

/// List routing targets
///
/// The targets of the configuration file (`[targets.<name>]`), with their type; their
/// settings (and secrets) are not shown.
#[utoipa::path(
    get,
    path = "/api/v1/targets",
    tag = "routing",
    responses(
        (status = 200, description = "Every configured target.", body = [TargetView]),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list(State(app): State<Arc<AppState>>) -> Json<Vec<TargetView>> {
    Json(
        app.targets
            .iter()
            .map(|(name, kind)| TargetView {
                name: name.clone(),
                kind,
            })
            .collect(),
    )
}

/// Search a target's delivery results
#[utoipa::path(
    get,
    path = "/api/v1/targets/{name}/events/search",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        AttemptQuery, WindowQuery, PageQuery,
    ),
    responses(SearchAnswers),
    security(("api_token" = []))
)]
pub async fn search(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<DeliverySearchView>, ApiError> {
    super::deliveries::search(&app, Owner::Target(name), q).await
}

/// Count a target's delivery results
#[utoipa::path(
    get,
    path = "/api/v1/targets/{name}/events/count",
    tag = "routing",
    params(
        ("name" = String, Path, description = "The target's name."),
        DistinctQuery, AttemptQuery, WindowQuery,
    ),
    responses(CountAnswers),
    security(("api_token" = []))
)]
pub async fn count(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<DeliveryCountView>, ApiError> {
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
        MessageQuery, RangeQuery, PageQuery,
    ),
    responses(MessagesAnswers),
    security(("api_token" = []))
)]
pub async fn batches(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<List<MessageView>>, ApiError> {
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
    responses(ReplayOneAnswers),
    security(("api_token" = []))
)]
pub async fn replay_one(
    State(app): State<Arc<AppState>>,
    Path((name, batch)): Path<(String, String)>,
) -> Result<Json<ReplayedView>, ApiError> {
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
    responses(ReplayAllAnswers),
    security(("api_token" = []))
)]
pub async fn replay_all(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Params,
) -> Result<Json<ReplayedView>, ApiError> {
    super::deliveries::replay_all(&app, Owner::Target(name), q).await
}
