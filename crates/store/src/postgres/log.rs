//! The rest of the log's reads: tails for the stages, requests, quarantine, totals, the
//! per-minute series, duplicate arrivals.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::read::{EVENT_COLUMNS, event_row};
use crate::{
    MINUTE_US, Order, Page, PageRequest, QuarantineEntry, RequestDetail, RequestFilter,
    RequestSummary, SeriesPoint, SeriesQuery, Stats, StatsRow, StoreError, StoredEvent, minute_of,
};

/// The largest page any list answers.
const MAX_LIMIT: u32 = 10_000;

const REQUEST_COLUMNS: &str =
    "id, source, received_at, topic, verdict, accepted, duplicates, octet_length(body)::bigint";

fn request_row(r: &PgRow) -> Result<RequestSummary, sqlx::Error> {
    Ok(RequestSummary {
        id: r.try_get(0)?,
        source: r.try_get(1)?,
        received_at: r.try_get(2)?,
        topic: r.try_get(3)?,
        verdict: r.try_get(4)?,
        accepted: r.try_get::<i32, _>(5)? as u32,
        duplicates: r.try_get::<i32, _>(6)? as u32,
        body_len: r.try_get(7)?,
    })
}

/// Keyset paging on `id`: the order, the bound after `page.after`, and one row more than
/// the page to know whether there is a next one.
pub(super) fn page_tail(q: &mut QueryBuilder<Postgres>, column: &str, page: PageRequest) {
    let (cmp, dir) = match page.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = page.after {
        q.push(format!(" AND {column} {cmp} ")).push_bind(after);
    }
    q.push(format!(" ORDER BY {column} {dir} LIMIT "))
        .push_bind(i64::from(page.limit.clamp(1, MAX_LIMIT)) + 1);
}

/// The page of `items` (one more than asked when there is more) and the id to go on after.
pub(super) fn paged<T>(mut items: Vec<T>, page: PageRequest, id: impl Fn(&T) -> i64) -> Page<T> {
    let limit = page.limit.clamp(1, MAX_LIMIT) as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&id)
    } else {
        None
    };
    Page { items, next }
}

/// Up to `limit` events of `topics` after `after`, and how far the log was read.
pub(super) async fn tail(
    pool: &PgPool,
    after: i64,
    topics: &[String],
    limit: u32,
) -> Result<(Vec<StoredEvent>, i64), StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    // One snapshot for both statements, as the SQLite backend reads them.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "{EVENT_COLUMNS} WHERE e.id > $1 AND e.topic = ANY($2) ORDER BY e.id LIMIT $3"
    ));
    let items = sqlx::query(sql)
        .bind(after)
        .bind(topics)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(event_row)
        .collect::<Result<Vec<_>, _>>()?;
    let covered = if items.len() as u32 == limit {
        items.last().map_or(after, |e| e.id)
    } else {
        let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        max.unwrap_or(after)
    };
    tx.commit().await?;
    Ok((items, covered.max(after)))
}

/// Up to `limit` events of every topic after `after`, oldest first.
pub(super) async fn tail_all(
    pool: &PgPool,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{EVENT_COLUMNS} WHERE e.id > $1 ORDER BY e.id LIMIT $2"
    ));
    Ok(sqlx::query(sql)
        .bind(after)
        .bind(i64::from(limit.clamp(1, MAX_LIMIT)))
        .fetch_all(pool)
        .await?
        .iter()
        .map(event_row)
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) async fn requests(
    pool: &PgPool,
    filter: &RequestFilter,
    page: PageRequest,
) -> Result<Page<RequestSummary>, StoreError> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE true"));
    if let Some(source) = &filter.source {
        q.push(" AND source = ").push_bind(source.clone());
    }
    if let Some(topic) = &filter.topic {
        q.push(" AND topic = ").push_bind(topic.clone());
    }
    if let Some(since) = filter.since {
        q.push(" AND received_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        q.push(" AND received_at <= ").push_bind(until);
    }
    page_tail(&mut q, "id", page);
    let items = q
        .build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(request_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(items, page, |r| r.id))
}

pub(super) async fn request(pool: &PgPool, id: i64) -> Result<Option<RequestDetail>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS}, headers::text, body, duplicate_of::text, first_event_id \
         FROM requests WHERE id = $1"
    ));
    let Some(row) = sqlx::query(sql).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let summary = request_row(&row)?;
    let headers: String = row.try_get(8)?;
    let duplicate_of: Option<String> = row.try_get(10)?;
    let first_event_id: Option<i64> = row.try_get(11)?;
    // A request's new events took consecutive ids (the writer holds the append lock).
    let event_ids = match first_event_id {
        Some(first) => (first..first + i64::from(summary.accepted)).collect(),
        None => Vec::new(),
    };
    Ok(Some(RequestDetail {
        summary,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        body: row.try_get(9)?,
        event_ids,
        duplicate_of: duplicate_of
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or_default(),
    }))
}

/// How many requests after an event's own request are searched for its duplicates.
const DUPLICATE_SCAN: i64 = 100_000;

/// Requests after `request_id` that repeated event `event_id`, oldest first.
pub(super) async fn duplicate_arrivals(
    pool: &PgPool,
    event_id: i64,
    request_id: i64,
    limit: u32,
) -> Result<Vec<RequestSummary>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id > $2 AND id <= $2 + $4 \
         AND duplicates > 0 AND duplicate_of @> to_jsonb($1::bigint) ORDER BY id LIMIT $3"
    ));
    Ok(sqlx::query(sql)
        .bind(event_id)
        .bind(request_id)
        .bind(i64::from(limit))
        .bind(DUPLICATE_SCAN)
        .fetch_all(pool)
        .await?
        .iter()
        .map(request_row)
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) async fn quarantined(
    pool: &PgPool,
    page: PageRequest,
) -> Result<Page<QuarantineEntry>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, source, received_at, reason, detail, headers::text, body FROM quarantine WHERE true",
    );
    page_tail(&mut q, "id", page);
    let items = q
        .build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(QuarantineEntry {
                id: r.try_get(0)?,
                source: r.try_get(1)?,
                received_at: r.try_get(2)?,
                reason: r.try_get(3)?,
                detail: r.try_get(4)?,
                headers: serde_json::from_str(&r.try_get::<String, _>(5)?).unwrap_or_default(),
                body: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paged(items, page, |q| q.id))
}

pub(super) async fn quarantine_by_source(pool: &PgPool) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT source, count(*) FROM quarantine GROUP BY source ORDER BY source")
            .fetch_all(pool)
            .await?,
    )
}

pub(super) async fn stats(pool: &PgPool) -> Result<Stats, StoreError> {
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT source, topic, requests, events, duplicates, last_received_at FROM totals ORDER BY source, topic",
    )
    .fetch_all(pool)
    .await?;
    let quarantined: i64 = sqlx::query_scalar("SELECT n FROM quarantine_total")
        .fetch_one(pool)
        .await?;
    Ok(Stats {
        rows: rows
            .into_iter()
            .map(|r| StatsRow {
                source: r.0,
                topic: r.1,
                requests: r.2,
                events: r.3,
                duplicates: r.4,
                last_received_at: r.5,
            })
            .collect(),
        quarantined,
    })
}

/// The buckets of `q` that hold events, by bucket then topic, from the per-minute counts.
pub(super) async fn series(pool: &PgPool, q: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
    let step = i64::from(q.step_minutes.max(1));
    let first = minute_of(q.since).div_euclid(step) * step;
    let last = minute_of(q.until).div_euclid(step) * step + step - 1;
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT (minute / ");
    b.push_bind(step)
        .push(") * ")
        .push_bind(step)
        .push(" AS bucket, topic, sum(events)::bigint FROM event_minutes WHERE minute >= ")
        .push_bind(first)
        .push(" AND minute <= ")
        .push_bind(last);
    if let Some(topic) = &q.topic {
        b.push(" AND topic = ").push_bind(topic.clone());
    }
    if let Some(source) = &q.source {
        b.push(" AND source = ").push_bind(source.clone());
    }
    b.push(" GROUP BY bucket, topic HAVING sum(events) > 0 ORDER BY bucket, topic");
    let rows: Vec<(i64, String, i64)> = b.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(bucket, topic, events)| SeriesPoint {
            bucket: bucket * MINUTE_US,
            topic,
            events,
        })
        .collect())
}
