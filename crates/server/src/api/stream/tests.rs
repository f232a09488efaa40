//! Tests of the event stream's parts: positions, parameters, and the filters against the
//! store's own queries.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::HeaderValue;
use store::{NewEvent, NewRequest, Store, Verdict};

use super::*;

fn query(pairs: &[(&str, &str)]) -> Params {
    Query(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

#[test]
fn positions_follow_the_documented_grammar() {
    let at = Position::parse("12.3").unwrap();
    assert_eq!(
        at,
        Position {
            event: 12,
            change: 3
        }
    );
    assert_eq!(at.id(), "12.3");
    let longest = format!("{0}.{0}", "9".repeat(18));
    assert_eq!(Position::parse(&longest).unwrap().id(), longest);
    for bad in [
        "",
        "5",
        "5.",
        ".5",
        "5.5.5",
        "-1.2",
        "+1.2",
        "a.b",
        " 1.2",
        "1.2 ",
        "1,2",
        "9999999999999999999.0",
        "0x1.2",
        "¤.1",
    ] {
        assert_eq!(Position::parse(bad), None, "{bad}");
    }
}

#[test]
fn last_event_id_wins_over_the_query_and_bad_ones_are_refused() {
    let mut headers = HeaderMap::new();
    let q = query(&[("last_event_id", "4.5")]);
    let from_query = resume_at(&headers, &q).unwrap();
    assert_eq!(
        from_query,
        Some(Position {
            event: 4,
            change: 5
        })
    );
    headers.insert("last-event-id", HeaderValue::from_static("7.8"));
    let from_header = resume_at(&headers, &q).unwrap();
    assert_eq!(
        from_header,
        Some(Position {
            event: 7,
            change: 8
        })
    );
    headers.insert("last-event-id", HeaderValue::from_static(""));
    assert_eq!(resume_at(&headers, &q).unwrap(), None, "empty is no id");
    assert_eq!(resume_at(&HeaderMap::new(), &query(&[])).unwrap(), None);
    headers.insert("last-event-id", HeaderValue::from_static("7"));
    let e = resume_at(&headers, &q).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_query"));
    assert!(e.to_string().starts_with("Last-Event-ID `7`"), "{e}");
    let e = resume_at(&HeaderMap::new(), &query(&[("last_event_id", "x.1")])).unwrap_err();
    assert!(e.to_string().starts_with("last_event_id `x.1`"), "{e}");
}

#[test]
fn flags_are_true_or_false() {
    assert!(flag(&query(&[]), "events").unwrap());
    assert!(flag(&query(&[("events", "true")]), "events").unwrap());
    assert!(!flag(&query(&[("events", "false")]), "events").unwrap());
    for bad in ["", "0", "no", "False"] {
        let e = flag(&query(&[("events", bad)]), "events").unwrap_err();
        assert_eq!(e.code(), "invalid_query", "{bad}");
    }
}

/// One event of the test log: topic, org, site, type, MAC, source and time.
type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    i64,
);

const ROWS: &[Row] = &[
    (
        "alarms",
        Some("o1"),
        Some("s1"),
        Some("device_down"),
        Some("aa0000000001"),
        "default",
        100,
    ),
    (
        "alarms",
        Some("o1"),
        Some("s2"),
        Some("device_up"),
        Some("aa0000000002"),
        "default",
        200,
    ),
    (
        "device-events",
        Some("o1"),
        Some("s1"),
        Some("AP_RESTARTED"),
        Some("aa0000000001"),
        "lab",
        300,
    ),
    ("audits", Some("o2"), None, None, None, "default", 400),
    (
        "device-events",
        None,
        Some("s1"),
        Some("device_down"),
        None,
        "lab",
        500,
    ),
];

/// Appends `rows` as one request per source, so that sources differ.
async fn log_of(store: &dyn Store, rows: &[Row]) {
    for (n, row) in rows.iter().enumerate() {
        let (topic, org, site, kind, mac, source, time) = *row;
        let body = format!("{{\"n\":{n}}}");
        let event = NewEvent {
            topic: topic.into(),
            org_id: org.map(Into::into),
            site_id: site.map(Into::into),
            event_type: kind.map(Into::into),
            mac: mac.map(Into::into),
            severity: None,
            time,
            time_source: "timestamp".into(),
            raw_offset: 0,
            raw_len: body.len() as u32,
            fingerprint: [n as u8; 16],
        };
        let request = NewRequest {
            source: source.into(),
            received_at: 1_000 + n as i64,
            topic: topic.into(),
            verdict: Verdict::Unsigned,
            headers: Vec::new(),
            body: body.into(),
            events: vec![event],
        };
        store.append(request, i64::MAX).await.unwrap();
    }
}

/// The in-memory filter and the store's query pick the same events, for each filter.
#[tokio::test]
async fn the_filter_matches_what_the_store_query_matches() {
    let dir = tempfile::tempdir().unwrap();
    let config = store::SqliteConfig::in_data_dir(dir.path());
    let store = store::SqliteStore::open(config).unwrap();
    log_of(&store, ROWS).await;
    let all = store.tail_all(0, PAGE).await.unwrap();
    assert_eq!(all.len(), ROWS.len());
    let s = |v: &str| Some(v.to_string());
    let filters = [
        EventFilter::default(),
        EventFilter {
            topic: s("alarms"),
            ..Default::default()
        },
        EventFilter {
            org_id: s("o1"),
            ..Default::default()
        },
        EventFilter {
            site_id: s("s1"),
            ..Default::default()
        },
        EventFilter {
            event_type: s("device_down"),
            ..Default::default()
        },
        EventFilter {
            mac: s("aa0000000001"),
            ..Default::default()
        },
        EventFilter {
            source: s("lab"),
            ..Default::default()
        },
        EventFilter {
            since: Some(200),
            until: Some(400),
            ..Default::default()
        },
        EventFilter {
            site_id: s("s1"),
            event_type: s("device_down"),
            ..Default::default()
        },
        EventFilter {
            org_id: s("nobody"),
            ..Default::default()
        },
    ];
    let asc = PageRequest {
        limit: 1000,
        after: None,
        order: Order::Asc,
    };
    for filter in filters {
        let queried: Vec<i64> = store
            .events(filter.clone(), asc)
            .await
            .unwrap()
            .items
            .iter()
            .map(|e| e.id)
            .collect();
        let filtered: Vec<i64> = all
            .iter()
            .filter(|e| matches(&filter, e))
            .map(|e| e.id)
            .collect();
        assert_eq!(filtered, queried, "{filter:?}");
    }
}

#[test]
fn incidents_are_narrowed_by_org_site_and_device() {
    let incident: correlate::Incident = serde_json::from_value(serde_json::json!({
        "id": 1, "key": "device_down:o1:aa0000000001", "kind": "device_down",
        "alarm_type": "device_down", "state": "open", "severity": "warn",
        "org_id": "o1", "site_id": "s1", "devices": ["aa0000000001"],
        "opened_at": 0, "last_seen_at": 0, "resolved_at": null, "summary": "",
        "suppressed": false, "silenced": false, "caused_by": null, "timeline": [],
        "event_ids": [1]
    }))
    .unwrap();
    let s = |v: &str| Some(v.to_string());
    let scope = |filter: EventFilter| IncidentScope::of(&filter).matches(&incident);
    assert!(scope(EventFilter::default()));
    assert!(scope(EventFilter {
        site_id: s("s1"),
        topic: s("audits"),
        ..Default::default()
    }));
    assert!(!scope(EventFilter {
        site_id: s("s2"),
        ..Default::default()
    }));
    assert!(!scope(EventFilter {
        org_id: s("o2"),
        ..Default::default()
    }));
    assert!(scope(EventFilter {
        mac: s("aa0000000001"),
        ..Default::default()
    }));
    assert!(!scope(EventFilter {
        mac: s("aa0000000002"),
        ..Default::default()
    }));
}
