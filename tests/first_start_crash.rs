//! A crash soon after the first start loses no delivery. On a first start the delivery
//! stage (Mist webhooks) and the routing stage begin at the end of the log (subscribers and
//! routes get what arrives from then on); that position must be on disk before anything is
//! acknowledged, or a restart begins at the end again and never delivers what was stored
//! in between. Found while writing bench/soak.sh (reading `Engine::start` and
//! `RouteStage::load`) and reproduced with the release binary before the fix: every run
//! that SIGKILLed mistgate within its first aggregation window lost the event.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Server;
use support::receiver::{Received, Receiver};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const WAIT: Duration = Duration::from_secs(30);

fn alarm(id: &str, t: f64) -> Vec<u8> {
    serde_json::to_vec(&json!({"topic": "alarms", "events": [{
        "id": id, "org_id": ORG, "type": "crash_marker", "timestamp": t
    }]}))
    .unwrap()
}

fn config(extra: &str) -> String {
    format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
retry_delays = ["100ms"]
retry_min_delay = "50ms"
{extra}
"#
    )
}

/// Posts `before-crash`, SIGKILLs mistgate at once (before either stage's first commit),
/// restarts it, posts `after-restart`; returns the ids `ids_of` finds in what `rx` gets,
/// once both are there.
async fn crash_after_first_event(
    server: &mut Server,
    rx: &Receiver,
    ids_of: fn(&Received) -> Vec<String>,
) -> Vec<String> {
    let (status, answer) = server
        .ingest("default", alarm("before-crash", 1.75e9), &[])
        .await;
    assert_eq!(status, 200, "{answer}");
    server.kill();
    server.restart();
    let (status, answer) = server
        .ingest("default", alarm("after-restart", 1.75e9 + 1.0), &[])
        .await;
    assert_eq!(status, 200, "{answer}");
    let all = |r: &[Received]| r.iter().flat_map(ids_of).collect::<Vec<_>>();
    let got = rx
        .wait_until(WAIT, "both events", |r| {
            let ids = all(r);
            ids.iter().any(|i| i == "before-crash") && ids.iter().any(|i| i == "after-restart")
        })
        .await;
    all(&got)
}

#[tokio::test]
async fn a_webhook_gets_an_event_stored_just_before_a_crash_after_the_first_start() {
    let rx = Receiver::start().await;
    let mut server = Server::start_with(Some(&config("")));
    let hook = json!({"url": rx.url("/hook"), "topics": ["alarms"]}).to_string();
    let (status, _, text) = server
        .call("POST", &format!("/orgs/{ORG}/webhooks"), Some(hook))
        .await;
    assert_eq!(status, 200, "{text}");
    // A webhook gets what is received from its creation on: the event below is.
    let ids = crash_after_first_event(&mut server, &rx, |r| {
        r.json()["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect()
    })
    .await;
    assert!(ids.iter().any(|i| i == "before-crash"), "{ids:?}");
}

#[tokio::test]
async fn a_route_gets_an_event_stored_just_before_a_crash_after_the_first_start() {
    let rx = Receiver::start().await;
    let routes = format!(
        "[targets.hook]\ntype = \"webhook\"\nurl = \"{}\"\n\n[[routes]]\nflow = \"event\"\ntargets = [\"hook\"]\n",
        rx.url("/hook")
    );
    let mut server = Server::start_with(Some(&config(&routes)));
    let ids = crash_after_first_event(&mut server, &rx, |r| {
        r.json()["raw"]["id"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect()
    })
    .await;
    assert!(ids.iter().any(|i| i == "before-crash"), "{ids:?}");
}
