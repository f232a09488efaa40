//! Backfill's queries. The events of the three kinds Mist's searches answer are indexed
//! by (topic, time) in a partial index (migration 14), so that these reads never scan the
//! far more numerous events of other topics; each query repeats the index's condition
//! word for word, which is how SQLite knows it may use it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{BackfillMark, KindEvent, StoreError};

/// The partial index's condition.
const KINDS: &str = "topic IN ('alarms', 'device-events', 'audits')";
/// The same, for a query that joins the events (as `e`) to their requests.
const KINDS_E: &str = "e.topic IN ('alarms', 'device-events', 'audits')";

fn kind_events(
    conn: &Connection,
    topic: &str,
    from: i64,
    to: i64,
    limit: u32,
) -> Result<Vec<KindEvent>, StoreError> {
    let sql = format!(
        "SELECT e.source, substr(r.body, e.raw_offset + 1, e.raw_len), e.fingerprint \
         FROM events e JOIN requests r ON r.id = e.request_id \
         WHERE {KINDS_E} AND e.topic = ?1 AND e.time BETWEEN ?2 AND ?3 ORDER BY e.time LIMIT ?4"
    );
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![topic, from, to, limit])?;
    while let Some(row) = rows.next()? {
        let fingerprint: Vec<u8> = row.get(2)?;
        out.push(KindEvent {
            source: row.get(0)?,
            raw: row.get(1)?,
            fingerprint: <[u8; 16]>::try_from(fingerprint.as_slice()).unwrap_or([0; 16]),
        });
    }
    Ok(out)
}

fn newest_event_time(
    conn: &Connection,
    topic: &str,
    org_id: &str,
) -> Result<Option<i64>, StoreError> {
    let sql = format!(
        "SELECT time FROM events WHERE {KINDS} AND topic = ?1 AND org_id = ?2 \
         ORDER BY time DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![topic, org_id], |r| r.get(0))
        .optional()?)
}

fn marks(conn: &Connection) -> Result<Vec<BackfillMark>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT org_id, kind, read_until, recovered FROM backfill ORDER BY org_id, kind",
        )?
        .query_map([], |r| {
            Ok(BackfillMark {
                org_id: r.get(0)?,
                kind: r.get(1)?,
                read_until: r.get(2)?,
                recovered: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn put_mark(conn: &Connection, mark: &BackfillMark) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO backfill (org_id, kind, read_until, recovered) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (org_id, kind) DO UPDATE SET read_until = excluded.read_until,
             recovered = excluded.recovered",
    )?
    .execute(params![
        mark.org_id,
        mark.kind,
        mark.read_until,
        mark.recovered
    ])?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::Backfill for super::SqliteStore {
    async fn kind_events(
        &self,
        topic: &str,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<KindEvent>, StoreError> {
        let topic = topic.to_string();
        self.read(move |c| kind_events(c, &topic, from, to, limit))
            .await
    }

    async fn newest_event_time(
        &self,
        topic: &str,
        org_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (topic, org_id) = (topic.to_string(), org_id.to_string());
        self.read(move |c| newest_event_time(c, &topic, &org_id))
            .await
    }

    async fn backfill_marks(&self) -> Result<Vec<BackfillMark>, StoreError> {
        self.side(|c| marks(c)).await
    }

    async fn put_backfill_mark(&self, mark: BackfillMark) -> Result<(), StoreError> {
        self.side(move |c| put_mark(c, &mark)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_use_the_partial_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::sqlite::schema::migrate(&mut conn).unwrap();
        for sql in [
            format!(
                "EXPLAIN QUERY PLAN SELECT e.fingerprint FROM events e JOIN requests r ON r.id = e.request_id WHERE {KINDS_E} AND e.topic = 'alarms' AND e.time BETWEEN 1 AND 2 ORDER BY e.time"
            ),
            format!(
                "EXPLAIN QUERY PLAN SELECT time FROM events WHERE {KINDS} AND topic = 'alarms' AND org_id = 'o' ORDER BY time DESC LIMIT 1"
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|p| p.contains("events_backfill")),
                "{sql}: {plan:?}"
            );
        }
    }
}
