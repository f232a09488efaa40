//! The document against the routes: every route described, every described path routed,
//! the views' fields as their schemas name them.

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
    ("/api/v1/mist/backfill", "get"),
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
        "topic", "org_id", "site_id", "type", "mac", "source", "since", "until", "limit", "cursor",
        "order",
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
    let webhook = r#"{"url": "https://example.com/hook", "topics": ["alarms"], "secret": "s3"}"#;
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
