//! The OpenAPI document is generated from the types the handlers return: against the real
//! binary, with data in every resource, the answer of EVERY GET route of the served
//! document is validated against that route's documented 200 schema. The routes come
//! from the document itself, so a route added without data here fails the test.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::Receiver;
use support::sse::{EventStream, within};
use support::{Server, TOKEN, samples, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const AP: &str = "5c5b35ee0001";
const WAIT: Duration = Duration::from_secs(30);

fn config(url: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "100ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[targets.noc]
type = "webhook"
url = "{url}"

[[routes]]
name = "every incident"
flow = "incident"
targets = ["noc"]
"#
    )
}

/// A validator of `schema`, whose `$ref`s point into the document's components.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

/// Whether an answer carries data: a non-empty array, or an object whose lists (`items`,
/// `results`, `series`) are non-empty.
fn has_data(answer: &Value) -> bool {
    match answer {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => ["items", "results", "series"]
            .iter()
            .filter_map(|k| map.get(*k))
            .all(|list| list.as_array().is_some_and(|l| !l.is_empty())),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `GET /api/v1/stream` does not end: its documented content type, and its first event and
/// incident messages (resumed from the start of the log, `0.0`) against their schemas.
async fn stream_messages_answer_their_schemas(server: &Server, doc: &Value, get: &Value) {
    let contents = &get["responses"]["200"]["content"];
    assert!(contents["text/event-stream"].is_object(), "{contents}");
    for (query, kind, schema) in [
        ("?last_event_id=0.0&incidents=false", "event", "EventView"),
        (
            "?last_event_id=0.0&events=false",
            "incident",
            "IncidentChangeView",
        ),
    ] {
        let mut stream = EventStream::open(server, query, None).await;
        let message = stream.next_message(within(WAIT)).await;
        assert_eq!(message.event.as_deref(), Some(kind), "{query}: {message:?}");
        let schema = json!({"$ref": format!("#/components/schemas/{schema}")});
        let answer = message.json();
        let errors: Vec<String> = validator(doc, &schema)
            .iter_errors(&answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{kind} message breaks {schema}:\n{}\n{answer:#}",
            errors.join("\n")
        );
    }
}

#[tokio::test]
async fn every_get_route_answers_what_its_schema_says() {
    let rx = Receiver::start().await;
    let server = Server::start_with(Some(&config(&rx.url("/hook"))));

    // The log: every Mist sample, a device down (a device and an incident) and a request
    // that is not JSON (quarantined).
    for sample in samples() {
        let (status, answer) = server.ingest("default", sample.body, &[]).await;
        assert_eq!(status, 200, "{}: {answer}", sample.file);
    }
    let alarm = site_alarm(ORG, SITE, "device_down", &[AP], 1_749_998_000.0, json!({}));
    let (status, answer) = server.ingest("default", alarm, &[]).await;
    assert_eq!(status, 200, "{answer}");
    let request_id = answer["request_id"].as_i64().unwrap();
    let (status, _) = server.ingest("default", b"{not json".to_vec(), &[]).await;
    assert_eq!(status, 400);
    let newest = server.api_ok("/events?limit=1").await;
    let event_id = newest["items"][0]["id"].as_i64().unwrap();
    server.correlated().await;
    let incidents = server.api_ok("/incidents").await;
    let incident = incidents["items"][0]["id"].as_i64().expect("an incident");

    // Correlation: a silence. Webhooks: one per scope, each pinged (a message and an
    // attempt); the route sends the incident to the target.
    let silence = json!({"site_id": SITE, "ends_at": "2100-01-01T00:00:00Z"}).to_string();
    let (status, answer, _) = server.call("POST", "/silences", Some(silence)).await;
    assert_eq!(status, 201, "{answer}");
    // Access: a token (and, with the changes above, the audit log).
    let token = json!({"name": "schemas", "role": "read", "expires": "30d"}).to_string();
    let (status, answer, _) = server.call("POST", "/tokens", Some(token)).await;
    assert_eq!(status, 201, "{answer}");
    let mut hooks = BTreeMap::new();
    let mut filters = BTreeMap::new();
    for (scope, id) in [("orgs", ORG), ("sites", SITE)] {
        let path = format!("/{scope}/{id}/assetfilters");
        let body = json!({"name": "tags", "ibeacon_major": 2, "ap_mac": "5c:5b:35:0e:00:01"});
        let (status, filter, _) = server.call("POST", &path, Some(body.to_string())).await;
        assert_eq!(status, 200, "{filter}");
        filters.insert(scope, filter["id"].as_str().unwrap().to_string());
        let body = json!({"url": rx.url("/mist"), "topics": ["alarms"], "secret": "s"});
        let path = format!("/{scope}/{id}/webhooks");
        let (status, hook, _) = server.call("POST", &path, Some(body.to_string())).await;
        assert_eq!(status, 200, "{hook}");
        let hook_id = hook["id"].as_str().unwrap().to_string();
        let (status, ping, _) = server
            .call("POST", &format!("{path}/{hook_id}/ping"), None)
            .await;
        assert_eq!(status, 200, "{ping}");
        hooks.insert(scope, hook_id);
    }
    for search in [
        format!("/orgs/{ORG}/webhooks/{}/events/search", hooks["orgs"]),
        format!("/sites/{SITE}/webhooks/{}/events/search", hooks["sites"]),
        "/targets/noc/events/search".to_string(),
    ] {
        support::eventually(WAIT, &search, || async {
            let results = server.api_ok(&search).await;
            has_data(&results).then_some(())
        })
        .await;
    }

    let doc: Value = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else {
            continue;
        };
        let hook = |scope: &str| hooks[scope].clone();
        let mut uri = path.clone();
        for (param, value) in [
            ("{org_id}", ORG.to_string()),
            ("{site_id}", SITE.to_string()),
            ("{mac}", AP.to_string()),
            ("{name}", "noc".to_string()),
        ] {
            uri = uri.replace(param, &value);
        }
        let id = match path.as_str() {
            p if p.starts_with("/api/v1/events/") => event_id.to_string(),
            p if p.starts_with("/api/v1/requests/") => request_id.to_string(),
            p if p.starts_with("/api/v1/incidents/") => incident.to_string(),
            p if p.starts_with("/api/v1/orgs/{org_id}/assetfilters/") => filters["orgs"].clone(),
            p if p.starts_with("/api/v1/sites/{site_id}/assetfilters/") => filters["sites"].clone(),
            p if p.starts_with("/api/v1/orgs/") => hook("orgs"),
            p if p.starts_with("/api/v1/sites/") => hook("sites"),
            _ => String::new(),
        };
        uri = uri.replace("{id}", &id);
        assert!(
            !uri.contains('{') && !uri.ends_with('/'),
            "GET {path}: no value here for its path parameters; seed data and name them"
        );
        if path == "/api/v1/stream" {
            stream_messages_answer_their_schemas(&server, &doc, get).await;
            checked += 1;
            continue;
        }

        let (status, content_type, text) = support::eventually(WAIT, &uri, || async {
            let response = server
                .client
                .get(server.url(&uri))
                .header("authorization", format!("Token {TOKEN}"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            let text = response.text().await.unwrap();
            // Readiness waits for the stages to catch up.
            (status == 200).then_some((status, content_type, text))
        })
        .await;
        assert_eq!(status, 200, "GET {uri}: {text}");
        let contents = get["responses"]["200"]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("GET {path}: no documented 200 content"));
        let media = content_type.split(';').next().unwrap().trim();
        let Some(content) = contents.get(media) else {
            panic!("GET {path}: answered {media}, documented {contents:?}");
        };
        let schema = &content["schema"];
        let answer = if media == "application/json" {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {uri}: {e}: {text}"))
        } else {
            Value::String(text)
        };
        assert!(has_data(&answer), "GET {uri}: no data in {answer}");
        let errors: Vec<String> = validator(&doc, schema)
            .iter_errors(&answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "GET {uri} breaks its schema:\n{}\n{answer:#}",
            errors.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} GET routes documented");
    // The check can fail: an event whose time is not a date-time breaks the schema.
    let ok = &doc["paths"]["/api/v1/events/{id}"]["get"]["responses"]["200"];
    let schema = &ok["content"]["application/json"]["schema"];
    let mut event = server.api_ok(&format!("/events/{event_id}")).await;
    assert!(validator(&doc, schema).is_valid(&event));
    event["time"] = json!("yesterday");
    assert!(!validator(&doc, schema).is_valid(&event));
}
