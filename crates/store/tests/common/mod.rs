//! Helpers shared by the store's integration tests.

#![allow(dead_code)]

use bytes::Bytes;
use store::{NewEvent, NewRequest, SqliteConfig, SqliteStore, Synchronous, Verdict};

pub const HOUR_US: i64 = 3_600_000_000;

pub fn open(dir: &std::path::Path) -> SqliteStore {
    let mut config = SqliteConfig::in_data_dir(dir);
    config.synchronous = Synchronous::Off;
    SqliteStore::open(config).expect("open store")
}

/// A request whose body holds `events` as a Mist envelope, with each event located in it.
pub fn request(topic: &str, events: &[&str], received_at: i64) -> NewRequest {
    let mut body = format!(r#"{{"topic": "{topic}", "events": ["#);
    let mut located = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push_str(", ");
        }
        located.push((body.len(), e.len()));
        body.push_str(e);
    }
    body.push_str("]}");
    NewRequest {
        source: "default".into(),
        received_at,
        topic: topic.into(),
        verdict: Verdict::Unsigned,
        headers: vec![("user-agent".into(), "Mist-webhook".into())],
        body: Bytes::from(body),
        events: located
            .iter()
            .zip(events)
            .map(|(&(offset, len), raw)| NewEvent {
                topic: topic.into(),
                org_id: Some("org-1".into()),
                site_id: Some("site-1".into()),
                event_type: Some("AP_DISCONNECTED".into()),
                mac: Some("5c5b350e55c8".into()),
                severity: None,
                time: received_at - 1_000_000,
                time_source: "timestamp".into(),
                raw_offset: offset as u32,
                raw_len: len as u32,
                fingerprint: fingerprint_of(raw),
            })
            .collect(),
    }
}

/// Tests only need distinct keys for distinct events.
pub fn fingerprint_of(raw: &str) -> [u8; 16] {
    let mut fp = [0u8; 16];
    for (i, b) in raw.bytes().enumerate() {
        fp[i % 16] = fp[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    fp
}

/// A store of one backend, with what keeps it alive (its data dir, or its cluster).
pub struct Opened {
    pub store: std::sync::Arc<dyn store::Store>,
    _dir: Option<tempfile::TempDir>,
    _cluster: Option<pgtest::Cluster>,
}

/// A new SQLite store in a temporary data dir.
pub async fn open_sqlite() -> Opened {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    Opened {
        store: std::sync::Arc::new(store),
        _dir: Some(dir),
        _cluster: None,
    }
}

/// A new PostgreSQL store on a cluster of its own (`initdb` + `postgres` on a free port).
pub async fn open_postgres() -> Opened {
    let cluster = pgtest::Cluster::start();
    let store = store::postgres::PgStore::open(&cluster.database(), None)
        .await
        .expect("open the PostgreSQL store");
    Opened {
        store: std::sync::Arc::new(store),
        _dir: None,
        _cluster: Some(cluster),
    }
}

/// One test body, run on both backends: `on_both_backends! { async fn name(store) { ... } }`
/// makes a module `name` with the tests `sqlite` and `postgres`, each giving the body a
/// new, empty store (`Arc<dyn Store>`).
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($store:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($store: std::sync::Arc<dyn store::Store>) $body

                #[tokio::test]
                async fn sqlite() {
                    let opened = common::open_sqlite().await;
                    body(opened.store.clone()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let opened = common::open_postgres().await;
                    body(opened.store.clone()).await;
                }
            }
        )*
    };
}
