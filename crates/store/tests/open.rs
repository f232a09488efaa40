//! Opening and closing the SQLite store: one writer process, clear errors for a damaged
//! or busy file, a clean close, and readers beside a running writer.

mod common;

use common::{HOUR_US, open, request};
use store::{SqliteConfig, SqliteStore, Store, StoreError};

fn open_err(dir: &std::path::Path) -> StoreError {
    match SqliteStore::open(SqliteConfig::in_data_dir(dir)) {
        Ok(_) => panic!("the store opened"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_second_writer_on_the_same_file_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first
        .append(request("alarms", &[r#"{"n":1}"#], HOUR_US), 0)
        .await
        .unwrap();
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&dir.path().join("mistgate.db").display().to_string()),
        "{text}"
    );
    assert!(text.contains("in use by another process"), "{text}");

    // A reader beside the writer is fine (mistgate replay).
    let reader = SqliteStore::open_read_only(SqliteConfig::in_data_dir(dir.path())).unwrap();
    assert_eq!(reader.stats().await.unwrap().rows[0].events, 1);
    let refused = reader
        .append(request("alarms", &[r#"{"n":2}"#], HOUR_US), 0)
        .await;
    assert!(
        matches!(refused, Err(StoreError::WriterGone)),
        "{refused:?}"
    );

    first.close().await.unwrap();
    drop(first);
    let again = open(dir.path());
    assert_eq!(again.stats().await.unwrap().rows[0].events, 1);
}

#[tokio::test]
async fn close_writes_what_was_queued_and_leaves_no_wal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path()));
    for n in 0..10 {
        let event = format!(r#"{{"before":{n}}}"#);
        store
            .append(request("alarms", &[event.as_str()], HOUR_US), 0)
            .await
            .unwrap();
    }
    let mut acknowledged = 10;
    let mut appends = Vec::new();
    for n in 0..50 {
        let store = store.clone();
        appends.push(tokio::spawn(async move {
            let event = format!(r#"{{"n":{n}}}"#);
            store
                .append(request("alarms", &[event.as_str()], HOUR_US), 0)
                .await
        }));
    }
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    for a in appends {
        match a.await.unwrap() {
            Ok(_) => acknowledged += 1,
            Err(StoreError::WriterGone) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let late = store
        .append(request("alarms", &[r#"{"late":1}"#], HOUR_US), 0)
        .await;
    assert!(matches!(late, Err(StoreError::WriterGone)), "{late:?}");
    drop(store);
    let wal = dir.path().join("mistgate.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL was folded into the database"
    );
    let reopened = open(dir.path());
    let stored: i64 = reopened
        .stats()
        .await
        .unwrap()
        .rows
        .iter()
        .map(|r| r.events)
        .sum();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged append, and only those"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_named_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mistgate.db");
    std::fs::write(&db, "this is not a database, ".repeat(400)).unwrap();
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("restore it from a backup"), "{text}");
    // Nothing was changed: the file is still what it was.
    assert!(
        std::fs::read_to_string(&db)
            .unwrap()
            .starts_with("this is not")
    );
}

#[test]
fn a_database_held_by_another_process_is_named_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    // Another program (not a mistgate: no lock file) holds the write lock.
    let other = rusqlite::Connection::open(dir.path().join("mistgate.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    other.execute_batch("COMMIT;").unwrap();
    drop(open(dir.path()));
}
