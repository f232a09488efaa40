//! The correlation state on a real PostgreSQL cluster (one per test), checked against
//! what the SQLite backend answers (`tests/stage.rs`, `tests/device_history.rs`).

use pgtest::Cluster;

use super::*;

const ORG: &str = "org-1";

/// Awaits a store call that must succeed.
macro_rules! ok {
    ($call:expr) => {
        $call.await.unwrap()
    };
}

/// A throwaway cluster, the URL of a database of its own, and a store on it (the
/// cluster must outlive the store).
async fn open() -> (Cluster, String, PgStore) {
    let cluster = Cluster::start();
    let url = cluster.database();
    let pg = ok!(PgStore::open(&url, None));
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

/// A change of `mac` at `at` to `state` (since `since`), caused by event `event`.
fn change(
    mac: &str,
    at: i64,
    change: &str,
    state: &str,
    since: i64,
    event: i64,
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
        event_id: Some(event),
        note: format!("event {event}"),
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

/// An empty batch of the stage `correlate`, up to event `cursor`.
fn batch(cursor: i64) -> StageCommit {
    let stage = "correlate".to_string();
    StageCommit {
        stage,
        cursor,
        ..StageCommit::default()
    }
}

/// Commits device rows and their changes (the cursor is the last event).
async fn commit_devices(pg: &PgStore, devices: Vec<DeviceRow>, changes: Vec<DeviceHistoryRow>) {
    let mut b = batch(changes.iter().filter_map(|c| c.event_id).max().unwrap_or(0));
    (b.devices, b.device_changes) = (devices, changes);
    ok!(stage_commit(pg, b));
}

fn asc(limit: u32, after: Option<i64>) -> PageRequest {
    let order = Order::Asc;
    PageRequest {
        limit,
        after,
        order,
    }
}

fn desc(limit: u32, after: Option<i64>) -> PageRequest {
    let order = Order::Desc;
    PageRequest {
        limit,
        after,
        order,
    }
}

/// A device filter of (field, value) pairs; the fields are `org`, `site`, `kind`, `state`.
fn filter(terms: &[(&str, &str)]) -> DeviceFilter {
    let mut f = DeviceFilter::default();
    for (field, value) in terms {
        let slot = match *field {
            "org" => &mut f.org_id,
            "site" => &mut f.site_id,
            "kind" => &mut f.kind,
            "state" => &mut f.state,
            other => panic!("no device filter {other}"),
        };
        *slot = Some(value.to_string());
    }
    f
}

/// The MACs of a page of devices, and where the next page starts.
async fn macs(
    pg: &PgStore,
    terms: &[(&str, &str)],
    page: PageRequest,
) -> (Vec<String>, Option<i64>) {
    let page = ok!(devices(pg, filter(terms), page));
    (page.items.into_iter().map(|d| d.mac).collect(), page.next)
}

/// The ids of a page of incidents, and where the next page starts.
async fn incident_ids(
    pg: &PgStore,
    f: IncidentFilter,
    page: PageRequest,
) -> (Vec<i64>, Option<i64>) {
    let page = ok!(incidents(pg, f, page));
    (page.items.into_iter().map(|i| i.id).collect(), page.next)
}

/// (change, at) of device `mac`'s history, newest first, `limit` rows after `after`.
async fn history(pg: &PgStore, mac: &str, limit: u32, after: Option<i64>) -> Vec<(String, i64)> {
    let page = ok!(device_history(pg, ORG, mac, desc(limit, after)));
    page.items.into_iter().map(|r| (r.change, r.at)).collect()
}

/// (mac, state, since) of each device of the board at `at`, in device order.
async fn board(pg: &PgStore, at: i64, terms: &[(&str, &str)]) -> Vec<(String, String, i64)> {
    let board = ok!(devices_at(pg, at, filter(terms)));
    board
        .into_iter()
        .map(|d| (d.mac, d.state, d.since))
        .collect()
}

fn entry(mac: &str, state: &str, since: i64) -> (String, String, i64) {
    (mac.into(), state.into(), since)
}

fn strings<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_stage_batch_lands_whole_and_its_rows_are_queryable() {
    let (_cluster, _, pg) = open().await;
    assert_eq!(ok!(stage_load(&pg, "correlate")), None);
    let mut first = batch(10);
    first.snapshot = b"snap-1".to_vec();
    first.devices = vec![device_row("aa01", "site-1", "down", 5)];
    first.devices.push(device_row("aa02", "site-2", "up", 6));
    first.incidents = vec![incident_row(1, "open", 5)];
    ok!(stage_commit(&pg, first));
    // A later batch updates rows in place and moves the cursor; a device named twice in
    // one batch ends as its last row says, in the place of its first.
    let mut second = batch(12);
    second.snapshot = b"snap-2".to_vec();
    second.devices = vec![
        device_row("aa01", "site-1", "down", 8),
        device_row("aa03", "site-2", "down", 7),
        device_row("aa01", "site-1", "up", 9),
    ];
    second.incidents = vec![incident_row(1, "resolved", 5), incident_row(2, "open", 11)];
    ok!(stage_commit(&pg, second));
    let state = ok!(stage_load(&pg, "correlate")).unwrap();
    assert_eq!((state.cursor, &state.snapshot[..]), (12, &b"snap-2"[..]));
    assert_eq!(ok!(stage_load(&pg, "route")), None);

    // Newest first by default: aa03 is the newest device, aa01 kept its place.
    let all = ok!(devices(
        &pg,
        DeviceFilter::default(),
        PageRequest::default()
    ));
    assert_eq!(all.items[2], device_row("aa01", "site-1", "up", 9));
    let all = macs(&pg, &[], PageRequest::default()).await;
    assert_eq!(all, (strings(["aa03", "aa02", "aa01"]), None));
    // Paging, oldest first.
    let (first, next) = macs(&pg, &[], asc(2, None)).await;
    assert_eq!(first, strings(["aa01", "aa02"]));
    assert!(next.is_some());
    let rest = macs(&pg, &[], asc(2, next)).await;
    assert_eq!(rest, (strings(["aa03"]), None));
    // Filters.
    let up = ok!(devices(
        &pg,
        filter(&[("state", "up"), ("site", "site-1")]),
        desc(9, None)
    ));
    assert_eq!((up.items.len(), up.items[0].since), (1, 9));
    let none = macs(&pg, &[("org", "org-2")], desc(10, None)).await;
    assert_eq!(none, (strings([]), None));
    let site2 = macs(&pg, &[("kind", "ap"), ("site", "site-2")], asc(10, None)).await;
    assert_eq!(site2.0, strings(["aa02", "aa03"]));
    let aa02 = ok!(device(&pg, "aa02")).unwrap();
    assert_eq!(aa02.site_id.as_deref(), Some("site-2"));
    assert!(ok!(device(&pg, "ffff")).is_none());

    let state = |s: &str| IncidentFilter {
        state: Some(s.into()),
        ..Default::default()
    };
    let open = incident_ids(&pg, state("open"), desc(10, None)).await;
    assert_eq!(open, (vec![2], None));
    let none = incident_ids(&pg, state("acknowledged"), desc(10, None)).await;
    assert_eq!(none, (vec![], None));
    let first = ok!(incident(&pg, 1)).unwrap();
    assert_eq!(first, incident_row(1, "resolved", 5));
    assert_eq!(first.resolved_at, Some(6));
    assert!(ok!(incident(&pg, 3)).is_none());
    let since = IncidentFilter {
        since: Some(10),
        ..Default::default()
    };
    assert_eq!(incident_ids(&pg, since, desc(10, None)).await.0, [2]);
    let f = IncidentFilter {
        until: Some(10),
        kind: Some("device_down".into()),
        site_id: Some("site-1".into()),
        ..Default::default()
    };
    assert_eq!(incident_ids(&pg, f, desc(10, None)).await.0, [1]);
    let all = IncidentFilter::default;
    let newest = incident_ids(&pg, all(), desc(1, None)).await;
    assert_eq!(newest, (vec![2], Some(2)));
    let rest = incident_ids(&pg, all(), desc(1, Some(2))).await;
    assert_eq!(rest, (vec![1], None));
    let oldest_first = incident_ids(&pg, all(), asc(5, None)).await;
    assert_eq!(oldest_first, (vec![1, 2], None));
}

/// What the routing stage reads and keeps: incident changes after a cursor, in commit
/// order, and what its targets remember.
#[tokio::test]
async fn routing_reads_changes_after_a_cursor_and_keeps_target_state() {
    let (_cluster, _, pg) = open().await;
    assert_eq!(ok!(last_incident_change(&pg)), 0);
    assert!(ok!(incident_changes(&pg, 0, 10)).is_empty());
    let mut first = batch(1);
    first.incidents = vec![incident_row(1, "open", 5)];
    first.changes = vec![
        incident_change(1, "opened", 5),
        incident_change(1, "updated", 6),
    ];
    ok!(stage_commit(&pg, first));
    let mut second = batch(2);
    second.changes = vec![incident_change(1, "resolved", 7)];
    ok!(stage_commit(&pg, second));
    let all = ok!(incident_changes(&pg, 0, 10));
    let kinds: Vec<&str> = all.iter().map(|c| c.change.as_str()).collect();
    assert_eq!(kinds, ["opened", "updated", "resolved"]);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let mut resolved = incident_change(1, "resolved", 7);
    resolved.id = all[2].id;
    assert_eq!(all[2], resolved);
    assert_eq!(ok!(last_incident_change(&pg)), all[2].id);
    let after = ok!(incident_changes(&pg, all[0].id, 1));
    assert_eq!((after.len(), after[0].change.as_str()), (1, "updated"));
    assert!(ok!(incident_changes(&pg, all[2].id, 10)).is_empty());

    assert_eq!(ok!(target_state(&pg, "slack", "incident:1")), None);
    ok!(put_target_state(&pg, "slack", "incident:1", "ts-1", 10));
    ok!(put_target_state(&pg, "servicenow", "incident:1", "INC", 10));
    ok!(put_target_state(&pg, "slack", "incident:1", "ts-2", 20));
    let slack = ok!(target_state(&pg, "slack", "incident:1"));
    assert_eq!(slack.as_deref(), Some("ts-2"));
    let servicenow = ok!(target_state(&pg, "servicenow", "incident:1"));
    assert_eq!(servicenow.as_deref(), Some("INC"));
    assert_eq!(ok!(target_state(&pg, "slack", "incident:2")), None);
}

/// A commit waits for the state lock, whichever instance holds it; two instances
/// committing at once get consecutive ids for each commit's changes, in their order.
#[tokio::test]
async fn commits_of_two_instances_take_turns_under_the_state_lock() {
    let (_cluster, url, a) = open().await;
    let b = ok!(PgStore::open(&url, None));
    let mut holder = ok!(a.pool().begin());
    let lock = sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(STATE_LOCK);
    ok!(lock.execute(&mut *holder));
    let other = b.clone();
    let waiting = tokio::spawn(async move { stage_commit(&other, batch(1)).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the commit waits for the lock");
    ok!(holder.commit());
    waiting.await.unwrap().unwrap();
    assert_eq!(ok!(stage_load(&a, "correlate")).unwrap().cursor, 1);

    let mut tasks = Vec::new();
    for (instance, pg) in [(0i64, a.clone()), (1, b)] {
        tasks.push(tokio::spawn(async move {
            for n in 0..10i64 {
                // A commit is named by its incident id; its changes by their times.
                let mut commit = batch(n);
                commit.stage = format!("stage-{instance}");
                let incident = instance * 100 + n;
                let changes = (0..3).map(|k| incident_change(incident, "opened", k));
                commit.changes = changes.collect();
                ok!(stage_commit(&pg, commit));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = ok!(incident_changes(&a, 0, 1_000));
    assert_eq!(all.len(), 60);
    for batch in all.chunks(3) {
        let id = batch[0].incident_id;
        let rows: Vec<(i64, i64)> = batch.iter().map(|c| (c.incident_id, c.at)).collect();
        assert_eq!(rows, [(id, 0), (id, 1), (id, 2)], "{all:?}");
        assert!(batch.windows(2).all(|w| w[1].id == w[0].id + 1));
    }
    assert_eq!(ok!(last_incident_change(&a)), all[59].id);
}

#[tokio::test]
async fn tallies_tiles_and_names_come_from_the_columns() {
    let (_cluster, _, pg) = open().await;
    assert!(ok!(device_tallies(&pg)).is_empty());
    let named = |mac: &str, site: &str, state: &str, name: Option<&str>| {
        let mut d = device_row(mac, site, state, 1);
        if let Some(name) = name {
            d.record = format!(r#"{{"mac":"{mac}","name":"{name}"}}"#);
        }
        d
    };
    let mut switch = named("bb01", "site-1", "down", Some("core"));
    switch.kind = "switch".into();
    let mut b = batch(1);
    b.devices = vec![
        named("aa01", "site-1", "up", Some("lobby")),
        named("aa02", "site-1", "up", None),
        named("aa03", "site-2", "down", Some("attic")),
        switch,
    ];
    b.incidents = vec![incident_row(1, "open", 5), incident_row(2, "open", 6)];
    b.incidents.push(incident_row(3, "resolved", 7));
    ok!(stage_commit(&pg, b));
    let tally = |state: &str, kind: &str, site: &str, count: i64| {
        let (state, kind, site_id) = (state.into(), kind.into(), Some(site.into()));
        (state, kind, site_id, count)
    };
    let as_tuple = |t: Tally| (t.state, t.kind, t.site_id, t.count);
    let devices: Vec<_> = ok!(device_tallies(&pg)).into_iter().map(as_tuple).collect();
    let expected = [
        tally("down", "ap", "site-2", 1),
        tally("down", "switch", "site-1", 1),
        tally("up", "ap", "site-1", 2),
    ];
    assert_eq!(devices, expected);
    let incidents: Vec<_> = ok!(incident_tallies(&pg))
        .into_iter()
        .map(as_tuple)
        .collect();
    let expected = [
        tally("open", "device_down", "site-1", 2),
        tally("resolved", "device_down", "site-1", 1),
    ];
    assert_eq!(incidents, expected);

    let tiles = ok!(device_tiles(&pg, DeviceFilter::default(), 10));
    let drawn: Vec<_> = tiles
        .iter()
        .map(|t| (t.mac.as_str(), t.name.as_deref()))
        .collect();
    let expected = [
        ("aa01", Some("lobby")),
        ("aa02", None),
        ("aa03", Some("attic")),
        ("bb01", Some("core")),
    ];
    assert_eq!(drawn, expected);
    assert!(tiles.windows(2).all(|w| w[0].device_id < w[1].device_id));
    let t = &tiles[3];
    let switch = (
        t.kind.as_str(),
        t.state.as_str(),
        t.org_id.as_str(),
        t.since,
    );
    assert_eq!(switch, ("switch", "down", ORG, 1));
    let down = ok!(device_tiles(&pg, filter(&[("state", "down")]), 10));
    let down: Vec<String> = down.into_iter().map(|t| t.mac).collect();
    assert_eq!(down, ["aa03", "bb01"]);
    assert_eq!(ok!(device_tiles(&pg, DeviceFilter::default(), 2)).len(), 2);

    // The names of the devices asked that have one; unknown ids are left out.
    let id = |i: usize| tiles[i].device_id;
    let names = ok!(device_names(&pg, vec![id(3), id(1), id(0), -5]));
    assert_eq!(names, [(id(0), "lobby".into()), (id(3), "core".into())]);
    assert!(ok!(device_names(&pg, vec![])).is_empty());
    // A new name in a later record is what the board reads.
    let mut b = batch(2);
    b.devices = vec![named("aa02", "site-1", "up", Some("hall"))];
    ok!(stage_commit(&pg, b));
    let hall = ok!(device_names(&pg, vec![id(1)]));
    assert_eq!(hall, [(id(1), "hall".to_string())]);
}

#[tokio::test]
async fn device_changes_are_appended_once_and_paged_newest_first() {
    let (_cluster, _, pg) = open().await;
    let devices = vec![device_row("aa01", "site-1", "down", 100)];
    let changes = vec![change("aa01", 100, "down", "down", 100, 1)];
    let aa02 = change("aa02", 110, "up", "up", 110, 2);
    commit_devices(&pg, devices, [changes, vec![aa02]].concat()).await;
    // The second batch repeats the first change (a stage rebuilt from the log), and one
    // of its own twice.
    let changes = vec![
        change("aa01", 100, "down", "down", 100, 1),
        change("aa01", 150, "restarted", "down", 100, 3),
        change("aa01", 200, "up", "up", 200, 4),
        change("aa01", 200, "up", "up", 200, 4),
        change("aa01", 200, "flap", "up", 200, 4),
    ];
    commit_devices(&pg, vec![device_row("aa01", "site-1", "up", 200)], changes).await;

    let row = |change: &str, at: i64| (change.to_string(), at);
    let first = ok!(device_history(&pg, ORG, "aa01", desc(2, None)));
    assert!(first.items[0].id > first.items[1].id);
    assert_eq!(
        history(&pg, "aa01", 2, None).await,
        [row("flap", 200), row("up", 200)]
    );
    let rest = ok!(device_history(&pg, ORG, "aa01", desc(2, first.next)));
    assert_eq!(rest.next, None);
    let rest_changes = history(&pg, "aa01", 2, first.next).await;
    assert_eq!(rest_changes, [row("restarted", 150), row("down", 100)]);
    // Every field comes back as written, with the id the store gave it.
    let mut restarted = change("aa01", 150, "restarted", "down", 100, 3);
    restarted.id = rest.items[0].id;
    assert_eq!(rest.items[0], restarted);
    // Oldest first on request; another device's history is its own.
    let all = ok!(device_history(&pg, ORG, "aa01", asc(10, None)));
    let events: Vec<Option<i64>> = all.items.iter().map(|r| r.event_id).collect();
    assert_eq!(events, [Some(1), Some(3), Some(4), Some(4)]);
    assert!(all.items.windows(2).all(|w| w[0].id < w[1].id));
    let other = ok!(device_history(&pg, ORG, "aa02", desc(10, None)));
    let events: Vec<Option<i64>> = other.items.iter().map(|r| r.event_id).collect();
    assert_eq!(events, [Some(2)]);
    let unknown = ok!(device_history(&pg, "org-2", "aa01", desc(10, None)));
    assert!(unknown.items.is_empty());
}

#[tokio::test]
async fn the_board_at_a_time_is_each_devices_newest_change_by_then() {
    let (_cluster, _, pg) = open().await;
    let devices = vec![
        device_row("aa01", "site-1", "up", 300),
        device_row("aa02", "site-1", "down", 250),
        device_row("aa03", "site-2", "unknown", 400),
    ];
    let changes = vec![
        change("aa01", 100, "down", "down", 100, 1),
        change("aa01", 150, "restarted", "down", 100, 2),
        change("aa02", 200, "up", "up", 200, 3),
        change("aa02", 250, "down", "down", 250, 4),
        change("aa01", 300, "up", "up", 300, 5),
        // Two changes at one time: the later row wins.
        change("aa01", 300, "flap", "up", 300, 5),
    ];
    commit_devices(&pg, devices, changes).await;
    // A later commit with a change dated earlier than some others: event time decides.
    let mut first_seen = change("aa03", 120, "restarted", "unknown", 120, 6);
    first_seen.site_id = Some("site-2".into());
    commit_devices(&pg, vec![], vec![first_seen]).await;

    let (aa01, aa02, aa03) = (
        entry("aa01", "down", 100),
        entry("aa02", "down", 250),
        entry("aa03", "unknown", 120),
    );
    assert_eq!(board(&pg, 99, &[]).await, []);
    assert_eq!(board(&pg, 100, &[]).await, std::slice::from_ref(&aa01));
    assert_eq!(board(&pg, 160, &[]).await, [aa01.clone(), aa03.clone()]);
    let at_260 = [aa01.clone(), aa02.clone(), aa03.clone()];
    assert_eq!(board(&pg, 260, &[]).await, at_260);
    let late = ok!(devices_at(&pg, 1_000, DeviceFilter::default()));
    let at_1000 = [entry("aa01", "up", 300), aa02.clone(), aa03.clone()];
    assert_eq!(board(&pg, 1_000, &[]).await, at_1000);
    // The row behind each entry is the device's newest: for aa01 the flap, not the up.
    let newest = ok!(device_history(&pg, ORG, "aa01", desc(1, None)));
    assert_eq!(newest.items[0].change, "flap");
    assert_eq!(late[0].change_id, newest.items[0].id);
    // Device ids are the device list's.
    let tiles = ok!(device_tiles(&pg, DeviceFilter::default(), 10));
    let ids: Vec<i64> = tiles.iter().map(|t| t.device_id).collect();
    assert_eq!(late.iter().map(|d| d.device_id).collect::<Vec<_>>(), ids);
    assert_eq!(late[2].site_id.as_deref(), Some("site-2"));
    assert_eq!(
        (late[0].org_id.as_str(), late[0].kind.as_str()),
        (ORG, "ap")
    );

    // Filters apply to the state and site as of that time.
    let down = [("state", "down")];
    assert_eq!(board(&pg, 260, &down).await, [aa01, aa02.clone()]);
    assert_eq!(board(&pg, 1_000, &down).await, [aa02]);
    assert_eq!(board(&pg, 1_000, &[("site", "site-2")]).await, [aa03]);
    assert_eq!(board(&pg, 1_000, &[("org", "org-2")]).await, []);
    assert_eq!(board(&pg, 1_000, &[("kind", "switch")]).await, []);
    assert_eq!(
        board(&pg, 1_000, &[("org", ORG), ("kind", "ap")])
            .await
            .len(),
        3
    );
}

/// A batch that fails in its last statement leaves nothing of itself behind.
#[tokio::test]
async fn a_failed_commit_writes_nothing() {
    let (_cluster, _, pg) = open().await;
    let full = |stage: &str| {
        let mut b = batch(5);
        b.stage = stage.into();
        b.devices = vec![device_row("aa01", "site-1", "down", 1)];
        b.incidents = vec![incident_row(1, "open", 1)];
        b.changes = vec![incident_change(1, "opened", 1)];
        b.device_changes = vec![change("aa01", 1, "down", "down", 1, 1)];
        b
    };
    // PostgreSQL's text holds no NUL: the stage's row, written last, fails.
    assert!(stage_commit(&pg, full("bad\0name")).await.is_err());
    assert!(ok!(device(&pg, "aa01")).is_none());
    assert!(ok!(incident(&pg, 1)).is_none());
    assert_eq!(ok!(last_incident_change(&pg)), 0);
    assert!(history(&pg, "aa01", 10, None).await.is_empty());
    // The same batch under a valid name lands whole.
    ok!(stage_commit(&pg, full("correlate")));
    assert!(ok!(device(&pg, "aa01")).is_some());
    assert!(ok!(incident(&pg, 1)).is_some());
    assert_eq!(ok!(incident_changes(&pg, 0, 10)).len(), 1);
    assert_eq!(history(&pg, "aa01", 10, None).await.len(), 1);
    assert_eq!(ok!(stage_load(&pg, "correlate")).unwrap().cursor, 5);
}
