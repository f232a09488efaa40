//! Backfill end to end against the simulated Mist cloud: what Mist produced while
//! mistgate was down (and before its webhook existed) is read back from Mist's searches
//! after the restart, and every alarm, device event and audit is then stored exactly
//! once, whether it came by webhook, by backfill, or both.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::sim::{SIM_TOKEN, Sim};
use support::{Server, eventually, signed};

const ORG: &str = "6f4bf402-45f9-4ac6-8c3a-b0c0d7d8e9f0";
const SECRET: &str = "backfill-webhook-secret-0123456789";

/// What tells events apart, written here independently of mistgate's own: Mist's id for
/// alarms and audits, and for device events (which have none) type, device, second and
/// port.
fn identity(topic: &str, e: &Value) -> String {
    match topic {
        "alarms" | "audits" => e["id"].as_str().expect("an id").to_string(),
        _ => format!(
            "{}|{}|{}|{}",
            e["type"].as_str().unwrap_or(""),
            e["mac"].as_str().or(e["ap"].as_str()).unwrap_or(""),
            e["timestamp"].as_f64().expect("a timestamp").floor(),
            e["port_id"].as_str().unwrap_or("")
        ),
    }
}

fn tally(topic: &str, events: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(identity(topic, e)).or_default() += 1;
    }
    out
}

/// Everything the simulated cloud's searches hold of `topic`, every page.
async fn mist_has(sim: &Sim, topic: &str) -> Vec<Value> {
    let paths: Vec<String> = match topic {
        "alarms" => vec![format!("/api/v1/orgs/{ORG}/alarms/search?duration=1d&limit=1000")],
        "audits" => vec![format!("/api/v1/orgs/{ORG}/logs?duration=1d&limit=1000")],
        _ => ["ap", "switch", "gateway"]
            .iter()
            .map(|t| {
                format!("/api/v1/orgs/{ORG}/devices/events/search?duration=1d&limit=1000&device_type={t}")
            })
            .collect(),
    };
    let mut out = Vec::new();
    for mut path in paths {
        loop {
            let page = sim.get_ok(&path).await;
            out.extend(page["results"].as_array().expect("results").iter().cloned());
            match page["next"].as_str() {
                Some(next) => path = next.to_string(),
                None => break,
            }
        }
    }
    out
}

/// The raw events mistgate stored of `topic`, with the source each came in through.
async fn stored(server: &Server, topic: &str) -> Vec<(String, Value)> {
    server
        .all_events(&format!("&topic={topic}"))
        .await
        .into_iter()
        .map(|e| (e["source"].as_str().unwrap().to_string(), e["raw"].clone()))
        .collect()
}

#[tokio::test]
async fn what_mist_produced_while_mistgate_was_down_is_stored_exactly_once() {
    // The org's traffic starts at once and runs about 20 s: at first no webhook exists.
    let sim = Sim::start(&[
        "--org",
        ORG,
        "--topics",
        "alarms,audits,device-events",
        "--rate",
        "30",
        "--count",
        "600",
        "--speed",
        "60",
    ])
    .await;
    let config = format!(
        "[[sources]]\nname = \"mist\"\nsecrets = [\"{SECRET}\"]\n\n\
         [mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\norg_ids = [\"{ORG}\"]\n\
         backfill_interval = \"1m\"\nbackfill_overlap = \"1m\"\nbackfill_settle = \"0s\"\n",
        sim.base
    );
    let mut server = Server::start_with(Some(&config));
    let hook = sim
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/webhooks"),
            Some(
                &json!({"name": "mistgate", "url": server.url("/ingest/mist"), "secret": SECRET,
                "topics": ["alarms", "audits", "device_events"], "enabled": true}),
            ),
        )
        .await;
    assert_eq!(hook.status, 200, "{}", hook.body);

    // Some events come live, by the webhook; then mistgate stops while Mist goes on.
    eventually(Duration::from_secs(60), "events delivered live", || async {
        let live = server.api_ok("/events?source=mist&limit=20").await;
        (live["items"].as_array().unwrap().len() >= 20).then_some(())
    })
    .await;
    assert!(server.terminate(Duration::from_secs(30)).success());
    let status = sim.settled().await;
    assert!(
        status["alarms"].as_u64().unwrap() > 0
            && status["audits"].as_u64().unwrap() > 0
            && status["device_events"].as_u64().unwrap() > 0,
        "Mist produced each kind: {status}"
    );

    // The restart reads back what was missed (its webhook's URL is gone: nothing more
    // comes by webhook).
    server.launch();
    let mut expected = BTreeMap::new();
    for topic in ["alarms", "audits", "device-events"] {
        expected.insert(topic, tally(topic, &mist_has(&sim, topic).await));
    }
    let report = eventually(
        Duration::from_secs(60),
        "every event Mist has, stored exactly once",
        || async {
            for topic in ["alarms", "audits", "device-events"] {
                let raws: Vec<Value> = stored(&server, topic)
                    .await
                    .into_iter()
                    .map(|(_, raw)| raw)
                    .collect();
                if tally(topic, &raws) != expected[topic] {
                    return None;
                }
            }
            let report = server.api_ok("/mist/backfill").await;
            let kinds = report["orgs"][0]["kinds"].as_array().unwrap();
            kinds
                .iter()
                .all(|k| k["error"].is_null() && !k["last_run_at"].is_null())
                .then_some(report)
        },
    )
    .await;

    // Both ways in are represented, and the report counts what backfill stored.
    let mut backfilled = 0;
    let mut live = 0;
    for topic in ["alarms", "audits", "device-events"] {
        for (source, _) in stored(&server, topic).await {
            match source.as_str() {
                "mist-api" => backfilled += 1,
                "mist" => live += 1,
                other => panic!("an event from source {other}"),
            }
        }
    }
    assert!(
        backfilled > 0 && live > 0,
        "{backfilled} backfilled, {live} live"
    );
    let org = &report["orgs"][0];
    assert_eq!(org["org_id"], ORG);
    assert_eq!(report["enabled"], true);
    let recovered: i64 = org["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["recovered_total"].as_i64().unwrap())
        .sum();
    assert_eq!(recovered, backfilled, "{report}");

    // Mist's failed deliveries to the stopped mistgate are reported.
    let report = eventually(
        Duration::from_secs(90),
        "Mist's failed deliveries reported",
        || async {
            let r = server.api_ok("/mist/backfill").await;
            let failing = r["orgs"][0]["deliveries"]["failing"]
                .as_array()
                .unwrap()
                .clone();
            (!failing.is_empty()).then_some(failing)
        },
    )
    .await;
    assert_eq!(report[0]["url"], json!(server_url_of(&hook.body)));
    assert!(report[0]["failures"].as_u64().unwrap() > 0);
    // The console's overview shows the same.
    let overview = server.console_page("/ui/").await;
    assert!(overview.contains("Backfill from Mist"), "{overview}");
    // The failing webhook's address (the page escapes the URL's slashes).
    let url = server_url_of(&hook.body);
    let host = url.split('/').nth(2).expect("host:port");
    assert!(overview.contains(host), "{overview}");
    assert!(overview.contains("source=mist-api"), "{overview}");

    // A webhook copy coming after backfill stored its event is its duplicate: Mist's
    // webhook form carries fields the search does not (`site_name` here).
    let (_, raw) = stored(&server, "alarms")
        .await
        .into_iter()
        .find(|(s, _)| s == "mist-api")
        .expect("a backfilled alarm");
    let mut webhook_form = raw.clone();
    webhook_form["site_name"] = json!("HQ");
    webhook_form.as_object_mut().unwrap().remove("acked");
    let body = json!({"topic": "alarms", "events": [webhook_form]}).to_string();
    let sig = signed(SECRET, body.as_bytes());
    let (status, answer) = server.ingest("mist", body, &support::headers(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 0, "{answer}");
    assert_eq!(answer["duplicates"], 1, "{answer}");

    let metrics = server.text("/metrics", false).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("mistgate_mist_backfill_recovered_total")),
        "{metrics}"
    );
    assert!(metrics.contains("mistgate_mist_api_calls_last_hour"));
}

/// The URL the webhook was created with.
fn server_url_of(hook: &Value) -> String {
    hook["url"].as_str().expect("url").to_string()
}

#[tokio::test]
async fn a_source_falling_silent_reads_back_at_once() {
    let sim = Sim::start(&["--org", ORG, "--rate", "0"]).await;
    let config = format!(
        "[[sources]]\nname = \"mist\"\nsilent_after = \"2s\"\n\n\
         [mist]\napi_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\norg_ids = [\"{ORG}\"]\n\
         backfill_interval = \"1h\"\nbackfill_settle = \"0s\"\n",
        sim.base
    );
    let server = Server::start_with(Some(&config));
    // The read at start.
    let first = eventually(Duration::from_secs(30), "the read at start", || async {
        let r = server.api_ok("/mist/backfill").await;
        r["orgs"][0]["kinds"][0]["last_run_at"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    // A request, then silence: the source_silent incident opens, and backfill reads
    // again long before its hourly interval.
    let body = json!({"topic": "alarms", "events": []}).to_string();
    assert_eq!(server.ingest("mist", body, &[]).await.0, 200);
    eventually(
        Duration::from_secs(60),
        "a read after the silence",
        || async {
            let silent = server.api_ok("/incidents?kind=source_silent").await;
            let r = server.api_ok("/mist/backfill").await;
            let last = r["orgs"][0]["kinds"][0]["last_run_at"]
                .as_str()?
                .to_string();
            (!silent["items"].as_array()?.is_empty() && last > first).then_some(())
        },
    )
    .await;
}
