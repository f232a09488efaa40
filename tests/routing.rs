//! Routing end to end: events and incident changes posted to the real binary reach the
//! targets their routes name.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Received, Receiver};
use support::{Server, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const OTHER_SITE: &str = "9b0d1a2c-0000-4000-8000-000000000002";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WAIT: Duration = Duration::from_secs(30);

/// Verifies a request with the `standardwebhooks` package from PyPI (an implementation
/// nobody here wrote); returns its verdict.
fn standard_webhooks_verifies(secret: &str, r: &Received) -> Result<(), String> {
    use std::io::Write;
    let headers: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| {
                (
                    h.to_string(),
                    Value::String(r.header(h).unwrap_or_default().to_string()),
                )
            })
            .collect();
    let script = "import json, sys\n\
from standardwebhooks.webhooks import Webhook\n\
headers = json.loads(sys.argv[2])\n\
Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), headers)\n\
print('verified')\n";
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(secret)
        .arg(Value::Object(headers).to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(&r.body).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "verified" {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn config(url: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[routing]
public_url = "https://mistgate.example.net"

[targets.noc]
type = "webhook"
url = "{url}"
secrets = ["{WHSEC}"]

[[routes]]
name = "incidents at HQ"
flow = "incident"
site_ids = ["{SITE}"]
targets = ["noc"]

[[routes]]
name = "AP events everywhere"
flow = "event"
topics = ["device_events"]
types = ["AP_*"]
targets = ["noc"]
"#
    )
}

fn device_event(site: &str, kind: &str, mac: &str, t: f64) -> Vec<u8> {
    serde_json::to_vec(&json!({"topic": "device-events", "events": [{
        "org_id": ORG, "site_id": site, "mac": mac, "type": kind, "ap_name": "ap-lobby",
        "timestamp": t
    }]}))
    .unwrap()
}

#[tokio::test]
async fn routes_send_incidents_and_events_as_signed_standard_webhooks() {
    let rx = Receiver::start().await;
    let server = Server::start_with(Some(&config(&rx.url("/hook"))));
    let t0 = 1_749_998_000.0;
    let ap = "5c5b35dd0001";
    for body in [
        // Opens an incident at HQ (routed) and, at another site, one that is not.
        site_alarm(ORG, SITE, "device_down", &[ap], t0, json!({})),
        site_alarm(
            ORG,
            OTHER_SITE,
            "device_down",
            &["5c5b35dd0002"],
            t0,
            json!({}),
        ),
        device_event(OTHER_SITE, "AP_RESTARTED", "5c5b35dd0002", t0 + 1.0),
        device_event(SITE, "SW_PORT_DOWN", "5c5b35dd0003", t0 + 1.0),
        site_alarm(
            ORG,
            SITE,
            "device_reconnected",
            &[ap],
            t0 + 600.0,
            json!({}),
        ),
    ] {
        let (status, answer) = server.ingest("default", body, &[]).await;
        assert_eq!(status, 200, "{answer}");
    }
    let got = rx
        .wait_until(
            WAIT,
            "the opened and resolved incident and the AP event",
            |r| {
                let flows: Vec<(String, String)> = r
                    .iter()
                    .map(|r| {
                        let b = r.json();
                        (
                            b["flow"].as_str().unwrap_or("").to_string(),
                            b["change"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                flows.contains(&("incident".into(), "opened".into()))
                    && flows.contains(&("incident".into(), "resolved".into()))
                    && flows.iter().any(|(f, _)| f == "event")
            },
        )
        .await;
    for r in &got {
        standard_webhooks_verifies(WHSEC, r).unwrap_or_else(|e| panic!("not verified: {e}"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // A tampered body fails the same check (the check can fail).
    let mut tampered = got[0].clone();
    tampered.body =
        axum::body::Bytes::from(String::from_utf8_lossy(&tampered.body).replace("HQ", "XX"));
    assert!(standard_webhooks_verifies(WHSEC, &tampered).is_err());

    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let opened = bodies.iter().find(|b| b["change"] == "opened").unwrap();
    assert_eq!(
        opened["incident"]["site_id"], SITE,
        "the site filter keeps the other site out"
    );
    assert_eq!(opened["site_name"], "HQ");
    assert_eq!(opened["incident"]["devices"], json!([ap]));
    let id = opened["incident"]["id"].as_i64().unwrap();
    assert_eq!(
        opened["link"],
        format!("https://mistgate.example.net/ui/incidents/{id}")
    );
    let resolved = bodies.iter().find(|b| b["change"] == "resolved").unwrap();
    assert_eq!(resolved["incident"]["id"], id);
    let events: Vec<&Value> = bodies.iter().filter(|b| b["flow"] == "event").collect();
    assert_eq!(
        events.len(),
        1,
        "SW_ events do not match `AP_*`: {events:?}"
    );
    assert_eq!(events[0]["type"], "AP_RESTARTED");
    assert_eq!(events[0]["device_name"], "ap-lobby");
    assert_eq!(events[0]["raw"]["mac"], "5c5b35dd0002");
    assert!(
        bodies
            .iter()
            .filter(|b| b["flow"] == "incident")
            .all(|b| b["incident"]["site_id"] == SITE),
        "no incident of the other site: {bodies:?}"
    );
    // The target's deliveries are listed like a webhook's.
    let targets = server.api_ok("/targets").await;
    assert_eq!(targets, json!([{"name": "noc", "type": "webhook"}]));
    let results = support::eventually(WAIT, "the target's delivery results", || async {
        let results = server.api_ok("/targets/noc/events/search").await["results"]
            .as_array()
            .unwrap()
            .clone();
        (results.len() >= got.len()).then_some(results)
    })
    .await;
    assert_eq!(results.len(), got.len());
    assert!(
        results
            .iter()
            .all(|r| r["status"] == "success" && r["req_url"] == "webhook:noc")
    );
    let (status, body) = server.api("/targets/pager/deliveries").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    // One request per message; the delivery id is the Standard Webhooks id.
    let ids: std::collections::BTreeSet<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), got.len());
}

#[test]
fn check_config_explains_a_bad_route_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mistgate.toml");
    let text = config("https://hooks.example.net/x").replace(
        "types = [\"AP_*\"]\ntargets = [\"noc\"]",
        "types = [\"AP_*\"]\ntargets = [\"pager\"]",
    );
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().position(|l| l.trim() == "[[routes]]").unwrap();
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[routes]]")
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert!(line + 1 < second);
    assert!(
        err.contains(&format!("mistgate.toml:{second}: routes[1] (`AP events everywhere`): target `pager` is not defined")),
        "{err}"
    );

    let bad_target = config("https://hooks.example.net/x").replace(WHSEC, "not-a-secret");
    std::fs::write(&path, &bad_target).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let line = bad_target
        .lines()
        .position(|l| l.trim() == "[targets.noc]")
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "mistgate.toml:{line}: [targets.noc] (webhook): secrets[0]"
        )),
        "{err}"
    );
}

/// A receiver answering as Slack's Web API, PagerDuty's Events API v2 and ServiceNow's
/// Table API do (the parts the scenario uses).
fn itsm_receiver(rx: &Receiver) {
    use support::receiver::Answer;
    let json = |status: u16, body: Value| {
        Answer::status(status)
            .header("content-type", "application/json")
            .body(&body.to_string())
    };
    rx.respond_with(move |r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        Some(match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/slack/api/chat.postMessage") => json(
                200,
                json!({"ok": true, "channel": body["channel"], "ts": "1749998000.000100"}),
            ),
            ("POST", "/slack/api/chat.update") => json(
                200,
                json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}),
            ),
            ("POST", "/pd/v2/enqueue") => json(
                202,
                json!({"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}),
            ),
            // A lookup by correlation_id before creating: nothing yet.
            ("GET", "/sn/api/now/table/incident") => json(200, json!({"result": []})),
            ("POST", "/sn/api/now/table/incident") => json(
                201,
                json!({"result": {"sys_id": "9d385017c611228701d22104cc95c371", "number": "INC0010001"}}),
            ),
            (_, p) if p.starts_with("/sn/api/now/table/incident/") => json(
                200,
                json!({"result": {"sys_id": "9d385017c611228701d22104cc95c371"}}),
            ),
            _ => json(404, json!({"error": "unexpected request"})),
        })
    });
}

#[tokio::test]
async fn an_outage_opens_and_resolves_a_page_a_ticket_and_a_slack_message() {
    let rx = Receiver::start().await;
    itsm_receiver(&rx);
    let config = format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[routing]
public_url = "https://mistgate.example.net"

[targets.chat]
type = "slack"
token = "xoxb-test-token"
channel = "C0NOC"
api_url = "{slack}"

[targets.oncall]
type = "pagerduty"
routing_key = "R0UTINGKEY0123456789012345678901"
url = "{pd}"

[targets.tickets]
type = "servicenow"
url = "{sn}"
username = "mistgate"
password = "sn-pass"

[[routes]]
name = "HQ outages"
flow = "incident"
kinds = ["device_down"]
site_ids = ["{SITE}"]
targets = ["oncall", "tickets", "chat"]
"#,
        slack = rx.url("/slack/api"),
        pd = rx.url("/pd/v2/enqueue"),
        sn = rx.url("/sn"),
    );
    let server = Server::start_with(Some(&config));
    let t0 = 1_749_998_000.0;
    let ap = "5c5b35ee0001";
    for body in [
        site_alarm(ORG, SITE, "device_down", &[ap], t0, json!({})),
        site_alarm(
            ORG,
            OTHER_SITE,
            "device_down",
            &["5c5b35ee0002"],
            t0,
            json!({}),
        ),
        site_alarm(
            ORG,
            SITE,
            "device_reconnected",
            &[ap],
            t0 + 300.0,
            json!({}),
        ),
    ] {
        let (status, answer) = server.ingest("default", body, &[]).await;
        assert_eq!(status, 200, "{answer}");
    }
    let got = rx
        .wait_until(
            WAIT,
            "a trigger and a resolve, a ticket and its resolution, a post and its edit",
            |r| {
                let count = |p: &str| r.iter().filter(|r| r.path.starts_with(p)).count();
                let sn_writes = r
                    .iter()
                    .filter(|r| r.path.starts_with("/sn/") && r.method != "GET")
                    .count();
                count("/pd/") >= 2 && sn_writes >= 2 && count("/slack/") >= 2
            },
        )
        .await;
    assert!(
        got.iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("5c5b35ee0002")),
        "the other site's outage goes nowhere"
    );

    // PagerDuty: trigger then resolve, one dedup_key.
    let pd: Vec<Value> = got
        .iter()
        .filter(|r| r.path == "/pd/v2/enqueue")
        .map(Received::json)
        .collect();
    assert_eq!(pd.len(), 2, "{pd:?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[0]["routing_key"], "R0UTINGKEY0123456789012345678901");
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);
    let summary = pd[0]["payload"]["summary"].as_str().unwrap();
    assert!(summary.len() <= 1024 && summary.contains("HQ"), "{summary}");
    assert!(
        ["critical", "error", "warning", "info"]
            .contains(&pd[0]["payload"]["severity"].as_str().unwrap())
    );

    // ServiceNow: created, then resolved on the sys_id it returned.
    let sn: Vec<&Received> = got
        .iter()
        .filter(|r| r.path.starts_with("/sn/") && r.method != "GET")
        .collect();
    assert_eq!(
        (sn[0].method.as_str(), sn[0].path.as_str()),
        ("POST", "/sn/api/now/table/incident")
    );
    let basic = format!("Basic {}", base64_of("mistgate:sn-pass"));
    assert!(
        sn.iter()
            .all(|r| r.header("authorization") == Some(basic.as_str()))
    );
    let created = sn[0].json();
    assert!(
        created["correlation_id"].as_str().unwrap().contains(ap),
        "{created}"
    );
    assert!(!created["short_description"].as_str().unwrap().is_empty());
    let resolve = sn.last().unwrap();
    assert!(
        matches!(resolve.method.as_str(), "PATCH" | "PUT"),
        "{}",
        resolve.method
    );
    assert_eq!(
        resolve.path,
        "/sn/api/now/table/incident/9d385017c611228701d22104cc95c371"
    );
    let resolved = resolve.json();
    assert_eq!(resolved["state"].to_string().trim_matches('"'), "6");
    assert!(resolved["close_code"].is_string() && resolved["close_notes"].is_string());

    // Slack: posted, then the same message edited with the resolution.
    let slack: Vec<&Received> = got
        .iter()
        .filter(|r| r.path.starts_with("/slack/"))
        .collect();
    assert_eq!(slack[0].path, "/slack/api/chat.postMessage");
    assert_eq!(
        slack[0].header("authorization"),
        Some("Bearer xoxb-test-token")
    );
    let update = slack
        .iter()
        .find(|r| r.path == "/slack/api/chat.update")
        .expect("an edit");
    // Slack's default rate limit (1/s) holds the edit back a second after the post, give or
    // take the loopback's jitter.
    let gap = update.at - slack[0].at;
    assert!(
        gap + Duration::from_millis(50) >= Duration::from_secs(1),
        "the edit came {gap:?} after the post"
    );
    let edit = update.json();
    assert_eq!(edit["ts"], "1749998000.000100");
    assert_eq!(edit["channel"], "C0NOC");
    assert!(
        edit.to_string().to_lowercase().contains("resolved"),
        "{edit}"
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every message of a JetStream stream: (subject, message id, payload).
async fn stream_messages(url: &str, stream: &str) -> Vec<(String, String, Value)> {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut s = js.get_stream(stream).await.unwrap();
    let state = s.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let m = s.get_raw_message(seq).await.unwrap();
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            id,
            serde_json::from_slice(&m.payload).unwrap(),
        ));
    }
    out
}

#[tokio::test]
async fn events_reach_nats_jetstream_on_their_subjects_exactly_once() {
    let nats = support::nats_server::NatsServer::start();
    let config = format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[targets.stream]
type = "nats"
url = "{url}"
stream = "MIST_E2E"

[[routes]]
flow = "event"
targets = ["stream"]
"#,
        url = nats.url()
    );
    let mut server = Server::start_with(Some(&config));
    let samples: Vec<_> = support::samples()
        .into_iter()
        .filter(|s| ["alarms", "device-events", "audits"].contains(&s.topic.as_str()))
        .collect();
    let mut stored = 0;
    for sample in &samples {
        let (status, answer) = server.ingest("default", sample.body.clone(), &[]).await;
        assert_eq!(status, 200, "{answer}");
        stored += answer["accepted"].as_i64().unwrap();
    }
    // Mist delivering the same message twice (org and site webhooks): stored once, and
    // so published once.
    let (_, again) = server.ingest("default", samples[0].body.clone(), &[]).await;
    assert_eq!(again["accepted"], 0);

    let url = nats.url();
    let got = support::eventually(WAIT, "every stored event in the stream", || async {
        let client = async_nats::connect(url.as_str()).await.ok()?;
        async_nats::jetstream::new(client)
            .get_stream("MIST_E2E")
            .await
            .ok()?;
        let got = stream_messages(&url, "MIST_E2E").await;
        (got.len() as i64 >= stored).then_some(got)
    })
    .await;
    assert_eq!(
        got.len() as i64,
        stored,
        "every stored event published once"
    );
    let events = server.all_events("").await;
    for event in &events {
        let id = event["id"].as_i64().unwrap();
        let copies: Vec<_> = got
            .iter()
            .filter(|(_, msg_id, _)| *msg_id == format!("event-{id}"))
            .collect();
        assert_eq!(copies.len(), 1, "event {id}");
        let (subject, _, payload) = copies[0];
        let part = |v: &Value| {
            v.as_str()
                .map(|s| s.replace(['.', '*', '>', ' '], "_"))
                .unwrap_or_else(|| "_".into())
        };
        assert_eq!(
            subject,
            &format!(
                "mist.{}.{}.{}",
                part(&event["org_id"]),
                part(&event["site_id"]),
                event["topic"].as_str().unwrap()
            )
        );
        assert_eq!(payload["raw"], event["raw"], "the event as Mist sent it");
        assert_eq!(payload["flow"], "event");
    }

    // Kill and restart: a batch sent again after a crash is deduplicated by the stream.
    server.kill();
    server.restart();
    let (status, _) = server
        .ingest(
            "default",
            site_alarm(
                ORG,
                SITE,
                "device_down",
                &["5c5b35ff0001"],
                1_749_998_500.0,
                json!({}),
            ),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let got = support::eventually(WAIT, "the event after the restart", || async {
        let got = stream_messages(&url, "MIST_E2E").await;
        (got.len() as i64 > stored).then_some(got)
    })
    .await;
    assert_eq!(got.len() as i64, stored + 1);
    let ids: std::collections::BTreeSet<_> = got.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids.len(), got.len(), "no message id twice");
}

#[tokio::test]
async fn target_messages_are_retried_dead_lettered_and_replayed_by_the_engine() {
    use support::receiver::Answer;
    let rx = Receiver::start().await;
    // Busy once, then a refusal (dead at once), then well.
    rx.script([
        Answer::status(503),
        Answer::status(422).body("unknown schema"),
    ]);
    let server = Server::start_with(Some(&config(&rx.url("/hook"))));
    let t0 = 1_749_998_000.0;
    for (site, mac, t) in [
        (SITE, "5c5b35aa1001", t0),
        (OTHER_SITE, "5c5b35aa1002", t0 + 1.0),
    ] {
        let (status, _) = server
            .ingest("default", device_event(site, "AP_RESTARTED", mac, t), &[])
            .await;
        assert_eq!(status, 200);
    }
    // The first message: 503 then delivered on its retry. The second: 422, dead.
    let got = rx
        .wait_until(WAIT, "three requests", |r| r.len() >= 3)
        .await;
    let search = |q: &str| format!("/targets/noc/events/search?order=asc{q}");
    let results = support::eventually(WAIT, "three delivery results", || async {
        let results = server.api_ok(&search("")).await["results"]
            .as_array()
            .unwrap()
            .clone();
        (results.len() >= 3).then_some(results)
    })
    .await;
    let codes: Vec<u64> = results
        .iter()
        .map(|r| r["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes.len(), 3, "{results:#?}");
    assert!(
        codes.contains(&503) && codes.contains(&422) && codes.contains(&200),
        "{codes:?}"
    );
    let dead = server.api_ok("/targets/noc/deliveries?state=dead").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let refused = got
        .iter()
        .find(|r| r.header("webhook-id") == dead[0]["delivery_id"].as_str())
        .unwrap();
    let batch = dead[0]["id"].as_i64().unwrap();
    let status = server
        .client
        .post(server.url(&format!("/api/v1/targets/noc/deliveries/{batch}/replay")))
        .header("authorization", format!("Token {}", support::TOKEN))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let got = rx.wait_until(WAIT, "the replay", |r| r.len() >= 4).await;
    let again = &got[3];
    assert_eq!(
        again.header("webhook-id"),
        refused.header("webhook-id"),
        "the same message id"
    );
    assert_eq!(again.body, refused.body);
    standard_webhooks_verifies(WHSEC, again).unwrap();
}

#[tokio::test]
async fn a_security_incident_names_its_site_from_site_names_and_its_ap_from_hostnames() {
    let rx = Receiver::start().await;
    let config = format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"

[routing]
site_names = {{ "{SITE}" = "Head Office" }}

[targets.chat]
type = "slack"
webhook_url = "{hook}"

[[routes]]
name = "security"
flow = "incident"
kinds = ["security"]
targets = ["chat"]
"#,
        hook = rx.url("/hook"),
    );
    let server = Server::start_with(Some(&config));
    // The rogue_ap example of Mist's alarm_defs: no site_name, the AP's name in hostnames.
    let alarm = json!({"topic": "alarms", "events": [{
        "severity": "critical", "last_seen": 1_749_998_000, "aps": ["5c5b35500442"],
        "hostnames": ["AP_NAME"], "count": 2, "type": "rogue_ap",
        "ssids": ["DIRECT-roku-371-0064B1"], "timestamp": 1_749_998_000,
        "bssids": ["ca3a6bef7457"], "org_id": ORG, "site_id": SITE,
        "id": "59be9221-1e26-4466-baa3-6afbce1b7bcb", "group": "security"
    }]});
    let (status, answer) = server
        .ingest("default", serde_json::to_vec(&alarm).unwrap(), &[])
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = rx
        .wait_until(WAIT, "the Slack message", |r| !r.is_empty())
        .await;
    let body = got[0].json();
    let title = body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(
        title,
        ":red_circle: [Opened] Security: rogue_ap at Head Office, reported by 1 AP"
    );
    let fields: Vec<&str> = body["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["text"].as_str())
        .collect();
    assert!(fields.contains(&"*Site*\nHead Office"), "{fields:?}");
    assert!(
        fields.contains(&format!("*Site ID*\n{SITE}").as_str()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"*Device*\nAP_NAME (5c5b35500442)"),
        "{fields:?}"
    );
    // The API's incident says the same, and keeps the name the alarm gave.
    let incidents = server.api_ok("/incidents?kind=security").await;
    let incident = &incidents["items"][0];
    // (resolved by now: the alarm is older than the quiet period, on the real clock)
    let summary = incident["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Security: rogue_ap at Head Office, reported by 1 AP"),
        "{summary}"
    );
    assert_eq!(incident["device_names"]["5c5b35500442"], "AP_NAME");
}
