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
