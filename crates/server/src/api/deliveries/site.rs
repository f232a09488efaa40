//! The site-level webhooks' delivery routes (`/sites/{site_id}/webhooks/{id}/...`):
//! each documented handler reads its path and calls the owner-free code in `super`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::{
    AttemptQuery, CountAnswers, DeliveryCountView, DeliverySearchView, DistinctQuery, MessageQuery,
    MessageView, MessagesAnswers, Owner, PingView, RangeQuery, ReplayAllAnswers, ReplayOneAnswers,
    ReplayedView, SearchAnswers, WindowQuery,
};
use crate::api::answer::List;
use crate::api::params::{PageQuery, Params};
use crate::api::scope::{BatchPath, SiteBatchPath, SiteWebhookPath, WebhookPath};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

fn owner(path: SiteWebhookPath) -> Owner {
    let (scope, id) = path.webhook();
    Owner::Webhook(scope, id)
}

/// Search delivery results
///
/// Every attempt to deliver to this webhook, newest first, as Mist's `webhook_delivery`
/// objects (request and response headers and bodies, truncated) with the attempt number,
/// latency and batch.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/events/search",
    operation_id = "site_search_webhook_deliveries",
    tag = "webhooks",
    params(SiteWebhookPath, AttemptQuery, WindowQuery, PageQuery),
    responses(SearchAnswers),
    security(("api_token" = []))
)]
pub async fn search(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    q: Params,
) -> Result<Json<DeliverySearchView>, ApiError> {
    super::search(&app, owner(path), q).await
}

/// Count delivery results
///
/// Attempts grouped by `distinct` (`status` by default, `status_code`, `topic` or
/// `webhook_id`), with the same filters as the search.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/events/count",
    operation_id = "site_count_webhook_deliveries",
    tag = "webhooks",
    params(SiteWebhookPath, DistinctQuery, AttemptQuery, WindowQuery),
    responses(CountAnswers),
    security(("api_token" = []))
)]
pub async fn count(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    q: Params,
) -> Result<Json<DeliveryCountView>, ApiError> {
    super::count(&app, owner(path), q).await
}

/// Ping a webhook
///
/// Queues a Mist `ping` message (its event carries the webhook's id and name, the site id
/// and a timestamp); it is sent, retried and recorded like any other message, even when
/// the webhook is disabled.
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/ping",
    operation_id = "site_ping_webhook",
    tag = "webhooks",
    params(SiteWebhookPath),
    responses(
        (status = 200, description = "Queued; the delivery results show how it went.", body = PingView),
        (status = 401, description = "`unauthorized`.", body = ErrorBody),
        (status = 404, description = "`not_found`.", body = ErrorBody),
        (status = 503, description = "`delivery_unavailable`: `[delivery] enabled = false`; or `store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn ping(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
) -> Result<Json<PingView>, ApiError> {
    super::ping(&app, owner(path)).await
}

/// List a webhook's messages
///
/// The outbox: every message built for this webhook, newest first, with its state
/// (`pending`, `delivered`, `dead`). `state=dead` lists the dead letters.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries",
    operation_id = "site_list_webhook_batches",
    tag = "webhooks",
    params(SiteWebhookPath, MessageQuery, RangeQuery, PageQuery),
    responses(MessagesAnswers),
    security(("api_token" = []))
)]
pub async fn batches(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    q: Params,
) -> Result<Json<List<MessageView>>, ApiError> {
    super::batches(&app, owner(path), q).await
}

/// Replay a dead message
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay",
    operation_id = "site_replay_webhook_batch",
    tag = "webhooks",
    params(SiteBatchPath),
    responses(ReplayOneAnswers),
    security(("api_token" = []))
)]
pub async fn replay_one(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteBatchPath>,
) -> Result<Json<ReplayedView>, ApiError> {
    let (scope, id, batch) = path.batch();
    super::replay_one(&app, Owner::Webhook(scope, id), batch).await
}

/// Replay dead messages
///
/// Every dead message of this webhook built within `since`/`until` (all of them without
/// a range) is queued again.
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/replay",
    operation_id = "site_replay_webhook_batches",
    tag = "webhooks",
    params(SiteWebhookPath, RangeQuery),
    responses(ReplayAllAnswers),
    security(("api_token" = []))
)]
pub async fn replay_all(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    q: Params,
) -> Result<Json<ReplayedView>, ApiError> {
    super::replay_all(&app, owner(path), q).await
}
