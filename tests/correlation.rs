//! Correlation end to end: Mist bodies posted to the real binary become device states
//! and incidents in the API; the stage survives a kill without double transitions.

mod support;

use serde_json::{Value, json};
use support::Server;

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";

fn alarm(kind: &str, aps: &[&str], t: f64, extra: Value) -> Vec<u8> {
    support::site_alarm(ORG, SITE, kind, aps, t, extra)
}

/// Waits until the correlation stage has handled every event up to `event_id`.
async fn caught_up(server: &Server, event_id: i64) {
    server.correlated_up_to(event_id).await;
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

/// Posts the same history to `server`, killing and restarting it at the given steps.
async fn outage_history(server: &mut Server, kill_at: &[i32]) -> Vec<Value> {
    let t0 = 1_749_998_000.0;
    let mut last = 0;
    for i in 0..20 {
        let ap = format!("5c5b35aa{i:04x}");
        last = post(
            server,
            alarm("device_down", &[&ap], t0 + f64::from(i), json!({})),
        )
        .await;
        if i % 2 == 0 {
            let up = alarm(
                "device_reconnected",
                &[&ap],
                t0 + 100.0 + f64::from(i),
                json!({}),
            );
            last = post(server, up).await;
        }
        if kill_at.contains(&i) {
            server.restart(); // SIGKILL, then start again on the same data dir
        }
    }
    caught_up(server, last).await;
    let mut all = incidents(server, "&limit=1000").await;
    for i in &mut all {
        // Timeline notes are the same; keep what an operator compares.
        *i = json!({"id": i["id"], "key": i["key"], "state": i["state"], "devices": i["devices"],
                    "opened_at": i["opened_at"], "resolved_at": i["resolved_at"], "event_ids": i["event_ids"]});
    }
    all
}

#[tokio::test]
async fn the_stage_resumes_after_a_kill_without_double_transitions() {
    let mut uninterrupted = Server::start();
    let expected = outage_history(&mut uninterrupted, &[]).await;
    assert_eq!(expected.len(), 20, "one incident per device down");
    assert_eq!(
        expected.iter().filter(|i| i["state"] == "resolved").count(),
        10
    );

    let mut killed = Server::start();
    let got = outage_history(&mut killed, &[3, 9, 10, 15]).await;
    assert_eq!(
        got, expected,
        "killed and restarted four times, the incidents are the same"
    );
}

fn rogue(t: f64, ap: &str) -> Vec<u8> {
    alarm(
        "rogue_ap",
        &[ap],
        t,
        json!({"group": "security", "severity": "warn", "id": format!("rogue-{t}")}),
    )
}

fn replay(server: &Server, config: Option<&str>) -> Value {
    let out = replay_output(server, config, &["--dry-run", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("replay --json prints JSON")
}

fn replay_output(server: &Server, config: Option<&str>, flags: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"));
    cmd.args([
        "replay",
        "--since",
        "2025-01-01T00:00:00Z",
        "--until",
        "2025-12-31T00:00:00Z",
    ])
    .args(flags)
    .arg("--data-dir")
    .arg(&server.data_dir)
    .env_remove("MISTGATE_CONFIG");
    if let Some(text) = config {
        let path = dir.path().join("replay.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.output().expect("run mistgate replay")
}

#[tokio::test]
async fn replay_with_another_quiet_period_shows_other_incidents_and_changes_nothing() {
    let server = Server::start();
    let t0 = 1_749_000_000.0;
    let hour = 3600.0;
    // Rogue-AP alarms at 0 h, 10 h and 30 h (Mist repeats them every 10 h), in one
    // request: the correlator's timers are in event time and fire against the wall
    // clock, so year-old history is correlated as the replay reads it only when it comes
    // in one batch (the stage is woken by every commit, it does not wait to gather more).
    let events: Vec<Value> = [
        (t0, "5c5b35000001"),
        (t0 + 10.0 * hour, "5c5b35000002"),
        (t0 + 30.0 * hour, "5c5b35000003"),
    ]
    .iter()
    .map(|(t, ap)| serde_json::from_slice::<Value>(&rogue(*t, ap)).unwrap()["events"][0].clone())
    .collect();
    let body = json!({"topic": "alarms", "events": events});
    let last = post(&server, serde_json::to_vec(&body).unwrap()).await;
    caught_up(&server, last).await;
    let live_before = incidents(&server, "&kind=security").await;
    assert_eq!(
        live_before.len(),
        1,
        "a 20 h gap is inside the default 24 h quiet period"
    );
    let stats_before = server.stats().await;

    // The same history with the default settings: the same single incident.
    let default = replay(&server, None);
    let default = default.as_array().unwrap();
    assert_eq!(default.len(), 1, "{default:?}");
    assert_eq!(default[0]["kind"], "security");

    // With a 12 h quiet period the 20 h gap ends the first incident: two of them.
    let shorter = replay(
        &server,
        Some("[correlation]\nsecurity_quiet_period = \"12h\"\n"),
    );
    let shorter = shorter.as_array().unwrap();
    assert_eq!(shorter.len(), 2, "{shorter:?}");
    // t0 is 2025-06-04T01:20:00Z.
    assert_eq!(
        shorter[0]["resolved_at"], "2025-06-04T23:20:00.000000Z",
        "12 h after the 10 h alarm"
    );
    assert_eq!(shorter[1]["opened_at"], "2025-06-05T07:20:00.000000Z");
    assert_eq!(
        shorter[1]["state"], "resolved",
        "quiet since its alarm, by the end of the history"
    );
    assert_eq!(
        default[0]["resolved_at"], "2025-06-06T07:20:00.000000Z",
        "24 h after the last alarm"
    );

    // The table says the same, and replay refuses to run without --dry-run.
    let table = replay_output(
        &server,
        Some("[correlation]\nsecurity_quiet_period = \"12h\"\n"),
        &["--dry-run"],
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("2 incidents: 2 resolved, 0 still open"),
        "{text}"
    );
    assert!(text.contains("security"), "{text}");
    let refused = replay_output(&server, None, &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--dry-run"));

    // Live state is untouched.
    assert_eq!(incidents(&server, "&kind=security").await, live_before);
    assert_eq!(server.stats().await["stages"], stats_before["stages"]);
}

async fn send(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, json, _) = server
        .call(method.as_str(), path, body.map(str::to_string))
        .await;
    (status, json)
}

#[tokio::test]
async fn silences_and_manual_actions_check_their_input_and_work() {
    use reqwest::Method;
    let server = Server::start();
    let t0 = 1_749_998_000.0;
    let last = post(
        &server,
        alarm("device_down", &["5c5b35bb0001"], t0, json!({})),
    )
    .await;
    caught_up(&server, last).await;
    let before = incidents(&server, "").await;
    assert_eq!(before.len(), 1);

    for (body, status, code) in [
        ("{not json", 400, "malformed_json"),
        (r#"{"site_id": "s"}"#, 422, "invalid_body"),
        (r#"{"ends_at": "soon"}"#, 422, "invalid_body"),
        (
            r#"{"kind": "weather", "ends_at": "2030-01-01T00:00:00Z"}"#,
            422,
            "invalid_body",
        ),
        (
            r#"{"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}"#,
            422,
            "invalid_body",
        ),
        (
            r#"{"site_id": 7, "ends_at": "2030-01-01T00:00:00Z"}"#,
            422,
            "invalid_body",
        ),
        // An empty matcher would match nothing; out of range times cannot be shown.
        (
            r#"{"site_id": "", "ends_at": "2030-01-01T00:00:00Z"}"#,
            422,
            "invalid_body",
        ),
        (r#"{"ends_at": 1e300}"#, 422, "invalid_body"),
        (r#"{"ends_at": "1e9"}"#, 422, "invalid_body"),
        (
            r#"{"starts_at": -1, "ends_at": "2030-01-01T00:00:00Z"}"#,
            422,
            "invalid_body",
        ),
        (
            r#"{"ends_at": "9999-12-31T23:00:00-05:00"}"#,
            422,
            "invalid_body",
        ),
        (r#"["ends_at"]"#, 422, "invalid_body"),
    ] {
        let (got, answer) = send(&server, Method::POST, "/silences", Some(body)).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        assert!(answer["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, answer) = send(&server, Method::DELETE, "/silences/99", None).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (status, answer) = send(&server, Method::POST, "/incidents/999/ack", None).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let id = before[0]["id"].as_i64().unwrap();
    for body in [r#"{"by": {}}"#, r#"{"by": 5}"#, "[]", r#""me""#] {
        let path = format!("/incidents/{id}/ack");
        let (status, answer) = send(&server, Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (422, Some("invalid_body")),
            "{body}: {answer}"
        );
    }
    let (status, answer) = send(&server, Method::GET, "/incidents?since=yesterday", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_query"))
    );
    assert_eq!(
        incidents(&server, "").await,
        before,
        "bad input changed nothing"
    );

    // A maintenance window on a site silences what opens there, and can be removed.
    let window = json!({"site_id": SITE, "kind": "device_down", "starts_at": "2025-01-01T00:00:00Z",
                        "ends_at": "2026-01-01T00:00:00Z", "comment": "cabling work"});
    let (status, silence) = send(
        &server,
        Method::POST,
        "/silences",
        Some(&window.to_string()),
    )
    .await;
    assert_eq!(status, 201, "{silence}");
    assert_eq!(silence["ends_at"], "2026-01-01T00:00:00.000000Z");
    let last = post(
        &server,
        alarm("device_down", &["5c5b35bb0002"], t0 + 10.0, json!({})),
    )
    .await;
    caught_up(&server, last).await;
    let silenced: Vec<Value> = incidents(&server, "")
        .await
        .into_iter()
        .filter(|i| i["silenced"] == true)
        .collect();
    assert_eq!(silenced.len(), 1);
    assert_eq!(silenced[0]["devices"], json!(["5c5b35bb0002"]));
    let listed = server.api_ok("/silences").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let id = silence["id"].as_i64().unwrap();
    let longer = json!({"site_id": SITE, "kind": "device_down", "starts_at": "2025-01-01T00:00:00Z",
                        "ends_at": "2027-01-01T00:00:00Z", "comment": "cabling work, extended"});
    let (status, replaced) = send(
        &server,
        Method::PUT,
        &format!("/silences/{id}"),
        Some(&longer.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["id"].as_i64(), replaced["ends_at"].as_str()),
        (Some(id), Some("2027-01-01T00:00:00.000000Z"))
    );
    let (status, answer) = send(
        &server,
        Method::PUT,
        "/silences/777",
        Some(&longer.to_string()),
    )
    .await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (status, answer) = send(
        &server,
        Method::PUT,
        &format!("/silences/{id}"),
        Some(r#"{"ends_at": 5, "starts_at": 9}"#),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_body"))
    );
    let (status, _) = send(&server, Method::DELETE, &format!("/silences/{id}"), None).await;
    assert_eq!(status, 204);
    assert!(
        server.api_ok("/silences").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Manual resolve is recorded; acknowledging it afterwards is a conflict.
    let first = before[0]["id"].as_i64().unwrap();
    let (status, resolved) = send(
        &server,
        Method::POST,
        &format!("/incidents/{first}/resolve"),
        Some(r#"{"by": "ann"}"#),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["state"], "resolved");
    let last_entry = resolved["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last_entry["note"].as_str().unwrap_or("").contains("ann"),
        "{last_entry}"
    );
    let (status, answer) = send(
        &server,
        Method::POST,
        &format!("/incidents/{first}/ack"),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );
}

#[tokio::test]
async fn with_correlation_off_only_the_log_is_kept() {
    let server = Server::start_with(Some(
        "[[sources]]\nname = \"default\"\n[correlation]\nenabled = false\n",
    ));
    post(
        &server,
        alarm("device_down", &["5c5b35cc0001"], 1_749_998_000.0, json!({})),
    )
    .await;
    assert_eq!(
        server.all_events("&topic=alarms").await.len(),
        1,
        "the event is stored"
    );
    assert!(incidents(&server, "").await.is_empty());
    assert_eq!(server.stats().await["stages"]["correlate"]["cursor"], 0);
    let (status, answer) = server.api("/silences").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("store_unavailable")),
        "{answer}"
    );
}
