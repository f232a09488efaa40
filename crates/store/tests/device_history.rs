//! The append-only device history: written with the stage commit, paged per device newest
//! first, the board as of any time, and kept by retention. (How migration 7 starts it
//! from an older database's device timelines is tested beside it, in
//! `sqlite/history.rs`: an older database is made there with the older migrations.)

mod common;

use common::HOUR_US;
use store::{
    DeviceAt, DeviceFilter, DeviceHistoryRow, DeviceRow, Order, PageRequest, Retention,
    StageCommit, Store,
};

const ORG: &str = "org-1";

fn device(mac: &str, site: &str, state: &str, since: i64) -> DeviceRow {
    DeviceRow {
        org_id: ORG.into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some(site.into()),
        state: state.into(),
        since,
        record: "{}".into(),
    }
}

/// A change of `mac` at `at` caused by event `event_id`.
fn change(
    mac: &str,
    at: i64,
    change: &str,
    state: &str,
    since: i64,
    event_id: i64,
) -> DeviceHistoryRow {
    DeviceHistoryRow {
        id: 0,
        org_id: ORG.into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some("site-1".into()),
        at,
        change: change.into(),
        state: state.into(),
        since,
        event_id: Some(event_id),
        note: format!("event {event_id}"),
    }
}

/// Commits a batch with these device rows and changes (the cursor is the last event).
async fn commit(store: &dyn Store, devices: Vec<DeviceRow>, changes: Vec<DeviceHistoryRow>) {
    let cursor = changes.iter().filter_map(|c| c.event_id).max().unwrap_or(0);
    store
        .stage_commit(StageCommit {
            stage: "correlate".into(),
            cursor,
            snapshot: b"{}".to_vec(),
            devices,
            device_changes: changes,
            at: HOUR_US,
            ..StageCommit::default()
        })
        .await
        .unwrap();
}

fn page(limit: u32, after: Option<i64>) -> PageRequest {
    PageRequest {
        limit,
        after,
        order: Order::Desc,
    }
}

/// (mac, state, since) of each device of the board at `at`, in device order.
async fn board(store: &dyn Store, at: i64, filter: DeviceFilter) -> Vec<(String, String, i64)> {
    store
        .devices_at(at, filter)
        .await
        .unwrap()
        .into_iter()
        .map(|d: DeviceAt| (d.mac, d.state, d.since))
        .collect()
}

fn entry(mac: &str, state: &str, since: i64) -> (String, String, i64) {
    (mac.into(), state.into(), since)
}

on_both_backends! {
    async fn changes_are_appended_with_the_commit_and_paged_newest_first(store) {
    commit(
                &*store,
        vec![
            device("aa01", "site-1", "down", 100),
            device("aa02", "site-1", "up", 110),
        ],
        vec![
            change("aa01", 100, "down", "down", 100, 1),
            change("aa02", 110, "up", "up", 110, 2),
        ],
    )
    .await;
    commit(
                &*store,
        vec![device("aa01", "site-1", "up", 200)],
        vec![
            change("aa01", 150, "restarted", "down", 100, 3),
            change("aa01", 200, "up", "up", 200, 4),
            change("aa01", 200, "flap", "up", 200, 4),
        ],
    )
    .await;

    let first = store
        .device_history(ORG, "aa01", page(2, None))
        .await
        .unwrap();
    let changes: Vec<(&str, i64)> = first
        .items
        .iter()
        .map(|r| (r.change.as_str(), r.at))
        .collect();
    assert_eq!(changes, [("flap", 200), ("up", 200)]);
    assert!(first.items[0].id > first.items[1].id);
    let rest = store
        .device_history(ORG, "aa01", page(2, first.next))
        .await
        .unwrap();
    let changes: Vec<(&str, i64)> = rest
        .items
        .iter()
        .map(|r| (r.change.as_str(), r.at))
        .collect();
    assert_eq!(changes, [("restarted", 150), ("down", 100)]);
    assert_eq!(rest.next, None);
    // Every field comes back as written, with the id the store gave it.
    let mut restarted = change("aa01", 150, "restarted", "down", 100, 3);
    restarted.id = rest.items[0].id;
    assert_eq!(rest.items[0], restarted);
    // Oldest first on request; another device's history is its own.
    let asc = store
        .device_history(
            ORG,
            "aa01",
            PageRequest {
                limit: 10,
                after: None,
                order: Order::Asc,
            },
        )
        .await
        .unwrap();
    assert_eq!(asc.items.len(), 4);
    assert_eq!(asc.items[0].change, "down");
    let other = store
        .device_history(ORG, "aa02", page(10, None))
        .await
        .unwrap();
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.items[0].event_id, Some(2));
    let unknown = store
        .device_history("org-2", "aa01", page(10, None))
        .await
        .unwrap();
    assert!(unknown.items.is_empty());
    }
}

on_both_backends! {
    async fn a_change_committed_again_is_not_added_again(store) {
    let down = change("aa01", 100, "down", "down", 100, 1);
    commit(
                &*store,
        vec![device("aa01", "site-1", "down", 100)],
        vec![down.clone()],
    )
    .await;
    // A stage that rebuilt its state from the log commits the same change once more, with
    // a new one beside it.
    commit(
                &*store,
        vec![device("aa01", "site-1", "up", 300)],
        vec![down, change("aa01", 300, "up", "up", 300, 9)],
    )
    .await;
    let all = store
        .device_history(ORG, "aa01", page(10, None))
        .await
        .unwrap();
    let events: Vec<Option<i64>> = all.items.iter().map(|r| r.event_id).collect();
    assert_eq!(events, [Some(9), Some(1)]);
    }
}

on_both_backends! {
    async fn the_board_at_a_time_is_each_devices_newest_change_by_then(store) {
    commit(
                &*store,
        vec![
            device("aa01", "site-1", "up", 300),
            device("aa02", "site-1", "down", 250),
            device("aa03", "site-2", "unknown", 400),
        ],
        vec![
            change("aa01", 100, "down", "down", 100, 1),
            // A restart while down: the state holds, and so does its start.
            change("aa01", 150, "restarted", "down", 100, 2),
            change("aa02", 200, "up", "up", 200, 3),
            change("aa02", 250, "down", "down", 250, 4),
            change("aa01", 300, "up", "up", 300, 5),
            // Two changes at one time: the later row wins.
            change("aa01", 300, "flap", "up", 300, 5),
        ],
    )
    .await;
    // A device first seen restarting, in a later commit, with a change dated earlier
    // than some of the others (event time decides, not commit order).
    let mut first_seen = change("aa03", 120, "restarted", "unknown", 120, 6);
    first_seen.site_id = Some("site-2".into());
    commit(&*store, vec![], vec![first_seen]).await;

    assert_eq!(board(&*store, 99, DeviceFilter::default()).await, []);
    assert_eq!(
        board(&*store, 100, DeviceFilter::default()).await,
        [entry("aa01", "down", 100)]
    );
    assert_eq!(
        board(&*store, 160, DeviceFilter::default()).await,
        [entry("aa01", "down", 100), entry("aa03", "unknown", 120)]
    );
    assert_eq!(
        board(&*store, 260, DeviceFilter::default()).await,
        [
            entry("aa01", "down", 100),
            entry("aa02", "down", 250),
            entry("aa03", "unknown", 120)
        ]
    );
    let late = store
        .devices_at(1_000, DeviceFilter::default())
        .await
        .unwrap();
    assert_eq!(
        late.iter()
            .map(|d| (d.mac.as_str(), d.state.as_str(), d.since))
            .collect::<Vec<_>>(),
        [
            ("aa01", "up", 300),
            ("aa02", "down", 250),
            ("aa03", "unknown", 120)
        ]
    );
    // The row behind each entry is the device's newest: for aa01 the flap, not the up.
    let aa01 = store
        .device_history(ORG, "aa01", page(1, None))
        .await
        .unwrap();
    assert_eq!(aa01.items[0].change, "flap");
    assert_eq!(late[0].change_id, aa01.items[0].id);
    assert!(late[0].device_id < late[1].device_id && late[1].device_id < late[2].device_id);
    assert_eq!(late[2].site_id.as_deref(), Some("site-2"));
    assert_eq!(
        (late[0].org_id.as_str(), late[0].kind.as_str()),
        (ORG, "ap")
    );

    // Filters apply to the state and site as of that time.
    let down_then = DeviceFilter {
        state: Some("down".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(
        board(&*store, 260, down_then.clone()).await,
        [entry("aa01", "down", 100), entry("aa02", "down", 250)]
    );
    assert_eq!(
        board(&*store, 1_000, down_then).await,
        [entry("aa02", "down", 250)]
    );
    let site2 = DeviceFilter {
        site_id: Some("site-2".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(
        board(&*store, 1_000, site2).await,
        [entry("aa03", "unknown", 120)]
    );
    let other_org = DeviceFilter {
        org_id: Some("org-2".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(board(&*store, 1_000, other_org).await, []);
    let switches = DeviceFilter {
        kind: Some("switch".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(board(&*store, 1_000, switches).await, []);
    }
}

on_both_backends! {
    async fn retention_keeps_the_history(store) {
    commit(
                &*store,
        vec![device("aa01", "site-1", "down", 100)],
        vec![change("aa01", 100, "down", "down", 100, 1)],
    )
    .await;
    store
        .prune(Retention {
            data_before: Some(1_000 * HOUR_US),
            fingerprints_before: 1_000 * HOUR_US,
        })
        .await
        .unwrap();
    let all = store
        .device_history(ORG, "aa01", page(10, None))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(
        board(&*store, 100, DeviceFilter::default()).await,
        [entry("aa01", "down", 100)]
    );
    }
}
