//! `store::postgres::import::copy` (what `mistgate migrate` runs) on a throwaway cluster:
//! a SQLite history with something in every table reads back the same through the
//! PostgreSQL backend; a second run copies nothing; an interrupted run resumes and
//! completes without duplicating; appends after the move get ids above the copied ones
//! and see the copied events as duplicates; a database holding other data is refused.

mod common;
#[path = "common/import_data.rs"]
mod import_data;

use std::sync::Mutex;

use store::postgres::PgStore;
use store::postgres::import::{self, ImportError, Options, Progress, Report};
use store::{
    AttemptFilter, AuditFilter, BatchFilter, DeviceFilter, EventFilter, IncidentFilter, Order,
    PageRequest, RequestFilter, SeriesQuery, SqliteStore, Store,
};

use import_data::{DAY_US, DAY0, DAY1, event, fill, open_sealed, sealer};

fn asc() -> PageRequest {
    PageRequest {
        limit: 1_000,
        after: None,
        order: Order::Asc,
    }
}

/// Everything a reader of the store can ask, answered as text (the answers' `Debug`), in
/// a fixed order; lists whose order a backend may choose are sorted.
async fn answers(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    let mut put = |what: &str, answer: String| out.push(format!("{what}: {answer}"));
    let events = store.events(EventFilter::default(), asc()).await.unwrap();
    put("events", format!("{:?}", events.items));
    for e in &events.items {
        put("event", format!("{:?}", store.event(e.id).await.unwrap()));
    }
    let requests = store
        .requests(RequestFilter::default(), asc())
        .await
        .unwrap();
    put("requests", format!("{:?}", requests.items));
    for r in &requests.items {
        put(
            "request",
            format!("{:?}", store.request(r.id).await.unwrap()),
        );
    }
    put(
        "quarantined",
        format!("{:?}", store.quarantined(asc()).await.unwrap().items),
    );
    let mut stats = store.stats().await.unwrap();
    stats
        .rows
        .sort_by(|a, b| (&a.source, &a.topic).cmp(&(&b.source, &b.topic)));
    put("stats", format!("{stats:?}"));
    let series = SeriesQuery {
        since: DAY0 - DAY_US,
        until: DAY1 + DAY_US,
        step_minutes: 1,
        topic: None,
        source: None,
    };
    put(
        "series",
        format!("{:?}", store.series(series).await.unwrap()),
    );
    for stage in ["correlation", "delivery"] {
        put(
            "stage",
            format!("{:?}", store.stage_load(stage).await.unwrap()),
        );
    }
    let devices = store.devices(DeviceFilter::default(), asc()).await.unwrap();
    put("devices", format!("{:?}", devices.items));
    for d in &devices.items {
        put(
            "device",
            format!("{:?}", store.device(&d.mac).await.unwrap()),
        );
        let history = store
            .device_history(&d.org_id, &d.mac, asc())
            .await
            .unwrap();
        put("device history", format!("{:?}", history.items));
    }
    let at = store
        .devices_at(DAY1, DeviceFilter::default())
        .await
        .unwrap();
    put("devices at", format!("{at:?}"));
    let incidents = store
        .incidents(IncidentFilter::default(), asc())
        .await
        .unwrap();
    put("incidents", format!("{:?}", incidents.items));
    put(
        "incident 1",
        format!("{:?}", store.incident(1).await.unwrap()),
    );
    put(
        "changes",
        format!("{:?}", store.incident_changes(0, 100).await.unwrap()),
    );
    let target = store.target_state("slack", "incident:1").await.unwrap();
    put("target state", format!("{target:?}"));
    put(
        "subscriptions",
        format!("{:?}", store.subscriptions(None).await.unwrap()),
    );
    let batches = store.batches(BatchFilter::default(), asc()).await.unwrap();
    put("batches", format!("{:?}", batches.items));
    for b in &batches.items {
        put("batch", format!("{:?}", store.batch(b.id).await.unwrap()));
    }
    put(
        "pending",
        format!("{:?}", store.pending_batches(0, 100).await.unwrap()),
    );
    put(
        "incident batches",
        format!("{:?}", store.incident_batches(1, 10).await.unwrap()),
    );
    let attempts = store
        .attempts(AttemptFilter::default(), asc())
        .await
        .unwrap();
    put("attempts", format!("{:?}", attempts.items));
    put("tokens", format!("{:?}", store.tokens().await.unwrap()));
    let audit = store.audit(AuditFilter::default(), asc()).await.unwrap();
    put("audit", format!("{:?}", audit.items));
    put("sources", format!("{:?}", store.sources().await.unwrap()));
    put(
        "backfill",
        format!("{:?}", store.backfill_marks().await.unwrap()),
    );
    out
}

/// A filled SQLite history in a temporary data dir, closed (its lock released), with
/// the reads it answers and the ids of its events.
async fn history() -> (tempfile::TempDir, Vec<String>, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_sealed(dir.path());
    let events = fill(&sqlite).await;
    let expected = answers(&sqlite).await;
    close(sqlite).await;
    (dir, expected, events)
}

async fn close(store: SqliteStore) {
    store.close().await.unwrap();
    drop(store);
}

async fn run(dir: &std::path::Path, pg: &PgStore, options: Options) -> Result<Report, ImportError> {
    import::copy(&import::database_in(dir), pg, &options, &|_| {}).await
}

#[tokio::test]
async fn a_history_reads_back_the_same_from_postgresql() {
    let (dir, expected, events) = history().await;
    let cluster = pgtest::Cluster::start();
    let pg = PgStore::open(&cluster.database(), Some(sealer()))
        .await
        .unwrap();

    let seen = Mutex::new(Vec::<Progress>::new());
    let db = import::database_in(dir.path());
    let started = std::time::Instant::now();
    let report = import::copy(&db, &pg, &Options::default(), &|p| {
        seen.lock().unwrap().push(p)
    })
    .await
    .unwrap();
    eprintln!(
        "copied {} rows in {:?} ({:?} in all)",
        report.copied(),
        report.elapsed,
        started.elapsed()
    );
    assert!(report.complete);
    assert!(report.counts_match(), "{:#?}", report.tables);
    let count = |table: &str| report.tables.iter().find(|t| t.table == table).unwrap();
    for (table, rows) in [
        ("requests", 4),
        ("events", 7),
        ("quarantine", 2),
        ("devices", 2),
        ("device_history", 3),
        ("incidents", 2),
        ("incident_changes", 2),
        ("subscriptions", 2),
        ("outbox", 3),
        ("outbox_incidents", 1),
        ("attempts", 2),
        ("tokens", 2),
        ("audit", 2),
        ("sources", 1),
        ("backfill", 1),
        ("stages", 2),
        ("target_state", 1),
        ("quarantine_total", 2),
        ("fingerprints", 7),
    ] {
        assert_eq!(count(table).postgres, rows, "{table}");
    }
    let seen = seen.into_inner().unwrap();
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (last.total, last.total));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));

    // The same reads, the same answers: ids, raw bytes, opened secrets and all.
    let got = answers(&pg).await;
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
    let subscription = pg.subscription("wh-1").await.unwrap().unwrap();
    assert!(
        subscription.record.contains("hmac-wh-1"),
        "opened with the same key"
    );

    // Again: nothing to copy, the counts still verified.
    let again = run(dir.path(), &pg, Options::default()).await.unwrap();
    assert!(
        again.complete && again.counts_match(),
        "{:#?}",
        again.tables
    );
    assert_eq!(again.copied(), 0, "{:#?}", again.tables);

    // Appends after the move: new ids above the copied ones, copied events duplicates.
    let last_event = *events.iter().max().unwrap();
    let raw = event("new-after-move");
    let new = pg
        .append(common::request("alarms", &[&raw], DAY1 + 3_600_000_000), 0)
        .await
        .unwrap();
    assert_eq!(new.accepted, 1);
    assert!(new.event_ids[0] > last_event, "{new:?} after {last_event}");
    let requests = pg.requests(RequestFilter::default(), asc()).await.unwrap();
    assert!(
        requests
            .items
            .iter()
            .filter(|r| r.id >= new.request_id)
            .count()
            == 1
    );
    let raw = event("a2");
    let repeat = pg
        .append(common::request("alarms", &[&raw], DAY1 + 3_600_000_001), 0)
        .await
        .unwrap();
    assert_eq!((repeat.accepted, repeat.duplicates), (0, 1));
    assert_eq!(repeat.event_ids, vec![events[1]]);
    drop(dir);
}

#[tokio::test]
async fn an_interrupted_copy_resumes_and_completes_without_duplicates() {
    let (dir, expected, _) = history().await;
    let cluster = pgtest::Cluster::start();
    let pg = PgStore::open(&cluster.database(), Some(sealer()))
        .await
        .unwrap();
    let small = |max_chunks| Options {
        chunk_rows: 2,
        max_chunks: Some(max_chunks),
    };
    let first = run(dir.path(), &pg, small(3)).await.unwrap();
    assert!(!first.complete);
    assert!(!first.counts_match());
    assert_eq!(
        first.copied(),
        6,
        "three chunks of two rows: {:#?}",
        first.tables
    );
    let second = run(dir.path(), &pg, small(4)).await.unwrap();
    assert!(!second.complete);
    // The events left (2 + 2 + 1), then the first chunk of quarantine.
    assert_eq!(second.copied(), 7, "{:#?}", second.tables);
    let rows = |table| second.tables.iter().find(|t| t.table == table).unwrap();
    assert_eq!(rows("events").postgres, 7, "{:#?}", second.tables);
    assert_eq!(rows("quarantine").postgres, 2, "{:#?}", second.tables);
    assert_eq!(rows("devices").postgres, 0, "{:#?}", second.tables);

    let last = run(
        dir.path(),
        &pg,
        Options {
            chunk_rows: 3,
            max_chunks: None,
        },
    )
    .await
    .unwrap();
    assert!(last.complete && last.counts_match(), "{:#?}", last.tables);
    assert_eq!(answers(&pg).await, expected);
}

#[tokio::test]
async fn a_database_holding_other_data_is_refused() {
    let (dir, _, _) = history().await;
    let cluster = pgtest::Cluster::start();
    let pg = PgStore::open(&cluster.database(), Some(sealer()))
        .await
        .unwrap();
    // A request received when this history's first was, with another event: the
    // requests look alike, the event's fingerprint tells them apart.
    let raw = event("not-from-this-history");
    pg.append(common::request("alarms", &[&raw], DAY0), 0)
        .await
        .unwrap();
    let error = run(dir.path(), &pg, Options::default()).await.unwrap_err();
    assert!(
        matches!(
            error,
            ImportError::Foreign {
                table: "events",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("did not come from"), "{error}");
    // Nothing was written.
    let events = pg.events(EventFilter::default(), asc()).await.unwrap();
    assert_eq!(events.items.len(), 1);
    assert!(pg.subscriptions(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_history_in_use_is_refused_and_the_key_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_sealed(dir.path());
    fill(&sqlite).await;
    let db = import::database_in(dir.path());
    let cluster = pgtest::Cluster::start();
    let pg = PgStore::open(&cluster.database(), None).await.unwrap();
    let error = run(dir.path(), &pg, Options::default()).await.unwrap_err();
    assert!(matches!(error, ImportError::InUse { .. }), "{error}");
    close(sqlite).await;

    use import::KeyCheck;
    assert_eq!(
        import::check_key(&db, Some(&sealer())).unwrap(),
        KeyCheck::Opens
    );
    let other = store::Sealer::new([7; 32]);
    assert_eq!(
        import::check_key(&db, Some(&other)).unwrap(),
        KeyCheck::DoesNotOpen
    );
    assert_eq!(import::check_key(&db, None).unwrap(), KeyCheck::NoKey);
}
