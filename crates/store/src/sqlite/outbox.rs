//! Writes and reads of the delivery outbox and its attempts.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};

use super::read::{Clause, paged};
use crate::{
    AttemptFilter, AttemptRecord, AttemptRow, BatchFilter, BatchRow, BatchState, OutboxCommit,
    Page, PageRequest, ReplayRequest, StoreError,
};

/// Writes the stage's batches and its cursor; returns the batch ids in order.
pub(crate) fn commit(tx: &Transaction<'_>, commit: &OutboxCommit) -> Result<Vec<i64>, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (subscription_id, topic, state, event_count, event_ids, delivery_id,
                             created_at, due_at, body)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?6, ?7)",
    )?;
    let mut about = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox_incidents (incident_id, batch_id) VALUES (?1, ?2)",
    )?;
    let mut ids = Vec::with_capacity(commit.batches.len());
    for b in &commit.batches {
        insert.execute(params![
            b.subscription_id,
            b.topic,
            b.event_ids.len() as i64,
            ids_json(&b.event_ids),
            b.delivery_id,
            b.created_at,
            &b.body[..],
        ])?;
        let id = tx.last_insert_rowid();
        for incident in &b.incident_ids {
            about.execute(params![incident, id])?;
        }
        ids.push(id);
    }
    if let Some((stage, cursor)) = &commit.stage {
        let snapshot: &[u8] = commit.snapshot.as_deref().unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO stages (name, cursor, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
                 snapshot = CASE WHEN ?5 THEN excluded.snapshot ELSE snapshot END",
        )?
        .execute(params![stage, cursor, snapshot, commit.at, commit.snapshot.is_some()])?;
    }
    Ok(ids)
}

/// Records attempts and moves their batches to the state each attempt decided.
pub(crate) fn record(tx: &Transaction<'_>, records: &[AttemptRecord]) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO attempts (batch_id, subscription_id, topic, attempt, at, success, status_code,
                               latency_us, error, url, request_headers, request_body,
                               response_headers, response_body, next_state, next_due_at,
                               first_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE outbox SET state = ?2, due_at = ?3, attempts = MAX(attempts, ?4),
                round_attempts = round_attempts + 1, first_attempt_at = ?5,
                last_attempt_at = ?6, last_status = ?7, last_error = ?8
         WHERE id = ?1",
    )?;
    for r in records {
        insert.execute(params![
            r.batch_id,
            r.subscription_id,
            r.topic,
            r.attempt,
            r.at,
            r.success,
            r.status_code,
            r.latency_us,
            r.error,
            r.url,
            r.request_headers,
            r.request_body,
            r.response_headers,
            r.response_body,
            r.next_state.as_str(),
            r.next_due_at,
            r.first_attempt_at,
        ])?;
        update.execute(params![
            r.batch_id,
            r.next_state.as_str(),
            r.next_due_at,
            r.attempt,
            r.first_attempt_at,
            r.at,
            r.status_code,
            r.error,
        ])?;
    }
    Ok(())
}

/// Puts dead batches back in the queue; returns their ids.
pub(crate) fn replay(tx: &Transaction<'_>, req: &ReplayRequest) -> Result<Vec<i64>, StoreError> {
    let mut c = Clause::default();
    c.eq("subscription_id = ?", &Some(req.subscription_id.clone()));
    c.int("id = ?", req.batch_id);
    c.int("created_at >= ?", req.since);
    c.int("created_at <= ?", req.until);
    let (filter, mut values) = c.finish_where();
    values.insert(0, Value::Integer(req.now));
    let sql = format!(
        "UPDATE outbox SET state = 'pending', due_at = ?, round_attempts = 0, first_attempt_at = NULL
         {filter} AND state = 'dead' RETURNING id"
    );
    let mut ids = tx
        .prepare(&sql)?
        .query_map(params_from_iter(values), |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Removes a subscription's batches and attempts with it.
pub(crate) fn forget_subscription(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM outbox_incidents WHERE batch_id IN (SELECT id FROM outbox WHERE subscription_id = ?1)",
    )?
    .execute([id])?;
    tx.prepare_cached("DELETE FROM outbox WHERE subscription_id = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM attempts WHERE subscription_id = ?1")?
        .execute([id])?;
    Ok(())
}

const BATCH_COLUMNS: &str =
    "id, subscription_id, topic, state, event_count, event_ids, delivery_id, created_at,
     due_at, attempts, round_attempts, first_attempt_at, last_attempt_at, last_status, last_error";

fn batch_row(r: &Row<'_>) -> rusqlite::Result<BatchRow> {
    let state: String = r.get(3)?;
    let ids: String = r.get(5)?;
    Ok(BatchRow {
        id: r.get(0)?,
        subscription_id: r.get(1)?,
        topic: r.get(2)?,
        state: BatchState::parse(&state).unwrap_or(BatchState::Dead),
        event_count: r.get(4)?,
        event_ids: serde_json::from_str(&ids).unwrap_or_default(),
        delivery_id: r.get(6)?,
        created_at: r.get(7)?,
        due_at: r.get(8)?,
        attempts: r.get(9)?,
        round_attempts: r.get(10)?,
        first_attempt_at: r.get(11)?,
        last_attempt_at: r.get(12)?,
        last_status: r.get(13)?,
        last_error: r.get(14)?,
        body: bytes::Bytes::new(),
    })
}

/// The batches that reported changes of incident `incident_id`, newest first, without
/// their bodies.
pub(crate) fn incident_batches(
    conn: &Connection,
    incident_id: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM outbox WHERE id IN
             (SELECT batch_id FROM outbox_incidents WHERE incident_id = ?1)
         ORDER BY id DESC LIMIT ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![incident_id, limit], batch_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Pending batches after `after`, oldest first, without their bodies.
pub(crate) fn pending(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM outbox WHERE state = 'pending' AND id > ?1 ORDER BY id LIMIT ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![after, limit], batch_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Per destination with pending batches: how many, and when the oldest was built.
pub(crate) fn pending_by_destination(
    conn: &Connection,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT subscription_id, COUNT(*), MIN(created_at) FROM outbox
             WHERE state = 'pending' GROUP BY subscription_id ORDER BY subscription_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One batch with its body.
pub(crate) fn batch(conn: &Connection, id: i64) -> Result<Option<BatchRow>, StoreError> {
    let sql = format!("SELECT {BATCH_COLUMNS}, body FROM outbox WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], |r| {
            let mut row = batch_row(r)?;
            row.body = bytes::Bytes::from(r.get::<_, Vec<u8>>(15)?);
            Ok(row)
        })
        .optional()?)
}

pub(crate) fn batches(
    conn: &Connection,
    filter: &BatchFilter,
    page: PageRequest,
) -> Result<Page<BatchRow>, StoreError> {
    let mut c = Clause::default();
    c.eq("subscription_id = ?", &filter.subscription_id);
    c.eq("state = ?", &filter.state.map(|s| s.as_str().to_string()));
    c.eq("topic = ?", &filter.topic);
    c.int("created_at >= ?", filter.since);
    c.int("created_at <= ?", filter.until);
    let (tail, values) = c.finish("id", page);
    let rows = conn
        .prepare_cached(&format!("SELECT {BATCH_COLUMNS} FROM outbox{tail}"))?
        .query_map(params_from_iter(values), batch_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(rows, page, |b| b.id))
}

const ATTEMPT_COLUMNS: &str =
    "id, batch_id, subscription_id, topic, attempt, at, success, status_code, latency_us,
     error, url, request_headers, request_body, response_headers, response_body, next_state,
     next_due_at, first_attempt_at";

fn attempt_row(r: &Row<'_>) -> rusqlite::Result<AttemptRow> {
    let next_state: String = r.get(15)?;
    Ok(AttemptRow {
        id: r.get(0)?,
        record: AttemptRecord {
            batch_id: r.get(1)?,
            subscription_id: r.get(2)?,
            topic: r.get(3)?,
            attempt: r.get(4)?,
            at: r.get(5)?,
            success: r.get(6)?,
            status_code: r.get(7)?,
            latency_us: r.get(8)?,
            error: r.get(9)?,
            url: r.get(10)?,
            request_headers: r.get(11)?,
            request_body: r.get(12)?,
            response_headers: r.get(13)?,
            response_body: r.get(14)?,
            next_state: BatchState::parse(&next_state).unwrap_or(BatchState::Dead),
            next_due_at: r.get(16)?,
            first_attempt_at: r.get(17)?,
        },
    })
}

fn attempt_clause(filter: &AttemptFilter) -> Clause {
    let mut c = Clause::default();
    c.eq("subscription_id = ?", &filter.subscription_id);
    c.eq("topic = ?", &filter.topic);
    c.int("success = ?", filter.success.map(i64::from));
    c.int("status_code = ?", filter.status_code.map(i64::from));
    c.eq("instr(error, ?) > 0", &filter.error);
    c.int("at >= ?", filter.since);
    c.int("at <= ?", filter.until);
    c
}

pub(crate) fn attempts(
    conn: &Connection,
    filter: &AttemptFilter,
    page: PageRequest,
) -> Result<Page<AttemptRow>, StoreError> {
    let (tail, values) = attempt_clause(filter).finish("id", page);
    let rows = conn
        .prepare_cached(&format!("SELECT {ATTEMPT_COLUMNS} FROM attempts{tail}"))?
        .query_map(params_from_iter(values), attempt_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(rows, page, |a| a.id))
}

/// Attempt counts grouped by `distinct` (`status`, `status_code`, `topic`), largest first.
pub(crate) fn count_attempts(
    conn: &Connection,
    filter: &AttemptFilter,
    distinct: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let column = match distinct {
        "status" => "CASE success WHEN 1 THEN 'success' ELSE 'failure' END",
        "status_code" => "COALESCE(CAST(status_code AS TEXT), '')",
        "topic" => "topic",
        _ => "subscription_id",
    };
    let (filter, values) = attempt_clause(filter).finish_where();
    let sql = format!(
        "SELECT {column} AS k, COUNT(*) AS n FROM attempts {filter} GROUP BY k ORDER BY n DESC, k"
    );
    let rows = conn
        .prepare(&sql)?
        .query_map(params_from_iter(values), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("ids serialise")
}
