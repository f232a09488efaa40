//! A 200 means committed: kill the server with SIGKILL while many clients post, start it
//! again on the same data dir, and find every acknowledged event exactly once.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::Server;
use tokio::sync::Notify;

const CLIENTS: usize = 24;
/// Kill once this many requests were acknowledged (while the clients keep posting).
const KILL_AFTER: usize = 400;

/// An acknowledged request: its id and the markers of its events.
type Acked = (i64, Vec<String>);

fn body(client: usize, seq: usize) -> (Vec<u8>, Vec<String>) {
    let events = 1 + (client + seq) % 3;
    let markers: Vec<String> = (0..events)
        .map(|k| format!("c{client}-s{seq}-e{k}"))
        .collect();
    let items: Vec<String> = markers
        .iter()
        .map(|m| {
            format!(
                r#"{{"id":"{m}","type":"AP_DISCONNECTED","mac":"5c5b350e{:04x}","org_id":"o","site_id":"s{client}","timestamp":{}}}"#,
                client,
                1_749_000_000 + seq
            )
        })
        .collect();
    let body = format!(
        r#"{{"topic":"device-events","events":[{}]}}"#,
        items.join(",")
    );
    (body.into_bytes(), markers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_event_survives_sigkill_exactly_once() {
    let mut server = Server::start();
    let url = server.url("/ingest/default");
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let enough = Arc::new(Notify::new());
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (url, acked, enough) = (url.clone(), acked.clone(), enough.clone());
        clients.push(tokio::spawn(async move {
            let http = support::client();
            for seq in 0.. {
                let (body, markers) = body(client, seq);
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                // Once the server is gone, requests fail: this client is done.
                let Ok(response) = response else { return };
                if response.status() != 200 {
                    return;
                }
                let Ok(answer) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let mut acked = acked.lock().unwrap();
                acked.push((answer["request_id"].as_i64().unwrap(), markers));
                if acked.len() == KILL_AFTER {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    server.kill();
    for c in clients {
        c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() >= KILL_AFTER);

    server.restart();
    let events = server.all_events("").await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *seen
            .entry(e["raw"]["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    // Nothing is ever stored twice, acknowledged or not.
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    // Every acknowledged event is there, and so is its request.
    let mut missing = Vec::new();
    for (request_id, markers) in &acked {
        for m in markers {
            if !seen.contains_key(m) {
                missing.push(m.clone());
            }
        }
        let (status, _) = server.api(&format!("/requests/{request_id}")).await;
        assert_eq!(status, 200, "acknowledged request {request_id} is missing");
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let acked_events: usize = acked.iter().map(|(_, m)| m.len()).sum();
    assert!(events.len() >= acked_events);

    // And the restarted server goes on accepting.
    let (status, _) = server.ingest("default", body(999, 0).0, &[]).await;
    assert_eq!(status, 200);
}
