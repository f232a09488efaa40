//! The correlation state on a real PostgreSQL cluster (one per test), against what the
//! SQLite backend answers (`tests/stage.rs`, `tests/device_history.rs`).

use pgtest::Cluster;

use super::*;

const ORG: &str = "org-1";

/// A throwaway cluster and a store on a database of its own (the cluster must outlive
/// the store).
async fn open() -> (Cluster, PgStore) {
    let (cluster, _, pg) = open_url().await;
    (cluster, pg)
}

/// As [`open`], with the database's URL (for a second instance on it).
async fn open_url() -> (Cluster, String, PgStore) {
    let cluster = Cluster::start();
    let url = cluster.database();
    let pg = PgStore::open(&url, None).await.unwrap();
    (cluster, url, pg)
}

fn device_row(mac: &str, site: &str, state: &str, since: i64) -> DeviceRow {
    DeviceRow {
        org_id: ORG.into(),
        mac: mac.into(),
        kind: "ap".into(),
        site_id: Some(site.into()),
        state: state.into(),
        since,
        record: format!(r#"{{"mac":"{mac}","state":"{state}"}}"#),
    }
}

fn incident_row(id: i64, state: &str, opened_at: i64) -> IncidentRow {
    IncidentRow {
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

fn incident_change(incident_id: i64, change: &str, at: i64) -> IncidentChange {
    IncidentChange {
        id: 0,
        incident_id,
        change: change.into(),
        at,
        record: format!(r#"{{"id":{incident_id},"change":"{change}"}}"#),
    }
}

/// Commits a batch of the correlation stage with these rows.
async fn commit(pg: &PgStore, commit: StageCommit) {
    stage_commit(
        pg,
        StageCommit {
            stage: "correlate".into(),
            ..commit
        },
    )
    .await
    .unwrap();
}

/// Commits device rows and their changes (the cursor is the last event).
async fn commit_devices(pg: &PgStore, devices: Vec<DeviceRow>, changes: Vec<DeviceHistoryRow>) {
    let cursor = changes.iter().filter_map(|c| c.event_id).max().unwrap_or(0);
    commit(
        pg,
        StageCommit {
            cursor,
            snapshot: b"{}".to_vec(),
            devices,
            device_changes: changes,
            at: 1,
            ..StageCommit::default()
        },
    )
    .await;
}

fn page(limit: u32, after: Option<i64>, order: Order) -> PageRequest {
    PageRequest {
        limit,
        after,
        order,
    }
}

/// (mac, state, since) of each device of the board at `at`, in device order.
async fn board(pg: &PgStore, at: i64, filter: DeviceFilter) -> Vec<(String, String, i64)> {
    devices_at(pg, at, filter)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.mac, d.state, d.since))
        .collect()
}

fn entry(mac: &str, state: &str, since: i64) -> (String, String, i64) {
    (mac.into(), state.into(), since)
}

#[tokio::test]
async fn a_stage_batch_lands_whole_and_its_rows_are_queryable() {
    let (_cluster, pg) = open().await;
    assert_eq!(stage_load(&pg, "correlate").await.unwrap(), None);
    commit(
        &pg,
        StageCommit {
            cursor: 10,
            snapshot: b"snap-1".to_vec(),
            devices: vec![
                device_row("aa01", "site-1", "down", 5),
                device_row("aa02", "site-2", "up", 6),
            ],
            incidents: vec![incident_row(1, "open", 5)],
            at: 100,
            ..StageCommit::default()
        },
    )
    .await;
    let before = devices(&pg, DeviceFilter::default(), PageRequest::default())
        .await
        .unwrap();
    // A later batch updates rows in place and moves the cursor; a device named twice in
    // one batch ends as its last row says.
    commit(
        &pg,
        StageCommit {
            cursor: 12,
            snapshot: b"snap-2".to_vec(),
            devices: vec![
                device_row("aa01", "site-1", "down", 8),
                device_row("aa03", "site-2", "down", 7),
                device_row("aa01", "site-1", "up", 9),
            ],
            incidents: vec![incident_row(1, "resolved", 5), incident_row(2, "open", 11)],
            at: 200,
            ..StageCommit::default()
        },
    )
    .await;
    let state = stage_load(&pg, "correlate").await.unwrap().unwrap();
    assert_eq!(
        (state.cursor, state.snapshot.as_slice()),
        (12, &b"snap-2"[..])
    );
    assert_eq!(stage_load(&pg, "route").await.unwrap(), None);

    // Newest first by default: aa03 is the newest device, aa01 kept its place.
    let all = devices(&pg, DeviceFilter::default(), PageRequest::default())
        .await
        .unwrap();
    let macs: Vec<&str> = all.items.iter().map(|d| d.mac.as_str()).collect();
    assert_eq!(macs, ["aa03", "aa02", "aa01"]);
    assert_eq!(all.next, None);
    assert_eq!(before.items.len(), 2);
    assert_eq!(all.items[2], device_row("aa01", "site-1", "up", 9));

    // Paging, oldest first.
    let first = devices(&pg, DeviceFilter::default(), page(2, None, Order::Asc))
        .await
        .unwrap();
    let macs: Vec<&str> = first.items.iter().map(|d| d.mac.as_str()).collect();
    assert_eq!(macs, ["aa01", "aa02"]);
    assert!(first.next.is_some());
    let rest = devices(
        &pg,
        DeviceFilter::default(),
        page(2, first.next, Order::Asc),
    )
    .await
    .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].mac, "aa03");
    assert_eq!(rest.next, None);

    let up = devices(
        &pg,
        DeviceFilter {
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
    let other_org = DeviceFilter {
        org_id: Some("org-2".into()),
        ..Default::default()
    };
    let none = devices(&pg, other_org, PageRequest::default())
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let aa02 = device(&pg, "aa02").await.unwrap().unwrap();
    assert_eq!(aa02.site_id.as_deref(), Some("site-2"));
    assert!(device(&pg, "ffff").await.unwrap().is_none());

    let open_incidents = incidents(
        &pg,
        IncidentFilter {
            state: Some("open".into()),
            ..Default::default()
        },
        PageRequest::default(),
    )
    .await
    .unwrap();
    let ids: Vec<i64> = open_incidents.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, [2]);
    let first = incident(&pg, 1).await.unwrap().unwrap();
    assert_eq!(first, incident_row(1, "resolved", 5));
    assert_eq!(first.resolved_at, Some(6));
    assert!(incident(&pg, 3).await.unwrap().is_none());
    let recent = incidents(
        &pg,
        IncidentFilter {
            since: Some(10),
            ..Default::default()
        },
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(recent.items.len(), 1);
    let early = IncidentFilter {
        until: Some(10),
        kind: Some("device_down".into()),
        site_id: Some("site-1".into()),
        ..Default::default()
    };
    let early = incidents(&pg, early, PageRequest::default()).await.unwrap();
    assert_eq!(early.items.len(), 1);
    assert_eq!(early.items[0].id, 1);
    let paged = incidents(&pg, IncidentFilter::default(), page(1, None, Order::Desc))
        .await
        .unwrap();
    assert_eq!((paged.items[0].id, paged.next), (2, Some(2)));
    let rest = incidents(
        &pg,
        IncidentFilter::default(),
        page(1, Some(2), Order::Desc),
    )
    .await
    .unwrap();
    assert_eq!((rest.items[0].id, rest.next), (1, None));
}

#[tokio::test]
async fn incident_changes_are_read_after_a_cursor_in_commit_order() {
    let (_cluster, pg) = open().await;
    assert_eq!(last_incident_change(&pg).await.unwrap(), 0);
    assert!(incident_changes(&pg, 0, 10).await.unwrap().is_empty());
    commit(
        &pg,
        StageCommit {
            cursor: 1,
            incidents: vec![incident_row(1, "open", 5)],
            changes: vec![
                incident_change(1, "opened", 5),
                incident_change(1, "updated", 6),
            ],
            ..StageCommit::default()
        },
    )
    .await;
    commit(
        &pg,
        StageCommit {
            cursor: 2,
            incidents: vec![incident_row(1, "resolved", 5)],
            changes: vec![incident_change(1, "resolved", 7)],
            ..StageCommit::default()
        },
    )
    .await;
    let all = incident_changes(&pg, 0, 10).await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|c| c.change.as_str()).collect();
    assert_eq!(kinds, ["opened", "updated", "resolved"]);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let mut resolved = incident_change(1, "resolved", 7);
    resolved.id = all[2].id;
    assert_eq!(all[2], resolved);
    assert_eq!(last_incident_change(&pg).await.unwrap(), all[2].id);
    let after = incident_changes(&pg, all[0].id, 1).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].change, "updated");
    assert!(
        incident_changes(&pg, all[2].id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two instances committing at once: each commit's changes get consecutive ids in their
/// order, never interleaved with another commit's.
#[tokio::test]
async fn concurrent_commits_of_two_instances_do_not_interleave_their_ids() {
    let (_cluster, url, a) = open_url().await;
    let b = PgStore::open(&url, None).await.unwrap();
    let mut tasks = Vec::new();
    for (instance, pg) in [(0i64, a.clone()), (1, b)] {
        tasks.push(tokio::spawn(async move {
            for n in 0..10i64 {
                let batch = instance * 100 + n;
                let changes = (0..3)
                    .map(|k| incident_change(batch, "opened", k))
                    .collect();
                stage_commit(
                    &pg,
                    StageCommit {
                        stage: format!("stage-{instance}"),
                        cursor: n,
                        changes,
                        ..StageCommit::default()
                    },
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = incident_changes(&a, 0, 1_000).await.unwrap();
    assert_eq!(all.len(), 60);
    for batch in all.chunks(3) {
        let same: Vec<(i64, i64)> = batch.iter().map(|c| (c.incident_id, c.at)).collect();
        let id = batch[0].incident_id;
        assert_eq!(same, [(id, 0), (id, 1), (id, 2)], "{all:?}");
        assert!(batch.windows(2).all(|w| w[1].id == w[0].id + 1));
    }
    assert_eq!(last_incident_change(&a).await.unwrap(), all[59].id);
}

#[tokio::test]
async fn tallies_tiles_and_names_come_from_the_columns() {
    let (_cluster, pg) = open().await;
    assert!(device_tallies(&pg).await.unwrap().is_empty());
    let named = |mac: &str, site: &str, state: &str, name: Option<&str>| DeviceRow {
        record: match name {
            Some(n) => format!(r#"{{"mac":"{mac}","name":"{n}"}}"#),
            None => format!(r#"{{"mac":"{mac}"}}"#),
        },
        ..device_row(mac, site, state, 1)
    };
    let mut switch = named("bb01", "site-1", "down", Some("core"));
    switch.kind = "switch".into();
    commit(
        &pg,
        StageCommit {
            devices: vec![
                named("aa01", "site-1", "up", Some("lobby")),
                named("aa02", "site-1", "up", None),
                named("aa03", "site-2", "down", Some("attic")),
                switch,
            ],
            incidents: vec![
                incident_row(1, "open", 5),
                incident_row(2, "open", 6),
                incident_row(3, "resolved", 7),
            ],
            ..StageCommit::default()
        },
    )
    .await;
    let tally = |state: &str, kind: &str, site: &str, count: i64| Tally {
        state: state.into(),
        kind: kind.into(),
        site_id: Some(site.into()),
        count,
    };
    assert_eq!(
        device_tallies(&pg).await.unwrap(),
        [
            tally("down", "ap", "site-2", 1),
            tally("down", "switch", "site-1", 1),
            tally("up", "ap", "site-1", 2),
        ]
    );
    assert_eq!(
        incident_tallies(&pg).await.unwrap(),
        [
            tally("open", "device_down", "site-1", 2),
            tally("resolved", "device_down", "site-1", 1),
        ]
    );

    let tiles = device_tiles(&pg, DeviceFilter::default(), 10)
        .await
        .unwrap();
    let drawn: Vec<(&str, Option<&str>)> = tiles
        .iter()
        .map(|t| (t.mac.as_str(), t.name.as_deref()))
        .collect();
    assert_eq!(
        drawn,
        [
            ("aa01", Some("lobby")),
            ("aa02", None),
            ("aa03", Some("attic")),
            ("bb01", Some("core"))
        ]
    );
    assert!(tiles.windows(2).all(|w| w[0].device_id < w[1].device_id));
    assert_eq!(
        (
            tiles[3].kind.as_str(),
            tiles[3].state.as_str(),
            tiles[3].org_id.as_str()
        ),
        ("switch", "down", ORG)
    );
    let down = DeviceFilter {
        state: Some("down".into()),
        ..DeviceFilter::default()
    };
    let down: Vec<String> = device_tiles(&pg, down, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.mac)
        .collect();
    assert_eq!(down, ["aa03", "bb01"]);
    assert_eq!(
        device_tiles(&pg, DeviceFilter::default(), 2)
            .await
            .unwrap()
            .len(),
        2
    );

    // Names of the devices asked that have one; unknown ids are left out.
    let ids = vec![
        tiles[3].device_id,
        tiles[1].device_id,
        tiles[0].device_id,
        -5,
    ];
    assert_eq!(
        device_names(&pg, ids).await.unwrap(),
        [
            (tiles[0].device_id, "lobby".to_string()),
            (tiles[3].device_id, "core".to_string())
        ]
    );
    assert!(device_names(&pg, vec![]).await.unwrap().is_empty());
    // A new name in a later record is what the board reads.
    commit(
        &pg,
        StageCommit {
            devices: vec![named("aa02", "site-1", "up", Some("hall"))],
            ..StageCommit::default()
        },
    )
    .await;
    assert_eq!(
        device_names(&pg, vec![tiles[1].device_id]).await.unwrap(),
        [(tiles[1].device_id, "hall".to_string())]
    );
}

#[tokio::test]
async fn device_changes_are_appended_once_and_paged_newest_first() {
    let (_cluster, pg) = open().await;
    commit_devices(
        &pg,
        vec![
            device_row("aa01", "site-1", "down", 100),
            device_row("aa02", "site-1", "up", 110),
        ],
        vec![
            change("aa01", 100, "down", "down", 100, 1),
            change("aa02", 110, "up", "up", 110, 2),
        ],
    )
    .await;
    // The second batch repeats the first change (a stage rebuilt from the log), and a
    // change of its own twice.
    commit_devices(
        &pg,
        vec![device_row("aa01", "site-1", "up", 200)],
        vec![
            change("aa01", 100, "down", "down", 100, 1),
            change("aa01", 150, "restarted", "down", 100, 3),
            change("aa01", 200, "up", "up", 200, 4),
            change("aa01", 200, "up", "up", 200, 4),
            change("aa01", 200, "flap", "up", 200, 4),
        ],
    )
    .await;

    let first = device_history(&pg, ORG, "aa01", page(2, None, Order::Desc))
        .await
        .unwrap();
    let changes: Vec<(&str, i64)> = first
        .items
        .iter()
        .map(|r| (r.change.as_str(), r.at))
        .collect();
    assert_eq!(changes, [("flap", 200), ("up", 200)]);
    assert!(first.items[0].id > first.items[1].id);
    let rest = device_history(&pg, ORG, "aa01", page(2, first.next, Order::Desc))
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
    let asc = device_history(&pg, ORG, "aa01", page(10, None, Order::Asc))
        .await
        .unwrap();
    let events: Vec<Option<i64>> = asc.items.iter().map(|r| r.event_id).collect();
    assert_eq!(events, [Some(1), Some(3), Some(4), Some(4)]);
    assert_eq!(asc.items[0].change, "down");
    let other = device_history(&pg, ORG, "aa02", page(10, None, Order::Desc))
        .await
        .unwrap();
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.items[0].event_id, Some(2));
    let unknown = device_history(&pg, "org-2", "aa01", page(10, None, Order::Desc))
        .await
        .unwrap();
    assert!(unknown.items.is_empty());
}

#[tokio::test]
async fn the_board_at_a_time_is_each_devices_newest_change_by_then() {
    let (_cluster, pg) = open().await;
    commit_devices(
        &pg,
        vec![
            device_row("aa01", "site-1", "up", 300),
            device_row("aa02", "site-1", "down", 250),
            device_row("aa03", "site-2", "unknown", 400),
        ],
        vec![
            change("aa01", 100, "down", "down", 100, 1),
            change("aa01", 150, "restarted", "down", 100, 2),
            change("aa02", 200, "up", "up", 200, 3),
            change("aa02", 250, "down", "down", 250, 4),
            change("aa01", 300, "up", "up", 300, 5),
            // Two changes at one time: the later row wins.
            change("aa01", 300, "flap", "up", 300, 5),
        ],
    )
    .await;
    // A later commit with a change dated earlier than some others: event time decides.
    let mut first_seen = change("aa03", 120, "restarted", "unknown", 120, 6);
    first_seen.site_id = Some("site-2".into());
    commit_devices(&pg, vec![], vec![first_seen]).await;

    let all = DeviceFilter::default;
    assert_eq!(board(&pg, 99, all()).await, []);
    assert_eq!(board(&pg, 100, all()).await, [entry("aa01", "down", 100)]);
    assert_eq!(
        board(&pg, 160, all()).await,
        [entry("aa01", "down", 100), entry("aa03", "unknown", 120)]
    );
    assert_eq!(
        board(&pg, 260, all()).await,
        [
            entry("aa01", "down", 100),
            entry("aa02", "down", 250),
            entry("aa03", "unknown", 120)
        ]
    );
    let late = devices_at(&pg, 1_000, all()).await.unwrap();
    let states: Vec<(&str, &str, i64)> = late
        .iter()
        .map(|d| (d.mac.as_str(), d.state.as_str(), d.since))
        .collect();
    assert_eq!(
        states,
        [
            ("aa01", "up", 300),
            ("aa02", "down", 250),
            ("aa03", "unknown", 120)
        ]
    );
    // The row behind each entry is the device's newest: for aa01 the flap, not the up.
    let aa01 = device_history(&pg, ORG, "aa01", page(1, None, Order::Desc))
        .await
        .unwrap();
    assert_eq!(aa01.items[0].change, "flap");
    assert_eq!(late[0].change_id, aa01.items[0].id);
    assert!(late[0].device_id < late[1].device_id && late[1].device_id < late[2].device_id);
    let tiles = device_tiles(&pg, all(), 10).await.unwrap();
    assert_eq!(late[2].device_id, tiles[2].device_id);
    assert_eq!(late[2].site_id.as_deref(), Some("site-2"));
    assert_eq!(
        (late[0].org_id.as_str(), late[0].kind.as_str()),
        (ORG, "ap")
    );

    // Filters apply to the state and site as of that time.
    let down_then = || DeviceFilter {
        state: Some("down".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(
        board(&pg, 260, down_then()).await,
        [entry("aa01", "down", 100), entry("aa02", "down", 250)]
    );
    assert_eq!(
        board(&pg, 1_000, down_then()).await,
        [entry("aa02", "down", 250)]
    );
    let site2 = DeviceFilter {
        site_id: Some("site-2".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(
        board(&pg, 1_000, site2).await,
        [entry("aa03", "unknown", 120)]
    );
    let other_org = DeviceFilter {
        org_id: Some("org-2".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(board(&pg, 1_000, other_org).await, []);
    let switches = DeviceFilter {
        kind: Some("switch".into()),
        ..DeviceFilter::default()
    };
    assert_eq!(board(&pg, 1_000, switches).await, []);
}

#[tokio::test]
async fn target_state_is_remembered_and_replaced() {
    let (_cluster, pg) = open().await;
    assert_eq!(
        target_state(&pg, "slack", "incident:1").await.unwrap(),
        None
    );
    put_target_state(&pg, "slack", "incident:1", "ts-1", 10)
        .await
        .unwrap();
    put_target_state(&pg, "servicenow", "incident:1", "INC001", 10)
        .await
        .unwrap();
    assert_eq!(
        target_state(&pg, "slack", "incident:1")
            .await
            .unwrap()
            .as_deref(),
        Some("ts-1")
    );
    put_target_state(&pg, "slack", "incident:1", "ts-2", 20)
        .await
        .unwrap();
    assert_eq!(
        target_state(&pg, "slack", "incident:1")
            .await
            .unwrap()
            .as_deref(),
        Some("ts-2")
    );
    assert_eq!(
        target_state(&pg, "servicenow", "incident:1")
            .await
            .unwrap()
            .as_deref(),
        Some("INC001")
    );
    assert_eq!(
        target_state(&pg, "slack", "incident:2").await.unwrap(),
        None
    );
}

/// A batch that fails in its last statement leaves nothing of itself behind.
#[tokio::test]
async fn a_failed_commit_writes_nothing() {
    let (_cluster, pg) = open().await;
    let failed = stage_commit(
        &pg,
        StageCommit {
            // PostgreSQL's text holds no NUL: the stage's row, written last, fails.
            stage: "bad\0name".into(),
            cursor: 5,
            devices: vec![device_row("aa01", "site-1", "down", 1)],
            incidents: vec![incident_row(1, "open", 1)],
            changes: vec![incident_change(1, "opened", 1)],
            device_changes: vec![change("aa01", 1, "down", "down", 1, 1)],
            ..StageCommit::default()
        },
    )
    .await;
    assert!(failed.is_err());
    assert!(device(&pg, "aa01").await.unwrap().is_none());
    assert!(incident(&pg, 1).await.unwrap().is_none());
    assert_eq!(last_incident_change(&pg).await.unwrap(), 0);
    let history = device_history(&pg, ORG, "aa01", PageRequest::default())
        .await
        .unwrap();
    assert!(history.items.is_empty());
    // The same batch under a valid name lands whole.
    commit(
        &pg,
        StageCommit {
            cursor: 5,
            devices: vec![device_row("aa01", "site-1", "down", 1)],
            changes: vec![incident_change(1, "opened", 1)],
            ..StageCommit::default()
        },
    )
    .await;
    assert!(device(&pg, "aa01").await.unwrap().is_some());
    assert_eq!(incident_changes(&pg, 0, 10).await.unwrap().len(), 1);
}
