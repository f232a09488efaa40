//! `mistgate serve --demo`: on an empty data dir, a simulated org posts to the server
//! over HTTP, and incidents open and resolve within seconds.

mod support;

use std::time::{Duration, Instant};

use support::Server;

#[tokio::test]
async fn the_demo_opens_and_resolves_incidents_within_30_seconds() {
    let started = Instant::now();
    let server = Server::start_with_args(None, &["--demo"]);
    let deadline = started + Duration::from_secs(30);
    let (mut opened, mut resolved) = (0, 0);
    while Instant::now() < deadline {
        let all = server.api_ok("/incidents?limit=500").await["items"]
            .as_array()
            .unwrap()
            .clone();
        opened = all.len();
        resolved = all.iter().filter(|i| i["state"] == "resolved").count();
        if opened >= 2 && resolved >= 1 {
            break;
        }
        // Poll, at a pace that leaves the two cores to the server.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    assert!(
        opened >= 2 && resolved >= 1,
        "after {elapsed:?}: {opened} incidents, {resolved} resolved"
    );
    assert!(elapsed < Duration::from_secs(30));
    // The incidents came from real HTTP posts the demo made to this server's ingest.
    let stats = server.stats().await;
    assert!(
        stats["by_source"]["default"]["requests"].as_i64().unwrap() > 0,
        "{stats}"
    );
    let open = server.api_ok("/incidents?state=open").await["items"]
        .as_array()
        .unwrap()
        .len();
    let devices = server.api_ok("/devices").await["items"]
        .as_array()
        .unwrap()
        .len();
    assert!(devices >= 1 && open + resolved >= 1);
}
