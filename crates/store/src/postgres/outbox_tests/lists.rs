//! The PostgreSQL outbox, continued: batch lists, replays, incident batches,
//! subscriptions and their sealing.

use super::*;

#[tokio::test]
async fn batch_lists_filter_and_page_both_ways() {
    let (_cluster, pg) = open(None).await;
    let mut audit = new_batch("a", &[9], 25);
    audit.topic = "audits".into();
    let ids = outbox_commit(
        &pg,
        commit(vec![
            new_batch("a", &[1], 10),
            new_batch("b", &[2], 20),
            audit,
            new_batch("a", &[3], 30),
        ]),
    )
    .await
    .unwrap();
    record_attempts(
        &pg,
        vec![attempt(ids[3], "a", 1, false, BatchState::Dead, 40)],
    )
    .await
    .unwrap();

    let listed = |filter: BatchFilter, page: PageRequest| {
        let pg = pg.clone();
        async move { batches(&pg, filter, page).await.unwrap() }
    };
    let all = listed(BatchFilter::default(), asc(100, None)).await;
    assert_eq!(ids_of(&all.items), ids);
    assert!(
        all.items.iter().all(|b| b.body.is_empty()),
        "lists carry no bodies"
    );
    let of_a = BatchFilter {
        subscription_id: Some("a".into()),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&listed(of_a.clone(), asc(100, None)).await.items),
        [ids[0], ids[2], ids[3]]
    );
    let dead = BatchFilter {
        state: Some(BatchState::Dead),
        ..Default::default()
    };
    assert_eq!(ids_of(&listed(dead, asc(100, None)).await.items), [ids[3]]);
    let audits = BatchFilter {
        topic: Some("audits".into()),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&listed(audits, asc(100, None)).await.items),
        [ids[2]]
    );
    let window = BatchFilter {
        since: Some(20),
        until: Some(25),
        ..Default::default()
    };
    assert_eq!(
        ids_of(&listed(window, asc(100, None)).await.items),
        [ids[1], ids[2]]
    );

    // Newest first by default; pages continue after `next` and end with none.
    let two = PageRequest {
        limit: 2,
        ..PageRequest::default()
    };
    let first = listed(of_a.clone(), two).await;
    assert_eq!(
        (ids_of(&first.items), first.next),
        (vec![ids[3], ids[2]], Some(ids[2]))
    );
    let second = listed(
        of_a.clone(),
        PageRequest {
            after: first.next,
            ..two
        },
    )
    .await;
    assert_eq!((ids_of(&second.items), second.next), (vec![ids[0]], None));
    let up = listed(of_a, asc(2, Some(ids[0]))).await;
    assert_eq!((ids_of(&up.items), up.next), (vec![ids[2], ids[3]], None));
}

#[tokio::test]
async fn replays_take_the_dead_batches_of_a_time_range_once() {
    let (_cluster, pg) = open(None).await;
    let ids = outbox_commit(
        &pg,
        commit(vec![
            new_batch("a", &[1], 10),
            new_batch("a", &[2], 20),
            new_batch("a", &[3], 30),
            new_batch("b", &[4], 20),
        ]),
    )
    .await
    .unwrap();
    let dead = ids
        .iter()
        .zip(["a", "a", "a", "b"])
        .map(|(id, sub)| attempt(*id, sub, 1, false, BatchState::Dead, 50));
    record_attempts(&pg, dead.collect()).await.unwrap();

    assert_eq!(
        replay_batches(&pg, replay("a", None, Some(15), Some(30)))
            .await
            .unwrap(),
        [ids[1], ids[2]]
    );
    assert_eq!(
        batch(&pg, ids[0]).await.unwrap().unwrap().state,
        BatchState::Dead,
        "before the range"
    );
    assert_eq!(
        batch(&pg, ids[3]).await.unwrap().unwrap().state,
        BatchState::Dead,
        "another subscription's"
    );

    // Two instances replaying the same batch at once: it is replayed once.
    let other = PgStore::open(&url_of(&pg).await, None).await.unwrap();
    let (x, y) = tokio::join!(
        replay_batches(&pg, replay("b", None, None, None)),
        replay_batches(&other, replay("b", None, None, None))
    );
    let mut both = x.unwrap();
    both.extend(y.unwrap());
    assert_eq!(both, [ids[3]]);
}

/// The URL of the database `pg` is connected to (for a second instance on it).
async fn url_of(pg: &PgStore) -> String {
    let (db, port): (String, i32) =
        sqlx::query_as("SELECT current_database()::text, current_setting('port')::int")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

#[tokio::test]
async fn incident_batches_are_listed_newest_first() {
    let (_cluster, pg) = open(None).await;
    let about = |incidents: &[i64], at: i64| {
        let mut b = new_batch("target:slack", &[], at);
        b.incident_ids = incidents.to_vec();
        b
    };
    let ids = outbox_commit(
        &pg,
        commit(vec![about(&[7, 7], 1), about(&[8], 2), about(&[7, 8], 3)]),
    )
    .await
    .unwrap();
    assert_eq!(
        ids_of(&incident_batches(&pg, 7, 10).await.unwrap()),
        [ids[2], ids[0]]
    );
    assert_eq!(
        ids_of(&incident_batches(&pg, 8, 1).await.unwrap()),
        [ids[2]]
    );
    assert!(incident_batches(&pg, 9, 10).await.unwrap().is_empty());
}

fn sub_row(id: &str, scope_id: &str) -> SubscriptionRow {
    SubscriptionRow {
        id: id.into(),
        scope: "org".into(),
        scope_id: scope_id.into(),
        record: format!(r#"{{"id":"{id}","secret":"hmac-Secret-7f3a9c"}}"#),
        modified_at: 1,
    }
}

#[tokio::test]
async fn subscriptions_are_kept_listed_by_scope_and_deleted_with_their_batches() {
    let (_cluster, pg) = open(None).await;
    for (id, org) in [("w1", "o1"), ("w2", "o2"), ("w3", "o1")] {
        put_subscription(&pg, sub_row(id, org)).await.unwrap();
    }
    // Replacing keeps the subscription's place in lists.
    let mut changed = sub_row("w1", "o1");
    changed.modified_at = 2;
    put_subscription(&pg, changed.clone()).await.unwrap();
    assert_eq!(
        subscription(&pg, "w1").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(subscription(&pg, "nope").await.unwrap(), None);
    let all = subscriptions(&pg, None).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["w1", "w2", "w3"]
    );
    let o1 = subscriptions(&pg, Some(("org".into(), "o1".into())))
        .await
        .unwrap();
    assert_eq!(o1, [changed, sub_row("w3", "o1")]);
    let sites = subscriptions(&pg, Some(("site".into(), "o1".into())))
        .await
        .unwrap();
    assert!(sites.is_empty(), "the scope's kind counts: {sites:?}");

    let mut linked = new_batch("w2", &[1], 0);
    linked.incident_ids = vec![5];
    let ids = outbox_commit(&pg, commit(vec![new_batch("w1", &[1], 0), linked]))
        .await
        .unwrap();
    record_attempts(
        &pg,
        vec![
            attempt(ids[0], "w1", 1, true, BatchState::Delivered, 1),
            attempt(ids[1], "w2", 1, true, BatchState::Delivered, 1),
        ],
    )
    .await
    .unwrap();
    assert!(delete_subscription(&pg, "w2").await.unwrap());
    assert!(
        !delete_subscription(&pg, "w2").await.unwrap(),
        "already gone"
    );
    assert_eq!(subscription(&pg, "w2").await.unwrap(), None);
    let left = batches(&pg, BatchFilter::default(), asc(100, None))
        .await
        .unwrap();
    assert_eq!(ids_of(&left.items), [ids[0]]);
    let results = attempts(&pg, AttemptFilter::default(), asc(100, None))
        .await
        .unwrap();
    let batch_ids: Vec<i64> = results.items.iter().map(|a| a.record.batch_id).collect();
    assert_eq!(batch_ids, [ids[0]]);
    assert!(incident_batches(&pg, 5, 10).await.unwrap().is_empty());
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_incidents")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(links, 0, "a deleted batch's incident links go with it");
}

#[tokio::test]
async fn records_are_sealed_at_rest_and_read_in_clear() {
    let key = Sealer::generate_key();
    let (cluster, pg) = open(Some(Sealer::new(key))).await;
    put_subscription(&pg, sub_row("w1", "o1")).await.unwrap();
    put_subscription(&pg, sub_row("w2", "o1")).await.unwrap();

    let stored: Vec<String> = sqlx::query_scalar("SELECT record FROM subscriptions ORDER BY seq")
        .fetch_all(pg.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for record in &stored {
        assert!(seal::is_sealed(record), "sealed at rest: {record}");
        assert!(!record.contains("hmac-Secret"), "no secret in clear");
    }
    assert_eq!(
        subscription(&pg, "w1").await.unwrap(),
        Some(sub_row("w1", "o1"))
    );
    assert_eq!(
        subscriptions(&pg, None).await.unwrap(),
        [sub_row("w1", "o1"), sub_row("w2", "o1")]
    );

    // A record moved onto another row does not open there.
    sqlx::query("UPDATE subscriptions SET record = $1 WHERE id = 'w2'")
        .bind(&stored[0])
        .execute(pg.pool())
        .await
        .unwrap();
    assert!(matches!(
        subscription(&pg, "w2").await,
        Err(StoreError::Unsealable { .. })
    ));

    // Without the key, or with another, the database is refused at open (keycheck.rs),
    // before any record could be read as garbage or written in clear beside sealed ones.
    let url = url_of(&pg).await;
    assert!(matches!(
        PgStore::open(&url, None).await.err(),
        Some(StoreError::SecretKeyMissing { .. })
    ));
    assert!(matches!(
        PgStore::open(&url, Some(Sealer::new(Sealer::generate_key())))
            .await
            .err(),
        Some(StoreError::SecretKeyMismatch { .. })
    ));
    drop(cluster);
}
