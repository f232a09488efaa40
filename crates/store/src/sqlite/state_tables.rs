//! The tables the stages and the API keep beside the log: devices, incidents and their
//! change log, stage cursors and snapshots, subscriptions, and what targets remember.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};

use super::read::{Clause, paged};
use crate::{
    DeviceFilter, DeviceRow, IncidentFilter, IncidentRow, Page, PageRequest, StageCommit,
    StageState, StoreError, SubscriptionRow,
};

/// Applies one stage batch inside the writer's transaction.
pub(crate) fn write(tx: &Transaction<'_>, commit: &StageCommit) -> Result<(), StoreError> {
    let mut device = tx.prepare_cached(
        "INSERT INTO devices (org_id, mac, kind, site_id, state, since, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (mac, org_id) DO UPDATE SET kind = excluded.kind, site_id = excluded.site_id,
             state = excluded.state, since = excluded.since, record = excluded.record",
    )?;
    for d in &commit.devices {
        device.execute(params![
            d.org_id, d.mac, d.kind, d.site_id, d.state, d.since, d.record
        ])?;
    }
    super::history::write(tx, &commit.device_changes)?;
    let mut incident = tx.prepare_cached(
        "INSERT INTO incidents (id, key, kind, state, site_id, opened_at, last_seen_at, resolved_at, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET key = excluded.key, kind = excluded.kind, state = excluded.state,
             site_id = excluded.site_id, opened_at = excluded.opened_at, last_seen_at = excluded.last_seen_at,
             resolved_at = excluded.resolved_at, record = excluded.record",
    )?;
    for i in &commit.incidents {
        incident.execute(params![
            i.id,
            i.key,
            i.kind,
            i.state,
            i.site_id,
            i.opened_at,
            i.last_seen_at,
            i.resolved_at,
            i.record
        ])?;
    }
    let mut change = tx.prepare_cached(
        "INSERT INTO incident_changes (incident_id, change, at, record) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for c in &commit.changes {
        change.execute(params![c.incident_id, c.change, c.at, c.record])?;
    }
    tx.prepare_cached(
        "INSERT INTO stages (name, cursor, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, snapshot = excluded.snapshot,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        commit.stage,
        commit.cursor,
        commit.snapshot,
        commit.at
    ])?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, name: &str) -> Result<Option<StageState>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT cursor, snapshot FROM stages WHERE name = ?1")?
        .query_row([name], |r| {
            Ok(StageState {
                cursor: r.get(0)?,
                snapshot: r.get(1)?,
            })
        })
        .optional()?)
}

fn device_row(r: &Row<'_>) -> rusqlite::Result<(i64, DeviceRow)> {
    Ok((
        r.get(0)?,
        DeviceRow {
            org_id: r.get(1)?,
            mac: r.get(2)?,
            kind: r.get(3)?,
            site_id: r.get(4)?,
            state: r.get(5)?,
            since: r.get(6)?,
            record: r.get(7)?,
        },
    ))
}

/// The terms of a device filter on the `devices` table.
pub(crate) fn device_clause(filter: &DeviceFilter) -> Clause {
    let mut c = Clause::default();
    c.eq("org_id = ?", &filter.org_id);
    c.eq("site_id = ?", &filter.site_id);
    c.eq("kind = ?", &filter.kind);
    c.eq("state = ?", &filter.state);
    c
}

const DEVICE_COLUMNS: &str = "id, org_id, mac, kind, site_id, state, since, record";

pub(crate) fn devices(
    conn: &Connection,
    filter: &DeviceFilter,
    page: PageRequest,
) -> Result<Page<DeviceRow>, StoreError> {
    let (tail, values) = device_clause(filter).finish("id", page);
    let rows = query(
        conn,
        &format!("SELECT {DEVICE_COLUMNS} FROM devices{tail}"),
        values,
        device_row,
    )?;
    let page = paged(rows, page, |(id, _)| *id);
    Ok(Page {
        items: page.items.into_iter().map(|(_, d)| d).collect(),
        next: page.next,
    })
}

pub(crate) fn device(conn: &Connection, mac: &str) -> Result<Option<DeviceRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE mac = ?1 ORDER BY id LIMIT 1"
        ))?
        .query_row([mac], device_row)
        .optional()?
        .map(|(_, d)| d))
}

const INCIDENT_COLUMNS: &str =
    "id, key, kind, state, site_id, opened_at, last_seen_at, resolved_at, record";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        key: r.get(1)?,
        kind: r.get(2)?,
        state: r.get(3)?,
        site_id: r.get(4)?,
        opened_at: r.get(5)?,
        last_seen_at: r.get(6)?,
        resolved_at: r.get(7)?,
        record: r.get(8)?,
    })
}

pub(crate) fn incidents(
    conn: &Connection,
    filter: &IncidentFilter,
    page: PageRequest,
) -> Result<Page<IncidentRow>, StoreError> {
    let mut c = Clause::default();
    c.eq("state = ?", &filter.state);
    c.eq("kind = ?", &filter.kind);
    c.eq("site_id = ?", &filter.site_id);
    c.int("opened_at >= ?", filter.since);
    c.int("opened_at <= ?", filter.until);
    let (tail, values) = c.finish("id", page);
    let rows = query(
        conn,
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents{tail}"),
        values,
        incident_row,
    )?;
    Ok(paged(rows, page, |i| i.id))
}

pub(crate) fn incident(conn: &Connection, id: i64) -> Result<Option<IncidentRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"
        ))?
        .query_row([id], incident_row)
        .optional()?)
}

fn query<T>(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params_from_iter(values), row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn put_subscription(
    tx: &Transaction<'_>,
    row: &SubscriptionRow,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO subscriptions (id, scope, scope_id, record, modified_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, scope_id = excluded.scope_id,
             record = excluded.record, modified_at = excluded.modified_at",
    )?
    .execute(params![row.id, row.scope, row.scope_id, row.record, row.modified_at])?;
    Ok(())
}

fn subscription_row(r: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        id: r.get(0)?,
        scope: r.get(1)?,
        scope_id: r.get(2)?,
        record: r.get(3)?,
        modified_at: r.get(4)?,
    })
}

pub(crate) fn subscription(
    conn: &Connection,
    id: &str,
) -> Result<Option<SubscriptionRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, scope, scope_id, record, modified_at FROM subscriptions WHERE id = ?1",
        )?
        .query_row([id], subscription_row)
        .optional()?)
}

pub(crate) fn subscriptions(
    conn: &Connection,
    scope: Option<&(String, String)>,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    let (sql, values) = match scope {
        Some((kind, id)) => (
            "SELECT id, scope, scope_id, record, modified_at FROM subscriptions WHERE scope = ? AND scope_id = ? ORDER BY seq",
            vec![Value::Text(kind.clone()), Value::Text(id.clone())],
        ),
        None => (
            "SELECT id, scope, scope_id, record, modified_at FROM subscriptions ORDER BY seq",
            vec![],
        ),
    };
    query(conn, sql, values, subscription_row)
}

/// Incident changes after `after`, oldest first.
pub(crate) fn incident_changes(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<crate::IncidentChange>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, incident_id, change, at, record FROM incident_changes WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            Ok(crate::IncidentChange {
                id: r.get(0)?,
                incident_id: r.get(1)?,
                change: r.get(2)?,
                at: r.get(3)?,
                record: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What a target remembers under `key`.
pub(crate) fn target_state(
    conn: &Connection,
    target: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM target_state WHERE target = ?1 AND key = ?2")?
        .query_row([target, key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn put_target_state(
    tx: &Transaction<'_>,
    target: &str,
    key: &str,
    value: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO target_state (target, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (target, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![target, key, value, at])?;
    Ok(())
}
