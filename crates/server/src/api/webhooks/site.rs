//! The site-level webhook routes (`/sites/{site_id}/webhooks`): each documented
//! handler reads its path and calls the scope-free code in `super`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use bytes::Bytes;

use super::{MistPageQuery, WebhookBody, WebhookPatch, WebhookView};
use crate::access::audit::Before;
use crate::api::answer::Empty;
use crate::api::params::Params;
use crate::api::scope::{SitePath, SiteWebhookPath, WebhookPath};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// List webhooks
///
/// The webhooks of the site in the path, oldest first, as a bare JSON array paged by
/// `limit` and `page`, with `X-Page-Limit`, `X-Page-Page` and `X-Page-Total` (the number
/// of webhooks here) as Mist answers it.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/webhooks",
    operation_id = "site_list_webhooks",
    tag = "webhooks",
    params(SitePath, MistPageQuery),
    responses(
        (status = 200, description = "One page of the webhooks here, oldest first.", body = [WebhookView],
            headers(
                ("X-Page-Limit" = u32, description = "The page size in effect."),
                ("X-Page-Page" = u32, description = "The page number."),
                ("X-Page-Total" = u64, description = "How many webhooks there are here, all pages."),
            )),
        (status = 400, description = "`invalid_query`: `limit` or `page` out of range.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SitePath>,
    q: Params,
) -> Result<(HeaderMap, Json<Vec<WebhookView>>), ApiError> {
    super::list(&app, path.into(), q).await
}

/// Add a webhook
///
/// Checks the body as Mist does (field names, defaults, validation) and stores it with a
/// new id. Answers 200 with the object, as Mist does.
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/webhooks",
    operation_id = "site_create_webhook",
    tag = "webhooks",
    params(SitePath),
    request_body(content = WebhookBody, content_type = "application/json", description = "The Mist `webhook` object."),
    responses(
        (status = 200, description = "Added, with its id.", body = WebhookView),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: an unknown field, a field of the wrong type or value, a missing required one, or a rule between fields (see the body's description), named in `detail`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn create(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SitePath>,
    body: Bytes,
) -> Result<Json<WebhookView>, ApiError> {
    super::create(&app, path.into(), body).await
}

/// Get a webhook
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/webhooks/{id}",
    operation_id = "site_get_webhook",
    tag = "webhooks",
    params(SiteWebhookPath),
    responses(
        (status = 200, description = "The webhook.", body = WebhookView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
) -> Result<Json<WebhookView>, ApiError> {
    let (scope, id) = path.webhook();
    super::get(&app, scope, id).await
}

/// Update a webhook
///
/// A partial update, as Mist's: the fields of the body replace those stored, a field left
/// out keeps its value (a write-only secret too), `null` puts one back to its default;
/// the result is checked as when adding one. What a GET answered may be sent back whole:
/// its read-only fields are ignored.
#[utoipa::path(
    put,
    path = "/api/v1/sites/{site_id}/webhooks/{id}",
    operation_id = "site_update_webhook",
    tag = "webhooks",
    params(SiteWebhookPath),
    request_body(content = WebhookPatch, content_type = "application/json", description = "The Mist `webhook` object."),
    responses(
        (status = 200, description = "Updated.", body = WebhookView),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: as when adding a webhook.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn update(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<WebhookView>, ApiError> {
    let (scope, id) = path.webhook();
    super::update(&app, scope, id, body, &before).await
}

/// Remove a webhook
#[utoipa::path(
    delete,
    path = "/api/v1/sites/{site_id}/webhooks/{id}",
    operation_id = "site_delete_webhook",
    tag = "webhooks",
    params(SiteWebhookPath),
    responses(
        (status = 200, description = "Removed: `{}`.", body = Empty),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no webhook with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteWebhookPath>,
    Extension(before): Extension<Before>,
) -> Result<Json<Empty>, ApiError> {
    let (scope, id) = path.webhook();
    super::delete(&app, scope, id, &before).await
}
