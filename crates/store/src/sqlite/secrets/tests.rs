//! A database from before sealing: its records are sealed at the first open with a key,
//! and no copy in clear is left in the file or its WAL.

use std::path::Path;

use rusqlite::Connection;

use crate::{Sealer, SqliteConfig, SqliteStore, Store, Synchronous};

const SECRETS: [&str; 3] = ["old-Secret-5d1e", "old-Splunk-8b2c", "old-Oauth-Pass-99"];

fn record(id: &str, n: usize) -> String {
    // Long enough for some records to spill to an overflow page.
    let padding = "p".repeat(n * 2_000);
    format!(
        r#"{{"id":"{id}","secret":"{}","splunk_token":"{}","oauth2_password":"{}","pad":"{padding}"}}"#,
        SECRETS[0], SECRETS[1], SECRETS[2]
    )
}

/// A database at schema version 11 holding three subscriptions in clear; `clean` closes
/// its connection (the WAL folded in), else it is left as a crash leaves it.
fn old_database(dir: &Path, clean: bool) {
    let mut conn = Connection::open(dir.join("mistgate.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    crate::sqlite::schema::migrate_to(&mut conn, 11).unwrap();
    for n in 0..3 {
        let id = format!("w{n}");
        conn.execute(
            "INSERT INTO subscriptions (id, scope, scope_id, record, modified_at) VALUES (?1, 'org', 'o', ?2, 1)",
            [&id, &record(&id, n)],
        )
        .unwrap();
    }
    if clean {
        drop(conn);
    } else {
        std::mem::forget(conn);
    }
}

/// Which of the secrets the database's files hold, in any of them.
fn found_in_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for name in ["mistgate.db", "mistgate.db-wal", "mistgate.db-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        for secret in SECRETS {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{secret} in {name}"));
            }
        }
    }
    found
}

async fn seals_an_old_database(clean: bool) {
    let dir = tempfile::tempdir().unwrap();
    old_database(dir.path(), clean);
    assert!(!found_in_files(dir.path()).is_empty(), "the test's premise");

    let mut config = SqliteConfig::in_data_dir(dir.path());
    config.synchronous = Synchronous::Off;
    config.sealer = Some(Sealer::new([9; 32]));
    let store = SqliteStore::open(config).unwrap();
    // Right after the open, before any close: nothing in clear anywhere.
    assert_eq!(found_in_files(dir.path()), Vec::<String>::new());
    for n in 0..3 {
        let id = format!("w{n}");
        let row = store.subscription(&id).await.unwrap().unwrap();
        assert_eq!(row.record, record(&id, n));
    }
    let conn = Connection::open(dir.path().join("mistgate.db")).unwrap();
    let clear: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM subscriptions WHERE record NOT LIKE 'mgseal1:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(clear, 0);
    drop(conn);
    store.close().await.unwrap();
    drop(store);
    assert_eq!(found_in_files(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_old_database_closed_cleanly_is_sealed_at_open() {
    seals_an_old_database(true).await;
}

#[tokio::test]
async fn an_old_database_left_by_a_crash_is_sealed_at_open_wal_included() {
    seals_an_old_database(false).await;
}
