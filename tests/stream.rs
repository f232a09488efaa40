//! `GET /api/v1/stream` against the real binary: new events and incident changes as
//! Server-Sent Events, read chunk by chunk; filters, resuming with `Last-Event-ID`,
//! incidents, bad ids, the open-streams gauge, a burst and the shutdown.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::sse::{EventStream, request, within};
use support::{Server, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const OTHER_SITE: &str = "9e1b7c55-0d6a-4a8e-8f3e-2b7d0c1e5a42";
/// How long the correlation stage may take to turn an alarm into an incident change.
const CORRELATED: Duration = Duration::from_secs(20);

/// An audits envelope with one event whose `id` is `marker` (the correlator reads no
/// audits: no incident comes of it).
fn audit(marker: &str) -> Vec<u8> {
    json!({"topic": "audits", "events": [{
        "id": marker, "org_id": ORG, "site_id": SITE, "admin_name": "test",
        "message": format!("audit {marker}"), "timestamp": 1_749_998_000,
    }]})
    .to_string()
    .into_bytes()
}

/// A `device_down` alarm at `site` for `ap`, now.
fn device_down(site: &str, ap: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    site_alarm(ORG, site, "device_down", &[ap], now, json!({}))
}

async fn post(server: &Server, body: Vec<u8>) {
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200, "{answer}");
}

/// The `id` field of the event behind an `event` message.
fn marker(message: &Value) -> &str {
    message["raw"]["id"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_stream_needs_the_token() {
    let server = Server::start();
    let response = server
        .client
        .get(server.url("/api/v1/stream"))
        .send()
        .await
        .unwrap();
    let (status, body) = support::answer(response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn an_event_posted_after_connecting_arrives_within_a_second() {
    let server = Server::start();
    post(&server, audit("before")).await;
    let mut stream = EventStream::open(&server, "", None).await;
    let start = stream
        .next_block(within(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        (start.event.as_deref(), start.data.as_deref()),
        (None, None)
    );
    let before = server.api_ok("/events?limit=1").await["items"][0]["id"].clone();
    assert_eq!(
        start.id,
        Some(format!("{before}.0")),
        "it starts at the end of the log"
    );

    post(&server, audit("after")).await;
    let message = stream.next_message(within(Duration::from_secs(1))).await;
    assert_eq!(message.event.as_deref(), Some("event"));
    let event = message.json();
    assert_eq!(
        marker(&event),
        "after",
        "only what came after connecting: {event}"
    );
    assert_eq!(message.id, Some(format!("{}.0", event["id"])));
    let shown = server.api_ok(&format!("/events/{}", event["id"])).await;
    assert_eq!(event, shown, "the view of GET /api/v1/events");
}

#[tokio::test]
async fn filters_leave_out_events_that_do_not_match() {
    let server = Server::start();
    let ap = "5c5b350e0001";
    let query = format!(
        "?topic=alarms&type=device_down&mac={}&incidents=false",
        "5C:5B:35:0E:00:01"
    );
    let mut stream = EventStream::open(&server, &query, None).await;
    // Posted in this order, each of the first three would arrive before the last.
    post(&server, audit("other topic")).await;
    post(
        &server,
        site_alarm(
            ORG,
            SITE,
            "device_reconnected",
            &[ap],
            1_749_998_000.0,
            json!({"id": "other type"}),
        ),
    )
    .await;
    post(
        &server,
        site_alarm(
            ORG,
            SITE,
            "device_down",
            &["5c5b350e0002"],
            1_749_998_001.0,
            json!({"id": "other mac"}),
        ),
    )
    .await;
    post(
        &server,
        site_alarm(
            ORG,
            SITE,
            "device_down",
            &[ap],
            1_749_998_002.0,
            json!({"id": "match"}),
        ),
    )
    .await;
    let message = stream.next_message(within(Duration::from_secs(5))).await;
    assert_eq!(message.event.as_deref(), Some("event"));
    assert_eq!(marker(&message.json()), "match", "{message:?}");
}

#[tokio::test]
async fn an_incident_change_arrives_as_an_incident_message() {
    let server = Server::start();
    let mut all = EventStream::open(&server, "", None).await;
    let mut changes_only = EventStream::open(&server, "?events=false", None).await;
    post(&server, device_down(SITE, "5c5b350e0001")).await;

    let first = all.next_message(within(CORRELATED)).await;
    assert_eq!(
        first.event.as_deref(),
        Some("event"),
        "its event comes first"
    );
    let mut message = all.next_message(within(CORRELATED)).await;
    assert_eq!(message.event.as_deref(), Some("incident"), "{message:?}");
    let change = message.json();
    assert_eq!(change["change"], "opened");
    assert!(change["at"].as_str().unwrap().ends_with('Z'), "{change}");
    let incident = &change["incident"];
    assert_eq!(incident["kind"], "device_down");
    assert_eq!(incident["devices"], json!(["5c5b350e0001"]));
    let mut shown = server
        .api_ok(&format!("/incidents/{}", incident["id"]))
        .await;
    shown.as_object_mut().unwrap().remove("events");
    assert_eq!(*incident, shown, "the view of GET /api/v1/incidents/{{id}}");
    let event_id = first.json()["id"].clone();
    assert_eq!(
        message.id,
        Some(format!("{event_id}.{}", change["change_id"]))
    );

    // events=false: the change is the first message.
    message = changes_only.next_message(within(CORRELATED)).await;
    assert_eq!(message.event.as_deref(), Some("incident"), "{message:?}");
    assert_eq!(message.json(), change);
}

#[tokio::test]
async fn a_site_filter_leaves_out_the_incidents_of_other_sites() {
    let server = Server::start();
    let mut stream = EventStream::open(&server, &format!("?site_id={OTHER_SITE}"), None).await;
    post(&server, device_down(SITE, "5c5b350e0001")).await;
    server.correlated().await;
    post(&server, device_down(OTHER_SITE, "5c5b350e0002")).await;
    // The first site's event and change are older than these: left out, not late.
    let event = stream.next_message(within(CORRELATED)).await;
    assert_eq!(event.event.as_deref(), Some("event"));
    assert_eq!(event.json()["site_id"], OTHER_SITE);
    let change = stream.next_message(within(CORRELATED)).await;
    assert_eq!(change.event.as_deref(), Some("incident"), "{change:?}");
    assert_eq!(change.json()["incident"]["site_id"], OTHER_SITE);
}

#[tokio::test]
async fn a_client_that_comes_back_with_its_last_id_gets_exactly_what_it_missed() {
    let server = Server::start();
    let mut stream = EventStream::open(&server, "", None).await;
    for n in 1..=3 {
        post(&server, audit(&format!("seen {n}"))).await;
    }
    post(&server, device_down(SITE, "5c5b350e0001")).await;
    let mut last = None;
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = stream.next_message(within(CORRELATED)).await;
        let data = message.json();
        seen.push(match message.event.as_deref() {
            Some("event") => marker(&data).to_string(),
            _ => data["change"].as_str().unwrap().to_string(),
        });
        last = message.id;
    }
    assert_eq!(seen[..3], ["seen 1", "seen 2", "seen 3"]);
    assert!(seen.contains(&"opened".to_string()), "{seen:?}");
    let incident = server.api_ok("/incidents").await["items"][0]["id"].clone();
    drop(stream);

    // While it is away: three events and an acknowledgement.
    for n in 1..=3 {
        post(&server, audit(&format!("missed {n}"))).await;
    }
    let (status, acked, _) = server
        .call("POST", &format!("/incidents/{incident}/ack"), None)
        .await;
    assert_eq!(status, 200, "{acked}");
    let last = last.unwrap();

    // By header, then by query parameter: the same messages, and after them what came
    // since (each round posts one more event).
    let by_query = format!("?last_event_id={last}");
    let mut later: Vec<String> = Vec::new();
    for (query, header) in [("", Some(last.as_str())), (by_query.as_str(), None)] {
        let mut stream = EventStream::open(&server, query, header).await;
        let start = stream
            .next_block(within(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(
            start.id.as_deref(),
            Some(last.as_str()),
            "it starts where it left"
        );
        let mut missed = Vec::new();
        while missed.len() < 4 + later.len() {
            let message = stream.next_message(within(CORRELATED)).await;
            let data = message.json();
            missed.push(match message.event.as_deref() {
                Some("event") => marker(&data).to_string(),
                _ => data["change"].as_str().unwrap().to_string(),
            });
        }
        let events: Vec<String> = missed
            .iter()
            .filter(|m| *m != "acknowledged")
            .cloned()
            .collect();
        let mut expected: Vec<String> = (1..=3).map(|n| format!("missed {n}")).collect();
        expected.extend(later.iter().cloned());
        assert_eq!(events, expected, "{missed:?}");
        assert!(missed.contains(&"acknowledged".to_string()), "{missed:?}");
        // Nothing else was left before the next one: no repeat, no other change.
        let next = format!("later {}", later.len());
        post(&server, audit(&next)).await;
        let message = stream.next_message(within(Duration::from_secs(5))).await;
        assert_eq!(marker(&message.json()), next, "{message:?}");
        later.push(next);
    }
}

#[tokio::test]
async fn a_malformed_last_event_id_is_refused() {
    let server = Server::start();
    for (query, header) in [
        ("", Some("12")),
        ("", Some("1.x")),
        ("?last_event_id=-1.0", None),
        ("?events=false&incidents=false", None),
        ("?events=maybe", None),
        ("?since=yesterday", None),
    ] {
        let response = request(&server, query, header).await;
        let (status, body) = support::answer(response).await;
        assert_eq!(status, 400, "{query} {header:?}: {body}");
        assert_eq!(body["error"], "invalid_query", "{query} {header:?}");
    }
}

/// `mistgate_api_streams` as `/metrics` shows it.
async fn open_streams(server: &Server) -> Option<f64> {
    let metrics = server.text("/metrics", false).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("mistgate_api_streams "))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn the_gauge_counts_open_streams() {
    let server = Server::start();
    let mut first = EventStream::open(&server, "", None).await;
    let second = EventStream::open(&server, "?incidents=false", None).await;
    first
        .next_block(within(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(open_streams(&server).await, Some(2.0));
    drop(second);
    support::eventually(Duration::from_secs(30), "one stream left", || async {
        (open_streams(&server).await == Some(1.0)).then_some(())
    })
    .await;
}

/// A burst bigger than a page: every event arrives once, in order.
#[tokio::test]
async fn a_burst_arrives_whole_and_in_order() {
    let server = Server::start();
    let mut stream = EventStream::open(&server, "?incidents=false", None).await;
    const REQUESTS: usize = 12;
    const PER_REQUEST: usize = 100;
    for r in 0..REQUESTS {
        let events: Vec<Value> = (0..PER_REQUEST)
            .map(|n| json!({"id": format!("burst {r} {n}"), "org_id": ORG, "timestamp": 1_749_998_000}))
            .collect();
        let body = json!({"topic": "audits", "events": events}).to_string();
        post(&server, body.into_bytes()).await;
    }
    let stored: Vec<Value> = server
        .all_events("")
        .await
        .into_iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(stored.len(), REQUESTS * PER_REQUEST);
    let deadline = within(Duration::from_secs(30));
    let mut received = Vec::new();
    while received.len() < stored.len() {
        received.push(stream.next_message(deadline).await.json()["id"].clone());
    }
    assert_eq!(received, stored);
}

#[tokio::test]
async fn a_shutdown_ends_open_streams_at_once() {
    let mut server = Server::start();
    let mut stream = EventStream::open(&server, "", None).await;
    stream
        .next_block(within(Duration::from_secs(5)))
        .await
        .unwrap();
    // The graceful shutdown gives open requests 6 s: a stream that did not end would
    // hold the process that long.
    let status = server.terminate(Duration::from_secs(5));
    assert!(status.success(), "{status}");
    assert!(stream.ends_by(within(Duration::from_secs(5))).await);
}
