//! The stage hands the correlator what the shell knows besides events: the configured site
//! names at start, and the topology and further names when told, kept across reloads.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use deliver::supervise::Stages;
use deliver::tail::Log;
use serde_json::{Value, json};
use store::{IncidentFilter, NewEvent, NewRequest, Order, PageRequest, Store, Verdict};

use super::{Command, StageHandle, spawn};

const SITE: &str = "8d2e354a-8340-4432-ac1b-e3c3bab680ab";
const AP: &str = "5c5b350e1d1f";
const SWITCH: &str = "0c8126c7054d";
const OTHER_SWITCH: &str = "0c8126c70001";

/// Appends one Mist message as ingest would, and wakes the stages that read the log.
async fn append(store: &dyn Store, stages: &Stages, message: Value, received_at: i64) {
    let body = Bytes::from(serde_json::to_vec(&message).unwrap());
    let split = mist::split(&body).unwrap();
    let topic = split.topic.as_str().to_string();
    let events = split
        .events
        .into_iter()
        .map(|e| {
            let n = e.normalized;
            NewEvent {
                topic: topic.clone(),
                org_id: n.org_id,
                site_id: n.site_id,
                event_type: n.event_type,
                mac: n.mac,
                severity: n.severity.map(|s| s.as_str().to_string()),
                time: n.time.map_or(received_at, |t| t.unix_micros),
                time_source: "timestamp".into(),
                raw_offset: e.span.start as u32,
                raw_len: e.span.len() as u32,
                fingerprint: e.fingerprint.0,
            }
        })
        .collect();
    let request = NewRequest {
        source: "default".into(),
        received_at,
        topic,
        verdict: Verdict::Unsigned,
        headers: Vec::new(),
        body,
        events,
    };
    store.append(request, i64::MAX).await.unwrap();
    stages.wakes().committed(Log::Events);
}

/// The incident records, once there are `n`.
async fn incidents(store: &dyn Store, n: usize) -> Vec<correlate::Incident> {
    for _ in 0..500 {
        let page = store
            .incidents(
                IncidentFilter::default(),
                PageRequest {
                    limit: 100,
                    after: None,
                    order: Order::Asc,
                },
            )
            .await
            .unwrap();
        if page.items.len() >= n {
            return page
                .items
                .iter()
                .map(|row| serde_json::from_str(&row.record).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} incidents");
}

fn alarm(kind: &str, list: &str, macs: &[&str], t: i64) -> Value {
    json!({"topic": "alarms", "events": [{
        "type": kind, "group": "infrastructure", "severity": "warn", list: macs,
        "org_id": "o", "site_id": SITE, "timestamp": t, "id": format!("{kind}-{t}")
    }]})
}

async fn set_topology(stage: &StageHandle, topology: correlate::Topology) {
    stage
        .ask(|reply| Command::SetTopology { topology, reply })
        .await
        .expect("the stage answers");
}

#[tokio::test]
async fn the_topology_and_names_reach_the_correlator() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(store::SqliteStore::open(store::SqliteConfig::in_data_dir(dir.path())).unwrap());
    let stages = Stages::new();
    let configured = mist::Names::with_sites([(SITE.to_owned(), "HQ".to_owned())].into());
    let stage = spawn(
        store.clone(),
        correlate::Settings::default(),
        configured,
        stages.clone(),
        Vec::new(),
    )
    .await
    .unwrap();
    let mut topology = correlate::Topology::default();
    topology.wire_ap(AP, SWITCH, "ge-0/0/2");
    set_topology(&stage, topology).await;
    let mut api_names = mist::Names::default();
    api_names.name_site(SITE, "Not the configured name");
    api_names.name_device(OTHER_SWITCH, "sw-floor2");
    stage
        .ask(|reply| Command::SetNames {
            names: api_names,
            reply,
        })
        .await
        .expect("the stage answers");

    // Another switch of the site goes down, then the AP: by site it would be suppressed,
    // but its own switch is up.
    let t = 1_750_000_000;
    append(
        store.as_ref(),
        &stages,
        alarm("switch_down", "switches", &[OTHER_SWITCH], t),
        t * 1_000_000,
    )
    .await;
    append(
        store.as_ref(),
        &stages,
        alarm("device_down", "aps", &[AP], t + 60),
        (t + 60) * 1_000_000,
    )
    .await;
    let found = incidents(store.as_ref(), 2).await;
    let (switch, ap) = (&found[0], &found[1]);
    assert_eq!(switch.devices, [OTHER_SWITCH]);
    // The names the stage was told, under the configured ones.
    assert_eq!(
        switch.summary,
        "switch \"sw-floor2\" (0c8126c70001) offline"
    );
    assert_eq!(ap.devices, [AP]);
    assert!(!ap.suppressed && ap.caused_by.is_none(), "{ap:?}");

    // A security alarm names the site by the configured name.
    let rogue = json!({"topic": "alarms", "events": [{
        "type": "rogue_ap", "group": "security", "severity": "critical", "aps": [AP],
        "org_id": "o", "site_id": SITE, "timestamp": t + 120
    }]});
    append(store.as_ref(), &stages, rogue, (t + 120) * 1_000_000).await;
    let found = incidents(store.as_ref(), 3).await;
    // (resolved already: the stage's clock is real, the alarm older than the quiet period)
    let summary = &found[2].summary;
    assert!(
        summary.starts_with("Security: rogue_ap at HQ, reported by 1 AP"),
        "{summary}"
    );
}
