//! `mistapi`'s searches against the simulated cloud: every alarm, device event and audit
//! record of a range, following `next` across pages, none twice: what backfill reads.

mod support;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::sim::{SIM_TOKEN, Sim};

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn keys(items: &[Value], key: impl Fn(&Value) -> String) -> BTreeSet<String> {
    items.iter().map(key).collect()
}

#[tokio::test]
async fn searches_return_every_record_of_a_range_across_pages() {
    let start = (now_s() as i64 - 3600).to_string();
    let sim = Sim::start(&[
        "--topics",
        "alarms,device-events,audits",
        "--count",
        "2500",
        "--rate",
        "50",
        "--no-wait",
        "--start",
        &start,
    ])
    .await;
    let status = sim.settled().await;
    // More device events than one page holds (1,000): `next` is followed.
    assert!(status["device_events"].as_u64().unwrap() > 1000, "{status}");
    let mist = mistapi::Client::new(&sim.base, SIM_TOKEN).unwrap();
    let range = mistapi::Range {
        start: now_s() - 7200.0,
        end: now_s() + 60.0,
    };

    let alarms = mist.alarms(&sim.org_id, range, 100_000).await.unwrap();
    assert_eq!(
        alarms.len() as u64,
        status["alarms"].as_u64().unwrap(),
        "{status}"
    );
    let ids = keys(&alarms, |a| a["id"].as_str().unwrap().to_string());
    assert_eq!(ids.len(), alarms.len(), "an alarm came twice");
    let times: Vec<f64> = alarms
        .iter()
        .map(|a| a["timestamp"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    let mut events = Vec::new();
    for kind in ["ap", "switch", "gateway"] {
        events.extend(
            mist.device_events(&sim.org_id, kind, range, 100_000)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        events.len() as u64,
        status["device_events"].as_u64().unwrap(),
        "{status}"
    );

    let audits = mist.audit_logs(&sim.org_id, range, 100_000).await.unwrap();
    assert_eq!(
        audits.len() as u64,
        status["audits"].as_u64().unwrap(),
        "{status}"
    );
    assert_eq!(keys(&audits, |a| a["id"].to_string()).len(), audits.len());

    // A cap is a cap, and a range with nothing in it is empty.
    assert_eq!(mist.alarms(&sim.org_id, range, 7).await.unwrap().len(), 7);
    let empty = mistapi::Range {
        start: now_s() - 90_000.0,
        end: now_s() - 86_400.0,
    };
    assert!(
        mist.alarms(&sim.org_id, empty, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A wrong token is an error that names the call.
    let wrong = mistapi::Client::new(&sim.base, "nope").unwrap();
    let err = wrong.alarms(&sim.org_id, range, 10).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("alarms/search"), "{err}");
}
