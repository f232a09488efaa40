//! Per-destination rate limits end to end (issue 14, part 6): a routing target and a
//! Mist-format webhook with `rate_limit = "5/s"` get more than ten seconds of messages
//! that were all due at once, at most 5 in any second, none lost, while the wait shows in
//! `/metrics` and a webhook without a limit is not held back. Bad limits are refused with
//! their place named.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use support::receiver::{Received, Receiver, raw_events};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const WAIT: Duration = Duration::from_secs(30);
/// Events in the burst: at 5/s the last goes out 10.8 s after the first.
const EVENTS: usize = 55;
/// What the loopback adds to each arrival varies, by well under a millisecond on an idle
/// machine and by tens on a loaded one; arrival times are allowed that much either way.
/// A sender twice as fast as the limit, or one that bursts, is off by 200 ms or more.
const JITTER: Duration = Duration::from_millis(50);

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"

[targets.paced]
type = "webhook"
url = "{url}"
rate_limit = "5/s"
{extra}
[[routes]]
name = "AP events"
flow = "event"
topics = ["device_events"]
targets = ["paced"]
"#
    )
}

/// The MAC of the `i`th event: what identifies it at every receiver.
fn mac(i: usize) -> String {
    format!("5c5b35aa{i:04x}")
}

/// One envelope of `EVENTS` distinct AP events, all due at once.
fn burst() -> Vec<u8> {
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            json!({"org_id": ORG, "site_id": SITE, "mac": mac(i), "type": "AP_CONFIGURED",
                   "ap_name": format!("ap-{i}"), "timestamp": 1_749_998_000 + i})
        })
        .collect();
    serde_json::to_vec(&json!({"topic": "device-events", "events": events})).unwrap()
}

/// The MACs a routing target's messages carry.
fn target_macs(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["raw"]["mac"].as_str().unwrap().to_string())
        .collect()
}

/// The MACs of the events in Mist-format messages.
fn webhook_macs(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .flat_map(|r| raw_events(&r.body))
        .map(|(_, event)| event["mac"].as_str().unwrap().to_string())
        .collect()
}

/// The value of `name{labels}` in a Prometheus text page, if it is there.
fn metric(page: &str, name: &str, labels: &str) -> Option<f64> {
    let key = format!("{name}{{{labels}}} ");
    page.lines()
        .find_map(|line| line.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

/// Every message arrived once, and no second (within the jitter) held more than five.
fn check_paced(what: &str, received: &[Received], macs: Vec<String>) {
    let expected: BTreeSet<String> = (0..EVENTS).map(mac).collect();
    assert_eq!(
        macs.len(),
        EVENTS,
        "{what}: one message per event, none twice"
    );
    assert_eq!(
        macs.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "{what}: nothing lost"
    );
    let mut at: Vec<Instant> = received.iter().map(|r| r.at).collect();
    at.sort();
    let second = Duration::from_secs(1);
    // Six arrivals within one second would break the limit: the first and the sixth of
    // any six in a row are a second apart, give or take the jitter.
    let tightest = at
        .windows(6)
        .map(|w| w[5] - w[0])
        .min()
        .expect("more than six arrivals");
    assert!(
        tightest + JITTER >= second,
        "{what}: six arrivals within {tightest:?}"
    );
    // Over the whole run: one every 200 ms, so the limit is kept on average too (a
    // sender 1% too fast would be 108 ms early by the end).
    let run = at[EVENTS - 1] - at[0];
    assert!(
        run + JITTER >= Duration::from_millis(200) * (EVENTS as u32 - 1),
        "{what}: {EVENTS} arrivals in {run:?}"
    );
    assert!(run >= Duration::from_secs(10), "{what}: sent over {run:?}");
    eprintln!("{what}: {EVENTS} arrivals over {run:?}, six at the closest within {tightest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_and_a_webhook_limited_to_5_per_second_get_everything_at_that_pace() {
    let target_rx = Receiver::start().await;
    let webhook_rx = Receiver::start().await;
    let free_rx = Receiver::start().await;
    let server = Server::start_with(Some(&config(&target_rx.url("/paced"), "")));
    let mut ids = Vec::new();
    for (url, limit) in [
        (webhook_rx.url("/mist"), json!("5/second")),
        (free_rx.url("/free"), Value::Null),
    ] {
        let (status, created, _) = server
            .call(
                "POST",
                &format!("/orgs/{ORG}/webhooks"),
                Some(
                    json!({"url": url, "topics": ["device-events"],
                           "single_event_per_message": true, "rate_limit": limit})
                    .to_string(),
                ),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let (paced_hook, free_hook) = (&ids[0], &ids[1]);
    let (_, shown) = server
        .api(&format!("/orgs/{ORG}/webhooks/{paced_hook}"))
        .await;
    assert_eq!(shown["rate_limit"], "5/s", "shown with the short unit");

    let (status, answer) = server.ingest("default", burst(), &[]).await;
    assert_eq!(status, 200, "{answer}");

    // The webhook without a limit has everything long before the others.
    let free = free_rx
        .wait_until(WAIT, "the unlimited webhook's messages", |r| {
            r.len() >= EVENTS
        })
        .await;
    assert_eq!(webhook_macs(&free).len(), EVENTS);
    assert!(
        target_rx.received().len() < EVENTS && webhook_rx.received().len() < EVENTS,
        "the paced lanes do not hold back the free one"
    );

    // While they wait, /metrics shows it: the queue, and what the limit holds back.
    let target = r#"destination="target:paced""#;
    let webhook = format!(r#"destination="{paced_hook}""#);
    let shown = support::eventually(WAIT, "the wait in /metrics", || async {
        let page = server.text("/metrics", false).await;
        let held = |labels: &str| {
            metric(&page, "mistgate_delivery_rate_limited_batches", labels).unwrap_or(0.0)
        };
        let pending =
            |labels: &str| metric(&page, "mistgate_outbox_pending_batches", labels).unwrap_or(0.0);
        (held(target) > 0.0
            && held(&webhook) > 0.0
            && pending(target) > 0.0
            && pending(&webhook) > 0.0)
            .then_some(page)
    })
    .await;
    assert!(
        shown.contains("# TYPE mistgate_delivery_rate_limited_total counter"),
        "{shown}"
    );

    let paced = target_rx
        .wait_until(WAIT, "every message at the target", |r| r.len() >= EVENTS)
        .await;
    let hooked = webhook_rx
        .wait_until(WAIT, "every message at the webhook", |r| r.len() >= EVENTS)
        .await;
    check_paced("target", &paced, target_macs(&paced));
    check_paced("webhook", &hooked, webhook_macs(&hooked));

    // Waiting was never an attempt: one successful attempt per message.
    for path in [
        "/targets/paced/events/search?limit=1000".to_string(),
        format!("/orgs/{ORG}/webhooks/{paced_hook}/events/search?limit=1000"),
        format!("/orgs/{ORG}/webhooks/{free_hook}/events/search?limit=1000"),
    ] {
        let results = support::eventually(WAIT, &path, || async {
            let results = server.api_ok(&path).await["results"]
                .as_array()
                .unwrap()
                .clone();
            (results.len() >= EVENTS).then_some(results)
        })
        .await;
        assert_eq!(results.len(), EVENTS, "{path}");
        assert!(
            results
                .iter()
                .all(|r| r["status"] == "success" && r["attempt"] == 1),
            "{path}: {results:?}"
        );
    }
    let page = server.text("/metrics", false).await;
    for labels in [target, webhook.as_str()] {
        let waits = metric(&page, "mistgate_delivery_rate_limited_total", labels).unwrap();
        assert!(waits >= (EVENTS - 5) as f64, "{labels}: {waits} waits");
        assert_eq!(
            metric(&page, "mistgate_delivery_rate_limited_batches", labels),
            Some(0.0),
            "{labels}: nothing held once all is sent"
        );
    }
    let free_label = format!(r#"destination="{free_hook}""#);
    assert_eq!(
        metric(&page, "mistgate_delivery_rate_limited_total", &free_label).unwrap_or(0.0),
        0.0,
        "no limit, no waits"
    );
}

#[tokio::test]
async fn a_bad_rate_limit_is_refused_naming_its_field() {
    let server = Server::start_with(Some(&config("https://hooks.example.net/x", "")));
    let path = format!("/orgs/{ORG}/webhooks");
    for bad in ["30 per min", "0/s", "abc", "5/day"] {
        let body = json!({"url": "https://r.example/x", "topics": ["alarms"], "rate_limit": bad});
        let (status, answer, _) = server.call("POST", &path, Some(body.to_string())).await;
        assert_eq!(status, 422, "{bad}: {answer}");
        assert_eq!(answer["error"], "invalid_field", "{answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(
            detail.contains("rate_limit") && detail.contains(&format!("{bad:?}")),
            "{detail}"
        );
    }
    // Changed by PUT; a PUT that leaves it out keeps it (Mist's partial update), `null`
    // clears it.
    let body =
        json!({"url": "https://r.example/x", "topics": ["alarms"], "rate_limit": "30/minute"});
    let (status, created, _) = server.call("POST", &path, Some(body.to_string())).await;
    assert_eq!((status, &created["rate_limit"]), (200, &json!("30/min")));
    let one = format!("{path}/{}", created["id"].as_str().unwrap());
    let body = json!({"url": "https://r.example/x", "topics": ["alarms"], "rate_limit": "2/h"});
    let (_, replaced, _) = server.call("PUT", &one, Some(body.to_string())).await;
    assert_eq!(replaced["rate_limit"], "2/h");
    let body = json!({"url": "https://r.example/x", "topics": ["alarms"]});
    let (_, kept, _) = server.call("PUT", &one, Some(body.to_string())).await;
    assert_eq!(kept["rate_limit"], "2/h");
    let body = json!({"rate_limit": null});
    let (_, cleared, _) = server.call("PUT", &one, Some(body.to_string())).await;
    assert_eq!(cleared["rate_limit"], Value::Null);
}

#[test]
fn check_config_names_the_target_and_line_of_a_bad_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mistgate.toml");
    let text = config("https://hooks.example.net/x", "").replace("\"5/s\"", "\"30 per min\"");
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"rate limit "30 per min": write it as <count>/<unit>"#),
        "{err}"
    );
    // The table's line and header, as for any mistake inside a target's table (its type
    // decides how the rest is read, so the TOML reader places errors at the table).
    let line = text.lines().position(|l| l == "[targets.paced]").unwrap() + 1;
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(err.contains("[targets.paced]"), "{err}");
}
