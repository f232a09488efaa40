//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route, generated from
//! the handlers' `#[utoipa::path]` attributes and the views' `ToSchema` derives. It is
//! built once, on first request, and needs no token.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use bytes::Bytes;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::answer::List;
use super::{
    access, assetfilters, constants, correlation, deliveries, log, mist_backfill, mist_self,
    notifications, resend, silences, sources, stats, stream, targets, webhooks,
};
use crate::{health, ingest};

/// The name of the token scheme that the `/api/v1` operations require.
const TOKEN_SCHEME: &str = "api_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mistgate",
        description = "Self-hosted gateway for Juniper Mist webhooks: receives, verifies and \
                       stores every Mist webhook, and serves the log as JSON. Errors answer \
                       `{\"error\": code, \"detail\": text}`; lists answer `{\"items\": [...], \
                       \"next_cursor\": ...}` and take `limit`, `cursor` and `order`; times are \
                       RFC 3339 UTC with microseconds."
    ),
    paths(
        ingest::ingest,
        log::list_events,
        log::get_event,
        resend::resend,
        log::list_requests,
        log::get_request,
        log::list_quarantine,
        log::stats,
        stats::series,
        stream::stream,
        correlation::list_devices,
        correlation::get_device,
        correlation::history::device_history,
        correlation::list_incidents,
        correlation::get_incident,
        notifications::notifications,
        correlation::acknowledge,
        correlation::resolve,
        access::list_tokens,
        access::create_token,
        access::revoke_token,
        access::list_audit,
        sources::list,
        sources::create,
        sources::update,
        sources::delete,
        silences::list_silences,
        silences::create_silence,
        silences::delete_silence,
        silences::replace_silence,
        mist_self::get_self,
        mist_backfill::get_backfill,
        constants::webhook_topics,
        assetfilters::routes::org_list,
        assetfilters::routes::org_create,
        assetfilters::routes::org_get,
        assetfilters::routes::org_update,
        assetfilters::routes::org_delete,
        assetfilters::routes::site_list,
        assetfilters::routes::site_create,
        assetfilters::routes::site_get,
        assetfilters::routes::site_update,
        assetfilters::routes::site_delete,
        webhooks::org::list,
        webhooks::org::create,
        webhooks::org::get,
        webhooks::org::update,
        webhooks::org::delete,
        webhooks::site::list,
        webhooks::site::create,
        webhooks::site::get,
        webhooks::site::update,
        webhooks::site::delete,
        targets::list,
        targets::search,
        targets::count,
        targets::batches,
        targets::replay_one,
        targets::replay_all,
        deliveries::org::ping,
        deliveries::org::search,
        deliveries::org::count,
        deliveries::org::batches,
        deliveries::org::replay_all,
        deliveries::org::replay_one,
        deliveries::site::ping,
        deliveries::site::search,
        deliveries::site::count,
        deliveries::site::batches,
        deliveries::site::replay_all,
        deliveries::site::replay_one,
        health::healthz,
        health::readyz,
        health::metrics,
        document,
    ),
    // The answers the delivery routes share (see `deliveries::SearchAnswers`, ...): a
    // response set names its schemas without collecting them.
    components(schemas(
        deliveries::DeliverySearchView,
        deliveries::DeliveryCountView,
        List<deliveries::MessageView>,
        deliveries::ReplayedView,
        // The data of `GET /api/v1/stream`'s `incident` messages (the answer is text).
        stream::IncidentChangeView,
    )),
    modifiers(&TokenScheme),
    tags(
        (name = "ingest", description = "Webhooks in, from Mist or anything that speaks its dialect."),
        (name = "log", description = "The stored log: events (listed, or streamed as they come), requests, quarantine, totals. Needs the API token."),
        (name = "correlation", description = "What the correlation stage makes of the log: the device inventory, incidents (with acknowledge and resolve) and silences. Needs the API token."),
        (name = "routing", description = "Routing targets (Slack, Teams, PagerDuty, ServiceNow, Splunk, syslog, NATS, signed webhooks) from the configuration file: their delivery results, dead letters and replay. Needs the API token."),
        (name = "webhooks", description = "Mist-compatible webhook subscriptions, per org and per site: the Mist `webhook` object, lists as bare JSON arrays, write-only secrets. Needs the API token."),
        (name = "access", description = "Named API tokens with roles (`read`, `operate`, `admin`) and the audit log of every state-changing action. Admin only."),
        (name = "sources", description = "The sources webhooks are accepted for (`POST /ingest/{name}`): the config file's, read-only, and those added at run time, kept in the database with their secrets sealed and write-only. Changes are admin only."),
        (name = "mist", description = "What mistgate reads from Mist's REST API (`[mist]`): backfill of the alarms, device events and audits the webhooks did not deliver, and Mist's failed deliveries. Needs the API token."),
        (name = "operations", description = "Health, metrics and this document. No token."),
    )
)]
struct ApiDoc;

/// Adds the API token scheme the `/api/v1` operations refer to.
struct TokenScheme;

impl Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Authorization: Token <key>` (Mist's style); `Authorization: Bearer <key>` is \
                 accepted too. The key is a token made by `mistgate token create` or \
                 `POST /api/v1/tokens`, the `admin` token shown at the first start, or the \
                 configured `api_token`. Each route needs a role: `read` for GETs, `operate` \
                 for incident actions, silences, replays, resends and pings, `admin` for the \
                 rest; a token without it gets 403 `forbidden` with `role_needed`.",
            ))),
        );
    }
}

static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises"),
    )
});

/// This document
///
/// The OpenAPI 3.1 description of every route. No token.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document.", body = Object, content_type = "application/json"))
)]
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.clone(),
    )
}

#[cfg(test)]
mod tests;
