//! Mist-compatible webhook subscriptions: `/orgs/{org_id}/webhooks` and
//! `/sites/{site_id}/webhooks`, with the Mist `webhook` object's fields, defaults and
//! validation (`deliver::subscription`). Lists are bare JSON arrays, as Mist answers them,
//! so that tools written for Mist's API work unchanged. Secrets are write-only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use deliver::subscription::{Invalid, Scope, Subscription, parse_request};
use serde_json::Value;
use store::SubscriptionRow;

use crate::clock::now_us;
use crate::error::ApiError;
use crate::state::AppState;

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

async fn list(app: &AppState, scope: Scope) -> Result<Json<Value>, ApiError> {
    let rows = app.store.subscriptions(Some(scope_key(&scope))).await?;
    let items = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Subscription>(&r.record).ok())
        .map(|s| s.public_view())
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn create(app: &AppState, scope: Scope, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let subscription = parse_request(&body, &scope, &id, now_s(), None).map_err(invalid)?;
    save(app, &scope, &subscription).await?;
    Ok(Json(subscription.public_view()))
}

async fn get(app: &AppState, scope: Scope, id: String) -> Result<Json<Value>, ApiError> {
    Ok(Json(load(app, &scope, &id).await?.public_view()))
}

async fn update(
    app: &AppState,
    scope: Scope,
    id: String,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let previous = load(app, &scope, &id).await?;
    let subscription =
        parse_request(&body, &scope, &id, now_s(), Some(&previous)).map_err(invalid)?;
    save(app, &scope, &subscription).await?;
    Ok(Json(subscription.public_view()))
}

async fn delete(app: &AppState, scope: Scope, id: String) -> Result<Json<Value>, ApiError> {
    load(app, &scope, &id).await?;
    app.store.delete_subscription(&id).await?;
    changed(app).await?;
    Ok(Json(Value::Object(Default::default())))
}

/// The handlers of one scope kind (`Scope::Org` or `Scope::Site`), for the router, with
/// their OpenAPI descriptions: `$list` and `$item` are the collection and item paths,
/// `$param` the name of the scope's path parameter.
macro_rules! scoped {
    ($module:ident, $scope:path, list = $list:literal, item = $item:literal, param = $param:literal, param_doc = $param_doc:literal, request = $request:ident) => {
        pub mod $module {
            use super::*;
            #[allow(unused_imports)]
            use crate::api::webhooks_doc::{
                EmptyDoc, OrgWebhookRequestDoc, WebhookDoc, WebhookRequestDoc,
            };
            #[allow(unused_imports)]
            use crate::error::ErrorBody;

            /// List webhooks
            ///
            /// Every webhook of the org or site in the path, as a bare JSON array (as Mist
            /// answers it).
            #[utoipa::path(
                get,
                path = $list,
                operation_id = concat!(stringify!($module), "_list_webhooks"),
                tag = "webhooks",
                params(($param = String, Path, description = $param_doc)),
                responses(
                    (status = 200, description = "Every webhook here, in no particular order.", body = [WebhookDoc]),
                    (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn list(
                State(app): State<Arc<AppState>>,
                Path(scope): Path<String>,
            ) -> Result<Json<Value>, ApiError> {
                super::list(&app, $scope(scope)).await
            }

            /// Add a webhook
            ///
            /// Checks the body as Mist does (field names, defaults, validation) and stores
            /// it with a new id. Answers 200 with the object, as Mist does.
            #[utoipa::path(
                post,
                path = $list,
                operation_id = concat!(stringify!($module), "_create_webhook"),
                tag = "webhooks",
                params(($param = String, Path, description = $param_doc)),
                request_body(content = $request, content_type = "application/json", description = "The Mist `webhook` object."),
                responses(
                    (status = 200, description = "Added, with its id.", body = WebhookDoc),
                    (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
                    (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
                    (status = 422, description = "`invalid_field`: an unknown field, a field of the wrong type or value, a missing required one, or a rule between fields (see the body's description), named in `detail`; `unsupported_type`: `type` is `google-pubsub` or `aws-sns`.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn create(
                State(app): State<Arc<AppState>>,
                Path(scope): Path<String>,
                body: Bytes,
            ) -> Result<Json<Value>, ApiError> {
                super::create(&app, $scope(scope), body).await
            }

            /// Get a webhook
            #[utoipa::path(
                get,
                path = $item,
                operation_id = concat!(stringify!($module), "_get_webhook"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                ),
                responses(
                    (status = 200, description = "The webhook.", body = WebhookDoc),
                    (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
                    (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn get(
                State(app): State<Arc<AppState>>,
                Path((scope, id)): Path<(String, String)>,
            ) -> Result<Json<Value>, ApiError> {
                super::get(&app, $scope(scope), id).await
            }

            /// Replace a webhook
            ///
            /// The body replaces the object, checked as when adding one; a write-only
            /// secret the body leaves out keeps its value, and `created_time` is kept.
            #[utoipa::path(
                put,
                path = $item,
                operation_id = concat!(stringify!($module), "_update_webhook"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                ),
                request_body(content = $request, content_type = "application/json", description = "The Mist `webhook` object."),
                responses(
                    (status = 200, description = "Replaced.", body = WebhookDoc),
                    (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
                    (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
                    (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
                    (status = 422, description = "`invalid_field` or `unsupported_type`: as when adding a webhook.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn update(
                State(app): State<Arc<AppState>>,
                Path((scope, id)): Path<(String, String)>,
                body: Bytes,
            ) -> Result<Json<Value>, ApiError> {
                super::update(&app, $scope(scope), id, body).await
            }

            /// Remove a webhook
            #[utoipa::path(
                delete,
                path = $item,
                operation_id = concat!(stringify!($module), "_delete_webhook"),
                tag = "webhooks",
                params(
                    ($param = String, Path, description = $param_doc),
                    ("id" = String, Path, description = "The webhook's id."),
                ),
                responses(
                    (status = 200, description = "Removed: `{}`.", body = EmptyDoc),
                    (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
                    (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
                    (status = 503, description = "`store_unavailable`.", body = ErrorBody),
                ),
                security(("api_token" = []))
            )]
            pub async fn delete(
                State(app): State<Arc<AppState>>,
                Path((scope, id)): Path<(String, String)>,
            ) -> Result<Json<Value>, ApiError> {
                super::delete(&app, $scope(scope), id).await
            }
        }
    };
}

scoped!(
    org,
    Scope::Org,
    list = "/api/v1/orgs/{org_id}/webhooks",
    item = "/api/v1/orgs/{org_id}/webhooks/{id}",
    param = "org_id",
    param_doc = "The organisation.",
    request = OrgWebhookRequestDoc
);
scoped!(
    site,
    Scope::Site,
    list = "/api/v1/sites/{site_id}/webhooks",
    item = "/api/v1/sites/{site_id}/webhooks/{id}",
    param = "site_id",
    param_doc = "The site.",
    request = WebhookRequestDoc
);
