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
    access, assetfilters, constants, correlation, deliveries, log, mist_self, notifications,
    resend, silences, sources, stats, stream, targets, webhooks,
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
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::{AppState, Config};

    fn document_json() -> Value {
        serde_json::from_slice(&DOCUMENT).expect("the document is JSON")
    }

    const EXPECTED: &[(&str, &str)] = &[
        ("/ingest/{source}", "post"),
        ("/api/v1/events", "get"),
        ("/api/v1/events/{id}", "get"),
        ("/api/v1/events/{id}/resend", "post"),
        ("/api/v1/requests", "get"),
        ("/api/v1/requests/{id}", "get"),
        ("/api/v1/quarantine", "get"),
        ("/api/v1/stats", "get"),
        ("/api/v1/stats/series", "get"),
        ("/api/v1/stream", "get"),
        ("/api/v1/devices", "get"),
        ("/api/v1/devices/{mac}", "get"),
        ("/api/v1/devices/{mac}/history", "get"),
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents/{id}", "get"),
        ("/api/v1/incidents/{id}/notifications", "get"),
        ("/api/v1/incidents/{id}/ack", "post"),
        ("/api/v1/incidents/{id}/resolve", "post"),
        ("/api/v1/silences", "get"),
        ("/api/v1/silences", "post"),
        ("/api/v1/silences/{id}", "delete"),
        ("/api/v1/silences/{id}", "put"),
        ("/api/v1/orgs/{org_id}/webhooks", "get"),
        ("/api/v1/orgs/{org_id}/webhooks", "post"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}", "get"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}", "put"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}", "delete"),
        ("/api/v1/sites/{site_id}/webhooks", "get"),
        ("/api/v1/sites/{site_id}/webhooks", "post"),
        ("/api/v1/sites/{site_id}/webhooks/{id}", "get"),
        ("/api/v1/sites/{site_id}/webhooks/{id}", "put"),
        ("/api/v1/sites/{site_id}/webhooks/{id}", "delete"),
        ("/api/v1/targets", "get"),
        ("/api/v1/targets/{name}/events/search", "get"),
        ("/api/v1/targets/{name}/events/count", "get"),
        ("/api/v1/targets/{name}/deliveries", "get"),
        ("/api/v1/targets/{name}/deliveries/replay", "post"),
        (
            "/api/v1/targets/{name}/deliveries/{batch_id}/replay",
            "post",
        ),
        ("/api/v1/orgs/{org_id}/webhooks/{id}/ping", "post"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}/events/search", "get"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}/events/count", "get"),
        ("/api/v1/orgs/{org_id}/webhooks/{id}/deliveries", "get"),
        (
            "/api/v1/orgs/{org_id}/webhooks/{id}/deliveries/replay",
            "post",
        ),
        (
            "/api/v1/orgs/{org_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            "post",
        ),
        ("/api/v1/sites/{site_id}/webhooks/{id}/ping", "post"),
        ("/api/v1/sites/{site_id}/webhooks/{id}/events/search", "get"),
        ("/api/v1/sites/{site_id}/webhooks/{id}/events/count", "get"),
        ("/api/v1/sites/{site_id}/webhooks/{id}/deliveries", "get"),
        (
            "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/replay",
            "post",
        ),
        (
            "/api/v1/sites/{site_id}/webhooks/{id}/deliveries/{batch_id}/replay",
            "post",
        ),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{name}", "delete"),
        ("/api/v1/audit", "get"),
        ("/api/v1/self", "get"),
        ("/api/v1/const/webhook_topics", "get"),
        ("/api/v1/orgs/{org_id}/assetfilters", "get"),
        ("/api/v1/orgs/{org_id}/assetfilters", "post"),
        ("/api/v1/orgs/{org_id}/assetfilters/{id}", "get"),
        ("/api/v1/orgs/{org_id}/assetfilters/{id}", "put"),
        ("/api/v1/orgs/{org_id}/assetfilters/{id}", "delete"),
        ("/api/v1/sites/{site_id}/assetfilters", "get"),
        ("/api/v1/sites/{site_id}/assetfilters", "post"),
        ("/api/v1/sites/{site_id}/assetfilters/{id}", "get"),
        ("/api/v1/sites/{site_id}/assetfilters/{id}", "put"),
        ("/api/v1/sites/{site_id}/assetfilters/{id}", "delete"),
        ("/api/v1/sources", "get"),
        ("/api/v1/sources", "post"),
        ("/api/v1/sources/{name}", "put"),
        ("/api/v1/sources/{name}", "delete"),
        ("/api/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];

    #[test]
    fn the_document_describes_every_route() {
        let doc = document_json();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3."),
            "{}",
            doc["openapi"]
        );
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                    .map(move |method| (path.clone(), method.clone()))
            })
            .collect();
        let expected: BTreeSet<(String, String)> = EXPECTED
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect();
        assert_eq!(documented, expected);
    }

    #[test]
    fn only_the_api_log_needs_the_token() {
        let doc = document_json();
        assert!(doc["components"]["securitySchemes"][TOKEN_SCHEME].is_object());
        for (path, method) in EXPECTED {
            let op = &doc["paths"][path][method];
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get(TOKEN_SCHEME).is_some()));
            let needs = path.starts_with("/api/v1/") && *path != "/api/v1/openapi.json";
            assert_eq!(secured, needs, "{method} {path}");
        }
    }

    #[test]
    fn schemas_carry_the_documented_fields() {
        let doc = document_json();
        let events = &doc["paths"]["/api/v1/events"]["get"];
        let params: BTreeSet<&str> = events["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let expected = [
            "topic", "org_id", "site_id", "type", "mac", "source", "since", "until", "limit",
            "cursor", "order",
        ];
        assert_eq!(params, expected.into_iter().collect());
        let schemas = &doc["components"]["schemas"];
        let event = &schemas["EventView"]["properties"];
        for field in [
            "id",
            "topic",
            "org_id",
            "site_id",
            "type",
            "mac",
            "time",
            "received_at",
            "source",
            "raw",
        ] {
            assert!(event.get(field).is_some(), "EventView.{field}");
        }
        let answer = &schemas["IngestAnswer"]["properties"];
        for field in ["request_id", "accepted", "duplicates"] {
            assert!(answer.get(field).is_some(), "IngestAnswer.{field}");
        }
        let error = &schemas["ErrorBody"]["properties"];
        for field in ["error", "detail", "quarantine_id"] {
            assert!(error.get(field).is_some(), "ErrorBody.{field}");
        }
    }

    /// The MAC of the AP the routed test reports down, normalised.
    const AP: &str = "5c5b350e0001";

    async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Token unit-test-token")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The status, content type and first body frame of an answer that does not end.
    async fn first_block(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
        use http_body_util::BodyExt;
        let request = Request::get(uri)
            .header("authorization", "Token unit-test-token")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let frame = response.into_body().frame().await.unwrap().unwrap();
        let data = frame.into_data().unwrap();
        (
            status,
            content_type,
            String::from_utf8(data.to_vec()).unwrap(),
        )
    }

    /// The answer has exactly the fields the schema names (`extra` ones besides).
    fn has_schema_fields(doc: &Value, schema: &str, answer: &Value, extra: &[&str]) {
        let documented: BTreeSet<&str> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        let answered: BTreeSet<&str> = answer
            .as_object()
            .unwrap_or_else(|| panic!("{schema}: {answer}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(answered, documented, "{schema}");
    }

    /// Every documented path is served: after one ingest (a `device_down` alarm, so that
    /// the correlation stage makes a device and an incident), each GET answers 200 with the
    /// token, the other methods answer their success status, the correlation and webhook
    /// answers carry the documented fields, and the document itself answers 200 without it.
    #[tokio::test]
    async fn every_documented_path_is_routed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store::SqliteStore::open(store::SqliteConfig::in_data_dir(dir.path())).unwrap();
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let store: Arc<dyn store::Store> = Arc::new(store);
        let token = Arc::new(
            crate::access::Tokens::load(store.clone(), Some("unit-test-token"))
                .await
                .unwrap(),
        );
        let stages = deliver::supervise::Stages::new();
        let stage = crate::correlation_stage::spawn(
            store.clone(),
            correlate::Settings::default(),
            mist::Names::default(),
            stages.clone(),
            Vec::new(),
        )
        .await
        .unwrap();
        let mut state = AppState::new(&Config::zero(), store, token, metrics, stage, None, stages);
        state.targets.push(("noc".into(), "webhook"));
        let state = Arc::new(state);
        let app = crate::router(state);
        let ingest = Request::post("/ingest/default")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"topic": "alarms", "events": [{"type": "device_down", "org_id": "o",
                    "site_id": "s", "aps": ["5C:5B:35:0E:00:01"], "hostnames": ["ap-1"],
                    "severity": "warn", "timestamp": 1749998000}]}"#,
            ))
            .unwrap();
        let response = app.clone().oneshot(ingest).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = serde_json::from_slice(
            &axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap(),
        )
        .unwrap();
        let id = answer["request_id"].as_i64().unwrap().to_string();
        // The stage works behind the ingest: wait for the incident it opens.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let incident = loop {
            let (_, list) = call(&app, "GET", "/api/v1/incidents", "").await;
            if let Some(first) = list["items"].get(0) {
                break first["id"].as_i64().unwrap().to_string();
            }
            assert!(std::time::Instant::now() < deadline, "no incident: {list}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let (status, silence) = call(
            &app,
            "POST",
            "/api/v1/silences",
            r#"{"site_id": "s", "ends_at": "2100-01-01T00:00:00Z", "comment": "test"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{silence}");
        let silence_id = silence["id"].as_i64().unwrap().to_string();
        let webhook =
            r#"{"url": "https://example.com/hook", "topics": ["alarms"], "secret": "s3"}"#;
        let (status, org_hook) = call(&app, "POST", "/api/v1/orgs/o/webhooks", webhook).await;
        assert_eq!(status, StatusCode::OK, "{org_hook}");
        let org_hook_id = org_hook["id"].as_str().unwrap().to_string();
        let (status, site_hook) = call(&app, "POST", "/api/v1/sites/s/webhooks", webhook).await;
        assert_eq!(status, StatusCode::OK, "{site_hook}");
        let site_hook_id = site_hook["id"].as_str().unwrap().to_string();
        let mut filters = Vec::new();
        for scope in ["orgs/o", "sites/s"] {
            let path = format!("/api/v1/{scope}/assetfilters");
            let (status, filter) = call(&app, "POST", &path, r#"{"name": "tags"}"#).await;
            assert_eq!(status, StatusCode::OK, "{filter}");
            filters.push(filter["id"].as_str().unwrap().to_string());
        }
        for (path, _) in EXPECTED.iter().filter(|(_, m)| *m == "get") {
            let uri = if path.starts_with("/api/v1/incidents/") {
                path.replace("{id}", &incident)
            } else if path.starts_with("/api/v1/orgs/{org_id}/assetfilters/") {
                path.replace("{id}", &filters[0])
            } else if path.starts_with("/api/v1/sites/{site_id}/assetfilters/") {
                path.replace("{id}", &filters[1])
            } else if path.starts_with("/api/v1/orgs/") {
                path.replace("{id}", &org_hook_id)
            } else if path.starts_with("/api/v1/sites/") {
                path.replace("{id}", &site_hook_id)
            } else {
                path.replace("{id}", &id)
            };
            let uri = uri
                .replace("{mac}", "5C-5B-35-0E-00-01")
                .replace("{name}", "noc")
                .replace("{org_id}", "o")
                .replace("{site_id}", "s");
            if uri == "/api/v1/stream" {
                // An endless answer: its head and its first block (where it starts).
                let (status, content_type, first) = first_block(&app, &uri).await;
                assert_eq!(status, StatusCode::OK, "GET {uri}");
                assert_eq!(content_type, "text/event-stream", "GET {uri}");
                assert!(first.starts_with("id: "), "GET {uri}: {first}");
                continue;
            }
            let (status, _) = call(&app, "GET", &uri, "").await;
            assert_eq!(status, StatusCode::OK, "GET {uri}");
        }

        let doc = document_json();
        let (_, device) = call(&app, "GET", &format!("/api/v1/devices/{AP}"), "").await;
        has_schema_fields(&doc, "DeviceView", &device, &[]);
        has_schema_fields(&doc, "DeviceChangeView", &device["timeline"][0], &[]);
        let (_, devices) = call(&app, "GET", "/api/v1/devices", "").await;
        has_schema_fields(&doc, "List_DeviceView", &devices, &[]);
        let uri = format!("/api/v1/incidents/{incident}");
        let (_, detail) = call(&app, "GET", &uri, "").await;
        has_schema_fields(&doc, "IncidentView", &detail, &["events"]);
        has_schema_fields(&doc, "TimelineEntryView", &detail["timeline"][0], &[]);
        has_schema_fields(&doc, "EventView", &detail["events"][0], &[]);
        let (_, incidents) = call(&app, "GET", "/api/v1/incidents", "").await;
        has_schema_fields(&doc, "List_IncidentView", &incidents, &[]);
        has_schema_fields(&doc, "SilenceView", &silence, &[]);
        let (_, silences) = call(&app, "GET", "/api/v1/silences", "").await;
        has_schema_fields(&doc, "List_SilenceView", &silences, &[]);
        assert_eq!(silences["items"][0], silence);

        let (status, acked) = call(&app, "POST", &format!("{uri}/ack"), "").await;
        assert_eq!(status, StatusCode::OK, "{acked}");
        has_schema_fields(&doc, "IncidentView", &acked, &[]);
        let body = r#"{"by": "unit test"}"#;
        let (status, resolved) = call(&app, "POST", &format!("{uri}/resolve"), body).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        assert_eq!(resolved["state"], "resolved");
        let uri = format!("/api/v1/silences/{silence_id}");
        let (status, _) = call(&app, "DELETE", &uri, "").await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        has_schema_fields(&doc, "WebhookView", &org_hook, &[]);
        has_schema_fields(&doc, "WebhookView", &site_hook, &[]);
        let (_, hooks) = call(&app, "GET", "/api/v1/sites/s/webhooks", "").await;
        assert_eq!(hooks, Value::Array(vec![site_hook.clone()]));
        for (scope, hook_id) in [("orgs/o", &org_hook_id), ("sites/s", &site_hook_id)] {
            let uri = format!("/api/v1/{scope}/webhooks/{hook_id}");
            let body = r#"{"url": "https://example.com/other", "topics": ["audits"]}"#;
            let (status, replaced) = call(&app, "PUT", &uri, body).await;
            assert_eq!(status, StatusCode::OK, "{replaced}");
            has_schema_fields(&doc, "WebhookView", &replaced, &[]);
            assert_eq!(replaced["has_secret"], true);
            let (status, removed) = call(&app, "DELETE", &uri, "").await;
            assert_eq!(status, StatusCode::OK, "{removed}");
            assert_eq!(removed, serde_json::json!({}));
            assert_eq!(
                doc["components"]["schemas"]["Empty"]["type"], "object",
                "{}",
                doc["components"]["schemas"]["Empty"]
            );
        }

        let body = r#"{"name": "ci", "role": "read", "expires": "90d"}"#;
        let (status, created) = call(&app, "POST", "/api/v1/tokens", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        has_schema_fields(&doc, "CreatedToken", &created, &[]);
        let (status, revoked) = call(&app, "DELETE", "/api/v1/tokens/ci", "").await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        has_schema_fields(&doc, "TokenView", &revoked, &[]);
        let (_, audit) = call(&app, "GET", "/api/v1/audit", "").await;
        has_schema_fields(&doc, "AuditView", &audit["items"][0], &[]);
        assert_eq!(audit["items"][0]["action"], "DELETE /tokens/{name}");

        let request = Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        assert_eq!(body, *DOCUMENT);
        let request = Request::get("/api/v1/events").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
