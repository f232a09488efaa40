//! Delivery to webhook subscribers, end to end: the real binary, local receivers.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Answer, Received, Receiver, python_hmac, raw_events};
use support::{Server, samples};

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
    let (status, json, _) = server.call(method, path, body.map(|b| b.to_string())).await;
    (status, json)
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
    let mut org_alarm_order = Vec::new();
    let samples: Vec<_> = samples()
        .into_iter()
        .filter(|s| s.topic == "alarms" || s.topic == "device-events")
        .collect();
    for sample in &samples {
        let (status, answer) = server.ingest("default", sample.body.clone(), &[]).await;
        assert_eq!(status, 200, "{}: {answer}", sample.file);
        for (raw, value) in raw_events(&sample.body) {
            if value["org_id"] == ORG && sample.topic == "alarms" {
                org_alarm_order.push(raw.clone());
            }
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
    // Aggregated: the samples were posted within moments of each other (one window,
    // unless the machine is slow enough to cross a window boundary).
    let device_events = expected[&("org", "device-events")].len();
    assert!(
        device_messages.len() < device_events
            && device_messages.iter().any(|r| r.raw_events().len() >= 2),
        "{} messages for {device_events} events",
        device_messages.len()
    );
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

    // single_event_per_message: one POST per event, in the order they arrived (one
    // request in flight per webhook).
    let got = single_rx.received();
    assert!(got.iter().all(|r| r.raw_events().len() == 1));
    let order: Vec<String> = got.iter().flat_map(|r| r.raw_events()).collect();
    assert_eq!(order.len(), org_alarm_order.len() + 1);
    assert_eq!(order[..org_alarm_order.len()], org_alarm_order[..]);
    assert!(order.last().unwrap().contains("sentinel-1"));

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
    let device_posts = org_rx
        .received()
        .iter()
        .filter(|r| r.json()["topic"] == "device-events")
        .count();
    assert_eq!(topics["results"].as_array().unwrap().len(), device_posts);
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

/// The delivery results once `done` holds (they are written just after each answer).
async fn wait_results(server: &Server, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    support::eventually(WAIT, path, || async {
        let body = server.api_ok(path).await;
        let results = body["results"].as_array().unwrap().clone();
        done(&results).then_some(results)
    })
    .await
}

/// An alarms message with three events carrying `marker`.
fn three_alarms(marker: &str) -> Vec<u8> {
    let events: Vec<String> = (0..3)
        .map(|i| {
            format!(
                r#"{{"id":"{marker}-{i}","org_id":"{ORG}","site_id":"{SITE}","type":"device_down","aps":["5c5b350e000{i}"],"count":1,"timestamp":174999807{i}}}"#
            )
        })
        .collect();
    format!(r#"{{"topic":"alarms","events":[{}]}}"#, events.join(",")).into_bytes()
}

fn carries_all(r: &Received, marker: &str) -> bool {
    let body = String::from_utf8_lossy(&r.body);
    (0..3).all(|i| body.contains(&format!("{marker}-{i}")))
}

#[tokio::test]
async fn failing_receivers_get_every_batch_once_they_recover() {
    let server = Server::start_with(Some(&config("")));
    let hook = |url: String| json!({"url": url, "topics": ["alarms"]});
    let scope = format!("orgs/{ORG}");

    let errors = Receiver::start().await;
    errors.script([
        Answer::status(500),
        Answer::status(503),
        Answer::status(500),
    ]);
    let errors_hook = webhook(&server, &scope, hook(errors.url("/"))).await;

    let busy = Receiver::start().await;
    busy.script([Answer::status(429).header("Retry-After", "1")]);
    let busy_hook = webhook(&server, &scope, hook(busy.url("/"))).await;

    let slow = Receiver::start().await;
    let stall = Duration::from_secs(3); // the server's timeout is 1 s
    slow.script([
        Answer::status(200).delay(stall),
        Answer::status(200).delay(stall),
    ]);
    let slow_hook = webhook(&server, &scope, hook(slow.url("/"))).await;

    // Nothing listens on this port until the receiver "comes back".
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down_hook = webhook(
        &server,
        &scope,
        hook(format!("http://127.0.0.1:{port}/back-later")),
    )
    .await;

    let refusing = Receiver::start().await;
    refusing.script([Answer::status(400).body("unknown field")]);
    let refusing_hook = webhook(&server, &scope, hook(refusing.url("/"))).await;

    let (status, _) = server.ingest("default", three_alarms("retry"), &[]).await;
    assert_eq!(status, 200);
    let search = |id: &str| format!("/orgs/{ORG}/webhooks/{id}/events/search?order=asc");
    let succeeded = |r: &[Value]| r.iter().any(|d| d["status"] == "success");

    // 500, 503, 500, then 200: four attempts of one batch, recorded in order.
    let got = errors
        .wait_until(WAIT, "the fourth attempt", |r| r.len() >= 4)
        .await;
    assert!(got.iter().all(|r| carries_all(r, "retry")));
    let ids: BTreeSet<_> = got
        .iter()
        .map(|r| r.header("x-mistgate-delivery-id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "one delivery id across attempts");
    let results = wait_results(&server, &search(&errors_hook), succeeded).await;
    let codes: Vec<_> = results
        .iter()
        .map(|d| d["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 500, 200]);
    let attempts: Vec<_> = results
        .iter()
        .map(|d| d["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert_eq!(results[0]["batch_state"], "pending");
    assert_eq!(results[3]["batch_state"], "delivered");

    // 429 with Retry-After: 1 — the retry waits the second the receiver asked for.
    let got = busy
        .wait_until(WAIT, "the retry after 429", |r| r.len() >= 2)
        .await;
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    let results = wait_results(&server, &search(&busy_hook), succeeded).await;
    assert_eq!(results[0]["status_code"], 429);

    // Two answers slower than the timeout, then a quick one.
    let results = wait_results(&server, &search(&slow_hook), succeeded).await;
    assert_eq!(results.len(), 3, "{results:#?}");
    for timed_out in &results[..2] {
        assert_eq!(timed_out["status"], "failure");
        assert!(timed_out["status_code"].is_null());
        assert!(
            timed_out["error"].as_str().unwrap().contains("timed out"),
            "{timed_out}"
        );
    }
    assert!(carries_all(&slow.received()[2], "retry"));
    // Mist's `error` filter: only the attempts whose error says so.
    let timeouts = server
        .api_ok(&format!(
            "/orgs/{ORG}/webhooks/{slow_hook}/events/search?error=timed%20out"
        ))
        .await;
    assert_eq!(
        timeouts["results"].as_array().unwrap().len(),
        2,
        "{timeouts}"
    );
    assert_eq!(timeouts["total"], 2, "{timeouts}");

    // Connection refused until something listens.
    wait_results(&server, &search(&down_hook), |r| r.len() >= 2).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let back = Receiver::on(listener);
    let got = back
        .wait_until(WAIT, "the delivery after the outage", |r| !r.is_empty())
        .await;
    assert!(carries_all(&got[0], "retry"));
    assert_eq!(got[0].path, "/back-later");
    let results = wait_results(&server, &search(&down_hook), succeeded).await;
    assert!(
        results
            .iter()
            .filter(|d| d["status"] == "failure")
            .all(|d| d["status_code"].is_null()
                && d["error"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains("connect")),
        "{results:#?}"
    );

    // 400: no retry, straight to the dead letters; a replay delivers it.
    let results = wait_results(&server, &search(&refusing_hook), |r| !r.is_empty()).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["status_code"], 400);
    assert_eq!(results[0]["batch_state"], "dead");
    assert_eq!(results[0]["resp_body"], "unknown field");
    let dead = server
        .api_ok(&format!(
            "/orgs/{ORG}/webhooks/{refusing_hook}/deliveries?state=dead"
        ))
        .await;
    let dead = dead["items"].as_array().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event_count"], 3);
    assert_eq!(
        refusing.received().len(),
        1,
        "a refused batch is not retried"
    );
    let batch = dead[0]["id"].as_i64().unwrap();
    let (status, replayed) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks/{refusing_hook}/deliveries/{batch}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["replayed"], json!([batch]));
    let got = refusing
        .wait_until(WAIT, "the replay", |r| r.len() >= 2)
        .await;
    assert_eq!(got[1].body, got[0].body, "the same message");
    assert_eq!(
        got[1].header("x-mistgate-delivery-id"),
        got[0].header("x-mistgate-delivery-id")
    );
    let results = wait_results(&server, &search(&refusing_hook), succeeded).await;
    assert_eq!(results[1]["attempt"], 2);
    let delivered = server
        .api_ok(&format!(
            "/orgs/{ORG}/webhooks/{refusing_hook}/deliveries?state=delivered"
        ))
        .await;
    assert_eq!(delivered["items"][0]["id"], batch);

    // Replaying what is not dead, or not there, says so and changes nothing.
    let (status, body) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks/{refusing_hook}/deliveries/{batch}/replay"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, body) = call(
        &server,
        "POST",
        &format!("/orgs/{ORG}/webhooks/{errors_hook}/deliveries/{batch}/replay"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "another webhook's batch: {body}"
    );
    assert_eq!(refusing.received().len(), 2);
}

fn form(r: &Received) -> BTreeMap<String, String> {
    url_decode_pairs(&String::from_utf8_lossy(&r.body))
}

fn url_decode_pairs(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                let bytes = s.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn splunk_and_oauth2_webhooks_send_what_their_contracts_require() {
    let server = Server::start_with(Some(&config("")));
    let scope = format!("orgs/{ORG}");

    // Splunk HEC: busy once (503, code 9), then accepts.
    let splunk = Receiver::start().await;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    splunk.respond_with(move |r| {
        let auth_ok = r.header("authorization") == Some("Splunk hec-token-1");
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(if !auth_ok {
            Answer::status(403).body(r#"{"text":"Invalid token","code":4}"#)
        } else if n == 0 {
            Answer::status(503).body(r#"{"text":"Server is busy","code":9}"#)
        } else {
            Answer::status(200).body(r#"{"text":"Success","code":0}"#)
        })
    });
    webhook(
        &server,
        &scope,
        json!({"type": "splunk", "url": splunk.url("/services/collector/event"),
               "splunk_token": "hec-token-1", "topics": ["alarms"]}),
    )
    .await;

    // OAuth2 client credentials: the first token is refused once (revoked), a fresh
    // one is fetched and used.
    let oauth = Receiver::start().await;
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    oauth.respond_with({
        let issued = issued.clone();
        move |r| {
            if r.path == "/token" {
                let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let body = format!(
                    r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":3600}}"#
                );
                return Some(
                    Answer::status(200)
                        .header("content-type", "application/json")
                        .body(&body),
                );
            }
            match r.header("authorization") {
                Some("Bearer tok-2") => Some(Answer::status(200)),
                _ => Some(Answer::status(401)),
            }
        }
    });
    webhook(
        &server,
        &scope,
        json!({"type": "oauth2", "url": oauth.url("/hook"), "topics": ["alarms"],
               "oauth2_grant_type": "client_credentials", "oauth2_client_id": "mistgate",
               "oauth2_client_secret": "cs-1", "oauth2_token_url": oauth.url("/token"),
               "oauth2_scopes": ["events.write", "events.read"]}),
    )
    .await;

    // OAuth2 password grant.
    let password = Receiver::start().await;
    password.respond_with(|r| {
        if r.path == "/oauth/token" {
            return Some(
                Answer::status(200)
                    .header("content-type", "application/json")
                    .body(r#"{"access_token":"pw-token","token_type":"bearer"}"#),
            );
        }
        Some(Answer::status(
            if r.header("authorization") == Some("Bearer pw-token") {
                200
            } else {
                401
            },
        ))
    });
    webhook(
        &server,
        &scope,
        json!({"type": "oauth2", "url": password.url("/in"), "topics": ["alarms"],
               "oauth2_grant_type": "password", "oauth2_username": "noc", "oauth2_password": "p w&d",
               "oauth2_client_id": "cli", "oauth2_token_url": password.url("/oauth/token")}),
    )
    .await;

    let body = three_alarms("contract");
    let sent = raw_events(&body);
    let (status, _) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200);

    // Splunk: POST to the collector path with the Splunk scheme; the body is HEC event
    // objects, concatenated, one per Mist event, raw event inside, time in seconds.
    let got = splunk
        .wait_until(WAIT, "the HEC retry", |r| r.len() >= 2)
        .await;
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/services/collector/event");
        assert_eq!(r.header("authorization"), Some("Splunk hec-token-1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(got[0].body, got[1].body, "the same batch after the 503");
    let text = String::from_utf8(got[1].body.to_vec()).unwrap();
    let objects: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(objects.len(), 3);
    for (object, (raw, value)) in objects.iter().zip(&sent) {
        assert_eq!(&object["event"], value);
        assert!(
            text.contains(&format!(r#""event":{raw}}}"#)),
            "raw event verbatim"
        );
        assert_eq!(object["sourcetype"], "mist:alarms");
        assert_eq!(object["fields"]["site_id"], SITE);
        let time = object["time"].as_f64().unwrap();
        assert!(
            (time - value["timestamp"].as_f64().unwrap()).abs() < 1e-3,
            "{object}"
        );
    }

    // OAuth2: token fetched with the client credentials grant as a form, used as Bearer,
    // refreshed after a 401.
    let got = oauth
        .wait_until(WAIT, "the delivery with a fresh token", |r| {
            r.iter()
                .any(|r| r.path == "/hook" && r.header("authorization") == Some("Bearer tok-2"))
        })
        .await;
    let tokens: Vec<&Received> = got.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let f = form(tokens[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], "mistgate");
    assert_eq!(f["client_secret"], "cs-1");
    assert_eq!(f["scope"], "events.write events.read");
    let hooks: Vec<&Received> = got.iter().filter(|r| r.path == "/hook").collect();
    assert_eq!(hooks[0].header("authorization"), Some("Bearer tok-1"));
    assert!(carries_all(hooks.last().unwrap(), "contract"));

    let got = password
        .wait_until(WAIT, "the password-grant delivery", |r| {
            r.iter().any(|r| r.path == "/in")
        })
        .await;
    let f = form(got.iter().find(|r| r.path == "/oauth/token").unwrap());
    assert_eq!(f["grant_type"], "password");
    assert_eq!(f["username"], "noc");
    assert_eq!(f["password"], "p w&d");
    assert_eq!(f["client_id"], "cli");
    let delivered = got.iter().find(|r| r.path == "/in").unwrap();
    assert_eq!(delivered.header("authorization"), Some("Bearer pw-token"));
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    // The default configuration: the SSRF guard is on.
    let server = Server::start_with(Some("[[sources]]\nname = \"default\"\n"));
    let rx = Receiver::start().await;
    let scope = format!("orgs/{ORG}");
    let by_ip = webhook(
        &server,
        &scope,
        json!({"url": rx.url("/"), "topics": ["alarms"]}),
    )
    .await;
    let by_name = webhook(
        &server,
        &scope,
        json!({"url": format!("http://localhost:{}/", rx.addr.port()), "topics": ["alarms"]}),
    )
    .await;
    let (status, _) = server.ingest("default", three_alarms("ssrf"), &[]).await;
    assert_eq!(status, 200);
    for hook in [&by_ip, &by_name] {
        let path = format!("/orgs/{ORG}/webhooks/{hook}/events/search");
        let results = wait_results(&server, &path, |r| !r.is_empty()).await;
        assert_eq!(
            results.len(),
            1,
            "refused targets are not retried: {results:#?}"
        );
        assert_eq!(results[0]["batch_state"], "dead", "{results:#?}");
        let error = results[0]["error"].as_str().unwrap();
        assert!(
            error.contains("SSRF") && error.contains("loopback"),
            "{error}"
        );
    }
    assert!(
        rx.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}

#[tokio::test]
async fn every_batch_is_delivered_after_a_kill() {
    let mut server = Server::start_with(Some(&config("").replace("1500ms", "200ms")));
    let rx = Receiver::start().await;
    // Failing at first, so that retries are pending at the kill; then slow enough that
    // requests are in flight.
    rx.respond_with({
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        move |_| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(if n < 4 {
                Answer::status(500)
            } else {
                Answer::status(200).delay(Duration::from_millis(30))
            })
        }
    });
    webhook(
        &server,
        &format!("orgs/{ORG}"),
        json!({"url": rx.url("/"), "topics": ["alarms"]}),
    )
    .await;

    let mut acked = Vec::new();
    let mut killed = false;
    let mut seen_at_kill = BTreeSet::new();
    let deadline = std::time::Instant::now() + WAIT;
    for i in 0.. {
        if std::time::Instant::now() > deadline {
            break;
        }
        let marker = format!("crash-{i:05}");
        let (status, _) = server.ingest("default", sentinel(&marker), &[]).await;
        assert_eq!(status, 200);
        acked.push(marker);
        if rx.received().len() >= 8 {
            // Right after an acknowledged append: its event is still in the stage's
            // window, earlier batches are pending or in flight.
            server.kill();
            killed = true;
            seen_at_kill = markers_in(&rx.received());
            break;
        }
    }
    assert!(killed, "the receiver never got 8 requests");
    let unseen = acked.iter().filter(|m| !seen_at_kill.contains(*m)).count();
    assert!(
        unseen > 0,
        "the kill left nothing to deliver: the test shows nothing"
    );
    server.restart();
    for i in 0..20 {
        let marker = format!("after-{i:02}");
        let (status, _) = server.ingest("default", sentinel(&marker), &[]).await;
        assert_eq!(status, 200);
        acked.push(marker);
    }
    let got = rx
        .wait_until(WAIT, "every acknowledged event", |r| {
            let seen = markers_in(r);
            acked.iter().all(|m| seen.contains(m))
        })
        .await;
    // At least once: a batch in flight at the kill may come twice, with the same
    // delivery id so the receiver can tell.
    let mut by_delivery: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for r in &got {
        by_delivery
            .entry(r.header("x-mistgate-delivery-id").unwrap().to_string())
            .or_default()
            .push(r);
    }
    eprintln!(
        "acknowledged {}, unseen at the kill {unseen}, requests {}, distinct deliveries {}",
        acked.len(),
        got.len(),
        by_delivery.len()
    );
    for (id, copies) in &by_delivery {
        assert!(
            copies.iter().all(|c| c.body == copies[0].body),
            "delivery {id} changed between attempts"
        );
    }
}

/// The event ids (markers) of every message received.
fn markers_in(received: &[Received]) -> BTreeSet<String> {
    received
        .iter()
        .flat_map(|r| r.raw_events())
        .filter_map(|raw| serde_json::from_str::<Value>(&raw).ok())
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn delivery_endpoints_check_their_input() {
    let server = Server::start_with(Some(&config("")));
    let rx = Receiver::start().await;
    let hook = webhook(
        &server,
        &format!("sites/{SITE}"),
        json!({"url": rx.url("/"), "topics": ["alarms"]}),
    )
    .await;
    let base = format!("/sites/{SITE}/webhooks/{hook}");
    for (query, needle) in [
        ("/events/search?status=maybe", "status `maybe`"),
        ("/events/search?status_code=700", "status_code `700`"),
        ("/events/search?since=yesterday", "since `yesterday`"),
        ("/events/search?status=", "status ``"),
        ("/events/search?status_code=", "status_code ``"),
        ("/events/search?end=1e9", "end `1e9`"),
        ("/events/search?limit=0", "limit `0`"),
        ("/events/count?distinct=colour", "distinct `colour`"),
        ("/deliveries?state=lost", "state `lost`"),
        ("/deliveries?cursor=abc", "cursor `abc`"),
    ] {
        let (status, body) = server.api(&format!("{base}{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "invalid_query", "{query}");
        assert!(
            body["detail"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    // An empty range (since after until) answers nothing, as every other list does.
    let range = "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z";
    let (status, body) = server.api(&format!("{base}/events/search?{range}")).await;
    assert_eq!(
        (status, body["results"].clone()),
        (200, json!([])),
        "{body}"
    );
    // Another scope's path, an unknown webhook, an unknown batch: 404.
    for (method, path) in [
        ("GET", format!("/orgs/{ORG}/webhooks/{hook}/events/search")),
        ("POST", format!("/orgs/{ORG}/webhooks/{hook}/ping")),
        ("GET", format!("/sites/{SITE}/webhooks/nope/events/count")),
        ("POST", format!("{base}/deliveries/12345/replay")),
        ("POST", format!("{base}/deliveries/twelve/replay")),
    ] {
        let (status, body) = call(&server, method, &path, None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    // Without the token: 401, nothing sent.
    let status = server
        .client
        .post(server.url(&format!("/api/v1{base}/ping")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    // Replaying a range with no dead batch queues nothing.
    let (status, body) = call(&server, "POST", &format!("{base}/deliveries/replay"), None).await;
    assert_eq!((status, body["replayed"].clone()), (200, json!([])));
    assert!(rx.received().is_empty());

    // With delivery turned off the webhooks API works but ping says why it cannot.
    let off = Server::start_with(Some(
        "[[sources]]\nname = \"default\"\n[delivery]\nenabled = false\n",
    ));
    let hook = webhook(
        &off,
        &format!("orgs/{ORG}"),
        json!({"url": rx.url("/"), "topics": ["alarms"]}),
    )
    .await;
    let (status, body) = call(
        &off,
        "POST",
        &format!("/orgs/{ORG}/webhooks/{hook}/ping"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("delivery_unavailable")),
        "{body}"
    );
}

#[tokio::test]
async fn verify_cert_false_skips_certificate_checks_for_that_webhook_only() {
    let server = Server::start_with(Some(&config("")));
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start_tls(dir.path()).await;
    let scope = format!("orgs/{ORG}");
    let lax = webhook(
        &server,
        &scope,
        json!({"url": rx.https_url("/lax"), "topics": ["alarms"], "verify_cert": false}),
    )
    .await;
    let strict = webhook(
        &server,
        &scope,
        json!({"url": rx.https_url("/strict"), "topics": ["alarms"]}),
    )
    .await;
    let (status, _) = server.ingest("default", three_alarms("tls"), &[]).await;
    assert_eq!(status, 200);
    let got = rx
        .wait_until(WAIT, "the delivery over TLS", |r| !r.is_empty())
        .await;
    assert_eq!(got[0].path, "/lax");
    assert!(carries_all(&got[0], "tls"));
    wait_results(
        &server,
        &format!("/orgs/{ORG}/webhooks/{lax}/events/search"),
        |r| r.iter().any(|d| d["status"] == "success"),
    )
    .await;
    // The self-signed certificate is refused where verification is on (and retried:
    // a receiver may fix its certificate).
    let results = wait_results(
        &server,
        &format!("/orgs/{ORG}/webhooks/{strict}/events/search"),
        |r| r.len() >= 2,
    )
    .await;
    for r in &results {
        assert_eq!(r["status"], "failure");
        let error = r["error"].as_str().unwrap().to_lowercase();
        assert!(error.contains("certificate"), "{error}");
    }
    assert!(rx.received().iter().all(|r| r.path == "/lax"));
}
