//! Stages run when there is work: an alarm's commit wakes the correlation stage, the
//! incident it opens wakes the routing stage, and an acknowledgement through the API
//! wakes it again; none of them waits for a tick.
//!
//! The stages have no idle tick any more (`deliver::tail`, whose unit tests check the
//! mechanism with a paused clock): here the whole chain runs against the binary. The
//! timing bound is loose on purpose. With the ticks the stages had (correlation polled
//! every 250 ms, routing slept 500 ms when idle and nothing woke it for an incident), the
//! median from the ingest answer to the `opened` message was about 600 ms; woken, it is
//! a few milliseconds, so a median under 250 ms holds on a busy debug build and fails
//! if any hop waits for a tick again.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{Server, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const WAIT: Duration = Duration::from_secs(30);
const ALARMS: usize = 9;
const BOUND: Duration = Duration::from_millis(250);

fn config(url: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true

[targets.noc]
type = "webhook"
url = "{url}"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[routes]]
name = "every incident"
flow = "incident"
targets = ["noc"]
"#
    )
}

/// Waits for the incident message with `change` about `ap`; returns it and its arrival.
async fn incident_message(rx: &Receiver, change: &str, ap: &str) -> (Value, Instant) {
    let is_it = |b: &Value| b["change"] == change && b["incident"]["devices"][0] == ap;
    let got = rx
        .wait_until(WAIT, &format!("`{change}` for {ap}"), |r| {
            r.iter().any(|r| is_it(&r.json()))
        })
        .await;
    let r = got.iter().find(|r| is_it(&r.json())).unwrap();
    (r.json(), r.at)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

#[tokio::test]
async fn alarms_and_acknowledgements_reach_a_route_without_waiting_for_a_tick() {
    let rx = Receiver::start().await;
    let server = Server::start_with(Some(&config(&rx.url("/noc"))));
    let t0 = 1_749_998_000.0;
    let mut opened = Vec::new();
    let mut acknowledged = Vec::new();
    for i in 0..ALARMS {
        let ap = format!("5c5b35dd{i:04x}");
        let body = site_alarm(ORG, SITE, "device_down", &[&ap], t0 + i as f64, json!({}));
        let (status, answer) = server.ingest("default", body, &[]).await;
        let answered = Instant::now();
        assert_eq!(status, 200, "{answer}");
        let (message, at) = incident_message(&rx, "opened", &ap).await;
        opened.push(at.saturating_duration_since(answered));

        // A manual action goes through the correlation stage, whose commit wakes routing.
        let id = message["incident"]["id"].as_i64().unwrap();
        let (status, acked, _) = server
            .call(
                "POST",
                &format!("/incidents/{id}/ack"),
                Some(json!({"by": "noc-oncall"}).to_string()),
            )
            .await;
        let answered = Instant::now();
        assert_eq!(status, 200, "{acked}");
        let (_, at) = incident_message(&rx, "acknowledged", &ap).await;
        acknowledged.push(at.saturating_duration_since(answered));
    }
    let (opened, acknowledged) = (median(opened), median(acknowledged));
    assert!(
        opened < BOUND,
        "median from the ingest answer to `opened` at the receiver: {opened:?}"
    );
    assert!(
        acknowledged < BOUND,
        "median from the ack answer to `acknowledged` at the receiver: {acknowledged:?}"
    );
}
