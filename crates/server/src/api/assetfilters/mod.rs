//! Asset filters, as Mist has them: `/orgs/{org_id}/assetfilters` and
//! `/sites/{site_id}/assetfilters`, the `assetfilter` object parsed and matched by
//! `deliver::subscription::assetfilter`. A webhook names them in `assetfilter_ids` to
//! receive only the BLE assets they match of the asset topics. They are kept in the
//! store's subscriptions under scope kinds of their own, and a change reloads the
//! delivery engine's registry as a webhook's does.

pub mod routes;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use deliver::subscription::Scope;
use deliver::subscription::assetfilter::{AssetFilter, ORG_SCOPE, SITE_SCOPE, parse_assetfilter};
use utoipa::ToSchema;

use super::answer::Empty;
use super::params::Params;
use super::webhooks::paging::MistPage;
use super::webhooks::{changed, invalid, load_record, parse_record, save_record, site_org};
use crate::access::audit::Before;
use crate::app_state::AppState;
use crate::error::ApiError;
use deliver::clock::now_us;

/// Where filters of `scope` are kept: their scope kind and id in the store.
fn store_key(scope: &Scope) -> (String, String) {
    match scope {
        Scope::Org(id) => (ORG_SCOPE.into(), id.clone()),
        Scope::Site(id) => (SITE_SCOPE.into(), id.clone()),
    }
}

/// The asset filter `id`, if it belongs to `scope`.
pub(crate) async fn load(app: &AppState, scope: &Scope, id: &str) -> Result<AssetFilter, ApiError> {
    load_record(app, store_key(scope), id, WHAT).await
}

async fn save(app: &AppState, scope: &Scope, filter: &AssetFilter) -> Result<(), ApiError> {
    save_record(app, store_key(scope), &filter.id, filter).await
}

/// How errors name a filter.
const WHAT: &str = "asset filter";

/// Every asset filter of `scope`, oldest first.
pub(crate) async fn all(app: &AppState, scope: &Scope) -> Result<Vec<AssetFilter>, ApiError> {
    let rows = app.store.subscriptions(Some(store_key(scope))).await?;
    rows.iter().map(|r| parse_record(r, WHAT)).collect()
}

/// The asset filters a webhook of `scope` may name: its own scope's, and for a site
/// webhook its org's too (when the site's org is known).
pub(crate) async fn visible(
    app: &AppState,
    scope: &Scope,
    org_id: Option<&str>,
) -> Result<Vec<AssetFilter>, ApiError> {
    let mut filters = all(app, scope).await?;
    if let (Scope::Site(_), Some(org)) = (scope, org_id) {
        filters.extend(all(app, &Scope::Org(org.to_string())).await?);
    }
    Ok(filters)
}

/// A `422 invalid_field` naming `assetfilter_ids` when one of `ids` is not a filter a
/// webhook of `scope` may name.
pub(crate) async fn check_ids(
    app: &AppState,
    scope: &Scope,
    org_id: Option<&str>,
    ids: &[String],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let known = visible(app, scope, org_id).await?;
    match ids.iter().find(|id| !known.iter().any(|f| &f.id == *id)) {
        None => Ok(()),
        Some(id) => Err(ApiError::Field {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            detail: format!(
                "`assetfilter_ids`: no asset filter `{id}` here (create it under \
                 /assetfilters of this org or site first)"
            ),
        }),
    }
}

async fn list(
    app: &AppState,
    scope: Scope,
    q: Params,
) -> Result<(HeaderMap, Json<Vec<AssetFilter>>), ApiError> {
    let page = MistPage::of(&q)?;
    let (headers, items) = page.cut(all(app, &scope).await?);
    Ok((headers, Json(items)))
}

async fn create(app: &AppState, scope: Scope, body: Bytes) -> Result<Json<AssetFilter>, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut filter = parse_assetfilter(&body, &scope, &id, now_s(), None).map_err(invalid)?;
    if let Scope::Site(site) = &scope {
        filter.org_id = site_org(app, site).await?;
    }
    save(app, &scope, &filter).await?;
    Ok(Json(filter))
}

async fn get(app: &AppState, scope: Scope, id: String) -> Result<Json<AssetFilter>, ApiError> {
    Ok(Json(load(app, &scope, &id).await?))
}

async fn update(
    app: &AppState,
    scope: Scope,
    id: String,
    body: Bytes,
    before: &Before,
) -> Result<Json<AssetFilter>, ApiError> {
    let previous = load(app, &scope, &id).await?;
    before.set(previous.clone());
    let filter =
        parse_assetfilter(&body, &scope, &id, now_s(), Some(&previous)).map_err(invalid)?;
    save(app, &scope, &filter).await?;
    Ok(Json(filter))
}

async fn delete(
    app: &AppState,
    scope: Scope,
    id: String,
    before: &Before,
) -> Result<Json<Empty>, ApiError> {
    before.set(load(app, &scope, &id).await?);
    app.store.delete_subscription(&id).await?;
    changed(app).await?;
    Ok(Json(Empty {}))
}

fn now_s() -> f64 {
    now_us() as f64 / 1e6
}

/// The body of `POST` on an asset filter: Mist's `assetfilter` object. Unknown fields are
/// refused (422 `invalid_field`); the read-only ones a GET shows (`id`, `org_id`,
/// `site_id`, `for_site`, `created_time`, `modified_time`) are ignored; `null` is absent.
/// Every criterion set must hold for an asset event to match; `rssi` is a floor. A `PUT`
/// is a partial update with the same fields, none required: a field left out keeps its
/// value, `null` resets it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AssetFilterBody {
    /// Display name.
    #[schema(min_length = 1)]
    name: String,
    /// A disabled filter matches nothing; `false` when left out.
    disabled: Option<bool>,
    /// iBeacon UUID, with or without its hyphens.
    #[schema(
        pattern = "^([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32})$"
    )]
    ibeacon_uuid: Option<String>,
    /// iBeacon major.
    #[schema(minimum = 0, maximum = 65535)]
    ibeacon_major: Option<u16>,
    /// Eddystone UID namespace: 20 hex digits.
    #[schema(pattern = "^[0-9A-Fa-f]{20}$")]
    eddystone_uid_namespace: Option<String>,
    /// Eddystone URL (the event's `eddystone_url` or `eddystone_url_url`).
    #[schema(min_length = 1, max_length = 256)]
    eddystone_url: Option<String>,
    /// BLE manufacturer (company) id.
    #[schema(minimum = 0, maximum = 65535)]
    mfg_company_id: Option<u16>,
    /// A BLE service data UUID, one of the event's `service_packets`.
    #[schema(min_length = 1, max_length = 256)]
    service_uuid: Option<String>,
    /// The AP that heard the asset: 12 hex digits, with `:` or `-` between pairs if you
    /// like.
    #[schema(pattern = "^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$")]
    ap_mac: Option<String>,
    /// The AP's antenna beam that heard the asset.
    #[schema(minimum = 0, maximum = 65535)]
    beam: Option<u16>,
    /// The lowest RSSI (dBm) an event may have.
    #[schema(minimum = -128, maximum = 20)]
    rssi: Option<i16>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    id: Option<serde_json::Value>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    org_id: Option<serde_json::Value>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    site_id: Option<serde_json::Value>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    for_site: Option<serde_json::Value>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    created_time: Option<serde_json::Value>,
    #[schema(schema_with = super::webhooks::views::ignored)]
    modified_time: Option<serde_json::Value>,
}

/// The body of `PUT` on an asset filter: [`AssetFilterBody`]'s fields, none required.
pub struct AssetFilterPatch;

impl utoipa::PartialSchema for AssetFilterPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let RefOr::T(Schema::Object(mut body)) = AssetFilterBody::schema() else {
            unreachable!("a struct's schema is an object")
        };
        body.required.clear();
        body.description = Some(
            "A partial update of Mist's `assetfilter` object: the fields of a new one, none \
             required. A field left out keeps its value; `null` resets it."
                .into(),
        );
        RefOr::T(Schema::Object(body))
    }
}

impl ToSchema for AssetFilterPatch {}
