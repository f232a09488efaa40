//! `[mist]` with several instances on one PostgreSQL database, against the simulated
//! cloud. Names and wiring: one instance reads Mist's API (its lease), the others name
//! events as it read, and another takes the reads over when it stops. Backfill: it reads
//! back on one instance, every instance shows its report, and a webhook copy of an event
//! it stored, coming after, is that event's duplicate on whichever instance the load
//! balancer gives it to.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::sim::{SIM_TOKEN, Sim};
use support::{Server, eventually, signed};

const ORG: &str = "6f4bf402-45f9-4ac6-8c3a-b0c0d7d8e9f0";
const SECRET: &str = "backfill-webhook-secret-0123456789";
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// Whether `server` runs backfill (holds its lease).
async fn runs_backfill(server: &Server) -> bool {
    let metrics = server.text("/metrics", false).await;
    metrics
        .lines()
        .any(|l| l == "mistgate_stage_lease{stage=\"backfill\"} 1")
}

/// The alarms' line of `server`'s backfill report, once it shows a read.
async fn alarms_read(server: &Server) -> Option<Value> {
    let report = server.api_ok("/mist/backfill").await;
    report["orgs"][0]["kinds"]
        .as_array()?
        .iter()
        .find(|k| k["kind"] == "alarms" && !k["last_run_at"].is_null())
        .cloned()
}

/// The alarms stored, raw, with the source each came in through.
async fn alarms(server: &Server) -> Vec<(String, Value)> {
    server
        .all_events("&topic=alarms")
        .await
        .into_iter()
        .map(|e| (e["source"].as_str().unwrap().to_string(), e["raw"].clone()))
        .collect()
}

/// The webhook's form of a backfilled alarm: Mist's webhook carries fields its search
/// does not (`site_name`), and lacks some it has (`acked`).
fn webhook_copy(raw: &Value) -> String {
    let mut copy = raw.clone();
    copy["site_name"] = json!("HQ");
    copy.as_object_mut().unwrap().remove("acked");
    json!({"topic": "alarms", "events": [copy]}).to_string()
}

#[tokio::test]
async fn a_late_webhook_copy_of_a_backfilled_alarm_is_its_duplicate_on_every_instance() {
    // Mist raises alarms while no webhook exists: backfill is the only way they come.
    let sim = Sim::start(&[
        "--org", ORG, "--topics", "alarms", "--rate", "30", "--count", "40", "--speed", "60",
    ])
    .await;
    let produced = sim.settled().await["alarms"].as_u64().expect("alarms made");
    assert!(produced >= 2, "{produced}");
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let config = format!(
        "[[sources]]\nname = \"mist\"\nsecrets = [\"{SECRET}\"]\n\n\
         [mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\norg_ids = [\"{ORG}\"]\n\
         backfill_interval = \"1h\"\nbackfill_settle = \"0s\"\n",
        sim.base
    );
    let env = [
        ("MISTGATE_DATABASE_URL", url.as_str()),
        ("MISTGATE_SECRET_KEY", KEY),
    ];
    let servers = [
        Server::start_env(Some(&config), &env),
        Server::start_env(Some(&config), &env),
    ];
    let reader = eventually(
        Duration::from_secs(60),
        "one instance reading every alarm back",
        || async {
            let stored = alarms(&servers[0]).await;
            if stored.len() as u64 != produced || stored.iter().any(|(s, _)| s != "mist-api") {
                return None;
            }
            support::only_one(&[
                runs_backfill(&servers[0]).await,
                runs_backfill(&servers[1]).await,
            ])
        },
    )
    .await;
    // Both show what backfill did: the other instance, the report the reader kept.
    let (read, shown) = eventually(
        Duration::from_secs(30),
        "the report on both instances",
        || async {
            Some((
                alarms_read(&servers[reader]).await?,
                alarms_read(&servers[1 - reader]).await?,
            ))
        },
    )
    .await;
    assert_eq!(read["recovered_total"], json!(produced), "{read}");
    assert_eq!(shown, read);
    let stored = alarms(&servers[0]).await;

    // A late copy to the instance that does not run backfill, and one to the instance
    // that does: each is the duplicate of the alarm backfill stored.
    for (n, server) in [&servers[1 - reader], &servers[reader]]
        .into_iter()
        .enumerate()
    {
        let body = webhook_copy(&stored[n].1);
        let sig = signed(SECRET, body.as_bytes());
        let (status, answer) = server.ingest("mist", body, &support::headers(&sig)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], 0, "copy {n}: {answer}");
        assert_eq!(answer["duplicates"], 1, "copy {n}: {answer}");
    }
    // A new alarm is still new, on either instance.
    let mut fresh = stored[2 % stored.len()].1.clone();
    fresh["id"] = json!("00000000-0000-4000-8000-00000000fee1");
    let body = json!({"topic": "alarms", "events": [fresh]}).to_string();
    let sig = signed(SECRET, body.as_bytes());
    let (status, answer) = servers[1 - reader]
        .ingest("mist", body, &support::headers(&sig))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    // Nothing else was stored, and nothing changed of what was.
    let after = alarms(&servers[1 - reader]).await;
    assert_eq!(after.len(), stored.len() + 1);
    assert_eq!(after[..stored.len()], stored[..]);
}

/// Whether `server` has read Mist's API for names and wiring (only the reader does).
async fn has_read_names(server: &Server) -> bool {
    let metrics = server.text("/metrics", false).await;
    metrics
        .lines()
        .any(|l| l.starts_with("mistgate_mist_api_syncs_total") && l.contains("result=\"ok\""))
}

/// The calls `server`'s client made to Mist's API (0 when it made none).
async fn calls_made(server: &Server) -> f64 {
    let metrics = server.text("/metrics", false).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("mistgate_mist_api_calls "))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[tokio::test]
async fn one_instance_reads_names_from_mists_api_and_every_instance_uses_them() {
    let sim = Sim::start(&["--rate", "0"]).await;
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let config = format!(
        "[[sources]]\nname = \"default\"\n\n[mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\n\
         org_ids = [\"{}\"]\nrefresh = \"1m\"\nbackfill = false\n",
        sim.base, sim.org_id
    );
    let env = [
        ("MISTGATE_DATABASE_URL", url.as_str()),
        ("MISTGATE_SECRET_KEY", KEY),
    ];
    let mut servers = [
        Server::start_env(Some(&config), &env),
        Server::start_env(Some(&config), &env),
    ];
    let reader = eventually(
        Duration::from_secs(30),
        "one instance reading Mist's API",
        || async {
            support::only_one(&[
                has_read_names(&servers[0]).await,
                has_read_names(&servers[1]).await,
            ])
        },
    )
    .await;
    let other = 1 - reader;

    // An AP restart naming neither its site nor its AP, given to the instance that does
    // not read: it names them as the reader read them.
    let site = &sim.site_ids[0];
    let site_name = sim.site_name(site).await;
    let (ap, _) = sim.first_ap(site).await;
    let restart = json!({"topic": "device-events", "events": [{"type": "AP_RESTARTED",
        "mac": ap, "org_id": sim.org_id, "site_id": site, "timestamp": 1_765_000_000.0}]});
    let (status, _) = servers[other]
        .ingest("default", restart.to_string(), &[])
        .await;
    assert_eq!(status, 200);
    let named = eventually(
        Duration::from_secs(30),
        "the other instance naming the site",
        || async {
            let events = servers[other].api_ok("/events?type=AP_RESTARTED").await;
            let name = events["items"][0]["site_name"].as_str()?.to_string();
            Some(name)
        },
    )
    .await;
    assert_eq!(named, site_name);
    // Only the reader spent the token's calls.
    assert!(calls_made(&servers[reader]).await > 0.0);
    assert_eq!(calls_made(&servers[other]).await, 0.0);
    assert!(!has_read_names(&servers[other]).await);

    // The reader stops: the other takes the reads over.
    assert!(servers[reader].terminate(Duration::from_secs(20)).success());
    eventually(
        Duration::from_secs(30),
        "the other instance reading Mist's API",
        || async { has_read_names(&servers[other]).await.then_some(()) },
    )
    .await;
}
