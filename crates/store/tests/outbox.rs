//! The SQLite backend against the `Store` contract: the delivery outbox and attempts.

mod common;

use common::HOUR_US;
use store::{
    AttemptFilter, AttemptRecord, BatchFilter, BatchState, NewBatch, Order, OutboxCommit,
    PageRequest, ReplayRequest, Retention, SubscriptionRow,
};

fn batch(sub: &str, events: &[i64], at: i64) -> NewBatch {
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

fn page() -> PageRequest {
    PageRequest {
        limit: 100,
        after: None,
        order: Order::Asc,
    }
}

on_both_backends! {
    async fn batches_land_with_the_cursor_and_move_through_their_states(store) {
    let ids = store
        .outbox_commit(OutboxCommit {
            stage: Some(("deliver".into(), 42)),
            snapshot: Some(b"snap".to_vec()),
            batches: vec![batch("a", &[1, 2], 10), batch("b", &[2], 10)],
            at: 10,
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "ids grow in the commit's order");
    assert_eq!(
        store.stage_load("deliver").await.unwrap().unwrap().cursor,
        42
    );
    // A ping-like batch outside the stage leaves the cursor alone.
    store
        .outbox_commit(OutboxCommit {
            stage: None,
            snapshot: None,
            batches: vec![batch("a", &[], 11)],
            at: 11,
        })
        .await
        .unwrap();
    assert_eq!(
        store.stage_load("deliver").await.unwrap().unwrap().cursor,
        42
    );
    // A stage commit without a snapshot moves the cursor and keeps the snapshot.
    store
        .outbox_commit(OutboxCommit {
            stage: Some(("deliver".into(), 43)),
            snapshot: None,
            batches: Vec::new(),
            at: 12,
        })
        .await
        .unwrap();
    let state = store.stage_load("deliver").await.unwrap().unwrap();
    assert_eq!((state.cursor, &state.snapshot[..]), (43, &b"snap"[..]));
    let pending = store.pending_batches(0, 10).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(
        pending.iter().all(|b| b.body.is_empty()),
        "lists carry no bodies"
    );
    let full = store.batch(ids[0]).await.unwrap().unwrap();
    assert_eq!(full.event_ids, [1, 2]);
    assert_eq!(&full.body[..], br#"{"topic":"alarms","events":[[1, 2]]}"#);

    // A failure with a retry, then a success; b fails for good.
    store
        .record_attempts(vec![
            attempt(ids[0], "a", 1, false, BatchState::Pending, 100),
            attempt(ids[1], "b", 1, false, BatchState::Dead, 100),
        ])
        .await
        .unwrap();
    let a = store.batch(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (a.state, a.attempts, a.round_attempts, a.due_at),
        (BatchState::Pending, 1, 1, 5_000_100)
    );
    assert_eq!(
        (a.last_status, a.last_error.as_deref()),
        (Some(503), Some("HTTP 503"))
    );
    assert_eq!(
        (a.first_attempt_at, a.last_attempt_at),
        (Some(100), Some(100))
    );
    assert_eq!(store.batch(ids[1] + 100).await.unwrap(), None);
    store
        .record_attempts(vec![attempt(
            ids[0],
            "a",
            2,
            true,
            BatchState::Delivered,
            200,
        )])
        .await
        .unwrap();
    let pending = store.pending_batches(0, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|b| b.id).collect::<Vec<_>>(),
        [ids[1] + 1]
    );

    // Results per subscription, filtered and counted.
    let a_results = store
        .attempts(
            AttemptFilter {
                subscription_id: Some("a".into()),
                ..AttemptFilter::default()
            },
            page(),
        )
        .await
        .unwrap();
    assert_eq!(a_results.items.len(), 2);
    let failures = store
        .attempts(
            AttemptFilter {
                success: Some(false),
                ..AttemptFilter::default()
            },
            page(),
        )
        .await
        .unwrap();
    assert_eq!(failures.items.len(), 2);
    let counts = store
        .count_attempts(AttemptFilter::default(), "status".into())
        .await
        .unwrap();
    assert_eq!(
        counts,
        [("failure".to_string(), 2), ("success".to_string(), 1)]
    );

    // Replay: only dead batches, and only the subscription's own.
    let replay = |sub: &str, batch_id: Option<i64>| ReplayRequest {
        subscription_id: sub.into(),
        batch_id,
        since: None,
        until: None,
        now: 1_000,
    };
    assert_eq!(
        store
            .replay_batches(replay("a", Some(ids[1])))
            .await
            .unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(
        store
            .replay_batches(replay("a", Some(ids[0])))
            .await
            .unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(
        store.replay_batches(replay("b", None)).await.unwrap(),
        [ids[1]]
    );
    let b = store.batch(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (b.state, b.due_at, b.round_attempts, b.attempts),
        (BatchState::Pending, 1_000, 0, 1)
    );
    assert_eq!(
        b.first_attempt_at, None,
        "a replay starts a new round of retries"
    );
    }
}

on_both_backends! {
    async fn deleting_a_subscription_takes_its_batches_and_pruning_keeps_pending_ones(store) {
    for sub in ["keep", "drop"] {
        store
            .put_subscription(SubscriptionRow {
                id: sub.into(),
                scope: "org".into(),
                scope_id: "o".into(),
                record: "{}".into(),
                modified_at: 0,
            })
            .await
            .unwrap();
    }
    let ids = store
        .outbox_commit(OutboxCommit {
            stage: Some(("deliver".into(), 1)),
            snapshot: None,
            batches: vec![
                batch("keep", &[1], 0),
                batch("keep", &[2], 0),
                batch("drop", &[1], 0),
            ],
            at: 0,
        })
        .await
        .unwrap();
    store
        .record_attempts(vec![
            attempt(ids[0], "keep", 1, true, BatchState::Delivered, 1),
            attempt(ids[2], "drop", 1, true, BatchState::Delivered, 1),
        ])
        .await
        .unwrap();
    assert!(store.delete_subscription("drop").await.unwrap());
    let left = store.batches(BatchFilter::default(), page()).await.unwrap();
    assert_eq!(
        left.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [ids[0], ids[1]]
    );
    let results = store
        .attempts(AttemptFilter::default(), page())
        .await
        .unwrap();
    assert_eq!(results.items.len(), 1);

    let pruned = store
        .prune(Retention {
            data_before: Some(2 * HOUR_US),
            fingerprints_before: 0,
        })
        .await
        .unwrap();
    assert_eq!((pruned.batches, pruned.attempts), (1, 1));
    let left = store.batches(BatchFilter::default(), page()).await.unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(
        left.items[0].state,
        BatchState::Pending,
        "pending batches outlive retention"
    );
    }
}
