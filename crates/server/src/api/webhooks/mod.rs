//! Mist-compatible webhook subscriptions: `/orgs/{org_id}/webhooks` and
//! `/sites/{site_id}/webhooks`, with the Mist `webhook` object's fields, defaults and
//! validation (`deliver::subscription`). Lists are bare JSON arrays paged by `limit` and
//! `page` with `X-Page-*` headers, as Mist answers them, so that tools written for Mist's
//! API work unchanged. Secrets are write-only. A site webhook's `org_id` is the org its
//! site's events carry, once one has arrived (Mist knows it from the site; mistgate learns
//! it from the log).

pub mod org;
pub(crate) mod paging;
pub mod site;
pub(crate) mod views;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use deliver::subscription::{Invalid, Scope, Subscription, parse_request};
use store::{EventFilter, Order, PageRequest, SubscriptionRow};

use self::paging::MistPage;
pub use self::paging::MistPageQuery;
pub use self::views::{OrgWebhookBody, OrgWebhookPatch, WebhookBody, WebhookPatch, WebhookView};
use super::answer::Empty;
use super::params::Params;
use crate::access::audit::Before;
use crate::app_state::AppState;
use crate::error::ApiError;
use deliver::clock::now_us;

pub(crate) fn scope_key(scope: &Scope) -> (String, String) {
    match scope {
        Scope::Org(id) => ("org".into(), id.clone()),
        Scope::Site(id) => ("site".into(), id.clone()),
    }
}

pub(crate) fn invalid(e: Invalid) -> ApiError {
    let detail = match &e.field {
        Some(field) if !e.detail.contains(field.as_str()) => format!("`{field}`: {}", e.detail),
        _ => e.detail,
    };
    ApiError::Field {
        status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
        code: e.code,
        detail,
    }
}

/// The stored subscription `id`, if it belongs to `scope`.
pub(crate) async fn load(
    app: &AppState,
    scope: &Scope,
    id: &str,
) -> Result<Subscription, ApiError> {
    load_record(app, scope_key(scope), id, "webhook").await
}

async fn save(app: &AppState, scope: &Scope, subscription: &Subscription) -> Result<(), ApiError> {
    save_record(app, scope_key(scope), &subscription.id, subscription).await
}

/// A JSON record of the subscriptions table (a webhook, an asset filter) kept under `key`
/// (scope kind, scope id); another scope's is not found. `what` names it in errors.
pub(crate) async fn load_record<T: serde::de::DeserializeOwned>(
    app: &AppState,
    key: (String, String),
    id: &str,
    what: &str,
) -> Result<T, ApiError> {
    let row = app
        .store
        .subscription(id)
        .await?
        .filter(|r| (&r.scope, &r.scope_id) == (&key.0, &key.1))
        .ok_or_else(|| ApiError::NotFound(format!("no {what} with id `{id}` here")))?;
    parse_record(&row, what)
}

/// A stored record read back; one that does not parse is a store failure naming it.
pub(crate) fn parse_record<T: serde::de::DeserializeOwned>(
    row: &SubscriptionRow,
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_str(&row.record).map_err(|e| {
        ApiError::Store(store::StoreError::Task(format!(
            "{what} `{}` is unreadable: {e}",
            row.id
        )))
    })
}

/// Stores `record` under `key` and tells the delivery engine.
pub(crate) async fn save_record<T: serde::Serialize>(
    app: &AppState,
    key: (String, String),
    id: &str,
    record: &T,
) -> Result<(), ApiError> {
    let row = SubscriptionRow {
        id: id.to_string(),
        scope: key.0,
        scope_id: key.1,
        record: serde_json::to_string(record).expect("a stored record serialises"),
        modified_at: now_us(),
    };
    app.store.put_subscription(row).await?;
    changed(app).await
}

/// Tells the delivery engine that the subscriptions changed.
pub(crate) async fn changed(app: &AppState) -> Result<(), ApiError> {
    if let Some(delivery) = &app.delivery {
        delivery.subscriptions_changed().await?;
    }
    Ok(())
}

fn now_s() -> f64 {
    now_us() as f64 / 1e6
}

/// One page of the webhooks of `scope`, oldest first (a bare array, as Mist answers it).
async fn list(
    app: &AppState,
    scope: Scope,
    q: Params,
) -> Result<(HeaderMap, Json<Vec<WebhookView>>), ApiError> {
    let page = MistPage::of(&q)?;
    let rows = app.store.subscriptions(Some(scope_key(&scope))).await?;
    let items = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Subscription>(&r.record).ok())
        .collect();
    let (headers, mut items): (_, Vec<Subscription>) = page.cut(items);
    if let Scope::Site(site) = &scope
        && items.iter().any(|s| s.org_id.is_none())
    {
        let org = site_org(app, site).await?;
        for s in items.iter_mut().filter(|s| s.org_id.is_none()) {
            s.org_id.clone_from(&org);
        }
    }
    Ok((headers, Json(items.iter().map(WebhookView::from).collect())))
}

/// The org of a site, as the newest stored event of that site names it.
pub(crate) async fn site_org(app: &AppState, site_id: &str) -> Result<Option<String>, ApiError> {
    let filter = EventFilter {
        site_id: Some(site_id.to_string()),
        ..EventFilter::default()
    };
    let page = PageRequest {
        limit: 1,
        after: None,
        order: Order::Desc,
    };
    let found = app.store.events(filter, page).await?;
    Ok(found.items.into_iter().find_map(|e| e.org_id))
}

/// A site webhook's `org_id`: the one it has, else its site's, if known.
async fn fill_org(app: &AppState, subscription: &mut Subscription) -> Result<(), ApiError> {
    if let (None, Some(site)) = (&subscription.org_id, &subscription.site_id) {
        subscription.org_id = site_org(app, site).await?;
    }
    Ok(())
}

/// The asset filters a webhook names exist where it may name them (see `assetfilters`).
async fn check_filters(app: &AppState, scope: &Scope, s: &Subscription) -> Result<(), ApiError> {
    super::assetfilters::check_ids(app, scope, s.org_id.as_deref(), &s.assetfilter_ids).await
}

async fn create(app: &AppState, scope: Scope, body: Bytes) -> Result<Json<WebhookView>, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut subscription = parse_request(&body, &scope, &id, now_s(), None).map_err(invalid)?;
    fill_org(app, &mut subscription).await?;
    check_filters(app, &scope, &subscription).await?;
    save(app, &scope, &subscription).await?;
    Ok(Json(WebhookView::from(&subscription)))
}

async fn get(app: &AppState, scope: Scope, id: String) -> Result<Json<WebhookView>, ApiError> {
    let mut subscription = load(app, &scope, &id).await?;
    fill_org(app, &mut subscription).await?;
    Ok(Json(WebhookView::from(&subscription)))
}

async fn update(
    app: &AppState,
    scope: Scope,
    id: String,
    body: Bytes,
    before: &Before,
) -> Result<Json<WebhookView>, ApiError> {
    let previous = load(app, &scope, &id).await?;
    before.set(WebhookView::from(&previous));
    let mut subscription =
        parse_request(&body, &scope, &id, now_s(), Some(&previous)).map_err(invalid)?;
    subscription.org_id = subscription.org_id.or(previous.org_id);
    fill_org(app, &mut subscription).await?;
    if subscription.assetfilter_ids != previous.assetfilter_ids {
        check_filters(app, &scope, &subscription).await?;
    }
    save(app, &scope, &subscription).await?;
    Ok(Json(WebhookView::from(&subscription)))
}

async fn delete(
    app: &AppState,
    scope: Scope,
    id: String,
    before: &Before,
) -> Result<Json<Empty>, ApiError> {
    before.set(WebhookView::from(&load(app, &scope, &id).await?));
    app.store.delete_subscription(&id).await?;
    changed(app).await?;
    Ok(Json(Empty {}))
}
