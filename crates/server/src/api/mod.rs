//! `/api/v1`: the token-protected JSON API, and its OpenAPI document (which is open).

pub(crate) mod access;
pub(crate) mod answer;
pub(crate) mod assetfilters;
pub(crate) mod constants;
pub(crate) mod correlation;
pub(crate) mod deliveries;
pub(crate) mod log;
pub(crate) mod mist_backfill;
pub(crate) mod mist_self;
pub(crate) mod notifications;
pub(crate) mod openapi;
pub(crate) mod params;
mod resend;
mod scope;
pub(crate) mod silences;
pub(crate) mod sources;
mod stats;
mod stream;
mod targets;
pub(crate) mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::app_state::AppState;

/// The routes under `/api/v1` that need the token.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/events", get(log::list_events))
        .route("/events/{id}", get(log::get_event))
        .route("/events/{id}/resend", post(resend::resend))
        .route("/requests", get(log::list_requests))
        .route("/requests/{id}", get(log::get_request))
        .route("/quarantine", get(log::list_quarantine))
        .route("/stats", get(log::stats))
        .route("/stats/series", get(stats::series))
        .route("/stream", get(stream::stream))
        .route("/devices", get(correlation::list_devices))
        .route("/devices/{mac}", get(correlation::get_device))
        .route(
            "/devices/{mac}/history",
            get(correlation::history::device_history),
        )
        .route("/incidents", get(correlation::list_incidents))
        .route("/incidents/{id}", get(correlation::get_incident))
        .route(
            "/incidents/{id}/notifications",
            get(notifications::notifications),
        )
        .route("/incidents/{id}/ack", post(correlation::acknowledge))
        .route("/incidents/{id}/resolve", post(correlation::resolve))
        .route(
            "/silences",
            get(silences::list_silences).post(silences::create_silence),
        )
        .route(
            "/orgs/{org_id}/webhooks",
            get(webhooks::org::list).post(webhooks::org::create),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}",
            get(webhooks::org::get)
                .put(webhooks::org::update)
                .delete(webhooks::org::delete),
        )
        .route(
            "/sites/{site_id}/webhooks",
            get(webhooks::site::list).post(webhooks::site::create),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}",
            get(webhooks::site::get)
                .put(webhooks::site::update)
                .delete(webhooks::site::delete),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/ping",
            post(deliveries::org::ping),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/events/search",
            get(deliveries::org::search),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/events/count",
            get(deliveries::org::count),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/deliveries",
            get(deliveries::org::batches),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/deliveries/replay",
            post(deliveries::org::replay_all),
        )
        .route(
            "/orgs/{org_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            post(deliveries::org::replay_one),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/ping",
            post(deliveries::site::ping),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/events/search",
            get(deliveries::site::search),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/events/count",
            get(deliveries::site::count),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/deliveries",
            get(deliveries::site::batches),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/deliveries/replay",
            post(deliveries::site::replay_all),
        )
        .route(
            "/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            post(deliveries::site::replay_one),
        )
        .route("/targets", get(targets::list))
        .route("/targets/{name}/events/search", get(targets::search))
        .route("/targets/{name}/events/count", get(targets::count))
        .route("/targets/{name}/deliveries", get(targets::batches))
        .route(
            "/targets/{name}/deliveries/replay",
            post(targets::replay_all),
        )
        .route(
            "/targets/{name}/deliveries/{batch_id}/replay",
            post(targets::replay_one),
        )
        .route(
            "/silences/{id}",
            delete(silences::delete_silence).put(silences::replace_silence),
        )
        .route(
            "/tokens",
            get(access::list_tokens).post(access::create_token),
        )
        .route("/tokens/{name}", delete(access::revoke_token))
        .route("/audit", get(access::list_audit))
        .route("/self", get(mist_self::get_self))
        .route("/mist/backfill", get(mist_backfill::get_backfill))
        .route(
            "/orgs/{org_id}/assetfilters",
            get(assetfilters::routes::org_list).post(assetfilters::routes::org_create),
        )
        .route(
            "/orgs/{org_id}/assetfilters/{id}",
            get(assetfilters::routes::org_get)
                .put(assetfilters::routes::org_update)
                .delete(assetfilters::routes::org_delete),
        )
        .route(
            "/sites/{site_id}/assetfilters",
            get(assetfilters::routes::site_list).post(assetfilters::routes::site_create),
        )
        .route(
            "/sites/{site_id}/assetfilters/{id}",
            get(assetfilters::routes::site_get)
                .put(assetfilters::routes::site_update)
                .delete(assetfilters::routes::site_delete),
        )
        .route("/const/webhook_topics", get(constants::webhook_topics))
        .route("/sources", get(sources::list).post(sources::create))
        .route(
            "/sources/{name}",
            axum::routing::put(sources::update).delete(sources::delete),
        )
}
