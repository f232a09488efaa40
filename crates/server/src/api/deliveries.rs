//! What happened to a webhook's or a routing target's messages: Mist's delivery results
//! (`events/search`, `events/count`), the ping, and mistgate's outbox view with dead
//! letters and replay.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use deliver::subscription::{Scope, Subscription};
use serde_json::{Value, json};
use store::{AttemptFilter, AttemptRow, BatchFilter, BatchRow, BatchState, ReplayRequest};

use super::deliveries_doc::{AttemptStatusDoc, BatchStateDoc, DistinctDoc};
use super::params::{Params, get, instant, one_of, page_of, rfc3339};
use super::webhooks::load;
use crate::clock::now_us;
use crate::error::ApiError;
use crate::state::AppState;

/// Whose messages: a webhook of an org or site, or a routing target.
pub(crate) enum Owner {
    Webhook(Scope, String),
    Target(String),
}

/// An owner found: its outbox id and where it belongs.
struct Found {
    destination: String,
    org_id: Option<String>,
    site_id: Option<String>,
    webhook: Option<Subscription>,
}

async fn find(app: &AppState, owner: Owner) -> Result<Found, ApiError> {
    match owner {
        Owner::Webhook(scope, id) => {
            let sub = load(app, &scope, &id).await?;
            Ok(Found {
                destination: sub.id.clone(),
                org_id: sub.org_id.clone(),
                site_id: sub.site_id.clone(),
                webhook: Some(sub),
            })
        }
        Owner::Target(name) => {
            if !app.targets.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::NotFound(format!(
                    "no target named `{name}` is configured"
                )));
            }
            Ok(Found {
                destination: format!("{}{name}", deliver::targets::DESTINATION_PREFIX),
                org_id: None,
                site_id: None,
                webhook: None,
            })
        }
    }
}

fn engine(app: &AppState) -> Result<&Arc<deliver::Engine>, ApiError> {
    app.delivery.as_ref().ok_or(ApiError::DeliveryUnavailable)
}

/// `since`/`until` (or Mist's `start`/`end`) as unix µs. An empty range matches nothing,
/// as in every other list.
fn range(q: &Params) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let since = instant("since", get(q, "since"))?.or(instant("start", get(q, "start"))?);
    let until = instant("until", get(q, "until"))?.or(instant("end", get(q, "end"))?);
    Ok((since, until))
}

fn attempt_filter(owner: &Found, q: &Params) -> Result<AttemptFilter, ApiError> {
    let (since, until) = range(q)?;
    let success =
        one_of::<AttemptStatusDoc>(q, "status")?.map(|s| matches!(s, AttemptStatusDoc::Success));
    let status_code = match get(q, "status_code") {
        None => None,
        Some(v) => Some(
            v.parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| ApiError::InvalidQuery {
                    detail: format!("status_code `{v}` is not an HTTP status"),
                })?,
        ),
    };
    let topic = get(q, "topic")
        .filter(|t| !t.is_empty())
        .map(|t| mist::Topic::parse(t).as_str().to_string());
    Ok(AttemptFilter {
        subscription_id: Some(owner.destination.clone()),
        topic,
        success,
        status_code,
        since,
        until,
    })
}

fn seconds(us: i64) -> f64 {
    us as f64 / 1e6
}

/// One attempt as Mist's `webhook_delivery`, with mistgate's additions.
fn attempt_json(row: &AttemptRow, owner: &Found) -> Value {
    let r = &row.record;
    json!({
        "id": row.id,
        "org_id": owner.org_id,
        "site_id": owner.site_id,
        "webhook_id": r.subscription_id,
        "topic": r.topic,
        "status": if r.success { "success" } else { "failure" },
        "status_code": r.status_code,
        "timestamp": seconds(r.at),
        "req_url": r.url,
        "req_headers": r.request_headers,
        "req_payload": r.request_body,
        "resp_headers": r.response_headers,
        "resp_body": r.response_body,
        "error": r.error,
        "attempt": r.attempt,
        "latency_ms": r.latency_us as f64 / 1e3,
        "batch_id": r.batch_id,
        "batch_state": r.next_state.as_str(),
        "next_attempt_at": (r.next_state == BatchState::Pending).then(|| rfc3339(r.next_due_at)),
    })
}

fn batch_json(b: &BatchRow) -> Value {
    json!({
        "id": b.id,
        "webhook_id": b.subscription_id,
        "topic": b.topic,
        "state": b.state.as_str(),
        "event_count": b.event_count,
        "event_ids": b.event_ids,
        "delivery_id": b.delivery_id,
        "created_at": rfc3339(b.created_at),
        "next_attempt_at": (b.state == BatchState::Pending).then(|| rfc3339(b.due_at)),
        "attempts": b.attempts,
        "last_attempt_at": b.last_attempt_at.map(rfc3339),
        "last_status": b.last_status,
        "last_error": b.last_error,
    })
}

pub(crate) async fn search(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let owner = find(app, owner).await?;
    let filter = attempt_filter(&owner, &q)?;
    let page = page_of(&q)?;
    let (since, until) = (filter.since, filter.until);
    let found = app.store.attempts(filter, page).await?;
    let results: Vec<Value> = found
        .items
        .iter()
        .map(|r| attempt_json(r, &owner))
        .collect();
    Ok(Json(json!({
        "results": results,
        "start": since.map(seconds),
        "end": until.map(seconds),
        "limit": page.limit,
        "next_cursor": found.next.map(|n| n.to_string()),
    })))
}

pub(crate) async fn count(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let owner = find(app, owner).await?;
    let distinct = one_of::<DistinctDoc>(&q, "distinct")?
        .unwrap_or(DistinctDoc::Status)
        .as_str()
        .to_string();
    let filter = attempt_filter(&owner, &q)?;
    let (since, until) = (filter.since, filter.until);
    let groups = app.store.count_attempts(filter, distinct.clone()).await?;
    let total: i64 = groups.iter().map(|(_, n)| n).sum();
    let results: Vec<Value> = groups
        .into_iter()
        .map(|(key, n)| {
            let key = match distinct.as_str() {
                "status_code" => key.parse::<u16>().map_or(Value::Null, Value::from),
                _ => Value::String(key),
            };
            let mut item = serde_json::Map::new();
            item.insert(distinct.clone(), key);
            item.insert("count".into(), n.into());
            Value::Object(item)
        })
        .collect();
    Ok(Json(json!({
        "distinct": distinct,
        "results": results,
        "start": since.map(seconds),
        "end": until.map(seconds),
        "total": total,
    })))
}

pub(crate) async fn ping(app: &AppState, owner: Owner) -> Result<Json<Value>, ApiError> {
    let found = find(app, owner).await?;
    let Some(sub) = found.webhook else {
        return Err(ApiError::NotFound("only webhooks can be pinged".into()));
    };
    let batch_id = engine(app)?.ping(&sub).await?;
    Ok(Json(json!({ "batch_id": batch_id })))
}

pub(crate) async fn batches(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let owner = find(app, owner).await?;
    let state = one_of::<BatchStateDoc>(&q, "state")?.map(BatchState::from);
    let (since, until) = range(&q)?;
    let filter = BatchFilter {
        subscription_id: Some(owner.destination.clone()),
        state,
        topic: get(&q, "topic")
            .filter(|t| !t.is_empty())
            .map(|t| mist::Topic::parse(t).as_str().to_string()),
        since,
        until,
    };
    let page = page_of(&q)?;
    let found = app.store.batches(filter, page).await?;
    Ok(Json(json!({
        "items": found.items.iter().map(batch_json).collect::<Vec<_>>(),
        "next_cursor": found.next.map(|n| n.to_string()),
    })))
}

pub(crate) async fn replay_one(
    app: &AppState,
    owner: Owner,
    batch: String,
) -> Result<Json<Value>, ApiError> {
    let owner = find(app, owner).await?;
    let batch_id: i64 = batch
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no delivery `{batch}` here")))?;
    let row = app
        .store
        .batch(batch_id)
        .await?
        .filter(|b| b.subscription_id == owner.destination)
        .ok_or_else(|| ApiError::NotFound(format!("no delivery `{batch_id}` here")))?;
    if row.state != BatchState::Dead {
        return Err(ApiError::Conflict(format!(
            "delivery `{batch_id}` is {}; only dead deliveries are replayed",
            row.state.as_str()
        )));
    }
    let replayed = engine(app)?
        .replay(ReplayRequest {
            subscription_id: owner.destination.clone(),
            batch_id: Some(batch_id),
            since: None,
            until: None,
            now: now_us(),
        })
        .await?;
    Ok(Json(json!({ "replayed": replayed })))
}

pub(crate) async fn replay_all(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let owner = find(app, owner).await?;
    let (since, until) = range(&q)?;
    let replayed = engine(app)?
        .replay(ReplayRequest {
            subscription_id: owner.destination.clone(),
            batch_id: None,
            since,
            until,
            now: now_us(),
        })
        .await?;
    Ok(Json(json!({ "replayed": replayed })))
}

/// The handlers of one scope kind, with their OpenAPI descriptions.
macro_rules! scoped {
    ($module:ident, $scope:path, search = $search:literal, count = $count:literal, ping = $ping:literal,
     batches = $batches:literal, replay_one = $replay_one:literal, replay_all = $replay_all:literal,
     param = $param:literal, param_doc = $param_doc:literal) => {
        pub mod $module {
            use super::*;
            #[allow(unused_imports)]
            use crate::api::deliveries_doc::{AttemptQuery, BatchQuery, DistinctQuery, RangeQuery};
            #[allow(unused_imports)]
            use crate::api::params::PageQuery;
            #[allow(unused_imports)]
            use crate::api::webhooks_doc::{
                BatchListDoc, DeliveryCountDoc, DeliverySearchDoc, PingDoc, ReplayedDoc,
            };
            #[allow(unused_imports)]
            use crate::error::ErrorBody;

            /// Search delivery results
            ///
            /// Every attempt to deliver to this webhook, newest first, as Mist's
            /// `webhook_delivery` objects (request and response headers and bodies,
            /// truncated) with the attempt number, latency and batch.
            #[utoipa::path(
                get,
                path = $search,
                operation_id = concat!(stringify!($module), "_search_webhook_deliveries"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                    AttemptQuery, RangeQuery, PageQuery,
                ),
                responses(
                    (status = 200, description = "One page of results.", body = DeliverySearchDoc),
                    (status = 400, description = "`invalid_query`: a parameter is malformed.", body = ErrorBody),
                    (status = 401, description = "`unauthorized`.", body = ErrorBody),
                    (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn search(
                State(app): State<Arc<AppState>>,
                Path((scope, id)): Path<(String, String)>,
                q: Params,
            ) -> Result<Json<Value>, ApiError> {
                super::search(&app, Owner::Webhook($scope(scope), id), q).await
            }

            /// Count delivery results
            ///
            /// Attempts grouped by `distinct` (`status` by default, `status_code`,
            /// `topic` or `webhook_id`), with the same filters as the search.
            #[utoipa::path(
                get,
                path = $count,
                operation_id = concat!(stringify!($module), "_count_webhook_deliveries"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
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
                Path((scope, id)): Path<(String, String)>,
                q: Params,
            ) -> Result<Json<Value>, ApiError> {
                super::count(&app, Owner::Webhook($scope(scope), id), q).await
            }

            /// Ping a webhook
            ///
            /// Queues a Mist `ping` message (its event carries the webhook's id and name,
            /// the site id and a timestamp); it is sent, retried and recorded like any
            /// other message, even when the webhook is disabled.
            #[utoipa::path(
                post,
                path = $ping,
                operation_id = concat!(stringify!($module), "_ping_webhook"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                ),
                responses(
                    (status = 200, description = "Queued; the delivery results show how it went.", body = PingDoc),
                    (status = 401, description = "`unauthorized`.", body = ErrorBody),
                    (status = 404, description = "`not_found`.", body = ErrorBody),
                    (status = 503, description = "`delivery_unavailable`: `[delivery] enabled = false`; or `store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn ping(
                State(app): State<Arc<AppState>>,
                Path((scope, id)): Path<(String, String)>,
            ) -> Result<Json<Value>, ApiError> {
                super::ping(&app, Owner::Webhook($scope(scope), id)).await
            }

            /// List a webhook's messages
            ///
            /// The outbox: every message built for this webhook, newest first, with its
            /// state (`pending`, `delivered`, `dead`). `state=dead` lists the dead letters.
            #[utoipa::path(
                get,
                path = $batches,
                operation_id = concat!(stringify!($module), "_list_webhook_batches"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
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
                Path((scope, id)): Path<(String, String)>,
                q: Params,
            ) -> Result<Json<Value>, ApiError> {
                super::batches(&app, Owner::Webhook($scope(scope), id), q).await
            }

            /// Replay a dead message
            #[utoipa::path(
                post,
                path = $replay_one,
                operation_id = concat!(stringify!($module), "_replay_webhook_batch"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                    ("batch_id" = i64, Path, description = "The message's id."),
                ),
                responses(
                    (status = 200, description = "Queued again, due now.", body = ReplayedDoc),
                    (status = 401, description = "`unauthorized`.", body = ErrorBody),
                    (status = 404, description = "`not_found`: no such webhook or message.", body = ErrorBody),
                    (status = 409, description = "`conflict`: the message is not dead.", body = ErrorBody),
                    (status = 503, description = "`delivery_unavailable` (`[delivery] enabled = false`) or `store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn replay_one(
                State(app): State<Arc<AppState>>,
                Path((scope, id, batch)): Path<(String, String, String)>,
            ) -> Result<Json<Value>, ApiError> {
                super::replay_one(&app, Owner::Webhook($scope(scope), id), batch).await
            }

            /// Replay dead messages
            ///
            /// Every dead message of this webhook built within `since`/`until` (all of
            /// them without a range) is queued again.
            #[utoipa::path(
                post,
                path = $replay_all,
                operation_id = concat!(stringify!($module), "_replay_webhook_batches"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
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
                Path((scope, id)): Path<(String, String)>,
                q: Params,
            ) -> Result<Json<Value>, ApiError> {
                super::replay_all(&app, Owner::Webhook($scope(scope), id), q).await
            }
        }
    };
}

scoped!(
    org,
    Scope::Org,
    search = "/api/v1/orgs/{org_id}/webhooks/{id}/events/search",
    count = "/api/v1/orgs/{org_id}/webhooks/{id}/events/count",
    ping = "/api/v1/orgs/{org_id}/webhooks/{id}/ping",
    batches = "/api/v1/orgs/{org_id}/webhooks/{id}/deliveries",
    replay_one = "/api/v1/orgs/{org_id}/webhooks/{id}/deliveries/{batch_id}/replay",
    replay_all = "/api/v1/orgs/{org_id}/webhooks/{id}/deliveries/replay",
    param = "org_id",
    param_doc = "The organisation."
);
scoped!(
    site,
    Scope::Site,
    search = "/api/v1/sites/{site_id}/webhooks/{id}/events/search",
    count = "/api/v1/sites/{site_id}/webhooks/{id}/events/count",
    ping = "/api/v1/sites/{site_id}/webhooks/{id}/ping",
    batches = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries",
    replay_one = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay",
    replay_all = "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/replay",
    param = "site_id",
    param_doc = "The site."
);
