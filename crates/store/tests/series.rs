//! Per-minute event counts: kept at append, summed into aligned buckets, pruned with
//! retention. (How migration 6 counts the events of an older database is tested beside
//! it, in `sqlite/series.rs`: an older database is made there with the older migrations.)

mod common;

use common::{HOUR_US, request};
use store::{MINUTE_US, Retention, SeriesPoint, SeriesQuery, Store};

/// A fixed day, minute-aligned, far from the epoch.
const DAY0: i64 = 20_000 * 24 * HOUR_US;

fn at(minute: i64, second: i64) -> i64 {
    DAY0 + minute * MINUTE_US + second * 1_000_000
}

fn point(minute: i64, topic: &str, events: i64) -> SeriesPoint {
    SeriesPoint {
        bucket: at(minute, 0),
        topic: topic.into(),
        events,
    }
}

fn query(since: i64, until: i64, step_minutes: u32) -> SeriesQuery {
    SeriesQuery {
        since,
        until,
        step_minutes,
        topic: None,
        source: None,
    }
}

/// Appends one request of `n` distinct events (named by `tag`) from `source`.
async fn append(
    store: &dyn Store,
    source: &str,
    topic: &str,
    tag: &str,
    n: usize,
    received_at: i64,
) -> u32 {
    let raws: Vec<String> = (0..n).map(|i| format!(r#"{{"{tag}":{i}}}"#)).collect();
    let refs: Vec<&str> = raws.iter().map(String::as_str).collect();
    let mut req = request(topic, &refs, received_at);
    req.source = source.into();
    store.append(req, 0).await.unwrap().accepted
}

on_both_backends! {
    async fn counts_are_the_stored_events_per_minute_and_topic_without_duplicates(store) {
    assert_eq!(append(&*store, "a", "alarms", "x", 3, at(0, 0)).await, 3);
    assert_eq!(append(&*store, "b", "alarms", "y", 2, at(0, 59)).await, 2);
    assert_eq!(
        append(&*store, "a", "device-events", "z", 4, at(0, 30)).await,
        4
    );
    assert_eq!(append(&*store, "a", "alarms", "w", 1, at(2, 0)).await, 1);
    // The same events again: duplicates are not stored, so not counted.
    assert_eq!(append(&*store, "a", "alarms", "x", 3, at(2, 10)).await, 0);

    let points = store.series(query(at(0, 0), at(59, 0), 1)).await.unwrap();
    assert_eq!(
        points,
        [
            point(0, "alarms", 5),
            point(0, "device-events", 4),
            point(2, "alarms", 1),
        ]
    );
    // Every stored event is in exactly one point.
    let stored = store.stats().await.unwrap();
    let total: i64 = stored.rows.iter().map(|r| r.events).sum();
    assert_eq!(points.iter().map(|p| p.events).sum::<i64>(), total);
    // Outside the range nothing is counted.
    let later = store.series(query(at(3, 0), at(59, 0), 1)).await.unwrap();
    assert_eq!(later, []);
    // `since` after `until` asks for no bucket.
    let backwards = store.series(query(at(2, 0), at(0, 0), 1)).await.unwrap();
    assert_eq!(backwards, []);
    }
}

on_both_backends! {
    async fn buckets_are_aligned_to_their_width_from_the_epoch(store) {
    // One event per minute, minutes 0 to 12 of the day (DAY0 is a multiple of 5 minutes).
    for minute in 0..13 {
        append(
            &*store,
            "a",
            "alarms",
            &format!("m{minute}"),
            1,
            at(minute, 7),
        )
        .await;
    }
    let five = store.series(query(at(0, 0), at(12, 0), 5)).await.unwrap();
    assert_eq!(
        five,
        [
            point(0, "alarms", 5),
            point(5, "alarms", 5),
            point(10, "alarms", 3)
        ]
    );
    // A range that starts and ends inside buckets gets those buckets whole.
    let inner = store.series(query(at(6, 30), at(7, 0), 5)).await.unwrap();
    assert_eq!(inner, [point(5, "alarms", 5)]);
    // Widths that do not divide the hour still align from the epoch: 7-minute buckets
    // start where the epoch minute is a multiple of 7.
    let first = (DAY0 / MINUTE_US).div_euclid(7) * 7;
    let seven = store.series(query(at(0, 0), at(12, 0), 7)).await.unwrap();
    let offset = DAY0 / MINUTE_US - first;
    let mut expected = Vec::new();
    for bucket in [first, first + 7, first + 14] {
        let n = (0..13)
            .filter(|m| (bucket..bucket + 7).contains(&(m + DAY0 / MINUTE_US)))
            .count() as i64;
        if n > 0 {
            expected.push(SeriesPoint {
                bucket: bucket * MINUTE_US,
                topic: "alarms".into(),
                events: n,
            });
        }
    }
    assert_eq!(seven, expected, "offset {offset}");
    assert_eq!(seven.iter().map(|p| p.events).sum::<i64>(), 13);
    }
}

on_both_backends! {
    async fn topic_and_source_filters_narrow_the_counts(store) {
    append(&*store, "a", "alarms", "p", 2, at(1, 0)).await;
    append(&*store, "b", "alarms", "q", 3, at(1, 0)).await;
    append(&*store, "b", "audits", "r", 4, at(1, 0)).await;
    let mut q = query(at(0, 0), at(10, 0), 1);
    q.topic = Some("alarms".into());
    assert_eq!(
        store.series(q.clone()).await.unwrap(),
        [point(1, "alarms", 5)]
    );
    q.source = Some("b".into());
    assert_eq!(
        store.series(q.clone()).await.unwrap(),
        [point(1, "alarms", 3)]
    );
    q.topic = None;
    assert_eq!(
        store.series(q.clone()).await.unwrap(),
        [point(1, "alarms", 3), point(1, "audits", 4)]
    );
    q.source = Some("nobody".into());
    assert_eq!(store.series(q).await.unwrap(), []);
    }
}

on_both_backends! {
    async fn retention_drops_the_whole_minutes_before_data_before(store) {
    for minute in 0..4 {
        append(
            &*store,
            "a",
            "alarms",
            &format!("m{minute}"),
            2,
            at(minute, 10),
        )
        .await;
    }
    // Inside minute 2, before its events: minutes 0 and 1 end before it, minute 2 does not
    // (the minute a cut falls in is kept whole).
    let pruned = store
        .prune(Retention {
            data_before: Some(at(2, 5)),
            fingerprints_before: 0,
        })
        .await
        .unwrap();
    // (The events themselves go by minute on SQLite and by whole days on PostgreSQL: the
    // store tests of retention say so.)
    assert_eq!(pruned.minutes, 2);
    let left = store.series(query(at(0, 0), at(10, 0), 1)).await.unwrap();
    assert_eq!(left, [point(2, "alarms", 2), point(3, "alarms", 2)]);
    // Retention that keeps data keeps every minute.
    let none = store
        .prune(Retention {
            data_before: None,
            fingerprints_before: at(9, 0),
        })
        .await
        .unwrap();
    assert_eq!(none.minutes, 0);
    assert_eq!(
        store.series(query(at(0, 0), at(10, 0), 1)).await.unwrap(),
        left
    );
    }
}
