//! The PostgreSQL backend's log on a real cluster (`initdb` + `postgres` on a free port,
//! one per test): appends read back byte for byte with ids in commit order, duplicate
//! detection across two instances posting the same events at the same moment, and
//! migrations run once when instances start together.

use bytes::Bytes;
use pgtest::Cluster;
use store::postgres::PgStore;
use store::{EventFilter, NewEvent, NewQuarantine, NewRequest, Order, PageRequest, Verdict};

const DAY_US: i64 = 86_400_000_000;

/// A request of `events` alarms, each fingerprinted by its marker.
fn request(markers: &[&str], received_at: i64) -> NewRequest {
    let raws: Vec<String> = markers
        .iter()
        .map(|m| format!(r#"{{"id":"{m}","type":"device_down","timestamp":1765000000}}"#))
        .collect();
    let body = format!(r#"{{"topic":"alarms","events":[{}]}}"#, raws.join(","));
    let mut offset = body.find('[').unwrap() + 1;
    let events = markers
        .iter()
        .zip(&raws)
        .map(|(m, raw)| {
            let e = NewEvent {
                topic: "alarms".into(),
                org_id: Some("o1".into()),
                site_id: Some("s1".into()),
                event_type: Some("device_down".into()),
                mac: None,
                severity: Some("warn".into()),
                time: 1_765_000_000_000_000,
                time_source: "timestamp".into(),
                raw_offset: offset as u32,
                raw_len: raw.len() as u32,
                fingerprint: fingerprint(m),
            };
            offset += raw.len() + 1;
            e
        })
        .collect();
    NewRequest {
        source: "hq".into(),
        received_at,
        topic: "alarms".into(),
        verdict: Verdict::ValidV2,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body),
        events,
    }
}

fn fingerprint(marker: &str) -> [u8; 16] {
    let mut fp = [0u8; 16];
    for (i, b) in marker.bytes().enumerate() {
        fp[i % 16] ^= b.wrapping_add(i as u8);
    }
    fp[15] = marker.len() as u8;
    fp
}

fn asc(limit: u32) -> PageRequest {
    PageRequest {
        limit,
        after: None,
        order: Order::Asc,
    }
}

#[tokio::test]
async fn appends_read_back_byte_for_byte_with_ids_in_commit_order() {
    let cluster = Cluster::start();
    let store = PgStore::open(&cluster.database(), None).await.unwrap();
    let now = 20_000 * DAY_US + 5;
    let a = store.append(request(&["a1", "a2"], now), 0).await.unwrap();
    // The next day: a partition of its own.
    let b = store
        .append(request(&["b1"], now + DAY_US), 0)
        .await
        .unwrap();
    assert_eq!((a.accepted, a.duplicates), (2, 0));
    assert!(b.request_id > a.request_id);
    assert!(b.event_ids[0] > a.event_ids[1] && a.event_ids[1] > a.event_ids[0]);

    let page = store.events(EventFilter::default(), asc(10)).await.unwrap();
    let ids: Vec<i64> = page.items.iter().map(|e| e.id).collect();
    assert_eq!(ids, [a.event_ids[0], a.event_ids[1], b.event_ids[0]]);
    assert_eq!(
        page.items[1].raw,
        br#"{"id":"a2","type":"device_down","timestamp":1765000000}"#
    );
    assert_eq!(page.items[2].received_at, now + DAY_US);
    // Paging and filters.
    let first = store.events(EventFilter::default(), asc(2)).await.unwrap();
    assert_eq!(first.next, Some(a.event_ids[1]));
    let rest = store
        .events(
            EventFilter::default(),
            PageRequest {
                after: first.next,
                ..asc(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next, None);
    let none = store
        .events(
            EventFilter {
                topic: Some("audits".into()),
                ..EventFilter::default()
            },
            asc(10),
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let one = store.event(b.event_ids[0]).await.unwrap().unwrap();
    assert_eq!(
        one.raw,
        br#"{"id":"b1","type":"device_down","timestamp":1765000000}"#
    );
    assert!(store.event(b.event_ids[0] + 100).await.unwrap().is_none());

    let q = store
        .quarantine(NewQuarantine {
            source: "hq".into(),
            received_at: now,
            reason: "malformed_json".into(),
            detail: "not JSON".into(),
            headers: vec![],
            body: Bytes::from_static(b"{nope"),
        })
        .await
        .unwrap();
    assert!(q > 0);
}

#[tokio::test]
async fn the_same_events_posted_to_two_instances_at_once_are_stored_once() {
    let cluster = Cluster::start();
    let url = cluster.database();
    let (one, two) = tokio::join!(PgStore::open(&url, None), PgStore::open(&url, None));
    let (one, two) = (one.unwrap(), two.unwrap());
    let now = 20_000 * DAY_US;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let marker = format!("m{i}");
        for store in [one.clone(), two.clone()] {
            let marker = marker.clone();
            tasks.push(tokio::spawn(async move {
                store.append(request(&[&marker], now + i), 0).await.unwrap()
            }));
        }
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for pair in answers.chunks(2) {
        let accepted: u32 = pair.iter().map(|a| a.accepted).sum();
        assert_eq!(accepted, 1, "one of the two stored it: {pair:?}");
        assert_eq!(
            pair[0].event_ids, pair[1].event_ids,
            "the duplicate names the stored event"
        );
    }
    let all = one.events(EventFilter::default(), asc(1000)).await.unwrap();
    assert_eq!(all.items.len(), 40);
    // Outside the window (it starts after the first copy), the same event is new again.
    let again = two
        .append(request(&["m0"], now + 1000), now + 500)
        .await
        .unwrap();
    assert_eq!(again.accepted, 1);
    // Ids across both instances grow in commit order: listed by id, receipt follows.
    let listed: Vec<i64> = two
        .events(EventFilter::default(), asc(1000))
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.id)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let cluster = Cluster::start();
    let url = cluster.database();
    let opened = futures_join(&url).await;
    for store in &opened {
        assert_eq!(
            store.schema_version().await.unwrap(),
            store::postgres::SCHEMA_VERSION
        );
    }
    // Each migration applied once, though four instances asked at the same moment.
    assert_eq!(
        cluster.psql_at(
            &url,
            "SELECT count(*), count(DISTINCT version) FROM schema_migrations"
        ),
        format!("{0}|{0}", store::postgres::SCHEMA_VERSION)
    );
}

async fn futures_join(url: &str) -> Vec<PgStore> {
    let (a, b, c, d) = tokio::join!(
        PgStore::open(url, None),
        PgStore::open(url, None),
        PgStore::open(url, None),
        PgStore::open(url, None)
    );
    vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
}

#[tokio::test]
async fn retention_drops_whole_days_and_never_deletes_events_row_by_row() {
    use store::{Retention, Store};
    let cluster = Cluster::start();
    let url = cluster.database();
    let pg = PgStore::open(&url, None).await.unwrap();
    let hour = DAY_US / 24;
    let day0 = pg.append(request(&["a", "b"], hour), 0).await.unwrap();
    pg.append(request(&["c"], 20 * hour), 0).await.unwrap();
    let day1 = pg
        .append(request(&["d"], DAY_US + 5 * hour), 0)
        .await
        .unwrap();
    let partitions = || {
        cluster.psql_at(
            &url,
            "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.relname = 'events'",
        )
    };
    assert_eq!(partitions().trim(), "events_d0 events_d1 events_d2");
    // The cut falls inside day 1: day 0 goes whole, day 1 stays whole (its event before
    // the cut included), and so does that event's fingerprint.
    let pruned = pg
        .prune(Retention {
            data_before: Some(DAY_US + 10 * hour),
            fingerprints_before: 0,
        })
        .await
        .unwrap();
    assert_eq!((pruned.requests, pruned.events), (2, 3));
    assert_eq!(pruned.fingerprints, 3, "day 0's events' fingerprints");
    assert_eq!(partitions().trim(), "events_d1 events_d2");
    assert!(pg.event(day0.event_ids[0]).await.unwrap().is_none());
    assert!(pg.event(day1.event_ids[0]).await.unwrap().is_some());
    let again = pg
        .append(request(&["d"], DAY_US + 11 * hour), 0)
        .await
        .unwrap();
    assert_eq!(
        again.duplicates, 1,
        "day 1's fingerprint kept with its event"
    );
    // Fingerprints past the duplicate window go in chunks, whatever their number.
    let markers: Vec<String> = (0..45_000).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = markers.iter().map(String::as_str).collect();
    for chunk in refs.chunks(5_000) {
        pg.append(request(chunk, DAY_US + 12 * hour), 0)
            .await
            .unwrap();
    }
    let pruned = pg
        .prune(Retention {
            data_before: None,
            fingerprints_before: DAY_US + 13 * hour,
        })
        .await
        .unwrap();
    assert_eq!(pruned.fingerprints, 45_001);
    assert_eq!((pruned.requests, pruned.events), (0, 0));
}
