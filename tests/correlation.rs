//! Correlation end to end: Mist bodies posted to the real binary become device states
//! and incidents in the API; the stage survives a kill without double transitions.

mod support;

use serde_json::{Value, json};
use support::Server;

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";

fn alarm(kind: &str, aps: &[&str], t: f64, extra: Value) -> Vec<u8> {
    let mut event = json!({
        "id": format!("{kind}-{t}"),
        "org_id": ORG,
        "site_id": SITE,
        "site_name": "HQ",
        "type": kind,
        "group": "infrastructure",
        "severity": "warn",
        "aps": aps,
        "hostnames": aps.iter().map(|m| format!("ap-{m}")).collect::<Vec<_>>(),
        "count": aps.len(),
        "timestamp": t,
        "last_seen": t,
    });
    if let (Value::Object(e), Value::Object(x)) = (&mut event, extra) {
        e.extend(x);
    }
    serde_json::to_vec(&json!({"topic": "alarms", "events": [event]})).unwrap()
}

/// Waits until the correlation stage has handled every event up to `event_id`.
async fn caught_up(server: &Server, event_id: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let stats = server.stats().await;
        if stats["stages"]["correlate"]["cursor"].as_i64().unwrap_or(0) >= event_id {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "stage stuck: {stats}");
        tokio::task::yield_now().await;
    }
}

async fn post(server: &Server, body: Vec<u8>) -> i64 {
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["request_id"].as_i64().unwrap();
    let detail = server.api_ok(&format!("/requests/{id}")).await;
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .max()
        .unwrap_or(0)
}

async fn incidents(server: &Server, query: &str) -> Vec<Value> {
    server.api_ok(&format!("/incidents?order=asc{query}")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn alarms_become_device_states_and_incidents_that_resolve() {
    let server = Server::start();
    let t0 = 1_749_998_000.0;
    post(
        &server,
        alarm(
            "device_down",
            &["5c5b350e0001", "5c5b350e0002"],
            t0,
            json!({}),
        ),
    )
    .await;
    let last = post(
        &server,
        alarm(
            "device_reconnected",
            &["5c5b350e0001"],
            t0 + 60.0,
            json!({"severity": "info"}),
        ),
    )
    .await;
    caught_up(&server, last).await;

    let ap1 = server.api_ok("/devices/5C:5B:35:0E:00:01").await;
    assert_eq!(ap1["state"], "up");
    assert_eq!(ap1["kind"], "ap");
    let ap2 = server.api_ok("/devices/5c5b350e0002").await;
    assert_eq!(ap2["state"], "down");
    assert_eq!(ap2["site_id"], SITE);

    let all = incidents(&server, "&kind=device_down").await;
    assert_eq!(all.len(), 2, "one incident per device: {all:?}");
    let open = incidents(&server, "&state=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["devices"], json!(["5c5b350e0002"]));
    let resolved = incidents(&server, "&state=resolved").await;
    assert_eq!(resolved.len(), 1);
    assert!(resolved[0]["resolved_at"].is_string());

    // The incident shows the events behind it.
    let id = open[0]["id"].as_i64().unwrap();
    let detail = server.api_ok(&format!("/incidents/{id}")).await;
    assert_eq!(detail["events"][0]["type"], "device_down");
    assert!(!detail["timeline"].as_array().unwrap().is_empty());

    // Manual acknowledgement is recorded and shown.
    let response = server
        .client
        .post(server.url(&format!("/api/v1/incidents/{id}/ack")))
        .header("authorization", format!("Token {}", support::TOKEN))
        .json(&json!({"by": "noc-oncall"}))
        .send()
        .await
        .unwrap();
    let (status, acked) = support::answer(response).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");

    let devices = server.api_ok("/devices?state=down").await;
    assert_eq!(devices["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_stage_resumes_after_a_kill_without_double_transitions() {
    let mut server = Server::start();
    let t0 = 1_749_998_000.0;
    let mut last = 0;
    for i in 0..20 {
        let ap = format!("5c5b35aa{i:04x}");
        last = post(
            &server,
            alarm("device_down", &[&ap], t0 + f64::from(i), json!({})),
        )
        .await;
        if i % 2 == 0 {
            last = post(
                &server,
                alarm(
                    "device_reconnected",
                    &[&ap],
                    t0 + 100.0 + f64::from(i),
                    json!({}),
                ),
            )
            .await;
        }
        if i == 9 {
            server.kill();
            server.restart();
        }
    }
    caught_up(&server, last).await;
    let all = incidents(&server, "&limit=1000").await;
    assert_eq!(all.len(), 20, "exactly one incident per device down");
    assert_eq!(all.iter().filter(|i| i["state"] == "resolved").count(), 10);
    let keys: std::collections::HashSet<_> = all.iter().map(|i| i["key"].to_string()).collect();
    assert_eq!(keys.len(), 20);
}
