//! Reads of the log: events by filter with keyset paging, one event, a quarantine entry.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use crate::{EventFilter, Order, Page, PageRequest, StoreError, StoredEvent};

pub(super) const EVENT_COLUMNS: &str = "SELECT e.id, e.request_id, e.topic, e.org_id, e.site_id, e.type, \
     e.mac, e.severity, e.time, e.time_source, e.received_at, e.source, \
     substring(r.body from e.raw_offset + 1 for e.raw_len) \
     FROM events e JOIN requests r ON r.id = e.request_id AND r.received_at = e.received_at";

pub(super) fn event_row(row: &PgRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        topic: row.try_get(2)?,
        org_id: row.try_get(3)?,
        site_id: row.try_get(4)?,
        event_type: row.try_get(5)?,
        mac: row.try_get(6)?,
        severity: row.try_get(7)?,
        time: row.try_get(8)?,
        time_source: row.try_get(9)?,
        received_at: row.try_get(10)?,
        source: row.try_get(11)?,
        raw: row.try_get(12)?,
    })
}

/// A page of events.
pub(super) async fn events(
    pool: &PgPool,
    filter: &EventFilter,
    page: PageRequest,
) -> Result<Page<StoredEvent>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(EVENT_COLUMNS);
    q.push(" WHERE true");
    let text = [
        ("e.topic", &filter.topic),
        ("e.org_id", &filter.org_id),
        ("e.site_id", &filter.site_id),
        ("e.type", &filter.event_type),
        ("e.mac", &filter.mac),
        ("e.source", &filter.source),
    ];
    for (column, value) in text {
        if let Some(v) = value {
            q.push(format!(" AND {column} = ")).push_bind(v.clone());
        }
    }
    if let Some(since) = filter.since {
        q.push(" AND e.time >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        q.push(" AND e.time <= ").push_bind(until);
    }
    let (cmp, dir) = match page.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = page.after {
        q.push(format!(" AND e.id {cmp} ")).push_bind(after);
    }
    q.push(format!(" ORDER BY e.id {dir} LIMIT "))
        .push_bind(i64::from(page.limit) + 1);
    // A search over a time range is not kept prepared: after five runs PostgreSQL would
    // plan a kept statement once for any values (a generic plan), and for a site over a
    // day that plan read the whole window through each partition's time index, 4 times
    // slower than the plan for the values at hand (bench/search.sh at 10 million events).
    // Without a range the generic plan is as good, and planning is saved.
    let ranged = filter.since.is_some() || filter.until.is_some();
    let rows = q.build().persistent(!ranged).fetch_all(pool).await?;
    let mut items = rows.iter().map(event_row).collect::<Result<Vec<_>, _>>()?;
    let next = if items.len() > page.limit as usize {
        items.truncate(page.limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// One event with its raw JSON.
pub(super) async fn event(pool: &PgPool, id: i64) -> Result<Option<StoredEvent>, StoreError> {
    // The columns are a constant of this file; the id is bound.
    let sql = sqlx::AssertSqlSafe(format!("{EVENT_COLUMNS} WHERE e.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
    Ok(row.as_ref().map(event_row).transpose()?)
}
