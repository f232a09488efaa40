//! The documented asset filter routes, per scope (`/orgs/{org_id}/assetfilters`,
//! `/sites/{site_id}/assetfilters`): each reads its path and calls the scope-free code in
//! `super`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use bytes::Bytes;
use deliver::subscription::Scope;
use deliver::subscription::assetfilter::AssetFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{AssetFilterBody, AssetFilterPatch};
use crate::access::audit::Before;
use crate::api::answer::Empty;
use crate::api::params::Params;
use crate::api::scope::{OrgPath, SitePath};
use crate::api::webhooks::MistPageQuery;
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// `/orgs/{org_id}/assetfilters/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgFilterPath {
    /// The organisation.
    org_id: String,
    /// The asset filter's id.
    id: String,
}

/// `/sites/{site_id}/assetfilters/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SiteFilterPath {
    /// The site.
    site_id: String,
    /// The asset filter's id.
    id: String,
}

impl OrgFilterPath {
    fn split(self) -> (Scope, String) {
        (Scope::Org(self.org_id), self.id)
    }
}

impl SiteFilterPath {
    fn split(self) -> (Scope, String) {
        (Scope::Site(self.site_id), self.id)
    }
}

/// List asset filters
///
/// The asset filters of the org in the path, oldest first, as a bare JSON array paged by
/// `limit` and `page` with `X-Page-Limit`, `X-Page-Page` and `X-Page-Total`, as Mist
/// answers it.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org_id}/assetfilters",
    operation_id = "org_list_assetfilters",
    tag = "webhooks",
    params(OrgPath, MistPageQuery),
    responses(
        (status = 200, description = "One page of the asset filters here, oldest first.", body = [AssetFilter],
            headers(
                ("X-Page-Limit" = u32, description = "The page size in effect."),
                ("X-Page-Page" = u32, description = "The page number."),
                ("X-Page-Total" = u64, description = "How many asset filters there are here, all pages."),
            )),
        (status = 400, description = "`invalid_query`: `limit` or `page` out of range.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn org_list(
    State(app): State<Arc<AppState>>,
    Path(path): Path<OrgPath>,
    q: Params,
) -> Result<(HeaderMap, Json<Vec<AssetFilter>>), ApiError> {
    super::list(&app, path.into(), q).await
}

/// Add an asset filter
///
/// Checks the body as Mist's `assetfilter` object and stores it with a new id.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org_id}/assetfilters",
    operation_id = "org_create_assetfilter",
    tag = "webhooks",
    params(OrgPath),
    request_body(content = AssetFilterBody, content_type = "application/json", description = "Mist's `assetfilter` object."),
    responses(
        (status = 200, description = "Added, with its id.", body = AssetFilter),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: an unknown field, or one of the wrong type or value, named in `detail`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn org_create(
    State(app): State<Arc<AppState>>,
    Path(path): Path<OrgPath>,
    body: Bytes,
) -> Result<Json<AssetFilter>, ApiError> {
    super::create(&app, path.into(), body).await
}

/// Get an asset filter
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org_id}/assetfilters/{id}",
    operation_id = "org_get_assetfilter",
    tag = "webhooks",
    params(OrgFilterPath),
    responses(
        (status = 200, description = "The asset filter.", body = AssetFilter),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn org_get(
    State(app): State<Arc<AppState>>,
    Path(path): Path<OrgFilterPath>,
) -> Result<Json<AssetFilter>, ApiError> {
    let (scope, id) = path.split();
    super::get(&app, scope, id).await
}

/// Update an asset filter
///
/// A partial update, as Mist's: the fields of the body replace those stored, a field left
/// out keeps its value, `null` resets one; what a GET answered may be sent back whole.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org_id}/assetfilters/{id}",
    operation_id = "org_update_assetfilter",
    tag = "webhooks",
    params(OrgFilterPath),
    request_body(content = AssetFilterPatch, content_type = "application/json", description = "A partial `assetfilter` object."),
    responses(
        (status = 200, description = "Updated.", body = AssetFilter),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: as when adding one.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn org_update(
    State(app): State<Arc<AppState>>,
    Path(path): Path<OrgFilterPath>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<AssetFilter>, ApiError> {
    let (scope, id) = path.split();
    super::update(&app, scope, id, body, &before).await
}

/// Remove an asset filter
///
/// Webhooks that name it keep its id; one whose filters are all gone gets no events of
/// the asset topics.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org_id}/assetfilters/{id}",
    operation_id = "org_delete_assetfilter",
    tag = "webhooks",
    params(OrgFilterPath),
    responses(
        (status = 200, description = "Removed: `{}`.", body = Empty),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn org_delete(
    State(app): State<Arc<AppState>>,
    Path(path): Path<OrgFilterPath>,
    Extension(before): Extension<Before>,
) -> Result<Json<Empty>, ApiError> {
    let (scope, id) = path.split();
    super::delete(&app, scope, id, &before).await
}

/// List asset filters
///
/// The asset filters of the site in the path, oldest first, as a bare JSON array paged by
/// `limit` and `page` with `X-Page-Limit`, `X-Page-Page` and `X-Page-Total`, as Mist
/// answers it.
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/assetfilters",
    operation_id = "site_list_assetfilters",
    tag = "webhooks",
    params(SitePath, MistPageQuery),
    responses(
        (status = 200, description = "One page of the asset filters here, oldest first.", body = [AssetFilter],
            headers(
                ("X-Page-Limit" = u32, description = "The page size in effect."),
                ("X-Page-Page" = u32, description = "The page number."),
                ("X-Page-Total" = u64, description = "How many asset filters there are here, all pages."),
            )),
        (status = 400, description = "`invalid_query`: `limit` or `page` out of range.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn site_list(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SitePath>,
    q: Params,
) -> Result<(HeaderMap, Json<Vec<AssetFilter>>), ApiError> {
    super::list(&app, path.into(), q).await
}

/// Add an asset filter
///
/// Checks the body as Mist's `assetfilter` object and stores it with a new id.
#[utoipa::path(
    post,
    path = "/api/v1/sites/{site_id}/assetfilters",
    operation_id = "site_create_assetfilter",
    tag = "webhooks",
    params(SitePath),
    request_body(content = AssetFilterBody, content_type = "application/json", description = "Mist's `assetfilter` object."),
    responses(
        (status = 200, description = "Added, with its id.", body = AssetFilter),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: an unknown field, or one of the wrong type or value, named in `detail`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn site_create(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SitePath>,
    body: Bytes,
) -> Result<Json<AssetFilter>, ApiError> {
    super::create(&app, path.into(), body).await
}

/// Get an asset filter
#[utoipa::path(
    get,
    path = "/api/v1/sites/{site_id}/assetfilters/{id}",
    operation_id = "site_get_assetfilter",
    tag = "webhooks",
    params(SiteFilterPath),
    responses(
        (status = 200, description = "The asset filter.", body = AssetFilter),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn site_get(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteFilterPath>,
) -> Result<Json<AssetFilter>, ApiError> {
    let (scope, id) = path.split();
    super::get(&app, scope, id).await
}

/// Update an asset filter
///
/// A partial update, as Mist's: the fields of the body replace those stored, a field left
/// out keeps its value, `null` resets one; what a GET answered may be sent back whole.
#[utoipa::path(
    put,
    path = "/api/v1/sites/{site_id}/assetfilters/{id}",
    operation_id = "site_update_assetfilter",
    tag = "webhooks",
    params(SiteFilterPath),
    request_body(content = AssetFilterPatch, content_type = "application/json", description = "A partial `assetfilter` object."),
    responses(
        (status = 200, description = "Updated.", body = AssetFilter),
        (status = 400, description = "`malformed_json`: the body is not JSON, or not an object.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 422, description = "`invalid_field`: as when adding one.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn site_update(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteFilterPath>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<AssetFilter>, ApiError> {
    let (scope, id) = path.split();
    super::update(&app, scope, id, body, &before).await
}

/// Remove an asset filter
///
/// Webhooks that name it keep its id; one whose filters are all gone gets no events of
/// the asset topics.
#[utoipa::path(
    delete,
    path = "/api/v1/sites/{site_id}/assetfilters/{id}",
    operation_id = "site_delete_assetfilter",
    tag = "webhooks",
    params(SiteFilterPath),
    responses(
        (status = 200, description = "Removed: `{}`.", body = Empty),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no asset filter with that id here.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn site_delete(
    State(app): State<Arc<AppState>>,
    Path(path): Path<SiteFilterPath>,
    Extension(before): Extension<Before>,
) -> Result<Json<Empty>, ApiError> {
    let (scope, id) = path.split();
    super::delete(&app, scope, id, &before).await
}
