//! Faults that real deployments meet, against the real binary: a full disk, a damaged or
//! busy database at start, stages watched in `/readyz` and `/metrics`, and SIGTERM.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Server, alarm_body, eventually, serve_refused};

/// A size-limited tmpfs the test mounts (as root), unmounted when dropped.
struct SmallFilesystem {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallFilesystem {
    fn mount(size: &str) -> Option<SmallFilesystem> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .ok()?;
        if !mounted.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a small tmpfs here (needs root): {}",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(SmallFilesystem { path, _dir: dir })
    }

    /// Writes a file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5a; 16 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // Byte by byte for the last partial chunk.
        while file.write_all(&[0x5a]).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// An alarm of about 6 KiB, so that a few fill what a full disk leaves.
fn padded_alarm(marker: &str) -> Vec<u8> {
    format!(
        r#"{{"topic":"alarms","events":[{{"id":"{marker}","type":"device_down","timestamp":1749998077,"pad":"{}"}}]}}"#,
        "p".repeat(6_000)
    )
    .into_bytes()
}

async fn post(server: &Server, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let response = server
        .client
        .post(server.url("/ingest/default"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST ingest");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.expect("a JSON answer");
    (status, retry_after, body)
}

async fn readyz(server: &Server) -> (u16, Value) {
    let response = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The ids of every stored alarm event, by reading the raw events back.
async fn stored_markers(server: &Server) -> Vec<String> {
    server
        .all_events("&topic=alarms")
        .await
        .iter()
        .map(|e| e["raw"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_full_disk_answers_503_loses_nothing_and_ingest_resumes_by_itself() {
    let Some(fs) = SmallFilesystem::mount("6m") else {
        return;
    };
    let server = Server::start_in(fs.path.join("data"), None);
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let marker = format!("before-{i}");
        let (status, _, body) = post(&server, padded_alarm(&marker)).await;
        assert_eq!(status, 200, "{body}");
        acknowledged.push(marker);
    }

    let filler = fs.fill();
    let mut refused = None;
    for i in 0..500 {
        let marker = format!("while-full-{i}");
        match post(&server, padded_alarm(&marker)).await {
            (200, _, _) => acknowledged.push(marker),
            answer => {
                refused = Some(answer);
                break;
            }
        }
    }
    let (status, retry_after, body) = refused.expect("a full disk must refuse ingest");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "disk_full", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("full"), "{body}");
    assert_eq!(retry_after.as_deref(), Some("30"));
    let (status, ready) = readyz(&server).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["reason"], "disk_full", "{ready}");

    // Everything acknowledged is still there, byte for byte readable.
    let stored = stored_markers(&server).await;
    assert_eq!(stored, acknowledged);

    // Space returns: readiness notices by itself, and ingest works without a restart.
    std::fs::remove_file(&filler).unwrap();
    eventually(
        Duration::from_secs(30),
        "/readyz to be ready again",
        || async {
            let (status, body) = readyz(&server).await;
            (status == 200).then_some(body)
        },
    )
    .await;
    let (status, _, body) = post(&server, padded_alarm("after")).await;
    assert_eq!(status, 200, "{body}");
    acknowledged.push("after".to_string());
    assert_eq!(stored_markers(&server).await, acknowledged);
}

#[tokio::test]
async fn a_damaged_database_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mistgate.db");
    std::fs::write(&db, "not a database; ".repeat(1_000)).unwrap();
    let (status, stdout, stderr) = serve_refused(dir.path());
    assert!(!status.success(), "exit status {status}");
    assert!(!stdout.contains("listening on"), "it served: {stdout}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(stderr.contains("restore it from a backup"), "{stderr}");
}

#[tokio::test]
async fn a_second_mistgate_on_the_same_data_dir_is_refused() {
    let mut first = Server::start();
    let (status, _) = first.ingest("default", alarm_body("kept"), &[]).await;
    assert_eq!(status, 200);
    let (status, stdout, stderr) = serve_refused(&first.data_dir);
    assert!(!status.success(), "exit status {status}");
    assert!(!stdout.contains("listening on"), "it served: {stdout}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(stderr.contains(&path_of_db(&first.data_dir)), "{stderr}");
    // The first one is untouched and still serves.
    assert!(first.is_running());
    assert_eq!(first.stats().await["totals"]["events"], 1);
}

fn path_of_db(data_dir: &Path) -> String {
    data_dir.join("mistgate.db").display().to_string()
}

#[tokio::test]
async fn readiness_and_metrics_show_every_stage_and_its_lag() {
    let server = Server::start();
    for i in 0..3 {
        let (status, _) = server
            .ingest("default", alarm_body(&format!("lag-{i}")), &[])
            .await;
        assert_eq!(status, 200);
    }
    server.correlated().await;
    let (status, ready) = readyz(&server).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    let stages: Vec<&str> = ready["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in ["correlation", "delivery", "pruner"] {
        assert!(stages.contains(&name), "{name} missing: {ready}");
    }
    let correlation = ready["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "correlation")
        .unwrap();
    assert_eq!(correlation["running"], true);
    assert_eq!(correlation["restarts"], 0);
    assert_eq!(correlation["position"], 3, "{correlation}");
    assert_eq!(correlation["lag_events"], 0, "{correlation}");
    let metrics = server.text("/metrics", false).await;
    for line in [
        "mistgate_stage_lag_events{stage=\"correlation\"} 0",
        "mistgate_stage_running{stage=\"correlation\"} 1",
        "mistgate_stage_lag_seconds{stage=\"delivery\"}",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }
}

/// A stage's committed cursor and the newest event id, read from the database file with
/// Python's sqlite3 (the server is stopped).
fn stage_cursor_and_head(data_dir: &Path, stage: &str) -> (i64, i64) {
    let script = "import sqlite3, sys\n\
c = sqlite3.connect(sys.argv[1])\n\
cursor = c.execute('SELECT cursor FROM stages WHERE name = ?', (sys.argv[2],)).fetchone()[0]\n\
head = c.execute('SELECT COALESCE(MAX(id), 0) FROM events').fetchone()[0]\n\
print(cursor, head)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(data_dir.join("mistgate.db"))
        .arg(stage)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut numbers = text.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[tokio::test]
async fn sigterm_finishes_what_is_in_flight_and_exits_0_within_10_s() {
    let mut server = Server::start();
    // Posts run while the signal arrives: each either is acknowledged (and must then be
    // stored) or fails to connect or is refused (and must not be).
    let client = server.client.clone();
    let url = server.url("/ingest/default");
    let sender = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for i in 0..10_000 {
            let marker = format!("term-{i}");
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .body(alarm_body(&marker))
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 200 => acknowledged.push(marker),
                _ => break,
            }
        }
        acknowledged
    });
    eventually(
        Duration::from_secs(30),
        "some acknowledged posts",
        || async {
            let n = server.stats().await["totals"]["events"]
                .as_i64()
                .unwrap_or(0);
            (n >= 20).then_some(())
        },
    )
    .await;
    // Events the correlation stage reads past without a commit (it does not read this
    // topic): at shutdown it writes the cursor it reached.
    for i in 0..5 {
        let body = format!(r#"{{"topic":"location","events":[{{"mac":"5c5b350e55c8","x":{i}}}]}}"#);
        let (status, _) = server.ingest("default", body, &[]).await;
        assert_eq!(status, 200);
    }
    let status = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
    let (cursor, head) = stage_cursor_and_head(&server.data_dir, "correlate");
    assert_eq!(
        cursor, head,
        "the correlation stage wrote the cursor it reached"
    );
    let acknowledged = sender.await.unwrap();
    assert!(acknowledged.len() >= 20);
    // Closed cleanly: the WAL was folded into the database.
    let wal = server.data_dir.join("mistgate.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the database was not closed cleanly"
    );
    server.restart();
    let stored: Vec<String> = server
        .all_events("&topic=alarms")
        .await
        .iter()
        .map(|e| e["raw"]["id"].as_str().unwrap().to_string())
        .collect();
    for marker in &acknowledged {
        assert!(
            stored.contains(marker),
            "{marker} was acknowledged but not stored"
        );
    }
}

#[tokio::test]
async fn a_source_gone_quiet_opens_an_incident_that_routes_and_resolves_when_traffic_resumes() {
    use support::receiver::{Received, Receiver};
    let receiver = Receiver::start().await;
    let config = format!(
        r#"
[[sources]]
name = "hq"
silent_after = "2s"

[delivery]
allow_private_targets = true
aggregation_window = "100ms"
retry_delays = ["100ms"]
retry_min_delay = "50ms"

[targets.noc]
type = "webhook"
url = "{}"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[routes]]
name = "quiet sources"
flow = "incident"
kinds = ["source_silent"]
targets = ["noc"]
"#,
        receiver.url("/noc")
    );
    let server = Server::start_with(Some(&config));
    let (status, first) = server.ingest("hq", alarm_body("one"), &[]).await;
    assert_eq!(status, 200, "{first}");
    let changes = |got: &[Received]| -> Vec<(String, Value)> {
        got.iter()
            .map(Received::json)
            .map(|b| {
                (
                    b["change"].as_str().unwrap_or("").to_string(),
                    b["incident"].clone(),
                )
            })
            .collect()
    };
    let got = receiver
        .wait_until(Duration::from_secs(30), "source_silent opened", |got| {
            changes(got).iter().any(|(c, _)| c == "opened")
        })
        .await;
    let (_, incident) = changes(&got).into_iter().next().unwrap();
    assert_eq!(incident["kind"], "source_silent", "{incident}");
    assert_eq!(incident["key"], "source_silent:hq");
    assert!(
        incident["summary"]
            .as_str()
            .unwrap()
            .contains("`hq` for 2s"),
        "{incident}"
    );
    let request = server
        .api_ok(&format!("/requests/{}", first["request_id"]))
        .await;
    let listed = server
        .api_ok("/incidents?kind=source_silent&state=open")
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let stored = &listed["items"][0];
    assert_eq!(stored["id"], incident["id"]);
    let received_at = server::parse_instant(request["received_at"].as_str().unwrap()).unwrap();
    let opened_at = server::parse_instant(stored["opened_at"].as_str().unwrap()).unwrap();
    assert_eq!(opened_at - received_at, 2_000_000, "opens at the deadline");

    // Traffic resumes: the incident resolves, and the receiver hears it.
    let (status, _) = server.ingest("hq", alarm_body("two"), &[]).await;
    assert_eq!(status, 200);
    let got = receiver
        .wait_until(Duration::from_secs(30), "source_silent resolved", |got| {
            changes(got).iter().any(|(c, _)| c == "resolved")
        })
        .await;
    let resolved = changes(&got)
        .into_iter()
        .find(|(c, _)| c == "resolved")
        .unwrap()
        .1;
    assert_eq!(resolved["id"], incident["id"]);
    assert_eq!(resolved["state"], "resolved");
}
