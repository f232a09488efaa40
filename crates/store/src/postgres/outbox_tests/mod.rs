//! The PostgreSQL outbox, subscriptions and attempts on a real cluster (one per test, see
//! `pgtest`), against what the SQLite backend does (`tests/outbox.rs`, `tests/secrets.rs`).

use pgtest::Cluster;

use super::*;
use crate::{NewBatch, Sealer, StoreError, seal};

/// A store on a database of its own; the cluster must outlive it.
async fn open(sealer: Option<Sealer>) -> (Cluster, PgStore) {
    let cluster = Cluster::start();
    let pg = PgStore::open(&cluster.database(), sealer).await.unwrap();
    (cluster, pg)
}

fn new_batch(sub: &str, events: &[i64], at: i64) -> NewBatch {
    NewBatch {
        subscription_id: sub.into(),
        topic: "alarms".into(),
        event_ids: events.to_vec(),
        incident_ids: Vec::new(),
        body: bytes::Bytes::from(format!(r#"{{"topic":"alarms","events":[{events:?}]}}"#)),
        delivery_id: format!("d-{sub}-{at}"),
        created_at: at,
    }
}

fn commit(batches: Vec<NewBatch>) -> OutboxCommit {
    OutboxCommit {
        stage: None,
        snapshot: None,
        batches,
        at: 0,
    }
}

fn attempt(
    batch_id: i64,
    sub: &str,
    n: u32,
    success: bool,
    next: BatchState,
    at: i64,
) -> AttemptRecord {
    AttemptRecord {
        batch_id,
        subscription_id: sub.into(),
        topic: "alarms".into(),
        attempt: n,
        at,
        success,
        status_code: Some(if success { 200 } else { 503 }),
        latency_us: 1_500,
        error: (!success).then(|| "HTTP 503".into()),
        url: "https://example.com/hook".into(),
        request_headers: "{}".into(),
        request_body: "{}".into(),
        response_headers: "{}".into(),
        response_body: "busy".into(),
        next_state: next,
        next_due_at: at + 5_000_000,
        first_attempt_at: at,
    }
}

fn asc(limit: u32, after: Option<i64>) -> PageRequest {
    PageRequest {
        limit,
        after,
        order: Order::Asc,
    }
}

fn replay(
    sub: &str,
    batch_id: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
) -> ReplayRequest {
    ReplayRequest {
        subscription_id: sub.into(),
        batch_id,
        since,
        until,
        now: 1_000,
    }
}

/// The ids of listed batches.
fn ids_of(rows: &[BatchRow]) -> Vec<i64> {
    rows.iter().map(|b| b.id).collect()
}

#[tokio::test]
async fn pending_batches_page_oldest_first_and_count_per_destination() {
    let (_cluster, pg) = open(None).await;
    let mut all = Vec::new();
    for (sub, at) in [
        ("w2", 30),
        ("w1", 20),
        ("target:slack", 50),
        ("w2", 10),
        ("w1", 40),
    ] {
        all.extend(
            outbox_commit(&pg, commit(vec![new_batch(sub, &[at], at)]))
                .await
                .unwrap(),
        );
    }
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "ids grow across commits: {all:?}"
    );
    record_attempts(
        &pg,
        vec![attempt(all[4], "w1", 1, true, BatchState::Delivered, 60)],
    )
    .await
    .unwrap();

    let first = pending_batches(&pg, 0, 2).await.unwrap();
    assert_eq!(ids_of(&first), all[..2]);
    let rest = pending_batches(&pg, first[1].id, 10).await.unwrap();
    assert_eq!(
        ids_of(&rest),
        all[2..4],
        "the delivered batch is not pending"
    );
    assert!(pending_batches(&pg, all[3], 10).await.unwrap().is_empty());

    assert_eq!(
        pending_by_destination(&pg).await.unwrap(),
        [
            ("target:slack".to_string(), 1, 50),
            ("w1".to_string(), 1, 20),
            ("w2".to_string(), 2, 10),
        ]
    );
}

#[tokio::test]
async fn attempts_are_filtered_paged_and_counted() {
    let (_cluster, pg) = open(None).await;
    let ids = outbox_commit(
        &pg,
        commit(vec![new_batch("a", &[1], 0), new_batch("b", &[2], 0)]),
    )
    .await
    .unwrap();
    let mut timeout = attempt(ids[0], "a", 1, false, BatchState::Pending, 100);
    timeout.status_code = None;
    timeout.error = Some("timed out after 10s (100% of the budget)".into());
    let mut other_topic = attempt(ids[1], "b", 1, false, BatchState::Pending, 150);
    other_topic.topic = "audits".into();
    record_attempts(
        &pg,
        vec![
            timeout,
            other_topic,
            attempt(ids[0], "a", 2, false, BatchState::Pending, 200),
            attempt(ids[0], "a", 3, true, BatchState::Delivered, 300),
        ],
    )
    .await
    .unwrap();

    let filtered = |filter: AttemptFilter| {
        let pg = pg.clone();
        async move {
            let page = attempts(&pg, filter, asc(100, None)).await.unwrap();
            page.items
                .iter()
                .map(|a| (a.record.subscription_id.clone(), a.record.at))
                .collect::<Vec<_>>()
        }
    };
    let a = |at: i64| ("a".to_string(), at);
    assert_eq!(
        filtered(AttemptFilter {
            subscription_id: Some("a".into()),
            ..Default::default()
        })
        .await,
        [a(100), a(200), a(300)]
    );
    assert_eq!(
        filtered(AttemptFilter {
            success: Some(false),
            ..Default::default()
        })
        .await,
        [a(100), ("b".into(), 150), a(200)]
    );
    assert_eq!(
        filtered(AttemptFilter {
            status_code: Some(200),
            ..Default::default()
        })
        .await,
        [a(300)]
    );
    assert_eq!(
        filtered(AttemptFilter {
            topic: Some("audits".into()),
            ..Default::default()
        })
        .await,
        [("b".to_string(), 150)]
    );
    assert_eq!(
        filtered(AttemptFilter {
            since: Some(150),
            until: Some(200),
            ..Default::default()
        })
        .await,
        [("b".to_string(), 150), a(200)]
    );
    // The error filter is a substring match, its % a plain character.
    assert_eq!(
        filtered(AttemptFilter {
            error: Some("503".into()),
            ..Default::default()
        })
        .await,
        [("b".into(), 150), a(200)]
    );
    assert_eq!(
        filtered(AttemptFilter {
            error: Some("100%".into()),
            ..Default::default()
        })
        .await,
        [a(100)]
    );
    assert!(
        filtered(AttemptFilter {
            error: Some("10%s".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Newest first by default, in pages.
    let newest = PageRequest {
        limit: 3,
        ..PageRequest::default()
    };
    let page = attempts(&pg, AttemptFilter::default(), newest)
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|a| a.record.at).collect::<Vec<_>>(),
        [300, 200, 150]
    );
    assert_eq!(page.next, Some(page.items[2].id));
    let last = attempts(
        &pg,
        AttemptFilter::default(),
        PageRequest {
            after: page.next,
            ..newest
        },
    )
    .await
    .unwrap();
    assert_eq!(
        last.items.iter().map(|a| a.record.at).collect::<Vec<_>>(),
        [100]
    );
    assert_eq!(last.next, None);
    let full = &last.items[0].record;
    assert_eq!(
        (full.status_code, full.attempt, full.latency_us),
        (None, 1, 1_500)
    );
    assert_eq!(
        (full.next_state, full.next_due_at),
        (BatchState::Pending, 5_000_100)
    );

    let counted = |distinct: &str, filter: AttemptFilter| {
        let (pg, distinct) = (pg.clone(), distinct.to_string());
        async move { count_attempts(&pg, filter, distinct).await.unwrap() }
    };
    let pairs = |p: &[(&str, i64)]| {
        p.iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counted("status", AttemptFilter::default()).await,
        pairs(&[("failure", 3), ("success", 1)])
    );
    assert_eq!(
        counted("status_code", AttemptFilter::default()).await,
        pairs(&[("503", 2), ("", 1), ("200", 1)])
    );
    assert_eq!(
        counted("topic", AttemptFilter::default()).await,
        pairs(&[("alarms", 3), ("audits", 1)])
    );
    assert_eq!(
        counted(
            "webhook_id",
            AttemptFilter {
                success: Some(false),
                ..Default::default()
            }
        )
        .await,
        pairs(&[("a", 2), ("b", 1)])
    );
}

mod lists;
