//! What happened to a webhook's or a routing target's messages: Mist's delivery results
//! (`events/search`, `events/count`), the ping, and mistgate's outbox view with dead
//! letters and replay.

mod ids;
pub mod org;
pub mod site;
mod views;
mod window;

use std::sync::Arc;

use axum::Json;
use deliver::subscription::{Scope, Subscription};
use store::{AttemptFilter, BatchFilter, BatchState, Order, PageRequest, ReplayRequest};

use self::views::Place;
pub use self::views::{
    AttemptQuery, AttemptStatus, AttemptView, CountAnswers, CountKey, CountView, DeliveryCountView,
    DeliverySearchView, Distinct, DistinctQuery, MessageQuery, MessageState, MessageView,
    MessagesAnswers, PingView, RangeQuery, ReplayAllAnswers, ReplayOneAnswers, ReplayedView,
    SearchAnswers, WindowQuery,
};
use self::window::Window;
use super::answer::List;
use super::params::{Params, get, instant, one_of, page, page_of, topic};
use super::webhooks::load;
use crate::app_state::AppState;
use crate::error::ApiError;
use deliver::clock::now_us;

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

/// The filters of delivery results, within Mist's time window (see [`Window`]).
fn attempt_filter(owner: &Found, q: &Params, window: Window) -> Result<AttemptFilter, ApiError> {
    let success =
        one_of::<AttemptStatus>(q, "status")?.map(|s| matches!(s, AttemptStatus::Success));
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
    Ok(AttemptFilter {
        subscription_id: Some(owner.destination.clone()),
        topic: topic(q).filter(|t| !t.is_empty()),
        success,
        status_code,
        error: get(q, "error")
            .filter(|e| !e.is_empty())
            .map(str::to_string),
        since: Some(window.start),
        until: Some(window.end),
    })
}

impl Found {
    fn place(&self) -> Place<'_> {
        Place {
            org_id: &self.org_id,
            site_id: &self.site_id,
        }
    }
}

/// A page of an owner's delivery attempts, newest first, with how many there are.
pub(crate) async fn search(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<DeliverySearchView>, ApiError> {
    let owner = find(app, owner).await?;
    let window = Window::of(&q, now_us())?;
    let filter = attempt_filter(&owner, &q, window)?;
    let page = page_of(&q)?;
    // The page first: an attempt recorded in between is counted, never a result
    // missing from `total`.
    let found = app.store.attempts(filter.clone(), page).await?;
    let counts = app
        .store
        .count_attempts(filter, Distinct::Status.as_str().to_string())
        .await?;
    let place = owner.place();
    Ok(Json(DeliverySearchView {
        results: found
            .items
            .into_iter()
            .map(|r| AttemptView::new(r, &place))
            .collect(),
        start: window.start_s(),
        end: window.end_s(),
        limit: page.limit,
        total: counts.iter().map(|(_, n)| n).sum(),
        next_cursor: found.next.map(|n| n.to_string()),
    }))
}

/// An owner's delivery attempts counted by `distinct`: the `limit` largest groups.
pub(crate) async fn count(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<DeliveryCountView>, ApiError> {
    let owner = find(app, owner).await?;
    let distinct = one_of::<Distinct>(&q, "distinct")?.unwrap_or(Distinct::Status);
    let window = Window::of(&q, now_us())?;
    let limit = page(get(&q, "limit"), None, None)?.limit;
    let filter = attempt_filter(&owner, &q, window)?;
    let groups = app
        .store
        .count_attempts(filter, distinct.as_str().to_string())
        .await?;
    let total: i64 = groups.iter().map(|(_, n)| n).sum();
    Ok(Json(DeliveryCountView {
        distinct,
        results: groups
            .into_iter()
            .take(limit as usize)
            .map(|(key, count)| CountView {
                key: CountKey::new(distinct, key),
                count,
            })
            .collect(),
        start: window.start_s(),
        end: window.end_s(),
        limit,
        total,
    }))
}

/// Queues a Mist `ping` message to a webhook.
pub(crate) async fn ping(app: &AppState, owner: Owner) -> Result<Json<PingView>, ApiError> {
    let found = find(app, owner).await?;
    let Some(sub) = found.webhook else {
        return Err(ApiError::NotFound("only webhooks can be pinged".into()));
    };
    let batch_id = engine(app)?.ping(&sub).await?;
    Ok(Json(PingView { batch_id }))
}

/// A page of an owner's outbox, newest first.
pub(crate) async fn batches(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<List<MessageView>>, ApiError> {
    let owner = find(app, owner).await?;
    let state = one_of::<MessageState>(&q, "state")?.map(BatchState::from);
    let (since, until) = range(&q)?;
    let filter = BatchFilter {
        subscription_id: Some(owner.destination.clone()),
        state,
        topic: topic(&q).filter(|t| !t.is_empty()),
        since,
        until,
    };
    let found = app.store.batches(filter, page_of(&q)?).await?;
    Ok(Json(List::new(
        found.items.into_iter().map(MessageView::from).collect(),
        found.next,
    )))
}

/// The outbox message `batch` names: its id, or the UUID of a delivery result (an
/// attempt) of this owner, which names the message that attempt sent.
async fn message_id(app: &AppState, owner: &Found, batch: &str) -> Result<i64, ApiError> {
    if let Ok(id) = batch.parse::<i64>() {
        return Ok(id);
    }
    let missing = || ApiError::NotFound(format!("no delivery `{batch}` here"));
    let attempt = ids::from_uuid(batch).ok_or_else(missing)?;
    let filter = AttemptFilter {
        subscription_id: Some(owner.destination.clone()),
        ..AttemptFilter::default()
    };
    let page = PageRequest {
        limit: 1,
        after: attempt.checked_add(1),
        order: Order::Desc,
    };
    let found = app.store.attempts(filter, page).await?;
    found
        .items
        .into_iter()
        .find(|a| a.id == attempt)
        .map(|a| a.record.batch_id)
        .ok_or_else(missing)
}

/// Queues one dead message of an owner again.
pub(crate) async fn replay_one(
    app: &AppState,
    owner: Owner,
    batch: String,
) -> Result<Json<ReplayedView>, ApiError> {
    let owner = find(app, owner).await?;
    let batch_id = message_id(app, &owner, &batch).await?;
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
    replay(app, &owner, Some(batch_id), (None, None)).await
}

/// Queues every dead message of an owner within `since`/`until` again.
pub(crate) async fn replay_all(
    app: &AppState,
    owner: Owner,
    q: Params,
) -> Result<Json<ReplayedView>, ApiError> {
    let owner = find(app, owner).await?;
    let range = range(&q)?;
    replay(app, &owner, None, range).await
}

async fn replay(
    app: &AppState,
    owner: &Found,
    batch_id: Option<i64>,
    (since, until): (Option<i64>, Option<i64>),
) -> Result<Json<ReplayedView>, ApiError> {
    let replayed = engine(app)?
        .replay(ReplayRequest {
            subscription_id: owner.destination.clone(),
            batch_id,
            since,
            until,
            now: now_us(),
        })
        .await?;
    Ok(Json(ReplayedView { replayed }))
}
