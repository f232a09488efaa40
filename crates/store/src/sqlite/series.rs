//! The per-minute event counts (`event_minutes`, keyed by minute, topic and source): the
//! writer adds each commit's counts in the commit's own transaction, a handful of upserts
//! however many events it holds; `series` sums a range of minutes into buckets by a range
//! scan of the primary key, so its cost follows the minutes asked for, not the events.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use rusqlite::{Connection, Transaction, params, params_from_iter};

use super::read::Clause;
use crate::{MINUTE_US, SeriesPoint, SeriesQuery, StoreError, minute_of};

/// The counts of one commit, per (minute, topic, source), borrowed from its operations.
#[derive(Default)]
pub(crate) struct Minutes<'a> {
    counts: HashMap<(i64, &'a str, &'a str), i64>,
}

impl<'a> Minutes<'a> {
    /// Counts one stored event received at `received_at` (unix µs).
    pub(crate) fn add(&mut self, received_at: i64, topic: &'a str, source: &'a str) {
        *self
            .counts
            .entry((minute_of(received_at), topic, source))
            .or_default() += 1;
    }

    /// Adds the counts to the table, inside the commit's transaction.
    pub(crate) fn write(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if self.counts.is_empty() {
            return Ok(());
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO event_minutes (minute, topic, source, events) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (minute, topic, source) DO UPDATE SET events = events + excluded.events",
        )?;
        for ((minute, topic, source), n) in &self.counts {
            upsert.execute(params![minute, topic, source, n])?;
        }
        Ok(())
    }
}

/// The query of the minutes `q` covers, in minute order (the primary key's, so no sort),
/// and its bound values.
fn statement(q: &SeriesQuery) -> (String, Vec<Value>) {
    let step = step(q);
    let first = minute_of(q.since).div_euclid(step) * step;
    let last = minute_of(q.until).div_euclid(step) * step + step - 1;
    let mut c = Clause::default();
    c.eq("topic = ?", &q.topic);
    c.eq("source = ?", &q.source);
    let (filter, mut values) = c.finish_where();
    values.push(Value::Integer(first));
    values.push(Value::Integer(last));
    let sql = format!(
        "SELECT minute, topic, events FROM event_minutes {filter} AND minute >= ? AND minute <= ?
         ORDER BY minute"
    );
    (sql, values)
}

fn step(q: &SeriesQuery) -> i64 {
    i64::from(q.step_minutes.max(1))
}

/// The buckets of `q` that hold events, ordered by bucket then topic. A step of 0 is taken
/// as 1; `since` after `until` gives no bucket.
///
/// The rows arrive in minute order, so buckets arrive one after the other and are summed
/// here as they pass (topics sorted per bucket): SQLite's GROUP BY on the bucket would sort them first (measured:
/// several times slower on a day of minutes with twenty topics and three sources).
pub(crate) fn series(conn: &Connection, q: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
    let step = step(q);
    let (sql, values) = statement(q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut points = Vec::new();
    let mut bucket = None;
    let mut topics: BTreeMap<String, i64> = BTreeMap::new();
    let flush = |bucket: i64, topics: &mut BTreeMap<String, i64>, points: &mut Vec<SeriesPoint>| {
        for (topic, events) in std::mem::take(topics) {
            if events > 0 {
                points.push(SeriesPoint {
                    bucket: bucket * MINUTE_US,
                    topic,
                    events,
                });
            }
        }
    };
    while let Some(row) = rows.next()? {
        let minute: i64 = row.get(0)?;
        let this = minute.div_euclid(step) * step;
        if let Some(b) = bucket
            && b != this
        {
            flush(b, &mut topics, &mut points);
        }
        bucket = Some(this);
        let topic = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let events: i64 = row.get(2)?;
        match topics.get_mut(topic) {
            Some(n) => *n += events,
            None => {
                topics.insert(topic.to_string(), events);
            }
        }
    }
    if let Some(b) = bucket {
        flush(b, &mut topics, &mut points);
    }
    Ok(points)
}

/// Deletes the minutes that end at or before `before` (unix µs), at most `chunk` rows per
/// statement; returns how many rows went. The minute `before` falls in stays: some of its
/// events are kept.
pub(crate) fn prune(conn: &Connection, before: i64, chunk: i64) -> Result<u64, StoreError> {
    let first_kept = minute_of(before);
    let mut total = 0u64;
    loop {
        let n = conn.execute(
            "DELETE FROM event_minutes WHERE (minute, topic, source) IN
                (SELECT minute, topic, source FROM event_minutes WHERE minute < ?1 ORDER BY minute LIMIT ?2)",
            params![first_kept, chunk],
        )?;
        total += n as u64;
        if (n as i64) < chunk {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    /// The chart query reads a range of the primary key: its cost follows the minutes
    /// asked for, whatever the number of events (or of minutes outside the range).
    #[test]
    fn the_series_query_is_a_range_of_the_primary_key() {
        let conn = db();
        for (topic, source) in [(None, None), (Some("alarms"), None), (None, Some("a"))] {
            let q = SeriesQuery {
                since: 0,
                until: 86_400_000_000,
                step_minutes: 5,
                topic: topic.map(str::to_string),
                source: source.map(str::to_string),
            };
            let (sql, values) = statement(&q);
            let sql = format!("EXPLAIN QUERY PLAN {sql}");
            let mut stmt = conn.prepare(&sql).unwrap();
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(values), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|p| p
                    .starts_with("SEARCH event_minutes USING PRIMARY KEY (minute>? AND minute<?)")),
                "{plan:?}"
            );
            // No scan of the table, and no sort: the rows come in key order.
            assert!(
                !plan
                    .iter()
                    .any(|p| p.starts_with("SCAN") || p.contains("TEMP B-TREE")),
                "{q:?}: {plan:?}"
            );
            series(&conn, &q).unwrap();
        }
    }

    fn minutes(conn: &Connection) -> Vec<(i64, String, String, i64)> {
        conn.prepare("SELECT minute, topic, source, events FROM event_minutes ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A database of schema version 5 (before the counts) that holds events gets them
    /// counted by migration 6, in the minutes the writer counts in (floor, before the
    /// epoch too), and the chart query reads them.
    #[test]
    fn migration_6_counts_the_events_already_stored() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate_to(&mut conn, 5).unwrap();
        assert!(conn.prepare("SELECT 1 FROM event_minutes").is_err());
        let events = [
            ("alarms", 0, "a"),
            ("alarms", MINUTE_US - 1, "a"),
            ("alarms", MINUTE_US, "a"),
            ("alarms", 5, "b"),
            ("audits", 7, "a"),
            ("alarms", -1, "a"),
        ];
        for (topic, at, source) in events {
            conn.execute(
                "INSERT INTO events (request_id, topic, time, time_source, received_at, source,
                                     raw_offset, raw_len, fingerprint)
                 VALUES (1, ?1, 0, 'received', ?2, ?3, 0, 0, x'00')",
                params![topic, at, source],
            )
            .unwrap();
        }
        super::super::schema::migrate(&mut conn).unwrap();
        let row = |m: i64, t: &str, s: &str, n: i64| (m, t.to_string(), s.to_string(), n);
        assert_eq!(
            minutes(&conn),
            [
                row(-1, "alarms", "a", 1),
                row(0, "alarms", "a", 2),
                row(0, "alarms", "b", 1),
                row(0, "audits", "a", 1),
                row(1, "alarms", "a", 1),
            ]
        );
        for (_, at, _) in events {
            assert!(minutes(&conn).iter().any(|r| r.0 == minute_of(at)));
        }
        let q = SeriesQuery {
            since: -MINUTE_US,
            until: MINUTE_US,
            step_minutes: 2,
            topic: None,
            source: None,
        };
        let points: Vec<(i64, String, i64)> = series(&conn, &q)
            .unwrap()
            .into_iter()
            .map(|p| (p.bucket / MINUTE_US, p.topic, p.events))
            .collect();
        assert_eq!(
            points,
            [
                (-2, "alarms".to_string(), 1),
                (0, "alarms".to_string(), 4),
                (0, "audits".to_string(), 1),
            ]
        );
    }

    #[test]
    fn one_commit_adds_one_row_per_minute_topic_and_source() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let mut m = Minutes::default();
        for at in [0, 1, MINUTE_US - 1, MINUTE_US] {
            m.add(at, "alarms", "a");
        }
        m.add(5, "alarms", "b");
        m.write(&tx).unwrap();
        tx.commit().unwrap();
        let rows = minutes(&conn);
        let row = |m: i64, s: &str, n: i64| (m, "alarms".to_string(), s.to_string(), n);
        assert_eq!(rows, [row(0, "a", 3), row(0, "b", 1), row(1, "a", 1)]);
    }
}
