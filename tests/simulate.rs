//! `mistgate simulate` end to end: the real binary posting to the real binary (or to a
//! local receiver), checked through the API.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use mist::Topic;
use serde_json::{Value, json};
use sim::{Org, OrgSpec, Plan, PlanSettings, Scenario, Truth};
use support::Server;
use support::receiver::{Answer, Receiver};

/// Now, in whole seconds: the `--start` every run of a test shares.
fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs `mistgate simulate ARGS --json`; returns its exit status and summary.
async fn simulate(args: &[String]) -> (bool, Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("simulate")
        .args(args)
        .arg("--json")
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run mistgate simulate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "summary is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), summary)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Checks the API's view of `stored` (oldest first) against what the simulator meant.
fn assert_normalised(stored: &[Value], planned: &[sim::Message], what: &str) {
    let expected: Vec<(Topic, Value, &Truth)> = planned
        .iter()
        .flat_map(|m| {
            let body: Value = serde_json::from_slice(&m.body).unwrap();
            let events = body["events"].as_array().unwrap().clone();
            events
                .into_iter()
                .zip(&m.truths)
                .map(|(e, t)| (m.topic.clone(), e, t))
                .collect::<Vec<_>>()
        })
        .collect();
    if stored.len() != expected.len() {
        let raws: BTreeSet<String> = stored.iter().map(|e| e["raw"].to_string()).collect();
        let missing: Vec<String> = expected
            .iter()
            .filter(|(_, raw, _)| !raws.contains(&raw.to_string()))
            .map(|(t, raw, _)| format!("{t}: {raw}"))
            .collect();
        panic!(
            "{what}: {} events stored, {} planned; missing: {missing:#?}",
            stored.len(),
            expected.len()
        );
    }
    for (got, (topic, raw, truth)) in stored.iter().zip(&expected) {
        assert_eq!(got["topic"], topic.as_str(), "{what}: {got}");
        assert_eq!(&got["raw"], raw, "{what}: stored as sent");
        assert_eq!(
            got["org_id"].as_str(),
            truth.org_id.as_deref(),
            "{what}: org of {got}"
        );
        assert_eq!(
            got["site_id"].as_str(),
            truth.site_id.as_deref(),
            "{what}: site of {got}"
        );
        assert_eq!(
            got["type"].as_str(),
            truth.event_type.as_deref(),
            "{what}: type of {got}"
        );
        match truth.time_us {
            Some(us) => assert_eq!(
                got["time"].as_str(),
                Some(server::format_instant(us).as_str()),
                "{what}: time of {got}"
            ),
            None => {
                assert_eq!(got["time_source"], "received", "{what}: {got}");
                assert_eq!(got["time"], got["received_at"], "{what}: {got}");
            }
        }
    }
}

fn plan(settings: PlanSettings) -> Vec<sim::Message> {
    Plan::new(settings).unwrap().collect()
}

#[tokio::test]
async fn every_topic_is_accepted_with_its_time_org_site_and_type_normalised() {
    let server = Server::start();
    let target = server.url("/ingest/default");
    let start = now_s();
    for topic in Topic::KNOWN {
        let (ok, summary) = simulate(&args(&[
            "--target",
            &target,
            "--seed",
            "7",
            "--start",
            &start.to_string(),
            "--rate",
            "5",
            "--count",
            "120",
            "--topics",
            topic.as_str(),
            "--no-wait",
        ]))
        .await;
        assert!(ok, "{topic}: {summary}");
        assert_eq!(summary["events"], 120, "{topic}: {summary}");
        assert_eq!(
            summary["acknowledged"], summary["messages"],
            "{topic}: {summary}"
        );
        let planned = plan(PlanSettings {
            seed: 7,
            start_us: start * 1_000_000,
            rate: 5.0,
            count: Some(120),
            topics: Some(vec![topic.clone()]),
            ..PlanSettings::default()
        });
        let stored = server
            .all_events(&format!("&topic={}", topic.as_str().replace('-', "_")))
            .await;
        assert_normalised(&stored, &planned, topic.as_str());
    }
    // The scenarios' events (outages, Marvis, occupancy, roams, walks) too.
    let before = server.api_ok("/events?order=desc&limit=1").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let mut cli = args(&[
        "--target",
        &target,
        "--seed",
        "8",
        "--start",
        &start.to_string(),
    ]);
    cli.extend(args(&["--speed", "20", "--no-wait"]));
    let all = Scenario::built_in();
    for s in &all {
        cli.push("--scenario".into());
        cli.push(s.name.clone());
    }
    let (ok, summary) = simulate(&cli).await;
    assert!(ok, "{summary}");
    let planned = plan(PlanSettings {
        seed: 8,
        start_us: start * 1_000_000,
        speed: 20.0,
        scenarios: all,
        ..PlanSettings::default()
    });
    let stored: Vec<Value> = server
        .all_events("")
        .await
        .into_iter()
        .filter(|e| e["id"].as_i64().unwrap() > before)
        .collect();
    assert_normalised(&stored, &planned, "scenarios");
    assert_eq!(server.stats().await["totals"]["duplicates"], 0);
}

/// One run of a scenario against a fresh server: what the API then shows.
struct Outcome {
    incidents: Vec<Value>,
    devices: Vec<Value>,
    server: Server,
}

async fn play(scenario: &str, seed: u64, start: i64) -> Outcome {
    let server = Server::start();
    let (ok, summary) = simulate(&args(&[
        "--target",
        &server.url("/ingest/default"),
        "--scenario",
        scenario,
        "--seed",
        &seed.to_string(),
        "--start",
        &start.to_string(),
        "--speed",
        "50",
        "--no-wait",
    ]))
    .await;
    assert!(ok, "{scenario}: {summary}");
    assert_eq!(summary["failed"], 0);
    server.correlated().await;
    // Only what a person reads: no receive or processing times.
    let keep = |v: &Value, fields: &[&str]| -> Value {
        fields
            .iter()
            .map(|f| (f.to_string(), v[*f].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let incidents = server.api_ok("/incidents?order=asc&limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            keep(
                i,
                &[
                    "id",
                    "key",
                    "kind",
                    "state",
                    "severity",
                    "org_id",
                    "site_id",
                    "devices",
                    "opened_at",
                    "resolved_at",
                    "summary",
                    "suppressed",
                ],
            )
        })
        .collect();
    let mut devices: Vec<Value> = server.api_ok("/devices?limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            keep(
                d,
                &[
                    "mac",
                    "org_id",
                    "site_id",
                    "kind",
                    "name",
                    "state",
                    "since",
                    "last_restart_reason",
                ],
            )
        })
        .collect();
    devices.sort_by_key(|d| d["mac"].as_str().unwrap_or_default().to_string());
    Outcome {
        incidents,
        devices,
        server,
    }
}

/// Plays a scenario twice with the same seed and start: the API must show the same.
async fn play_twice(scenario: &str) -> (Outcome, Org) {
    let start = now_s();
    let first = play(scenario, 5, start).await;
    let second = play(scenario, 5, start).await;
    assert_eq!(
        first.incidents, second.incidents,
        "{scenario}: incidents differ between runs"
    );
    assert_eq!(
        first.devices, second.devices,
        "{scenario}: devices differ between runs"
    );
    let mut spec = OrgSpec::default();
    Scenario::load(scenario).unwrap().fit(&mut spec);
    (first, Org::generate(&spec, 5))
}

fn by_mac<'a>(outcome: &'a Outcome, mac: &str) -> &'a Value {
    outcome
        .devices
        .iter()
        .find(|d| d["mac"] == mac)
        .unwrap_or_else(|| panic!("no device {mac} in {:#?}", outcome.devices))
}

fn incident_of<'a>(outcome: &'a Outcome, mac: &str) -> Vec<&'a Value> {
    outcome
        .incidents
        .iter()
        .filter(|i| i["devices"].as_array().unwrap().contains(&json!(mac)))
        .collect()
}

#[tokio::test]
async fn site_power_outage() {
    let (o, org) = play_twice("site-power-outage").await;
    let hq = &org.sites[0];
    let switch = &hq.switches[0].mac;
    assert_eq!(o.incidents.len(), 1 + hq.aps.len(), "{:#?}", o.incidents);
    assert!(
        o.incidents
            .iter()
            .all(|i| i["kind"] == "device_down" && i["state"] == "resolved")
    );
    let sw = incident_of(&o, switch);
    assert_eq!(sw.len(), 1);
    assert_eq!(sw[0]["suppressed"], false);
    for ap in &hq.aps {
        let i = incident_of(&o, &ap.mac);
        assert_eq!(i.len(), 1, "{}", ap.name);
        assert_eq!(
            i[0]["suppressed"], true,
            "{}: caused by the switch's outage",
            ap.name
        );
        assert_eq!(i[0]["site_id"], hq.id.as_str());
    }
    for d in hq.aps.iter().chain(&hq.switches) {
        let dev = by_mac(&o, &d.mac);
        assert_eq!(dev["state"], "up", "{}", d.name);
        assert_eq!(dev["last_restart_reason"], "power_cycle", "{}", d.name);
        assert_eq!(dev["name"], d.name.as_str());
    }
    // The gateway was never down.
    assert!(incident_of(&o, &hq.gateways[0].mac).is_empty());
}

#[tokio::test]
async fn flapping_ap() {
    let (o, org) = play_twice("flapping-ap").await;
    let ap = &org.sites[0].aps[1];
    let incidents = incident_of(&o, &ap.mac);
    assert_eq!(
        (incidents.len(), o.incidents.len()),
        (3, 3),
        "{:#?}",
        o.incidents
    );
    assert!(
        incidents
            .iter()
            .all(|i| i["state"] == "resolved" && i["suppressed"] == false)
    );
    let dev = by_mac(&o, &ap.mac);
    assert_eq!(dev["state"], "up");
    assert_eq!(dev["kind"], "ap");
}

#[tokio::test]
async fn gateway_wan_outage() {
    let (o, org) = play_twice("gateway-wan-outage").await;
    let branch = &org.sites[1];
    let gw = incident_of(&o, &branch.gateways[0].mac);
    assert_eq!(gw.len(), 1);
    assert_eq!(
        (gw[0]["state"].as_str(), gw[0]["suppressed"].as_bool()),
        (Some("resolved"), Some(false))
    );
    for ap in &branch.aps {
        let i = incident_of(&o, &ap.mac);
        assert_eq!(i.len(), 1, "{}", ap.name);
        assert_eq!(
            (i[0]["state"].as_str(), i[0]["suppressed"].as_bool()),
            (Some("resolved"), Some(true))
        );
        let dev = by_mac(&o, &ap.mac);
        assert_eq!(
            (dev["state"].as_str(), dev["last_restart_reason"].as_str()),
            (Some("up"), None)
        );
    }
    assert_eq!(o.incidents.len(), 1 + branch.aps.len());
    assert_eq!(by_mac(&o, &branch.gateways[0].mac)["kind"], "gateway");
}

#[tokio::test]
async fn rogue_ap_storm() {
    let (o, org) = play_twice("rogue-ap-storm").await;
    let hq = &org.sites[0];
    assert_eq!(
        o.incidents.len(),
        1,
        "one incident for the site, not one per AP: {:#?}",
        o.incidents
    );
    let i = &o.incidents[0];
    assert_eq!(
        (i["kind"].as_str(), i["state"].as_str()),
        (Some("security"), Some("open"))
    );
    assert_eq!(i["site_id"], hq.id.as_str());
    let reporters: BTreeSet<&str> = i["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = hq.aps[..5].iter().map(|a| a.mac.as_str()).collect();
    assert_eq!(reporters, expected);
}

#[tokio::test]
async fn marvis_bad_cable() {
    let (o, org) = play_twice("marvis-bad-cable").await;
    let switch = &org.sites[0].switches[0];
    assert_eq!(o.incidents.len(), 1, "{:#?}", o.incidents);
    let i = &o.incidents[0];
    assert_eq!(
        (i["kind"].as_str(), i["state"].as_str()),
        (Some("marvis"), Some("resolved"))
    );
    assert_eq!(i["devices"], json!([switch.mac]));
    assert!(i["summary"].as_str().unwrap().contains("ge-0/0/12"), "{i}");
}

#[tokio::test]
async fn occupancy_violation_and_recovery() {
    let (o, org) = play_twice("occupancy").await;
    let zone = &org.sites[0].maps[0].zones[0];
    assert_eq!(o.incidents.len(), 1, "{:#?}", o.incidents);
    let i = &o.incidents[0];
    assert_eq!(
        (i["kind"].as_str(), i["state"].as_str()),
        (Some("occupancy"), Some("resolved"))
    );
    assert!(i["summary"].as_str().unwrap().contains(&zone.name), "{i}");
}

#[tokio::test]
async fn clients_roaming() {
    let (o, org) = play_twice("client-roaming").await;
    assert!(o.incidents.is_empty(), "{:#?}", o.incidents);
    let hq = &org.sites[0];
    let client = &hq.clients[0];
    let joins = o
        .server
        .all_events(&format!("&topic=client-join&mac={}", client.mac))
        .await;
    let aps: Vec<&str> = joins
        .iter()
        .map(|e| e["raw"]["ap"].as_str().unwrap())
        .collect();
    assert_eq!(aps, [&hq.aps[2].mac, &hq.aps[3].mac, &hq.aps[1].mac]);
    let sessions = o
        .server
        .all_events(&format!("&topic=client-sessions&mac={}", client.mac))
        .await;
    let next: Vec<&str> = sessions
        .iter()
        .map(|e| e["raw"]["next_ap"].as_str().unwrap())
        .collect();
    assert_eq!(
        next, aps,
        "each session ends by roaming to the AP joined next"
    );
    assert!(sessions.iter().all(|e| e["raw"]["termination_reason"] == 3));
    assert_eq!(sessions[1]["raw"]["ap"], hq.aps[2].mac.as_str());
}

#[tokio::test]
async fn an_asset_walks_across_a_floor() {
    let (o, org) = play_twice("asset-walk").await;
    assert!(o.incidents.is_empty());
    let hq = &org.sites[0];
    let asset = &hq.assets[0];
    let fixes = o
        .server
        .all_events(&format!("&topic=location-asset&mac={}", asset.mac))
        .await;
    assert_eq!(fixes.len(), 25);
    let xs: Vec<f64> = fixes
        .iter()
        .map(|e| e["raw"]["x"].as_f64().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "moving east: {xs:?}");
    let zones = o
        .server
        .all_events(&format!("&topic=zone&mac={}", asset.mac))
        .await;
    let walk: Vec<(String, String)> = zones
        .iter()
        .map(|e| {
            (
                e["raw"]["zone_id"].as_str().unwrap().to_string(),
                e["raw"]["trigger"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let z = &hq.maps[0].zones;
    let expected: Vec<(String, String)> = [
        (&z[0], "enter"),
        (&z[0], "exit"),
        (&z[1], "enter"),
        (&z[1], "exit"),
    ]
    .iter()
    .map(|(zone, t)| (zone.id.clone(), t.to_string()))
    .collect();
    assert_eq!(walk, expected);
}

#[tokio::test]
async fn retries_against_a_failing_receiver_lose_nothing() {
    let rx = Receiver::start().await;
    // The receiver fails the first eight attempts (an outage), then recovers.
    rx.script(
        (0..6)
            .map(|_| Answer::status(503))
            .chain([Answer::status(500), Answer::status(429)]),
    );
    let start = now_s();
    let (ok, summary) = simulate(&args(&[
        "--target",
        &rx.url("/mist"),
        "--secret",
        "sim-secret-1",
        "--scenario",
        "flapping-ap",
        "--seed",
        "2",
        "--start",
        &start.to_string(),
        "--speed",
        "200",
    ]))
    .await;
    assert!(ok, "{summary}");
    let planned = plan(PlanSettings {
        seed: 2,
        start_us: start * 1_000_000,
        speed: 200.0,
        scenarios: vec![Scenario::load("flapping-ap").unwrap()],
        ..PlanSettings::default()
    });
    let n = planned.len() as u64;
    assert!(n > 8, "{n}");
    assert_eq!(summary["messages"], n, "{summary}");
    assert_eq!(summary["acknowledged"], n, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["pending"], 0, "{summary}");
    assert_eq!(summary["retries"], 8, "{summary}");
    assert!(summary["retried"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["attempts"], n + 8, "{summary}");
    assert_eq!(
        summary["statuses"],
        json!({"200": n, "429": 1, "500": 1, "503": 6})
    );
    // Nothing lost: every planned body arrived, signed; the last copy of each got a 200.
    let received = rx.received();
    assert_eq!(received.len() as u64, n + 8);
    let got: BTreeMap<Vec<u8>, usize> = received.iter().fold(BTreeMap::new(), |mut m, r| {
        let sig = r.header("x-mist-signature-v2").unwrap();
        assert!(
            mist::verify_v2(b"sim-secret-1", &r.body, sig.as_bytes()),
            "bad signature"
        );
        *m.entry(r.body.to_vec()).or_default() += 1;
        m
    });
    let want: BTreeSet<Vec<u8>> = planned.iter().map(|m| m.body.to_vec()).collect();
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(
        got.values().sum::<usize>() - got.len(),
        8,
        "one extra copy per retry"
    );
}

#[tokio::test]
async fn simulate_refuses_what_it_cannot_do() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args([
            "simulate",
            "--target",
            "http://127.0.0.1:9/x",
            "--topics",
            "alarms,weather",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`weather` is not a Mist webhook topic"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args([
            "simulate",
            "--target",
            "http://127.0.0.1:9/x",
            "--scenario",
            "no-such-scenario",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(["simulate", "--list-scenarios"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for s in Scenario::built_in() {
        assert!(text.contains(&s.name), "{text}");
    }
}
