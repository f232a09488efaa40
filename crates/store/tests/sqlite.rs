//! The SQLite backend against the `Store` contract: the log.

mod common;

use bytes::Bytes;
use common::{HOUR_US, open, request};
use store::{
    EventFilter, NewQuarantine, Order, PageRequest, RequestFilter, Retention, SqliteConfig,
    SqliteStore, Store, Synchronous,
};

on_both_backends! {
    async fn appended_events_read_back_byte_exact(store) {
    let events = [
        r#"{"type":"AP_DISCONNECTED",  "mac": "5c5b350e55c8"}"#,
        r#"{ "b" : [1, 2.50, "é"] }"#,
    ];
    let appended = store
        .append(request("device-events", &events, 10 * HOUR_US), 0)
        .await
        .unwrap();
    assert_eq!(appended.accepted, 2);
    assert_eq!(appended.duplicates, 0);
    assert_eq!(appended.event_ids.len(), 2);

    for (id, raw) in appended.event_ids.iter().zip(events) {
        let e = store.event(*id).await.unwrap().expect("event stored");
        assert_eq!(std::str::from_utf8(&e.raw).unwrap(), raw);
        assert_eq!(e.request_id, appended.request_id);
        assert_eq!(e.topic, "device-events");
        assert_eq!(e.received_at, 10 * HOUR_US);
    }
    let detail = store
        .request(appended.request_id)
        .await
        .unwrap()
        .expect("request kept");
    assert!(String::from_utf8(detail.body).unwrap().contains(events[1]));
    assert_eq!(detail.event_ids, appended.event_ids);
    assert_eq!(
        detail.headers,
        vec![("user-agent".to_string(), "Mist-webhook".to_string())]
    );
    assert!(store.event(9_999).await.unwrap().is_none());
    }
}

on_both_backends! {
    async fn duplicates_inside_the_window_are_stored_once_and_counted(store) {
    let events = [r#"{"n":1}"#, r#"{"n":2}"#];
    let t0 = 100 * HOUR_US;
    let first = store
        .append(request("alarms", &events, t0), t0 - 24 * HOUR_US)
        .await
        .unwrap();
    let again = request("alarms", &[events[1], r#"{"n":3}"#], t0 + HOUR_US);
    let second = store
        .append(again, t0 + HOUR_US - 24 * HOUR_US)
        .await
        .unwrap();
    assert_eq!((second.accepted, second.duplicates), (1, 1));
    assert_eq!(
        second.event_ids[0], first.event_ids[1],
        "duplicate points at the original"
    );

    let all = store
        .events(EventFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
    let detail = store.request(second.request_id).await.unwrap().unwrap();
    assert_eq!(detail.duplicate_of, vec![first.event_ids[1]]);
    assert_eq!(detail.summary.duplicates, 1);

    // Past the window the same event is new again.
    let later = t0 + 30 * HOUR_US;
    let third = store
        .append(request("alarms", &[events[0]], later), later - 24 * HOUR_US)
        .await
        .unwrap();
    assert_eq!((third.accepted, third.duplicates), (1, 0));

    let stats = store.stats().await.unwrap();
    let row = &stats.rows[0];
    assert_eq!((row.requests, row.events, row.duplicates), (3, 4, 1));
    }
}

on_both_backends! {
    async fn concurrent_appends_get_distinct_ids_and_all_land(store) {
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let e1 = format!(r#"{{"i":{i},"k":1}}"#);
            let e2 = format!(r#"{{"i":{i},"k":2}}"#);
            store
                .append(request("zone", &[&e1, &e2], HOUR_US + i), 0)
                .await
                .unwrap()
        }));
    }
    let mut request_ids = Vec::new();
    let mut event_ids = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        request_ids.push(a.request_id);
        event_ids.extend(a.event_ids);
    }
    request_ids.sort();
    request_ids.dedup();
    event_ids.sort();
    event_ids.dedup();
    assert_eq!(request_ids.len(), 200);
    assert_eq!(event_ids.len(), 400);
    let page = PageRequest {
        limit: 1_000,
        ..PageRequest::default()
    };
    assert_eq!(
        store
            .events(EventFilter::default(), page)
            .await
            .unwrap()
            .items
            .len(),
        400
    );
    }
}

#[tokio::test]
async fn reopening_keeps_everything_and_ids_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let mut config = SqliteConfig::in_data_dir(dir.path());
        config.synchronous = Synchronous::Full;
        let store = SqliteStore::open(config).unwrap();
        store
            .append(request("audits", &[r#"{"a":1}"#], HOUR_US), 0)
            .await
            .unwrap()
    };
    let store = open(dir.path());
    assert!(store.event(first.event_ids[0]).await.unwrap().is_some());
    let second = store
        .append(request("audits", &[r#"{"a":2}"#], 2 * HOUR_US), 0)
        .await
        .unwrap();
    assert!(second.request_id > first.request_id);
    assert!(second.event_ids[0] > first.event_ids[0]);
}

on_both_backends! {
    async fn pages_are_stable_while_new_events_arrive(store) {
    for i in 0..25 {
        let e = format!(r#"{{"i":{i}}}"#);
        store
            .append(request("location", &[&e], HOUR_US + i), 0)
            .await
            .unwrap();
    }
    for order in [Order::Desc, Order::Asc] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .events(
                    EventFilter::default(),
                    PageRequest {
                        limit: 10,
                        after,
                        order,
                    },
                )
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|e| e.id));
            // Arrivals between pages must not shift what the next page holds.
            let e = format!(r#"{{"late":{}}}"#, seen.len());
            store
                .append(request("zone", &[&e], 2 * HOUR_US), 0)
                .await
                .unwrap();
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "no event twice ({order:?})");
        if order == Order::Desc {
            assert!(seen.windows(2).all(|w| w[0] > w[1]));
            assert_eq!(seen.len(), 25);
        } else {
            assert!(seen.windows(2).all(|w| w[0] < w[1]));
        }
    }
    }
}

on_both_backends! {
    async fn filters_narrow_the_event_list(store) {
    let mut r = request("alarms", &[r#"{"x":1}"#], HOUR_US);
    r.events[0].site_id = Some("site-2".into());
    r.events[0].mac = None;
    store.append(r, 0).await.unwrap();
    store
        .append(request("zone", &[r#"{"x":2}"#], 5 * HOUR_US), 0)
        .await
        .unwrap();
    let count = |f: EventFilter| {
        let store = store.clone();
        async move {
            store
                .events(f, PageRequest::default())
                .await
                .unwrap()
                .items
                .len()
        }
    };
    let by_topic = EventFilter {
        topic: Some("zone".into()),
        ..Default::default()
    };
    assert_eq!(count(by_topic).await, 1);
    let by_site = EventFilter {
        site_id: Some("site-2".into()),
        ..Default::default()
    };
    assert_eq!(count(by_site).await, 1);
    let by_mac = EventFilter {
        mac: Some("5c5b350e55c8".into()),
        ..Default::default()
    };
    assert_eq!(count(by_mac).await, 1);
    let by_time = EventFilter {
        since: Some(2 * HOUR_US),
        ..Default::default()
    };
    assert_eq!(count(by_time).await, 1);
    let nothing = EventFilter {
        until: Some(0),
        ..Default::default()
    };
    assert_eq!(count(nothing).await, 0);
    let requests = store
        .requests(
            RequestFilter {
                topic: Some("alarms".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(requests.items.len(), 1);
    }
}

on_both_backends! {
    async fn quarantine_keeps_bodies_that_are_not_json(store) {
    let body = Bytes::from_static(b"\xff\xfe not json");
    let id = store
        .quarantine(NewQuarantine {
            source: "hq".into(),
            received_at: HOUR_US,
            reason: "malformed_json".into(),
            detail: "expected value at line 1 column 1".into(),
            headers: vec![],
            body: body.clone(),
        })
        .await
        .unwrap();
    let page = store.quarantined(PageRequest::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, id);
    assert_eq!(page.items[0].body, body.to_vec());
    assert_eq!(store.stats().await.unwrap().quarantined, 1);
    }
}

on_both_backends! {
    async fn retention_prunes_old_rows_and_keeps_new_ones(store) {
    let old = store
        .append(request("alarms", &[r#"{"old":1}"#], HOUR_US), 0)
        .await
        .unwrap();
    let new = store
        .append(request("alarms", &[r#"{"new":1}"#], 50 * HOUR_US), 0)
        .await
        .unwrap();
    // A cut past the whole of the old event's day: PostgreSQL drops whole days only.
    let pruned = store
        .prune(Retention {
            data_before: Some(30 * HOUR_US),
            fingerprints_before: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        (pruned.requests, pruned.events, pruned.fingerprints),
        (1, 1, 1)
    );
    assert!(store.event(old.event_ids[0]).await.unwrap().is_none());
    assert!(store.request(old.request_id).await.unwrap().is_none());
    assert!(store.event(new.event_ids[0]).await.unwrap().is_some());
    // The pruned event's fingerprint is gone too: it arrives as new again.
    let back = store
        .append(request("alarms", &[r#"{"old":1}"#], 51 * HOUR_US), 0)
        .await
        .unwrap();
    assert_eq!(back.accepted, 1);
    store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn duplicate_detection_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = open(dir.path());
        let first = store
            .append(request("alarms", &[r#"{"k":1}"#, r#"{"k":2}"#], HOUR_US), 0)
            .await
            .unwrap();
        // As a stopping server does: a store dropped without it may still be closing on
        // its writer thread when the next one opens (SQLite then answers busy).
        store.close().await.unwrap();
        first
    };
    // The duplicate index lives in the writer's memory: it is rebuilt from the log.
    let store = open(dir.path());
    let again = store
        .append(
            request("alarms", &[r#"{"k":2}"#, r#"{"k":3}"#], 2 * HOUR_US),
            0,
        )
        .await
        .unwrap();
    assert_eq!((again.accepted, again.duplicates), (1, 1));
    assert_eq!(again.event_ids[0], first.event_ids[1]);
}

#[tokio::test]
async fn a_full_duplicate_index_forgets_the_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::in_data_dir(dir.path());
    config.synchronous = Synchronous::Off;
    config.dedup_capacity = 2;
    let store = SqliteStore::open(config).unwrap();
    for k in 0..3 {
        let e = format!(r#"{{"k":{k}}}"#);
        store
            .append(request("zone", &[&e], HOUR_US + k), 0)
            .await
            .unwrap();
    }
    let newest = store
        .append(request("zone", &[r#"{"k":2}"#], 2 * HOUR_US), 0)
        .await
        .unwrap();
    assert_eq!(newest.duplicates, 1, "the newest is still known");
    let oldest = store
        .append(request("zone", &[r#"{"k":0}"#], 2 * HOUR_US), 0)
        .await
        .unwrap();
    assert_eq!(
        oldest.accepted, 1,
        "the oldest was forgotten to stay within capacity"
    );
}

/// Walks every page of a MAC query and returns the ids.
async fn ids_for_mac(store: &SqliteStore, mac: &str, order: Order, limit: u32) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let filter = EventFilter {
            mac: Some(mac.into()),
            ..Default::default()
        };
        let page = store
            .events(
                filter,
                PageRequest {
                    limit,
                    after,
                    order,
                },
            )
            .await
            .unwrap();
        assert!(page.items.iter().all(|e| e.mac.as_deref() == Some(mac)));
        ids.extend(page.items.iter().map(|e| e.id));
        match page.next {
            Some(n) => after = Some(n),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn mac_queries_see_indexed_and_not_yet_indexed_events_alike() {
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &std::path::Path| {
        let mut c = SqliteConfig::in_data_dir(dir);
        c.synchronous = Synchronous::Off;
        c.mac_index_batch = 4; // flush often, so that both parts are exercised
        c
    };
    let macs = ["aa0000000001", "aa0000000002", "aa0000000003"];
    let mut expected: std::collections::HashMap<&str, Vec<i64>> = Default::default();
    {
        let store = SqliteStore::open(config(dir.path())).unwrap();
        for i in 0..23 {
            let e = format!(r#"{{"i":{i}}}"#);
            let mut r = request("location", &[&e], HOUR_US + i);
            let mac = macs[(i as usize * 7) % 3];
            r.events[0].mac = Some(mac.into());
            let a = store.append(r, 0).await.unwrap();
            expected.entry(mac).or_default().push(a.event_ids[0]);
        }
        for mac in macs {
            let want = &expected[mac];
            assert_eq!(
                &ids_for_mac(&store, mac, Order::Asc, 2).await,
                want,
                "{mac} asc"
            );
            let mut desc = want.clone();
            desc.reverse();
            assert_eq!(
                ids_for_mac(&store, mac, Order::Desc, 3).await,
                desc,
                "{mac} desc"
            );
        }
    }
    // After a restart the tail that was not indexed yet is picked up again.
    let store = SqliteStore::open(config(dir.path())).unwrap();
    let mut r = request("location", &[r#"{"late":1}"#], 2 * HOUR_US);
    r.events[0].mac = Some(macs[0].into());
    let late = store.append(r, 0).await.unwrap();
    expected.get_mut(macs[0]).unwrap().push(late.event_ids[0]);
    for mac in macs {
        assert_eq!(
            &ids_for_mac(&store, mac, Order::Asc, 100).await,
            &expected[mac],
            "{mac} after restart"
        );
    }
    assert!(
        ids_for_mac(&store, "bb0000000000", Order::Desc, 10)
            .await
            .is_empty()
    );
}
