//! The SQLite backend against the `Store` contract: what stages read and write.

mod common;

use common::{HOUR_US, request};
use store::PageRequest;

fn device_row(mac: &str, site: &str, state: &str, since: i64) -> store::DeviceRow {
    store::DeviceRow {
        org_id: "org-1".into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some(site.into()),
        state: state.into(),
        since,
        record: format!(r#"{{"mac":"{mac}","state":"{state}"}}"#),
    }
}

fn incident_row(id: i64, state: &str, opened_at: i64) -> store::IncidentRow {
    store::IncidentRow {
        id,
        key: format!("device_down:ap{id}"),
        kind: "device_down".into(),
        state: state.into(),
        site_id: Some("site-1".into()),
        opened_at,
        last_seen_at: opened_at,
        resolved_at: (state == "resolved").then_some(opened_at + 1),
        record: format!(r#"{{"id":{id},"state":"{state}"}}"#),
    }
}

on_both_backends! {
    async fn a_stage_batch_lands_whole_and_its_rows_are_queryable(store) {
    assert_eq!(store.stage_load("correlate").await.unwrap(), None);
    store
        .stage_commit(store::StageCommit {
            stage: "correlate".into(),
            cursor: 10,
            snapshot: b"snap-1".to_vec(),
            devices: vec![
                device_row("aa01", "site-1", "down", 5),
                device_row("aa02", "site-2", "up", 6),
            ],
            incidents: vec![incident_row(1, "open", 5)],
            changes: Vec::new(),
            device_changes: Vec::new(),
            at: HOUR_US,
        })
        .await
        .unwrap();
    // A later batch updates rows in place and moves the cursor.
    store
        .stage_commit(store::StageCommit {
            stage: "correlate".into(),
            cursor: 12,
            snapshot: b"snap-2".to_vec(),
            devices: vec![device_row("aa01", "site-1", "up", 9)],
            incidents: vec![incident_row(1, "resolved", 5), incident_row(2, "open", 11)],
            changes: Vec::new(),
            device_changes: Vec::new(),
            at: HOUR_US,
        })
        .await
        .unwrap();
    let state = store.stage_load("correlate").await.unwrap().unwrap();
    assert_eq!(
        (state.cursor, state.snapshot.as_slice()),
        (12, &b"snap-2"[..])
    );

    let all = store
        .devices(store::DeviceFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    let up = store
        .devices(
            store::DeviceFilter {
                state: Some("up".into()),
                site_id: Some("site-1".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(up.items.len(), 1);
    assert_eq!(up.items[0].since, 9);
    assert_eq!(
        store
            .device("aa02")
            .await
            .unwrap()
            .unwrap()
            .site_id
            .as_deref(),
        Some("site-2")
    );
    assert!(store.device("ffff").await.unwrap().is_none());

    let open_incidents = store
        .incidents(
            store::IncidentFilter {
                state: Some("open".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        open_incidents
            .items
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        vec![2]
    );
    let first = store.incident(1).await.unwrap().unwrap();
    assert_eq!(
        (first.state.as_str(), first.resolved_at),
        ("resolved", Some(6))
    );
    let recent = store
        .incidents(
            store::IncidentFilter {
                since: Some(10),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(recent.items.len(), 1);
    }
}

on_both_backends! {
    async fn a_tail_returns_only_the_topics_asked_and_how_far_it_read(store) {
    let a = store
        .append(request("alarms", &[r#"{"a":1}"#], HOUR_US), 0)
        .await
        .unwrap();
    for i in 0..5 {
        let e = format!(r#"{{"l":{i}}}"#);
        store
            .append(request("location", &[&e], HOUR_US + i), 0)
            .await
            .unwrap();
    }
    let last = store
        .append(request("location", &[r#"{"l":9}"#], 2 * HOUR_US), 0)
        .await
        .unwrap();
    let topics = vec!["alarms".to_string(), "device-events".to_string()];
    let (events, covered) = store.tail(0, topics.clone(), 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), a.event_ids);
    assert_eq!(
        covered, last.event_ids[0],
        "read past the location events it skipped"
    );
    let (events, again) = store.tail(covered, topics.clone(), 10).await.unwrap();
    assert!(events.is_empty());
    assert_eq!(again, covered);
    // A full page stops at its last event.
    let b = store
        .append(
            request("alarms", &[r#"{"a":2}"#, r#"{"a":3}"#], 3 * HOUR_US),
            0,
        )
        .await
        .unwrap();
    let (events, covered) = store.tail(last.event_ids[0], topics, 1).await.unwrap();
    assert_eq!((events.len(), covered), (1, b.event_ids[0]));
    }
}

on_both_backends! {
    async fn subscriptions_are_kept_per_scope_replaced_in_place_and_deleted(store) {
    let row = |id: &str, scope: &str, scope_id: &str, name: &str| store::SubscriptionRow {
        id: id.into(),
        scope: scope.into(),
        scope_id: scope_id.into(),
        record: format!(r#"{{"name":"{name}"}}"#),
        modified_at: HOUR_US,
    };
    store
        .put_subscription(row("w1", "org", "o1", "first"))
        .await
        .unwrap();
    store
        .put_subscription(row("w2", "site", "s1", "second"))
        .await
        .unwrap();
    store
        .put_subscription(row("w3", "org", "o1", "third"))
        .await
        .unwrap();
    let org = store
        .subscriptions(Some(("org".into(), "o1".into())))
        .await
        .unwrap();
    assert_eq!(
        org.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["w1", "w3"]
    );
    assert_eq!(store.subscriptions(None).await.unwrap().len(), 3);

    store
        .put_subscription(row("w1", "org", "o1", "renamed"))
        .await
        .unwrap();
    let w1 = store.subscription("w1").await.unwrap().unwrap();
    assert_eq!(w1.record, r#"{"name":"renamed"}"#);
    let org = store
        .subscriptions(Some(("org".into(), "o1".into())))
        .await
        .unwrap();
    assert_eq!(org[0].id, "w1", "a replaced subscription keeps its place");

    assert!(store.delete_subscription("w1").await.unwrap());
    assert!(!store.delete_subscription("w1").await.unwrap());
    assert!(store.subscription("w1").await.unwrap().is_none());
    // The log's own ids are untouched by all this.
    let a = store
        .append(request("alarms", &[r#"{"a":1}"#], HOUR_US), 0)
        .await
        .unwrap();
    assert_eq!(a.request_id, 1);
    }
}
