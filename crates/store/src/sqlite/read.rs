//! Queries of the read side. Lists use keyset pagination on the id, which only grows.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::{
    EventFilter, Order, Page, PageRequest, QuarantineEntry, RequestDetail, RequestFilter,
    RequestSummary, Stats, StatsRow, StoreError, StoredEvent, Tally,
};

/// Largest page a caller may ask for.
pub(crate) const MAX_LIMIT: u32 = 1_000;

/// A WHERE clause built from optional filters, with its bound values.
#[derive(Default)]
pub(crate) struct Clause {
    terms: Vec<&'static str>,
    values: Vec<Value>,
}

impl Clause {
    pub(crate) fn eq(&mut self, term: &'static str, value: &Option<String>) {
        if let Some(v) = value {
            self.terms.push(term);
            self.values.push(Value::Text(v.clone()));
        }
    }

    pub(crate) fn int(&mut self, term: &'static str, value: Option<i64>) {
        if let Some(v) = value {
            self.terms.push(term);
            self.values.push(Value::Integer(v));
        }
    }

    /// Adds the keyset condition and returns `WHERE ... ORDER BY ... LIMIT ?` for `id_col`,
    /// asking one row more than the page holds (to know whether there is a next page).
    pub(crate) fn finish(self, id_col: &str, page: PageRequest) -> (String, Vec<Value>) {
        let rows = i64::from(limit(page)) + 1;
        self.finish_with(id_col, page, rows)
    }

    /// `WHERE ...` of the terms alone (`WHERE 1` when there are none), with their values.
    pub(crate) fn finish_where(self) -> (String, Vec<Value>) {
        let sql = if self.terms.is_empty() {
            "WHERE 1".to_string()
        } else {
            format!("WHERE {}", self.terms.join(" AND "))
        };
        (sql, self.values)
    }

    fn finish_with(mut self, id_col: &str, page: PageRequest, rows: i64) -> (String, Vec<Value>) {
        let (cmp, dir) = match page.order {
            Order::Desc => ("<", "DESC"),
            Order::Asc => (">", "ASC"),
        };
        let mut sql = String::new();
        if let Some(after) = page.after {
            self.values.push(Value::Integer(after));
        }
        let mut terms: Vec<String> = self.terms.iter().map(|t| t.to_string()).collect();
        if page.after.is_some() {
            terms.push(format!("{id_col} {cmp} ?"));
        }
        if !terms.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&terms.join(" AND "));
        }
        self.values.push(Value::Integer(rows));
        sql.push_str(&format!(" ORDER BY {id_col} {dir} LIMIT ?"));
        (sql, self.values)
    }
}

fn limit(page: PageRequest) -> u32 {
    page.limit.clamp(1, MAX_LIMIT)
}

pub(crate) fn paged<T>(mut items: Vec<T>, page: PageRequest, id: impl Fn(&T) -> i64) -> Page<T> {
    let limit = limit(page) as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&id)
    } else {
        None
    };
    Page { items, next }
}

const EVENT_COLUMNS: &str = "e.id, e.request_id, e.topic, e.org_id, e.site_id, e.type, e.mac, e.severity, e.time, \
     e.time_source, e.received_at, e.source, substr(r.body, e.raw_offset + 1, e.raw_len)";

fn event_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: r.get(0)?,
        request_id: r.get(1)?,
        topic: r.get(2)?,
        org_id: r.get(3)?,
        site_id: r.get(4)?,
        event_type: r.get(5)?,
        mac: r.get(6)?,
        severity: r.get(7)?,
        time: r.get(8)?,
        time_source: r.get(9)?,
        received_at: r.get(10)?,
        source: r.get(11)?,
        raw: r.get::<_, Option<Vec<u8>>>(12)?.unwrap_or_default(),
    })
}

/// The filters of `filter` other than the MAC.
fn event_clause(filter: &EventFilter) -> Clause {
    let mut c = Clause::default();
    c.eq("e.topic = ?", &filter.topic);
    c.eq("e.org_id = ?", &filter.org_id);
    c.eq("e.site_id = ?", &filter.site_id);
    c.eq("e.type = ?", &filter.event_type);
    c.eq("e.source = ?", &filter.source);
    c.int("e.time >= ?", filter.since);
    c.int("e.time <= ?", filter.until);
    c
}

fn query_events(
    conn: &Connection,
    from: &str,
    tail: &str,
    values: Vec<Value>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {from} LEFT JOIN requests r ON r.id = e.request_id{tail}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(values), event_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

pub(crate) fn events(
    conn: &Connection,
    filter: &EventFilter,
    page: PageRequest,
) -> Result<Page<StoredEvent>, StoreError> {
    let Some(mac) = &filter.mac else {
        let (tail, values) = event_clause(filter).finish("e.id", page);
        return Ok(paged(
            query_events(conn, "events e", &tail, values)?,
            page,
            |e| e.id,
        ));
    };
    // Two parts under one snapshot: events the MAC index covers (walked in its own key
    // order), and the tail after its watermark (a bounded scan).
    let tx = conn.unchecked_transaction()?;
    let upto: i64 = tx.query_row("SELECT upto FROM index_state WHERE name = 'mac'", [], |r| {
        r.get(0)
    })?;
    let wanted = i64::from(limit(page)) + 1;
    let indexed = |rows: i64| -> Result<Vec<StoredEvent>, StoreError> {
        let mut c = event_clause(filter);
        c.eq("mi.mac = ?", &Some(mac.clone()));
        c.int("mi.event_id <= ?", Some(upto));
        let (tail, values) = c.finish_with("mi.event_id", page, rows);
        query_events(
            &tx,
            "mac_index mi JOIN events e ON e.id = mi.event_id",
            &tail,
            values,
        )
    };
    let recent = |rows: i64| -> Result<Vec<StoredEvent>, StoreError> {
        let mut c = event_clause(filter);
        c.eq("e.mac = ?", &Some(mac.clone()));
        c.int("e.id > ?", Some(upto));
        let (tail, values) = c.finish_with("e.id", page, rows);
        query_events(&tx, "events e", &tail, values)
    };
    let mut items = match page.order {
        Order::Desc => recent(wanted)?,
        Order::Asc => indexed(wanted)?,
    };
    let more = wanted - items.len() as i64;
    if more > 0 {
        items.extend(match page.order {
            Order::Desc => indexed(more)?,
            Order::Asc => recent(more)?,
        });
    }
    Ok(paged(items, page, |e| e.id))
}

pub(crate) fn tail(
    conn: &Connection,
    after: i64,
    topics: &[String],
    limit: u32,
) -> Result<(Vec<StoredEvent>, i64), StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    // One snapshot for both statements: ids only grow, so "nothing of these topics up
    // to MAX(id)" is a fact about this snapshot and stays true.
    let tx = conn.unchecked_transaction()?;
    let marks = vec!["?"; topics.len()].join(", ");
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN requests r ON r.id = e.request_id
         WHERE e.id > ? AND e.topic IN ({marks}) ORDER BY e.id LIMIT ?"
    );
    let mut values = vec![Value::Integer(after)];
    values.extend(topics.iter().map(|t| Value::Text(t.clone())));
    values.push(Value::Integer(i64::from(limit)));
    let items = tx
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), event_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let covered = if items.len() as u32 == limit {
        items.last().map_or(after, |e| e.id)
    } else {
        tx.query_row("SELECT COALESCE(MAX(id), ?1) FROM events", [after], |r| {
            r.get(0)
        })?
    };
    Ok((items, covered.max(after)))
}

/// Like [`tail`], for every topic.
pub(crate) fn tail_all(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN requests r ON r.id = e.request_id
         WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params![after, limit], event_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

pub(crate) fn event(conn: &Connection, id: i64) -> Result<Option<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN requests r ON r.id = e.request_id WHERE e.id = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], event_row)
        .optional()?)
}

const REQUEST_COLUMNS: &str =
    "id, source, received_at, topic, verdict, accepted, duplicates, length(body)";

fn request_row(r: &Row<'_>) -> rusqlite::Result<RequestSummary> {
    Ok(RequestSummary {
        id: r.get(0)?,
        source: r.get(1)?,
        received_at: r.get(2)?,
        topic: r.get(3)?,
        verdict: r.get(4)?,
        accepted: r.get(5)?,
        duplicates: r.get(6)?,
        body_len: r.get(7)?,
    })
}

pub(crate) fn requests(
    conn: &Connection,
    filter: &RequestFilter,
    page: PageRequest,
) -> Result<Page<RequestSummary>, StoreError> {
    let mut c = Clause::default();
    c.eq("source = ?", &filter.source);
    c.eq("topic = ?", &filter.topic);
    c.int("received_at >= ?", filter.since);
    c.int("received_at <= ?", filter.until);
    let (tail, values) = c.finish("id", page);
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests{tail}");
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), request_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(items, page, |r| r.id))
}

/// Rows of `table` (`incidents` or `devices`) per state, kind and site.
pub(crate) fn tallies(conn: &Connection, table: Tallied) -> Result<Vec<Tally>, StoreError> {
    let sql = match table {
        Tallied::Incidents => {
            "SELECT state, kind, site_id, count(*) FROM incidents GROUP BY state, kind, site_id"
        }
        Tallied::Devices => {
            "SELECT state, kind, site_id, count(*) FROM devices GROUP BY state, kind, site_id"
        }
    };
    let rows = conn
        .prepare_cached(sql)?
        .query_map([], |r| {
            Ok(Tally {
                state: r.get(0)?,
                kind: r.get(1)?,
                site_id: r.get(2)?,
                count: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Quarantined requests still kept, per source.
pub(crate) fn quarantine_by_source(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = conn
        .prepare_cached("SELECT source, count(*) FROM quarantine GROUP BY source ORDER BY source")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Which table [`tallies`] counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tallied {
    Incidents,
    Devices,
}

/// How many requests after an event's own request are searched for its duplicates.
const DUPLICATE_SCAN: i64 = 100_000;

/// Requests after `request_id` that repeated event `event_id` (its duplicate arrivals),
/// oldest first; only the [`DUPLICATE_SCAN`] requests that followed are searched.
pub(crate) fn duplicate_arrivals(
    conn: &Connection,
    event_id: i64,
    request_id: i64,
    limit: u32,
) -> Result<Vec<RequestSummary>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id > ?2 AND id <= ?2 + ?4 \
         AND duplicates > 0 AND duplicate_of IS NOT NULL \
         AND EXISTS (SELECT 1 FROM json_each(duplicate_of) WHERE value = ?1) ORDER BY id LIMIT ?3"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            rusqlite::params![event_id, request_id, limit, DUPLICATE_SCAN],
            request_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn request(conn: &Connection, id: i64) -> Result<Option<RequestDetail>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS}, headers, body, duplicate_of, first_event_id FROM requests WHERE id = ?1"
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_row([id], |r| {
            Ok((
                request_row(r)?,
                r.get::<_, String>(8)?,
                r.get::<_, Vec<u8>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<i64>>(11)?,
            ))
        })
        .optional()?;
    let Some((summary, headers, body, duplicate_of, first_event_id)) = found else {
        return Ok(None);
    };
    let event_ids = match first_event_id {
        Some(first) => (first..first + i64::from(summary.accepted)).collect(),
        None => Vec::new(),
    };
    Ok(Some(RequestDetail {
        summary,
        headers: parse_headers(&headers),
        body,
        event_ids,
        duplicate_of: duplicate_of
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default(),
    }))
}

fn parse_headers(json: &str) -> Vec<(String, String)> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(crate) fn quarantined(
    conn: &Connection,
    page: PageRequest,
) -> Result<Page<QuarantineEntry>, StoreError> {
    let (tail, values) = Clause::default().finish("id", page);
    let sql = format!(
        "SELECT id, source, received_at, reason, detail, headers, body FROM quarantine{tail}"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |r| {
            Ok(QuarantineEntry {
                id: r.get(0)?,
                source: r.get(1)?,
                received_at: r.get(2)?,
                reason: r.get(3)?,
                detail: r.get(4)?,
                headers: parse_headers(&r.get::<_, String>(5)?),
                body: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(items, page, |q| q.id))
}

pub(crate) fn stats(conn: &Connection) -> Result<Stats, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT source, topic, requests, events, duplicates, last_received_at FROM totals ORDER BY source, topic",
        )?
        .query_map(params![], |r| {
            Ok(StatsRow {
                source: r.get(0)?,
                topic: r.get(1)?,
                requests: r.get(2)?,
                events: r.get(3)?,
                duplicates: r.get(4)?,
                last_received_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let quarantined = conn.query_row("SELECT n FROM quarantine_total", [], |r| r.get(0))?;
    Ok(Stats { rows, quarantined })
}
