//! Delivery to webhook subscribers, end to end: the real binary, local receivers.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Answer, Received, Receiver, python_hmac, raw_events};
use support::{Server, TOKEN, samples};

/// The org and site most sample events belong to.
const ORG: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
const SITE: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
const SECRET: &str = "receiver-secret-7f3a";
const WAIT: Duration = Duration::from_secs(30);

/// Fast timings so retries happen within a test; private targets allowed (the
/// receivers listen on loopback).
fn config(extra: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "1500ms"
retry_delays = ["200ms", "400ms"]
retry_min_delay = "50ms"
timeout = "1s"
breaker_failures = 1000
{extra}
"#
    )
}

async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = server
        .client
        .request(
            method.parse().unwrap(),
            server.url(&format!("/api/v1{path}")),
        )
        .header("authorization", format!("Token {TOKEN}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a webhook at `scope` (`orgs/<id>` or `sites/<id>`); returns its id.
async fn webhook(server: &Server, scope: &str, body: Value) -> String {
    let (status, created) = call(server, "POST", &format!("/{scope}/webhooks"), Some(body)).await;
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().unwrap().to_string()
}

/// A sentinel alarm for ORG/SITE: once a receiver has it, everything ingested before it
/// that was going to reach that receiver has (lanes send in order).
fn sentinel(marker: &str) -> Vec<u8> {
    format!(
        r#"{{"topic":"alarms","events":[{{"id":"{marker}","org_id":"{ORG}","site_id":"{SITE}","type":"device_down","aps":["5c5b350e0001"],"count":1,"timestamp":1749998077}}]}}"#
    )
    .into_bytes()
}

fn events_of(received: &[Received], topic: &str) -> Vec<String> {
    received
        .iter()
        .filter(|r| r.json()["topic"] == topic)
        .flat_map(|r| r.raw_events())
        .collect()
}

fn has_marker(received: &[Received], marker: &str) -> bool {
    received
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains(marker))
}

#[tokio::test]
async fn events_reach_org_and_site_webhooks_aggregated_signed_and_unchanged() {
    let server = Server::start_with(Some(&config("")));
    let org_rx = Receiver::start().await;
    let site_rx = Receiver::start().await;
    let single_rx = Receiver::start().await;
    let org_hook = webhook(
        &server,
        &format!("orgs/{ORG}"),
        json!({"name": "noc", "url": org_rx.url("/mist"), "topics": ["alarms", "device-events"],
               "secret": SECRET, "headers": {"X-Team": "noc", "X-Api-Key": "k-42"}}),
    )
    .await;
    webhook(
        &server,
        &format!("sites/{SITE}"),
        json!({"url": site_rx.url("/site"), "topics": ["alarms"]}),
    )
    .await;
    webhook(
        &server,
        &format!("orgs/{ORG}"),
        json!({"url": single_rx.url("/one"), "topics": ["alarms"], "single_event_per_message": true}),
    )
    .await;

    // Every alarms and device-events sample, as Mist posted it.
    let mut expected: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
    let samples: Vec<_> = samples()
        .into_iter()
        .filter(|s| s.topic == "alarms" || s.topic == "device-events")
        .collect();
    for sample in &samples {
        let (status, answer) = server.ingest("default", sample.body.clone(), &[]).await;
        assert_eq!(status, 200, "{}: {answer}", sample.file);
        for (raw, value) in raw_events(&sample.body) {
            if value["org_id"] == ORG {
                expected
                    .entry(("org", sample.topic.as_str()))
                    .or_default()
                    .insert(raw.clone());
            }
            if value["site_id"] == SITE && sample.topic == "alarms" {
                expected.entry(("site", "alarms")).or_default().insert(raw);
            }
        }
    }
    // The same message again: its events are duplicates and are not delivered twice.
    let (_, again) = server.ingest("default", samples[0].body.clone(), &[]).await;
    assert_eq!(again["accepted"], 0, "{again}");
    assert!(
        expected[&("org", "alarms")].len() >= 3 && expected[&("org", "device-events")].len() >= 3
    );
    assert!(
        samples
            .iter()
            .any(|s| raw_events(&s.body).iter().any(|(_, v)| v["org_id"] != ORG)),
        "some samples belong to other orgs and must not be delivered"
    );

    let (status, _) = server.ingest("default", sentinel("sentinel-1"), &[]).await;
    assert_eq!(status, 200);
    for rx in [&org_rx, &site_rx, &single_rx] {
        rx.wait_until(WAIT, "the sentinel", |r| has_marker(r, "sentinel-1"))
            .await;
    }

    // The org webhook: one message per topic (the samples came within the window),
    // raw events byte for byte, nothing of other orgs, nothing twice.
    let got = org_rx.received();
    let mut org_alarms = events_of(&got, "alarms");
    org_alarms.retain(|raw| !raw.contains("sentinel-1"));
    assert_eq!(
        org_alarms.iter().cloned().collect::<BTreeSet<_>>(),
        expected[&("org", "alarms")],
        "the org webhook gets its org's alarms, raw"
    );
    assert_eq!(
        org_alarms.len(),
        expected[&("org", "alarms")].len(),
        "no event twice"
    );
    assert_eq!(
        events_of(&got, "device-events")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        expected[&("org", "device-events")]
    );
    let device_messages: Vec<&Received> = got
        .iter()
        .filter(|r| r.json()["topic"] == "device-events")
        .collect();
    assert_eq!(device_messages.len(), 1, "aggregated into one message");
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/mist");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("user-agent"), Some("Mist-webhook"));
        assert_eq!(r.header("x-team"), Some("noc"));
        assert_eq!(r.header("x-api-key"), Some("k-42"));
        assert!(
            r.header("x-mistgate-delivery-id")
                .is_some_and(|v| v.len() >= 32)
        );
        // An implementation nobody here wrote checks both signatures.
        assert_eq!(
            r.header("x-mist-signature-v2"),
            Some(python_hmac(SECRET, &r.body, "sha256").as_str())
        );
        assert_eq!(
            r.header("x-mist-signature"),
            Some(python_hmac(SECRET, &r.body, "sha1").as_str())
        );
    }

    // The site webhook: its site's alarms only, unsigned (no secret).
    let got = site_rx.received();
    let mut site_alarms = events_of(&got, "alarms");
    site_alarms.retain(|raw| !raw.contains("sentinel-1"));
    assert_eq!(
        site_alarms.into_iter().collect::<BTreeSet<_>>(),
        expected[&("site", "alarms")]
    );
    assert!(
        got.iter()
            .all(|r| r.header("x-mist-signature-v2").is_none())
    );
    assert!(got.iter().all(|r| r.json()["topic"] == "alarms"));

    // single_event_per_message: one POST per event.
    let got = single_rx.received();
    assert!(got.iter().all(|r| r.raw_events().len() == 1));
    assert_eq!(got.len(), expected[&("org", "alarms")].len() + 1);

    // Ping: a Mist ping message with the webhook's id and name.
    let (status, pinged) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks/{org_hook}/ping"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{pinged}");
    let got = org_rx
        .wait_until(WAIT, "the ping", |r| {
            r.iter().any(|r| r.json()["topic"] == "ping")
        })
        .await;
    let ping = got.iter().find(|r| r.json()["topic"] == "ping").unwrap();
    let event = &ping.json()["events"][0];
    assert_eq!(event["id"], org_hook.as_str());
    assert_eq!(event["name"], "noc");
    assert!(event["site_id"].is_string() && event["timestamp"].as_f64().unwrap() > 1.7e9);
    assert_eq!(
        ping.header("x-mist-signature-v2"),
        Some(python_hmac(SECRET, &ping.body, "sha256").as_str())
    );

    // Delivery results, as Mist lists them.
    let search = format!("/orgs/{ORG}/webhooks/{org_hook}/events/search");
    let results = wait_results(&server, &search, |r| r.iter().any(|d| d["topic"] == "ping")).await;
    assert!(
        results
            .iter()
            .all(|d| d["status"] == "success" && d["status_code"] == 200)
    );
    let alarms = results.iter().find(|d| d["topic"] == "alarms").unwrap();
    assert_eq!(alarms["webhook_id"], org_hook.as_str());
    assert_eq!(alarms["attempt"], 1);
    assert!(
        alarms["req_payload"]
            .as_str()
            .unwrap()
            .starts_with(r#"{"topic":"alarms""#)
    );
    let req_headers = alarms["req_headers"].as_str().unwrap();
    assert!(
        req_headers.contains("Mist-webhook") && !req_headers.contains("k-42"),
        "{req_headers}"
    );
    assert_eq!(alarms["resp_body"], "ok");
    let (_, topics) = server
        .api(&format!(
            "/orgs/{ORG}/webhooks/{org_hook}/events/search?topic=device_events"
        ))
        .await;
    assert_eq!(topics["results"].as_array().unwrap().len(), 1);
    let (_, count) = server
        .api(&format!(
            "/orgs/{ORG}/webhooks/{org_hook}/events/count?distinct=topic"
        ))
        .await;
    assert_eq!(count["total"], results.len());
    assert!(
        count["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["topic"] == "ping" && c["count"] == 1)
    );
}

/// Polls the delivery results until `done` (results are written just after the answer).
async fn wait_results(server: &Server, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let body = server.api_ok(path).await;
        let results = body["results"].as_array().unwrap().clone();
        if done(&results) {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("delivery results at {path} never got there");
}
