//! The query API against the real binary: the token, filters, pagination, the request
//! log, health and metrics.

mod support;

use serde_json::{Value, json};
use support::{Server, TOKEN};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE_A: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const SITE_B: &str = "9f0c8a4e-1111-4e6b-9c61-3c4a5b6d7e8f";

/// A few events across topics, sites, MACs and times.
async fn seed(server: &Server) {
    let bodies = [
        json!({"topic": "device-events", "events": [
            {"type": "AP_DISCONNECTED", "mac": "5c5b350e55c8", "org_id": ORG, "site_id": SITE_A, "timestamp": 1_749_000_000, "ev_type": "WARN"},
            {"type": "AP_CONNECTED", "mac": "5c5b350e55c8", "org_id": ORG, "site_id": SITE_A, "timestamp": 1_749_000_600, "ev_type": "NOTICE"},
        ]}),
        json!({"topic": "alarms", "events": [
            {"id": "a1", "type": "switch_offline", "severity": "critical", "switches": ["0c8126aa0001"], "org_id": ORG, "site_id": SITE_B, "timestamp": 1_749_100_000.25, "last_seen": 1_749_100_000}
        ]}),
        json!({"topic": "nac_events", "events": [
            {"type": "NAC_CLIENT_DENY", "mac": "AA:BB:CC:00:11:22", "org_id": ORG, "site_id": SITE_B, "timestamp": 1_749_200_000_123_i64}
        ]}),
    ];
    for b in bodies {
        let (status, answer) = server
            .ingest("default", serde_json::to_vec(&b).unwrap(), &[])
            .await;
        assert_eq!(status, 200, "{answer}");
    }
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_api_needs_the_token_and_health_does_not() {
    let server = Server::start();
    let get = |path: &str, auth: Option<String>| {
        let mut req = server.client.get(server.url(path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move { req.send().await.unwrap() }
    };
    for auth in [
        None,
        Some("Token wrong".to_string()),
        Some(TOKEN.to_string()),
        Some(format!("Basic {TOKEN}")),
    ] {
        let response = get("/api/v1/events", auth.clone()).await;
        assert_eq!(response.status(), 401, "{auth:?}");
        let (_, body) = support::answer(response).await;
        assert_eq!(body["error"], "unauthorized");
    }
    for auth in [
        format!("Token {TOKEN}"),
        format!("Bearer {TOKEN}"),
        format!("token   {TOKEN}"),
    ] {
        assert_eq!(
            get("/api/v1/events", Some(auth.clone())).await.status(),
            200,
            "{auth}"
        );
    }
    for open in ["/healthz", "/readyz"] {
        let (status, body) = support::answer(get(open, None).await).await;
        assert_eq!(status, 200, "{open}");
        assert!(body["status"].is_string());
    }
    let metrics = get("/metrics", None).await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.text().await.unwrap().contains("# TYPE"),
        "prometheus text format"
    );

    let (status, body) = support::answer(get("/nowhere", None).await).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let response = server
        .client
        .get(server.url("/ingest/default"))
        .send()
        .await
        .unwrap();
    let (status, body) = support::answer(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn events_filter_by_every_field_and_any_topic_spelling() {
    let server = Server::start();
    seed(&server).await;
    let q = |query: &'static str| {
        let server = &server;
        async move { types(&server.api_ok(&format!("/events?order=asc{query}")).await) }
    };
    assert_eq!(
        q("&topic=device_events").await,
        ["AP_DISCONNECTED", "AP_CONNECTED"]
    );
    assert_eq!(
        q("&topic=DEVICE-EVENTS").await,
        ["AP_DISCONNECTED", "AP_CONNECTED"]
    );
    assert_eq!(q("&topic=nac-events").await, ["NAC_CLIENT_DENY"]);
    assert_eq!(
        q("&site_id=9f0c8a4e-1111-4e6b-9c61-3c4a5b6d7e8f").await,
        ["switch_offline", "NAC_CLIENT_DENY"]
    );
    assert_eq!(
        q("&org_id=2818e386-8dec-2562-9ede-5b8a0fbbdc71")
            .await
            .len(),
        4
    );
    assert_eq!(q("&type=AP_CONNECTED").await, ["AP_CONNECTED"]);
    // Any MAC spelling finds the normalised MAC.
    assert_eq!(q("&mac=AA-BB-CC-00-11-22").await, ["NAC_CLIENT_DENY"]);
    assert_eq!(
        q("&mac=5C:5B:35:0E:55:C8").await,
        ["AP_DISCONNECTED", "AP_CONNECTED"]
    );
    assert_eq!(q("&mac=0c8126aa0001").await, ["switch_offline"]);
    // Event time, not arrival time; epoch seconds or RFC 3339.
    assert_eq!(
        q("&since=1749000300&until=1749150000").await,
        ["AP_CONNECTED", "switch_offline"]
    );
    assert_eq!(q("&since=2025-06-06T08:53:20Z").await, ["NAC_CLIENT_DENY"]);
    assert!(q("&topic=zone").await.is_empty());

    // Normalised fields as a person reads them.
    let nac = server.api_ok("/events?topic=nac-events").await["items"][0].clone();
    assert_eq!(
        nac["time"], "2025-06-06T08:53:20.123000Z",
        "milliseconds normalised"
    );
    assert_eq!(nac["mac"], "aabbcc001122");
    assert_eq!(nac["topic"], "nac-events");
    let alarm = server.api_ok("/events?topic=alarms").await["items"][0].clone();
    assert_eq!(alarm["severity"], "critical");
    assert_eq!(alarm["time"], "2025-06-05T05:06:40.250000Z");

    // One event by id, with its raw JSON; unknown ids are 404 JSON.
    let id = alarm["id"].as_i64().unwrap();
    let one = server.api_ok(&format!("/events/{id}")).await;
    assert_eq!(one, alarm);
    for missing in ["/events/999999", "/events/abc", "/requests/999999"] {
        let (status, body) = server.api(missing).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{missing}"
        );
    }
    // Bad parameters are 400 with a JSON error naming them: whatever the OpenAPI document
    // does not allow (closed sets are enums there, cursors and times have a grammar).
    for (bad, names) in [
        ("/events?limit=0", "limit"),
        ("/events?limit=many", "limit"),
        ("/events?cursor=xyz", "cursor"),
        ("/events?cursor=%2B5", "cursor"),
        ("/events?cursor=1234567890123456789", "cursor"),
        ("/events?since=last-week", "since"),
        ("/events?since=", "since"),
        ("/events?until=1e9", "until"),
        ("/events?until=-5", "until"),
        ("/events?order=up", "order"),
        ("/requests?since=2025-06-15", "since"),
        ("/quarantine?order=", "order"),
        (
            "/devices?state=AAA",
            "state `AAA` must be one of `up`, `down`, `unknown`",
        ),
        ("/devices?kind=router", "kind `router`"),
        ("/devices?kind=", "kind ``"),
        ("/incidents?state=closed", "state `closed`"),
        ("/incidents?kind=weather", "kind `weather`"),
        ("/incidents?until=tomorrow", "until"),
    ] {
        let (status, body) = server.api(bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_query")),
            "{bad}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(names),
            "{bad}: {body}"
        );
    }
    // What the document allows is answered.
    for ok in [
        "/events?cursor=",
        "/events?cursor=007",
        "/events?since=0&until=99999999999.5",
        "/events?since=2025-06-06T08:53:20.5-00:00",
        "/devices?state=down&kind=ap",
        "/incidents?state=open&kind=source_silent",
    ] {
        let (status, body) = server.api(ok).await;
        assert_eq!(status, 200, "{ok}: {body}");
    }
}

#[tokio::test]
async fn cursors_walk_every_event_once_in_either_order() {
    let server = Server::start();
    seed(&server).await;
    seed(&server).await; // duplicates: still four events
    for i in 0..7 {
        let body = json!({"topic": "zone", "events": [{"type": "wifi", "mac": "5c5b35000001", "site_id": SITE_A, "zone_id": "z", "trigger": "enter", "timestamp": 1_749_300_000 + i}]});
        server
            .ingest("default", serde_json::to_vec(&body).unwrap(), &[])
            .await;
    }
    for order in ["asc", "desc"] {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = server
                .api_ok(&format!("/events?limit=3&order={order}{cursor}"))
                .await;
            ids.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_i64().unwrap()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(ids.len(), 11, "{order}");
        let mut sorted = ids.clone();
        sorted.sort();
        if order == "desc" {
            sorted.reverse();
        }
        assert_eq!(ids, sorted, "{order}");
    }
    let first = server.api_ok("/events?limit=1").await;
    assert!(first["next_cursor"].is_string());
    let all = server.api_ok("/events?limit=1000").await;
    assert_eq!(all["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_request_log_keeps_body_and_headers_but_no_credentials() {
    let server = Server::start();
    let body = br#"{"topic":"audits","events":[{"id":"x","admin_name":"Ann","message":"Add webhook","org_id":"o","site_id":"s","timestamp":1695169967.62159}]}"#;
    let response = server
        .client
        .post(server.url("/ingest/default"))
        .header("content-type", "application/json")
        .header("user-agent", "Mist-webhook")
        .header("authorization", "Basic c2VjcmV0OnNlY3JldA==")
        .header("cookie", "session=abc")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let (status, answer) = support::answer(response).await;
    assert_eq!(status, 200);
    let id = answer["request_id"].as_i64().unwrap();
    let detail = server.api_ok(&format!("/requests/{id}")).await;
    let text = server.text(&format!("/api/v1/requests/{id}"), true).await;
    let embedded = format!("\"body\":{}", std::str::from_utf8(body).unwrap());
    assert!(text.contains(&embedded), "body byte for byte in {text}");
    assert_eq!(detail["headers"]["user-agent"], "Mist-webhook");
    assert_eq!(detail["headers"]["content-type"], "application/json");
    assert!(detail["headers"].get("authorization").is_none());
    assert!(detail["headers"].get("cookie").is_none());
    assert_eq!(detail["verdict"], "unsigned");
    assert_eq!(detail["topic"], "audits");
    assert_eq!(detail["accepted"], 1);
    assert_eq!(detail["events"].as_array().unwrap().len(), 1);
    assert_eq!(detail["body_bytes"], body.len());

    let list = server.api_ok("/requests?topic=audits").await;
    assert_eq!(list["items"][0]["id"], id);
    assert!(
        list["items"][0].get("body").is_none(),
        "lists leave bodies out"
    );

    let stats = server.stats().await;
    assert_eq!(stats["by_topic"]["audits"]["events"], 1);
    assert_eq!(stats["by_source"]["default"]["requests"], 1);
    assert_eq!(stats["totals"]["quarantined"], 0);
}
