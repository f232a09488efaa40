//! `[mist]`: names and wiring read from Mist's API (the simulated cloud) reach the
//! incidents, and the calls do not grow with the events: the API is read per refresh,
//! never per event.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::Receiver;
use support::sim::{SIM_TOKEN, Sim};
use support::{Server, eventually};

fn total_calls(requests: &Value) -> u64 {
    let counts = requests.get("requests").unwrap_or(requests);
    counts
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// Waits for the server's first good read of Mist's API.
async fn first_read(server: &Server) {
    eventually(
        Duration::from_secs(30),
        "the first read of Mist's API",
        || async {
            let metrics = server.text("/metrics", false).await;
            metrics
                .lines()
                .any(|l| {
                    l.starts_with("mistgate_mist_api_syncs_total") && l.contains("result=\"ok\"")
                })
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn incidents_carry_the_names_mists_api_gives_and_events_cost_no_calls() {
    let sim = Sim::start(&["--rate", "0"]).await;
    let noc = Receiver::start().await;
    let config = format!(
        "[[sources]]\nname = \"default\"\n\n[mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\norg_ids = [\"{}\"]\nrefresh = \"1m\"\nbackfill = false\n\n\
         [delivery]\nallow_private_targets = true\naggregation_window = \"100ms\"\n\n\
         [targets.noc]\ntype = \"webhook\"\nurl = \"{}\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n\n\
         [[routes]]\nname = \"all incidents\"\nflow = \"incident\"\ntargets = [\"noc\"]\n\n\
         [[routes]]\nname = \"device events\"\nflow = \"event\"\ntopics = [\"device_events\"]\ntargets = [\"noc\"]\n",
        sim.base,
        sim.org_id,
        noc.url("/noc")
    );
    let server = Server::start_with(Some(&config));
    first_read(&server).await;

    // What the simulated cloud calls a site and an AP.
    let site = &sim.site_ids[0];
    let site_name = sim.site_name(site).await;
    let (ap, ap_name) = sim.first_ap(site).await;
    let maps = sim.get_ok(&format!("/api/v1/sites/{site}/maps")).await;
    let map = &maps[0];

    // Every call so far: the server's first read, and this test's own three.
    let calls_before = total_calls(&sim.requests().await);
    assert!(calls_before > 2);

    // Alarms that name neither the site nor the AP, 200 of them.
    let t = 1_765_000_000.0;
    for i in 0..200 {
        let event = json!({"id": format!("a{i}"), "org_id": sim.org_id, "site_id": site,
            "type": if i == 0 { "device_down" } else { "rogue_ap" },
            "group": if i == 0 { "infrastructure" } else { "security" },
            "severity": "warn", "aps": [ap], "count": 1,
            "timestamp": t + f64::from(i), "last_seen": t + f64::from(i)});
        let body = json!({"topic": "alarms", "events": [event]}).to_string();
        assert_eq!(server.ingest("default", body, &[]).await.0, 200);
    }
    // A device event that names neither its AP nor its site: only Mist's API can.
    let restart = json!({"topic": "device-events", "events": [{"type": "AP_RESTARTED",
        "mac": ap, "org_id": sim.org_id, "site_id": site, "timestamp": t}]});
    assert_eq!(
        server.ingest("default", restart.to_string(), &[]).await.0,
        200
    );
    server.correlated().await;
    let incidents = server.api_ok("/incidents").await;
    let summaries: Vec<&str> = incidents["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.iter().any(|s| s.contains(&ap_name)),
        "the AP's name ({ap_name}) from Mist's inventory: {summaries:?}"
    );
    let security = incidents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "security")
        .expect("a security incident");
    assert!(
        security.to_string().contains(&ap_name),
        "the reporting AP named: {security}"
    );
    assert!(
        summaries.iter().any(|s| s.contains(&site_name)),
        "the site's name ({site_name}) from Mist's API: {summaries:?}"
    );
    // The API (and so the console) names the event's site as Mist's API does.
    let events = server.api_ok("/events?type=AP_RESTARTED").await;
    assert_eq!(
        events["items"][0]["site_name"],
        site_name.as_str(),
        "{events}"
    );
    // A zone event names its floor plan only by id: the view names it as Mist's maps do.
    let zone = json!({"topic": "zone", "events": [{"type": "enter", "map_id": map["id"],
        "site_id": site, "org_id": sim.org_id, "zone_id": "z1", "name": "Lobby",
        "mac": "a4c3f0000001", "timestamp": t}]});
    assert_eq!(server.ingest("default", zone.to_string(), &[]).await.0, 200);
    let zones = server.api_ok("/events?topic=zone").await;
    assert_eq!(zones["items"][0]["map_name"], map["name"], "{zones}");
    assert_eq!(
        events["items"][0]["map_name"],
        Value::Null,
        "no map_id, no name"
    );
    // The routing target's message names the AP as Mist's inventory does.
    let ap_name_seen = ap_name.clone();
    noc.wait_until(
        Duration::from_secs(30),
        "messages naming the AP",
        move |got| {
            let naming: Vec<String> = got
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .filter(|b| b.contains(&ap_name_seen))
                .collect();
            naming.iter().any(|b| b.contains("AP_RESTARTED"))
                && naming.iter().any(|b| !b.contains("AP_RESTARTED"))
        },
    )
    .await;
    // The events cost no call: the API is read per refresh (1 min), not per event.
    assert_eq!(total_calls(&sim.requests().await), calls_before);
}

/// Calls of one operation so far.
fn calls_of(requests: &Value, operation: &str) -> u64 {
    requests["operations"][operation].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn lookups_grow_with_distinct_ids_and_a_change_rereads_one_site() {
    let sim = Sim::start(&["--rate", "0"]).await;
    let config = format!(
        "[[sources]]\nname = \"default\"\n\n[mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\norg_ids = [\"{}\"]\nrefresh = \"1h\"\nbackfill = false\n",
        sim.base, sim.org_id
    );
    let server = Server::start_with(Some(&config));
    first_read(&server).await;
    let before = sim.requests().await;
    let calls_before = total_calls(&before);

    // 10,000 device events naming 5 sites and 5 devices Mist's API does not know.
    let sites: Vec<String> = (0..5)
        .map(|i| format!("00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    let macs: Vec<String> = (0..5).map(|i| format!("02aabbcc000{i}")).collect();
    let t = 1_765_000_000;
    for request in 0..100 {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                let n = request * 100 + i;
                json!({"type": "AP_RESTARTED", "mac": macs[n % 5], "site_id": sites[n % 5],
                    "org_id": sim.org_id, "timestamp": t + n})
            })
            .collect();
        let body = json!({"topic": "device-events", "events": events}).to_string();
        assert_eq!(server.ingest("default", body, &[]).await.0, 200);
    }
    // One call per distinct id: 5 site lookups and 5 inventory lookups, however many
    // events named them.
    eventually(
        Duration::from_secs(30),
        "one lookup per unknown id",
        || async { (total_calls(&sim.requests().await) == calls_before + 10).then_some(()) },
    )
    .await;

    // An audit record at a known site: that site's devices, maps and wiring are read
    // again (the org's sites and inventory, the site's device stats and maps), no other
    // site's.
    let site = &sim.site_ids[0];
    let audit = json!({"topic": "audits", "events": [{"id": "5d2b7a1e-0000-4000-8000-000000000001",
        "org_id": sim.org_id, "site_id": site, "message": "Update Device HQ-AP-01",
        "admin_name": "Jordan Admin", "timestamp": t}]});
    // The same unknown ids again, then the change: the ids cost nothing more.
    let again = json!({"topic": "device-events", "events": [{"type": "AP_RESTARTED",
        "mac": macs[0], "site_id": sites[0], "timestamp": t}]});
    assert_eq!(
        server.ingest("default", again.to_string(), &[]).await.0,
        200
    );
    assert_eq!(
        server.ingest("default", audit.to_string(), &[]).await.0,
        200
    );
    let after = eventually(
        Duration::from_secs(30),
        "the changed site read again",
        || async {
            let r = sim.requests().await;
            (total_calls(&r) == calls_before + 14).then_some(r)
        },
    )
    .await;
    assert_eq!(
        calls_of(&after, "listSiteDevicesStats"),
        calls_of(&before, "listSiteDevicesStats") + 1,
        "{after}"
    );
    assert_eq!(
        calls_of(&after, "listSiteMaps"),
        calls_of(&before, "listSiteMaps") + 1,
        "{after}"
    );
    let metrics = server.text("/metrics", false).await;
    assert!(
        metrics.contains("mistgate_mist_api_budget_per_hour 5000"),
        "{metrics}"
    );
}
