//! Secrets at rest: subscription records are sealed in the file and read back in clear;
//! a start with another key, or none, is refused with a clear error, never garbage.

use std::path::Path;

use store::{Sealer, SqliteConfig, SqliteStore, Store, StoreError, SubscriptionRow, Synchronous};

const SECRET: &str = "hmac-Secret-7f3a9c";
const HEADER: &str = "Bearer hdr-Token-42e1";

fn config(dir: &Path, key: Option<[u8; 32]>) -> SqliteConfig {
    let mut config = SqliteConfig::in_data_dir(dir);
    config.synchronous = Synchronous::Off;
    config.sealer = key.map(Sealer::new);
    config
}

fn open(dir: &Path, key: Option<[u8; 32]>) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(config(dir, key))
}

fn row(id: &str) -> SubscriptionRow {
    SubscriptionRow {
        id: id.into(),
        scope: "org".into(),
        scope_id: "org-1".into(),
        record: format!(
            r#"{{"id":"{id}","url":"https://example.com/hook","secret":"{SECRET}","headers":{{"Authorization":"{HEADER}"}}}}"#
        ),
        modified_at: 1,
    }
}

/// Every record column, as a connection of its own reads it from the file.
fn raw_records(dir: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(dir.join("mistgate.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, record FROM subscriptions ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn records_are_sealed_in_the_file_and_read_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = Sealer::generate_key();
    let store = open(dir.path(), Some(key)).unwrap();
    store.put_subscription(row("w1")).await.unwrap();
    store.put_subscription(row("w2")).await.unwrap();

    assert_eq!(store.subscription("w1").await.unwrap().unwrap(), row("w1"));
    assert_eq!(
        store.subscriptions(None).await.unwrap(),
        vec![row("w1"), row("w2")]
    );
    assert_eq!(
        store
            .subscriptions(Some(("org".into(), "org-1".into())))
            .await
            .unwrap(),
        vec![row("w1"), row("w2")]
    );

    let raw = raw_records(dir.path());
    assert_eq!(raw.len(), 2);
    for (id, record) in &raw {
        assert!(record.starts_with(store::seal::PREFIX), "{id}: {record}");
        assert!(!record.contains(SECRET) && !record.contains("hdr-Token"));
    }
    store.close().await.unwrap();
    drop(store);

    // The same key opens it again.
    let store = open(dir.path(), Some(key)).unwrap();
    assert_eq!(store.subscription("w2").await.unwrap().unwrap(), row("w2"));
}

#[tokio::test]
async fn another_key_or_none_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Some([1; 32])).unwrap();
    store.put_subscription(row("w1")).await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let err = open(dir.path(), Some([2; 32])).err().expect("another key");
    assert!(
        matches!(err, StoreError::SecretKeyMismatch { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("sealed with another key"), "{text}");
    assert!(text.contains("mistgate.db"), "{text}");

    let err = open(dir.path(), None).err().expect("no key");
    assert!(
        matches!(err, StoreError::SecretKeyMissing { .. }),
        "{err:?}"
    );

    // Neither attempt changed anything: the right key still reads the record.
    let store = open(dir.path(), Some([1; 32])).unwrap();
    assert_eq!(store.subscription("w1").await.unwrap().unwrap(), row("w1"));
}

#[tokio::test]
async fn a_first_start_with_a_key_and_no_subscriptions_records_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Some([1; 32])).unwrap();
    store.close().await.unwrap();
    drop(store);
    let err = open(dir.path(), Some([2; 32])).err().expect("another key");
    assert!(
        matches!(err, StoreError::SecretKeyMismatch { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_record_that_does_not_open_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Some([1; 32])).unwrap();
    store.put_subscription(row("w1")).await.unwrap();
    store.put_subscription(row("w2")).await.unwrap();

    // w1's sealed record copied onto w2: bound to w1, it does not open as w2's.
    let conn = rusqlite::Connection::open(dir.path().join("mistgate.db")).unwrap();
    conn.execute(
        "UPDATE subscriptions SET record = (SELECT record FROM subscriptions WHERE id = 'w1') WHERE id = 'w2'",
        [],
    )
    .unwrap();
    let err = store.subscription("w2").await.unwrap_err();
    assert!(matches!(err, StoreError::Unsealable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("webhook subscription w2"), "{text}");
    assert!(text.contains("does not open with this key"), "{text}");
    assert!(store.subscriptions(None).await.is_err());

    // A damaged one says so.
    conn.execute(
        "UPDATE subscriptions SET record = 'mgseal1:%%%' WHERE id = 'w2'",
        [],
    )
    .unwrap();
    let text = store.subscription("w2").await.unwrap_err().to_string();
    assert!(text.contains("damaged"), "{text}");
    assert_eq!(store.subscription("w1").await.unwrap().unwrap(), row("w1"));
}

#[tokio::test]
async fn a_reader_without_the_key_works_but_cannot_read_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Some([1; 32])).unwrap();
    store.put_subscription(row("w1")).await.unwrap();

    // `mistgate replay` opens read-only without a key, beside the server.
    let reader = SqliteStore::open_read_only(config(dir.path(), None)).unwrap();
    reader.stats().await.unwrap();
    let text = reader.subscription("w1").await.unwrap_err().to_string();
    assert!(text.contains("opened without a key"), "{text}");
}

#[tokio::test]
async fn without_a_key_records_stay_in_clear_and_a_later_key_seals_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), None).unwrap();
    store.put_subscription(row("w1")).await.unwrap();
    store.close().await.unwrap();
    drop(store);
    assert_eq!(raw_records(dir.path())[0].1, row("w1").record);

    let store = open(dir.path(), Some([3; 32])).unwrap();
    assert!(raw_records(dir.path())[0].1.starts_with("mgseal1:"));
    assert_eq!(store.subscription("w1").await.unwrap().unwrap(), row("w1"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_lock_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path(), Some([1; 32])).unwrap();
    let mode = std::fs::metadata(dir.path().join("mistgate.db.lock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
