//! Mist-compatible webhook subscriptions: `/orgs/{org_id}/webhooks` and
//! `/sites/{site_id}/webhooks`, with the Mist `webhook` object's fields, defaults and
//! validation (`deliver::subscription`). Lists are bare JSON arrays, as Mist answers them,
//! so that tools written for Mist's API work unchanged. Secrets are write-only.

pub mod org;
pub mod site;
pub(crate) mod views;

use axum::Json;
use axum::http::StatusCode;
use bytes::Bytes;
use deliver::subscription::{Invalid, Scope, Subscription, parse_request};
use store::SubscriptionRow;

pub use self::views::{OrgWebhookBody, WebhookBody, WebhookView};
use super::answer::Empty;
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

fn invalid(e: Invalid) -> ApiError {
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

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no webhook with id `{id}` here"))
}

/// The stored subscription `id`, if it belongs to `scope`.
pub(crate) async fn load(
    app: &AppState,
    scope: &Scope,
    id: &str,
) -> Result<Subscription, ApiError> {
    let (kind, scope_id) = scope_key(scope);
    let row = app
        .store
        .subscription(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if row.scope != kind || row.scope_id != scope_id {
        return Err(not_found(id));
    }
    serde_json::from_str(&row.record).map_err(|e| {
        ApiError::Store(store::StoreError::Task(format!(
            "webhook `{id}` is unreadable: {e}"
        )))
    })
}

async fn save(app: &AppState, scope: &Scope, subscription: &Subscription) -> Result<(), ApiError> {
    let (kind, scope_id) = scope_key(scope);
    let row = SubscriptionRow {
        id: subscription.id.clone(),
        scope: kind,
        scope_id,
        record: serde_json::to_string(subscription).expect("a subscription serialises"),
        modified_at: now_us(),
    };
    app.store.put_subscription(row).await?;
    changed(app).await
}

/// Tells the delivery engine that the subscriptions changed.
async fn changed(app: &AppState) -> Result<(), ApiError> {
    if let Some(delivery) = &app.delivery {
        delivery.subscriptions_changed().await?;
    }
    Ok(())
}

fn now_s() -> f64 {
    now_us() as f64 / 1e6
}

/// Every webhook of `scope` (a bare array, as Mist answers it).
async fn list(app: &AppState, scope: Scope) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let rows = app.store.subscriptions(Some(scope_key(&scope))).await?;
    let items = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Subscription>(&r.record).ok())
        .map(|s| WebhookView::from(&s))
        .collect();
    Ok(Json(items))
}

async fn create(app: &AppState, scope: Scope, body: Bytes) -> Result<Json<WebhookView>, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let subscription = parse_request(&body, &scope, &id, now_s(), None).map_err(invalid)?;
    save(app, &scope, &subscription).await?;
    Ok(Json(WebhookView::from(&subscription)))
}

async fn get(app: &AppState, scope: Scope, id: String) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::from(&load(app, &scope, &id).await?)))
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
    let subscription =
        parse_request(&body, &scope, &id, now_s(), Some(&previous)).map_err(invalid)?;
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
