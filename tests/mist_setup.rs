//! `mistgate mist setup|status|teardown` against the simulated Mist cloud and a real
//! mistgate: the webhook made with a secret and the topics, the source made here, the
//! ping waited for, then Mist's traffic accepted as signed; a rerun updates; status shows
//! Mist's delivery results; teardown removes both. And with no mistgate running, the
//! source goes into the data dir and the server takes it at its start.

mod support;

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::sim::{SIM_TOKEN, Sim};
use support::{Server, TOKEN, eventually};

/// Runs `mistgate mist ARGS` with both tokens in the environment.
fn mist(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("mist")
        .args(args)
        .env("MIST_API_TOKEN", SIM_TOKEN)
        .env("MISTGATE_API_TOKEN", TOKEN)
        .env_remove("MISTGATE_DATA_DIR")
        .output()
        .expect("run mistgate mist")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn hooks(sim: &Sim) -> Vec<Value> {
    sim.get_ok(&format!("/api/v1/orgs/{}/webhooks", sim.org_id))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn setup_connects_the_org_and_teardown_removes_it() {
    let sim = Sim::start(&["--rate", "20"]).await;
    let server = Server::start();
    let target = [
        "--api-url",
        sim.base.as_str(),
        "--org",
        sim.org_id.as_str(),
        "--public-url",
        server.base.as_str(),
    ];

    let out = mist(&[&["setup"][..], &target, &["--wait", "30s"]].concat());
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("created in org"), "{said}");
    assert!(said.contains("ping: arrived"), "{said}");
    // The webhook: ours, with a secret (shown as set), every org topic.
    let made = hooks(&sim).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let url = format!("{}/ingest/mist", server.base);
    assert_eq!(made[0]["url"], url.as_str());
    let topics: Vec<&str> = made[0]["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in ["alarms", "audits", "device-updowns"] {
        assert!(topics.contains(&t), "{t} missing from {topics:?}");
    }
    // The source here, with one secret it never shows.
    let sources = server.api_ok("/sources").await;
    let mist_source = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "mist")
        .cloned()
        .expect("source mist");
    assert_eq!(mist_source["origin"], "api");
    assert_eq!(mist_source["secrets"], 1);
    // Then the simulator's traffic arrives signed and is accepted (only signed posts get
    // through a source with a secret).
    eventually(Duration::from_secs(30), "Mist's traffic stored", || async {
        let stats = server.stats().await;
        let events = stats["by_source"]["mist"]["events"].as_i64().unwrap_or(0);
        let pings = stats["by_topic"]["ping"]["events"].as_i64().unwrap_or(0);
        (events > pings).then_some(())
    })
    .await;
    assert_eq!(
        server.stats().await["totals"]["quarantined"],
        0,
        "nothing refused"
    );

    // A rerun updates the same webhook (a new secret on both sides).
    let out = mist(&[&["setup"][..], &target, &["--wait", "30s"]].concat());
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("updated in org"), "{said}");
    assert_eq!(hooks(&sim).await.len(), 1, "a rerun made a second webhook");

    // Status: Mist's results for it, no failure.
    let out = mist(&[&["status"][..], &target].concat());
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("succeeded, 0 failed"), "{said}");

    // Teardown: the webhook and the source.
    let out = mist(&[&["teardown"][..], &target].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(hooks(&sim).await.is_empty());
    assert_eq!(
        server.ingest("mist", support::alarm_body("t"), &[]).await.0,
        404
    );
}

#[tokio::test]
async fn with_no_mistgate_running_the_source_waits_in_the_data_dir() {
    let sim = Sim::start(&["--rate", "0"]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A public URL where nothing listens yet.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let public = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = mist(&[
        "setup",
        "--api-url",
        &sim.base,
        "--org",
        &sim.org_id,
        "--site",
        &sim.site_ids[0],
        "--public-url",
        &public,
        "--topics",
        "alarms,device-events",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("written to the data dir"), "{said}");
    let site_hooks = sim
        .get_ok(&format!("/api/v1/sites/{}/webhooks", sim.site_ids[0]))
        .await;
    assert_eq!(
        site_hooks[0]["topics"],
        serde_json::json!(["alarms", "device-events"])
    );
    // The server takes the source at its start, its secret sealed in the database.
    let server = Server::start_in(data.clone(), None);
    let sources = server.api_ok("/sources").await;
    assert!(
        sources["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "mist" && s["secrets"] == 1),
        "{sources}"
    );
    let (status, _) = server.ingest("mist", support::alarm_body("u"), &[]).await;
    assert_eq!(status, 401, "the source wants Mist's signature");
}

#[tokio::test]
async fn a_token_mist_refuses_changes_nothing_here() {
    let sim = Sim::start(&["--rate", "0"]).await;
    let server = Server::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args([
            "mist",
            "setup",
            "--api-url",
            &sim.base,
            "--org",
            &sim.org_id,
        ])
        .args(["--public-url", &server.base])
        .env("MIST_API_TOKEN", "not-the-token")
        .env("MISTGATE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("401"), "Mist's answer is named: {said}");
    assert!(
        !said.contains("not-the-token"),
        "the token is not shown: {said}"
    );
    let sources = server.api_ok("/sources").await;
    assert!(
        sources["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "mist"),
        "a source was made although Mist refused: {sources}"
    );
    assert!(hooks(&sim).await.is_empty());
}
