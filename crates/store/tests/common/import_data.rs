//! A SQLite history with something in every table `mistgate migrate` copies, built
//! through the public `Store` API (for `postgres_import.rs`).

use bytes::Bytes;
use store::{
    Access, AttemptRecord, AuditRecord, Backfill, BackfillMark, BatchState, DeviceHistoryRow,
    DeviceRow, IncidentChange, IncidentRow, NewBatch, NewQuarantine, NewToken, OutboxCommit,
    Sealer, SourceRow, SqliteConfig, SqliteStore, StageCommit, Store, SubscriptionRow, Synchronous,
};

use crate::common::request;

pub const DAY_US: i64 = 86_400_000_000;
/// 2024-10-04 10:00 UTC: the first day of the history; the second is the day after.
pub const DAY0: i64 = 20_000 * DAY_US + 10 * 3_600_000_000;
pub const DAY1: i64 = DAY0 + DAY_US;

/// The key the history's secrets are sealed with.
pub fn sealer() -> Sealer {
    Sealer::new([42; 32])
}

/// A store in `dir` whose secrets are sealed with [`sealer`].
pub fn open_sealed(dir: &std::path::Path) -> SqliteStore {
    let mut config = SqliteConfig::in_data_dir(dir);
    config.synchronous = Synchronous::Off;
    config.sealer = Some(sealer());
    SqliteStore::open(config).expect("open store")
}

/// Event JSON with a marker of its own (a distinct fingerprint).
pub fn event(marker: &str) -> String {
    format!(r#"{{"type":"AP_DISCONNECTED","id":"{marker}"}}"#)
}

/// Fills `store`: requests and events on two days (one request repeating an event),
/// quarantine, a stage commit with devices, history, incidents and changes, target
/// state, two subscriptions, batches (one linked to an incident) and attempts, tokens,
/// audit records, a source and a backfill mark. Returns the ids of the events stored.
pub async fn fill(store: &SqliteStore) -> Vec<i64> {
    let mut events = Vec::new();
    let batches = [
        ("alarms", vec!["a1", "a2", "a3"], DAY0),
        ("device-events", vec!["d1"], DAY0 + 60_000_000),
        ("alarms", vec!["a4", "a5"], DAY1),
        // A repeat of a1 beside a new one: one duplicate.
        ("alarms", vec!["a1", "a6"], DAY1 + 120_000_000),
    ];
    for (topic, markers, at) in batches {
        let raws: Vec<String> = markers.iter().map(|m| event(m)).collect();
        let raws: Vec<&str> = raws.iter().map(String::as_str).collect();
        let appended = store.append(request(topic, &raws, at), 0).await.unwrap();
        for id in appended.event_ids {
            if !events.contains(&id) {
                events.push(id);
            }
        }
    }
    for (i, at) in [DAY0 + 5, DAY1 + 5].into_iter().enumerate() {
        store
            .quarantine(NewQuarantine {
                source: "default".into(),
                received_at: at,
                reason: "malformed_json".into(),
                detail: format!("expected value at line {i}"),
                headers: vec![("content-type".into(), "application/json".into())],
                body: Bytes::from_static(b"{not json"),
            })
            .await
            .unwrap();
    }

    let device = |mac: &str, state: &str| DeviceRow {
        org_id: "org-1".into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some("site-1".into()),
        state: state.into(),
        since: DAY0,
        record: format!(r#"{{"name":"AP {mac}","timeline":[]}}"#),
    };
    let change = |mac: &str, change: &str, state: &str, event_id: i64| DeviceHistoryRow {
        id: 0,
        org_id: "org-1".into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some("site-1".into()),
        at: DAY0,
        change: change.into(),
        state: state.into(),
        since: DAY0,
        event_id: Some(event_id),
        note: "AP_DISCONNECTED".into(),
    };
    let incident = |id: i64, state: &str| IncidentRow {
        id,
        key: format!("device_down:org-1:{id}"),
        kind: "device_down".into(),
        state: state.into(),
        site_id: Some("site-1".into()),
        opened_at: DAY0,
        last_seen_at: DAY1,
        resolved_at: (state == "resolved").then_some(DAY1),
        record: format!(r#"{{"id":{id},"state":"{state}"}}"#),
    };
    store
        .stage_commit(StageCommit {
            stage: "correlation".into(),
            cursor: events[3],
            snapshot: vec![1, 2, 3, 0, 255],
            devices: vec![device("5c5b350e0001", "down"), device("5c5b350e0002", "up")],
            incidents: vec![incident(1, "open"), incident(2, "resolved")],
            changes: vec![
                IncidentChange {
                    id: 0,
                    incident_id: 1,
                    change: "opened".into(),
                    at: DAY0,
                    record: r#"{"id":1}"#.into(),
                },
                IncidentChange {
                    id: 0,
                    incident_id: 2,
                    change: "resolved".into(),
                    at: DAY1,
                    record: r#"{"id":2}"#.into(),
                },
            ],
            device_changes: vec![
                change("5c5b350e0001", "down", "down", events[0]),
                change("5c5b350e0002", "down", "down", events[1]),
                change("5c5b350e0002", "up", "up", events[2]),
            ],
            at: DAY1,
        })
        .await
        .unwrap();
    store
        .put_target_state("slack", "incident:1", r#"{"ts":"1.2"}"#, DAY1)
        .await
        .unwrap();

    for (id, scope_id) in [("wh-1", "org-1"), ("wh-2", "site-1")] {
        store
            .put_subscription(SubscriptionRow {
                id: id.into(),
                scope: if id == "wh-1" { "org" } else { "site" }.into(),
                scope_id: scope_id.into(),
                record: format!(r#"{{"id":"{id}","secret":"hmac-{id}","url":"https://r/{id}"}}"#),
                modified_at: DAY0,
            })
            .await
            .unwrap();
    }
    let batch = |subscription: &str, ids: Vec<i64>, incidents: Vec<i64>, n: i64| NewBatch {
        subscription_id: subscription.into(),
        topic: "alarms".into(),
        event_ids: ids,
        incident_ids: incidents,
        body: Bytes::from(format!(r#"{{"topic":"alarms","n":{n}}}"#)),
        delivery_id: format!("delivery-{n}"),
        created_at: DAY1 + n,
    };
    let ids = store
        .outbox_commit(OutboxCommit {
            stage: Some(("delivery".into(), events[4])),
            snapshot: None,
            batches: vec![
                batch("wh-1", vec![events[2], events[0], events[1]], vec![], 1),
                batch("target:slack", vec![], vec![1], 2),
                batch("wh-2", vec![events[4]], vec![], 3),
            ],
            at: DAY1,
        })
        .await
        .unwrap();
    let attempt = |batch_id: i64, n: u32, success: bool, next: BatchState| AttemptRecord {
        batch_id,
        subscription_id: "wh-1".into(),
        topic: "alarms".into(),
        attempt: n,
        at: DAY1 + i64::from(n) * 1_000_000,
        success,
        status_code: Some(if success { 200 } else { 503 }),
        latency_us: 1_234,
        error: (!success).then(|| "503 Service Unavailable".into()),
        url: "https://r/wh-1".into(),
        request_headers: r#"{"X-Mist-Signature-v2":["<redacted>"]}"#.into(),
        request_body: r#"{"topic":"alarms"}"#.into(),
        response_headers: "{}".into(),
        response_body: "ok".into(),
        next_state: next,
        next_due_at: DAY1 + 60_000_000,
        first_attempt_at: DAY1 + 1_000_000,
    };
    store
        .record_attempts(vec![attempt(ids[0], 1, false, BatchState::Pending)])
        .await
        .unwrap();
    store
        .record_attempts(vec![attempt(ids[0], 2, true, BatchState::Delivered)])
        .await
        .unwrap();

    for (name, role) in [("ops", "operate"), ("admin", "admin")] {
        let mut hash = [0u8; 32];
        hash[..name.len()].copy_from_slice(name.as_bytes());
        store
            .create_token(NewToken {
                name: name.into(),
                role: role.into(),
                hash,
                created_at: DAY0,
                expires_at: None,
            })
            .await
            .unwrap();
    }
    store.revoke_token("ops", DAY1).await.unwrap();
    for (action, target) in [
        ("incident.ack", "incident/1"),
        ("webhook.update", "webhook/wh-1"),
    ] {
        store
            .append_audit(AuditRecord {
                at: DAY1,
                token: "admin".into(),
                client: "127.0.0.1".into(),
                action: action.into(),
                target: target.into(),
                status: 200,
                before: Some("{}".into()),
                after: None,
            })
            .await
            .unwrap();
    }
    store
        .put_source(SourceRow {
            name: "branch".into(),
            record: r#"{"name":"branch","secrets":["s3cret"]}"#.into(),
            created_at: DAY0,
            modified_at: DAY1,
        })
        .await
        .unwrap();
    store
        .put_backfill_mark(BackfillMark {
            org_id: "org-1".into(),
            kind: "alarms".into(),
            read_until: DAY1,
            recovered: 3,
        })
        .await
        .unwrap();
    events
}
