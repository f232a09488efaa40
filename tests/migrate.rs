//! `mistgate migrate --from DATA_DIR --to postgres://...`: a data dir filled by `mistgate
//! serve` moved into a throwaway cluster, the counts printed and matching, a second run
//! copying nothing, and `mistgate serve` on PostgreSQL (with the old key) answering the
//! same events and seeing a repeat of one as a duplicate.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use support::{Server, signed, site_alarm};

const SECRET: &str = "migrate-test-secret-0123456789";

fn config() -> String {
    format!("[[sources]]\nname = \"hq\"\nsecrets = [\"{SECRET}\"]\n")
}

fn migrate(data_dir: &std::path::Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("migrate")
        .arg("--from")
        .arg(data_dir)
        .arg("--to")
        .arg(url)
        .env_remove("MISTGATE_SECRET_KEY")
        .env_remove("MISTGATE_DATABASE_URL")
        .output()
        .expect("run mistgate migrate")
}

/// The printed row of `table`: rows in SQLite, in PostgreSQL, copied by this run.
fn counts(stdout: &str, table: &str) -> (i64, i64, i64) {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .unwrap_or_else(|| panic!("no line for {table} in:\n{stdout}"));
    let n: Vec<i64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|v| v.parse().expect("a count"))
        .collect();
    (n[0], n[1], n[2])
}

fn body(mac: &str, time: f64) -> Vec<u8> {
    site_alarm("o1", "s1", "device_down", &[mac], time, json!({}))
}

#[tokio::test]
async fn a_data_dir_moves_to_postgresql_and_serves_the_same_events() {
    let mut server = Server::start_with(Some(&config()));
    let bodies = [
        body("5c5b350e0001", 1_765_000_000.0),
        body("5c5b350e0002", 1_765_000_060.0),
        body("5c5b350e0003", 1_765_000_120.0),
    ];
    for b in &bodies {
        let sig = signed(SECRET, b);
        let (status, answer) = server
            .ingest("hq", b.clone(), &support::headers(&sig))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], 1, "{answer}");
    }
    let sig = signed(SECRET, &bodies[0]);
    let (_, again) = server
        .ingest("hq", bodies[0].clone(), &support::headers(&sig))
        .await;
    assert_eq!(again["duplicates"], 1, "{again}");
    // Unsigned: refused.
    assert_eq!(server.ingest("hq", bodies[1].clone(), &[]).await.0, 401);
    let before = server.all_events("").await;
    assert_eq!(before.len(), 3);
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");

    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let out = migrate(&server.data_dir, &url);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(counts(&stdout, "events"), (3, 3, 3), "{stdout}");
    assert_eq!(counts(&stdout, "requests"), (4, 4, 4), "{stdout}");
    assert_eq!(counts(&stdout, "fingerprints").1, 3, "{stdout}");
    for line in stdout.lines().skip(1) {
        let (sqlite, postgres, _) = counts(&stdout, line.split_whitespace().next().unwrap());
        assert_eq!(sqlite, postgres, "{line}");
    }
    assert!(stderr.contains("the counts match"), "{stderr}");
    // The key's source is named, the key never shown.
    let key_file = server.data_dir.join("secret.key");
    let key = std::fs::read_to_string(&key_file).expect("the data dir's key file");
    let key = key.trim();
    assert!(stderr.contains(&key_file.display().to_string()), "{stderr}");
    assert!(stderr.contains("MISTGATE_SECRET_KEY"), "{stderr}");
    assert!(!stdout.contains(key) && !stderr.contains(key));

    // Again: nothing copied, the counts verified.
    let out = migrate(&server.data_dir, &url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(counts(&stdout, "events"), (3, 3, 0), "{stdout}");
    assert_eq!(counts(&stdout, "requests"), (4, 4, 0), "{stdout}");

    let pg = Server::start_env(
        Some(&config()),
        &[
            ("MISTGATE_DATABASE_URL", &url),
            ("MISTGATE_SECRET_KEY", key),
        ],
    );
    let after = pg.all_events("").await;
    assert_eq!(after, before);
    // A repeat of a copied event is a duplicate of it; a new one comes after them.
    let sig = signed(SECRET, &bodies[2]);
    let (_, repeat) = pg
        .ingest("hq", bodies[2].clone(), &support::headers(&sig))
        .await;
    assert_eq!(repeat["duplicates"], 1, "{repeat}");
    let new = body("5c5b350e0004", 1_765_000_180.0);
    let sig = signed(SECRET, &new);
    let (status, answer) = pg.ingest("hq", new, &support::headers(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    let last = pg.all_events("").await;
    assert_eq!(last.len(), 4);
    let ids: Vec<i64> = last.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let copied_max = before
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(
        ids.iter().filter(|&&id| id > copied_max).count() == 1,
        "{ids:?}"
    );
    drop(cluster);
}
