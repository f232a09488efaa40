//! The correlation stage's state on PostgreSQL: stage cursors and snapshots, devices,
//! incidents and their changes, the device history, and what routing targets remember.
//! Each function answers as the SQLite backend's (`sqlite/state_tables.rs`, `history.rs`).
//!
//! A stage commit is one transaction that first takes the state lock (a
//! transaction-scoped advisory lock, [`STATE_LOCK`]). Under it, ids of new devices,
//! device history rows and incident changes are reserved from their sequences in blocks
//! and written with the rows, so that across every instance on the database they grow in
//! commit order: a reader that remembers the last id it saw (the routing stage's cursor
//! over incident changes, a page of devices) never misses a row committed later.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use super::PgStore;
use crate::{
    DeviceAt, DeviceFilter, DeviceHistoryRow, DeviceRow, DeviceTile, IncidentChange,
    IncidentFilter, IncidentRow, Order, Page, PageRequest, StageCommit, StageState, StoreError,
    Tally,
};

/// The advisory lock key stage commits run under ("mgstat" in ASCII). It is distinct
/// from the append lock: appends and stage commits order their own ids independently.
const STATE_LOCK: i64 = 0x6d67_7374_6174;

/// The transaction of a stage commit.
type Tx<'c> = Transaction<'c, Postgres>;

/// Largest page a caller may ask for (as the SQLite backend).
const MAX_LIMIT: u32 = 1_000;

/// This part's tables (migration 3 of `schema.rs`, run inside a transaction). Records
/// are kept as `text`, exactly as the stage wrote them (JSON). Ids that must grow in
/// commit order come from sequences that only [`stage_commit`] takes, under
/// [`STATE_LOCK`]; incident ids are the stage's own.
pub(super) const SCHEMA: &str = r#"
    -- A stage's cursor (the last event id it handled) and snapshot (opaque to the store).
    CREATE TABLE stages (
        name text PRIMARY KEY, cursor bigint NOT NULL, snapshot bytea NOT NULL,
        updated_at bigint NOT NULL
    );
    CREATE SEQUENCE device_ids;
    CREATE TABLE devices (
        id      bigint PRIMARY KEY,             -- from device_ids
        org_id  text   NOT NULL,
        mac     text   NOT NULL,
        kind    text   NOT NULL,
        site_id text,
        state   text   NOT NULL,
        since   bigint NOT NULL,
        record  text   NOT NULL,
        name    text   GENERATED ALWAYS AS ((record::jsonb ->> 'name')) STORED,  -- for the board
        UNIQUE (mac, org_id)                    -- MAC first: also the lookup by MAC alone
    );
    CREATE INDEX devices_site ON devices (site_id, id);
    CREATE INDEX devices_tally ON devices (state, kind, site_id);
    CREATE TABLE incidents (
        id bigint PRIMARY KEY, key text NOT NULL, kind text NOT NULL, state text NOT NULL,
        site_id text, opened_at bigint NOT NULL, last_seen_at bigint NOT NULL,
        resolved_at bigint, record text NOT NULL
    );
    CREATE INDEX incidents_state ON incidents (state, id);
    CREATE INDEX incidents_site ON incidents (site_id, id);
    CREATE INDEX incidents_opened ON incidents (opened_at);
    CREATE INDEX incidents_tally ON incidents (state, kind, site_id);
    -- What the routing stage tails by id.
    CREATE SEQUENCE incident_change_ids;
    CREATE TABLE incident_changes (
        id          bigint PRIMARY KEY,         -- from incident_change_ids
        incident_id bigint NOT NULL,
        change      text   NOT NULL,            -- opened, updated, resolved, acknowledged, suppressed
        at          bigint NOT NULL,
        record      text   NOT NULL             -- the incident after the change
    );
    CREATE INDEX incident_changes_at ON incident_changes (at);
    -- Every change of every device, appended with the commit that made it.
    CREATE SEQUENCE device_history_ids;
    CREATE TABLE device_history (
        id       bigint PRIMARY KEY,            -- from device_history_ids
        org_id   text   NOT NULL,
        mac      text   NOT NULL,
        kind     text   NOT NULL,
        site_id  text,
        at       bigint NOT NULL,               -- event time of the change, unix µs
        change   text   NOT NULL,               -- down, up, restarted, flap
        state    text   NOT NULL,               -- up, down, unknown: after the change
        since    bigint NOT NULL,
        event_id bigint,
        note     text   NOT NULL
    );
    -- A device's state at a time (its newest row at or before it); its history by id; one
    -- event changes a device in a given way once (rows without an event never clash).
    CREATE INDEX device_history_at ON device_history (org_id, mac, at, id);
    CREATE INDEX device_history_device ON device_history (org_id, mac, id);
    CREATE UNIQUE INDEX device_history_once ON device_history (org_id, mac, event_id, change);
    -- What routing targets remember (a Slack message, a ServiceNow record) per key.
    CREATE TABLE target_state (
        target text NOT NULL, key text NOT NULL, value text NOT NULL, updated_at bigint NOT NULL,
        PRIMARY KEY (target, key)
    );
"#;

/// Where stage `name` stands; `None` before its first commit.
pub(super) async fn stage_load(pg: &PgStore, name: &str) -> Result<Option<StageState>, StoreError> {
    let query =
        sqlx::query("SELECT cursor, snapshot, version FROM stages WHERE name = $1").bind(name);
    let row = query.fetch_optional(pg.pool()).await?;
    let version = row.as_ref().map(|r| r.try_get::<i64, _>(2)).transpose()?;
    // What this instance's next commit of the stage must follow.
    pg.stage_versions().set(name, version.unwrap_or(0));
    Ok(row.as_ref().map(stage_row).transpose()?)
}

/// Writes a stage's batch in one transaction under [`STATE_LOCK`]: devices and incidents
/// (inserted or replaced), incident changes and device history rows (appended, with ids
/// in commit order), and the stage's cursor and snapshot.
///
/// Rows of one batch that name the same device or incident twice are applied in order,
/// as separate statements would be: the last one wins, and a new device gets its id at
/// its first mention. A device change already in the history (same device, event and
/// change) is not added again.
pub(super) async fn stage_commit(pg: &PgStore, commit: StageCommit) -> Result<(), StoreError> {
    let mut tx = pg.pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(STATE_LOCK)
        .execute(&mut *tx)
        .await?;
    write_devices(&mut tx, &commit.devices).await?;
    write_history(&mut tx, &commit.device_changes).await?;
    write_incidents(&mut tx, &commit.incidents).await?;
    write_changes(&mut tx, &commit.changes).await?;
    if !commit.changes.is_empty() {
        super::cluster::notify(&mut tx, super::cluster::INCIDENTS).await?;
    }
    super::cluster::write_stage(
        pg,
        &mut tx,
        &commit.stage,
        commit.cursor,
        Some(&commit.snapshot),
        commit.at,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes `n` consecutive values of sequence `sequence` (only under [`STATE_LOCK`], which
/// every writer of these sequences holds, so the block is not interleaved with another).
async fn reserve(tx: &mut Tx<'_>, sequence: &str, n: usize) -> Result<Vec<i64>, StoreError> {
    let n = n as i64;
    let last: i64 =
        sqlx::query_scalar("SELECT setval($1::regclass, nextval($1::regclass) + $2 - 1)")
            .bind(sequence)
            .bind(n)
            .fetch_one(&mut **tx)
            .await?;
    Ok((last - n + 1..=last).collect())
}

/// The rows of `rows` with one per key: each key at the place of its first row, with
/// the value of its last (what applying them one by one leaves).
fn last_per_key<'a, T, K: Eq + Hash>(rows: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut place: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<&T> = Vec::with_capacity(rows.len());
    for row in rows {
        match place.entry(key(row)) {
            Entry::Occupied(e) => out[*e.get()] = row,
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(row);
            }
        }
    }
    out
}

/// One column of `rows`, as an array to bind (for `UNNEST`).
fn column<'a, T, U>(rows: &[&'a T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(|row| value(row)).collect()
}

/// Inserts or replaces devices by (MAC, org). A device already there keeps its id; the
/// ids reserved for the others are left unused.
async fn write_devices(tx: &mut Tx<'_>, devices: &[DeviceRow]) -> Result<(), StoreError> {
    let devices = last_per_key(devices, |d| (d.mac.as_str(), d.org_id.as_str()));
    if devices.is_empty() {
        return Ok(());
    }
    let ids = reserve(tx, "device_ids", devices.len()).await?;
    sqlx::query(
        "INSERT INTO devices (id, org_id, mac, kind, site_id, state, since, record)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::bigint[], $8::text[])
         ON CONFLICT (mac, org_id) DO UPDATE SET kind = EXCLUDED.kind, site_id = EXCLUDED.site_id,
             state = EXCLUDED.state, since = EXCLUDED.since, record = EXCLUDED.record",
    )
    .bind(ids)
    .bind(column(&devices, |d| d.org_id.as_str()))
    .bind(column(&devices, |d| d.mac.as_str()))
    .bind(column(&devices, |d| d.kind.as_str()))
    .bind(column(&devices, |d| d.site_id.as_deref()))
    .bind(column(&devices, |d| d.state.as_str()))
    .bind(column(&devices, |d| d.since))
    .bind(column(&devices, |d| d.record.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends device changes in their order. A change of the batch that repeats an earlier
/// one of the batch is dropped here; one already stored is skipped by the unique index.
async fn write_history(tx: &mut Tx<'_>, rows: &[DeviceHistoryRow]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<&DeviceHistoryRow> = rows
        .iter()
        .filter(|r| match r.event_id {
            Some(event) => seen.insert((&r.org_id, &r.mac, event, &r.change)),
            None => true,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let ids = reserve(tx, "device_history_ids", rows.len()).await?;
    sqlx::query(
        "INSERT INTO device_history (id, org_id, mac, kind, site_id, at, change, state, since,
             event_id, note)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
             $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[])
         ON CONFLICT (org_id, mac, event_id, change) DO NOTHING",
    )
    .bind(ids)
    .bind(column(&rows, |r| r.org_id.as_str()))
    .bind(column(&rows, |r| r.mac.as_str()))
    .bind(column(&rows, |r| r.kind.as_str()))
    .bind(column(&rows, |r| r.site_id.as_deref()))
    .bind(column(&rows, |r| r.at))
    .bind(column(&rows, |r| r.change.as_str()))
    .bind(column(&rows, |r| r.state.as_str()))
    .bind(column(&rows, |r| r.since))
    .bind(column(&rows, |r| r.event_id))
    .bind(column(&rows, |r| r.note.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts or replaces incidents by id.
async fn write_incidents(tx: &mut Tx<'_>, incidents: &[IncidentRow]) -> Result<(), StoreError> {
    let incidents = last_per_key(incidents, |i| i.id);
    if incidents.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO incidents (id, key, kind, state, site_id, opened_at, last_seen_at,
             resolved_at, record)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
             $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])
         ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, kind = EXCLUDED.kind,
             state = EXCLUDED.state, site_id = EXCLUDED.site_id, opened_at = EXCLUDED.opened_at,
             last_seen_at = EXCLUDED.last_seen_at, resolved_at = EXCLUDED.resolved_at,
             record = EXCLUDED.record",
    )
    .bind(column(&incidents, |i| i.id))
    .bind(column(&incidents, |i| i.key.as_str()))
    .bind(column(&incidents, |i| i.kind.as_str()))
    .bind(column(&incidents, |i| i.state.as_str()))
    .bind(column(&incidents, |i| i.site_id.as_deref()))
    .bind(column(&incidents, |i| i.opened_at))
    .bind(column(&incidents, |i| i.last_seen_at))
    .bind(column(&incidents, |i| i.resolved_at))
    .bind(column(&incidents, |i| i.record.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends incident changes with ids in their order (the ids they carry are ignored).
async fn write_changes(tx: &mut Tx<'_>, changes: &[IncidentChange]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let changes: Vec<&IncidentChange> = changes.iter().collect();
    let ids = reserve(tx, "incident_change_ids", changes.len()).await?;
    sqlx::query(
        "INSERT INTO incident_changes (id, incident_id, change, at, record)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])",
    )
    .bind(ids)
    .bind(column(&changes, |c| c.incident_id))
    .bind(column(&changes, |c| c.change.as_str()))
    .bind(column(&changes, |c| c.at))
    .bind(column(&changes, |c| c.record.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds ` AND {prefix}{column} = value` to `q` for each term whose value is set.
fn push_eq(q: &mut QueryBuilder<Postgres>, prefix: &str, terms: &[(&str, &Option<String>)]) {
    for (column, value) in terms {
        if let Some(v) = value {
            q.push(format!(" AND {prefix}{column} = "))
                .push_bind(v.clone());
        }
    }
}

/// Adds the terms of a device filter on the table (or alias) `prefix` names.
fn push_device_filter(q: &mut QueryBuilder<Postgres>, prefix: &str, filter: &DeviceFilter) {
    let terms = [
        ("org_id", &filter.org_id),
        ("site_id", &filter.site_id),
        ("kind", &filter.kind),
        ("state", &filter.state),
    ];
    push_eq(q, prefix, &terms);
}

/// Adds the keyset condition on `id`, the order and the limit of `page` to `q`, asking
/// one row more than the page holds (to know whether there is a next one).
fn push_page(q: &mut QueryBuilder<Postgres>, page: PageRequest) {
    let (cmp, dir) = match page.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = page.after {
        q.push(format!(" AND id {cmp} ")).push_bind(after);
    }
    q.push(format!(" ORDER BY id {dir} LIMIT "))
        .push_bind(i64::from(page_limit(page)) + 1);
}

fn page_limit(page: PageRequest) -> u32 {
    page.limit.clamp(1, MAX_LIMIT)
}

/// Decodes the rows of a query ended by [`push_page`]: cuts the extra row, and says where
/// the next page starts (the `id` of the page's last row, when there is more).
fn page_of<T>(
    mut rows: Vec<PgRow>,
    page: PageRequest,
    decoder: fn(&PgRow) -> Result<T, sqlx::Error>,
) -> Result<Page<T>, StoreError> {
    let limit = page_limit(page) as usize;
    let mut next = None;
    if rows.len() > limit {
        rows.truncate(limit);
        next = rows.last().map(|r| r.try_get("id")).transpose()?;
    }
    let items = decode(&rows, decoder)?;
    Ok(Page { items, next })
}

/// Defines `fn $name(&PgRow) -> Result<$ty, _>`, each field read from the column of its
/// name.
macro_rules! decoder {
    ($name:ident -> $ty:ident { $($field:ident),* $(,)? }) => {
        fn $name(row: &PgRow) -> Result<$ty, sqlx::Error> {
            Ok($ty { $($field: row.try_get(stringify!($field))?),* })
        }
    };
}

decoder!(stage_row -> StageState { cursor, snapshot });
decoder!(device_row -> DeviceRow { org_id, mac, kind, site_id, state, since, record });
decoder!(history_row -> DeviceHistoryRow {
    id, org_id, mac, kind, site_id, at, change, state, since, event_id, note
});
decoder!(at_row -> DeviceAt { device_id, org_id, mac, kind, site_id, state, since, change_id });
decoder!(incident_row -> IncidentRow {
    id, key, kind, state, site_id, opened_at, last_seen_at, resolved_at, record
});
decoder!(change_row -> IncidentChange { id, incident_id, change, at, record });
decoder!(tally_row -> Tally { state, kind, site_id, count });
decoder!(tile_row -> DeviceTile { device_id, org_id, mac, kind, site_id, state, since, name });

/// Every row of `rows`, decoded.
fn decode<T>(
    rows: &[PgRow],
    decoder: fn(&PgRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    Ok(rows.iter().map(decoder).collect::<Result<_, _>>()?)
}

const DEVICE_COLUMNS: &str =
    "SELECT id, org_id, mac, kind, site_id, state, since, record FROM devices WHERE true";

/// A page of devices by filter, keyset-paged by row id.
pub(super) async fn devices(
    pg: &PgStore,
    filter: DeviceFilter,
    page: PageRequest,
) -> Result<Page<DeviceRow>, StoreError> {
    let mut q = QueryBuilder::new(DEVICE_COLUMNS);
    push_device_filter(&mut q, "", &filter);
    push_page(&mut q, page);
    page_of(q.build().fetch_all(pg.pool()).await?, page, device_row)
}

/// One device by normalised MAC, in any org (the first seen if the MAC is in several).
pub(super) async fn device(pg: &PgStore, mac: &str) -> Result<Option<DeviceRow>, StoreError> {
    // The columns are a constant of this file; the MAC is bound.
    let sql = sqlx::AssertSqlSafe(format!("{DEVICE_COLUMNS} AND mac = $1 ORDER BY id LIMIT 1"));
    let row = sqlx::query(sql).bind(mac).fetch_optional(pg.pool()).await?;
    Ok(row.as_ref().map(device_row).transpose()?)
}

/// One device's history, keyset-paged by id (newest first unless asked otherwise).
pub(super) async fn device_history(
    pg: &PgStore,
    org_id: &str,
    mac: &str,
    page: PageRequest,
) -> Result<Page<DeviceHistoryRow>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT id, org_id, mac, kind, site_id, at, change, state, since, event_id, note \
         FROM device_history WHERE org_id = ",
    );
    q.push_bind(org_id).push(" AND mac = ").push_bind(mac);
    push_page(&mut q, page);
    page_of(q.build().fetch_all(pg.pool()).await?, page, history_row)
}

/// Every device as of `at`: its newest history row at or before it (by event time, then
/// id), filtered on that row's values; devices with no change by then are left out.
/// Ordered by device row id.
pub(super) async fn devices_at(
    pg: &PgStore,
    at: i64,
    filter: DeviceFilter,
) -> Result<Vec<DeviceAt>, StoreError> {
    // For each device, one descent of `device_history_at` to its newest change by then.
    let mut q = QueryBuilder::new(
        "SELECT d.id AS device_id, h.org_id, h.mac, h.kind, h.site_id, h.state, h.since,
             h.id AS change_id
         FROM devices d
         CROSS JOIN LATERAL (
             SELECT x.id, x.org_id, x.mac, x.kind, x.site_id, x.state, x.since
             FROM device_history x
             WHERE x.org_id = d.org_id AND x.mac = d.mac AND x.at <= ",
    );
    q.push_bind(at);
    q.push(" ORDER BY x.at DESC, x.id DESC LIMIT 1) h WHERE true");
    push_device_filter(&mut q, "h.", &filter);
    q.push(" ORDER BY d.id");
    decode(&q.build().fetch_all(pg.pool()).await?, at_row)
}

const INCIDENT_COLUMNS: &str = "SELECT id, key, kind, state, site_id, opened_at, last_seen_at, \
     resolved_at, record FROM incidents WHERE true";

/// A page of incidents by filter (`since`/`until` bound the opening time), keyset-paged
/// by id, newest first unless asked otherwise.
pub(super) async fn incidents(
    pg: &PgStore,
    filter: IncidentFilter,
    page: PageRequest,
) -> Result<Page<IncidentRow>, StoreError> {
    let mut q = QueryBuilder::new(INCIDENT_COLUMNS);
    let terms = [
        ("state", &filter.state),
        ("kind", &filter.kind),
        ("site_id", &filter.site_id),
    ];
    push_eq(&mut q, "", &terms);
    if let Some(since) = filter.since {
        q.push(" AND opened_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        q.push(" AND opened_at <= ").push_bind(until);
    }
    push_page(&mut q, page);
    page_of(q.build().fetch_all(pg.pool()).await?, page, incident_row)
}

/// One incident by id.
pub(super) async fn incident(pg: &PgStore, id: i64) -> Result<Option<IncidentRow>, StoreError> {
    // The columns are a constant of this file; the id is bound.
    let sql = sqlx::AssertSqlSafe(format!("{INCIDENT_COLUMNS} AND id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(pg.pool()).await?;
    Ok(row.as_ref().map(incident_row).transpose()?)
}

/// Up to `limit` incident changes after id `after`, oldest first.
pub(super) async fn incident_changes(
    pg: &PgStore,
    after: i64,
    limit: u32,
) -> Result<Vec<IncidentChange>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, incident_id, change, at, record FROM incident_changes
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pg.pool())
    .await?;
    decode(&rows, change_row)
}

/// The id of the newest incident change kept (0 when none).
pub(super) async fn last_incident_change(pg: &PgStore) -> Result<i64, StoreError> {
    let sql = "SELECT COALESCE(max(id), 0)::bigint FROM incident_changes";
    Ok(sqlx::query_scalar(sql).fetch_one(pg.pool()).await?)
}

/// Rows of `table` (`devices` or `incidents`) per state, kind and site.
async fn tallies(pg: &PgStore, table: &'static str) -> Result<Vec<Tally>, StoreError> {
    // The table name is one of this file's constants.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT state, kind, site_id, count(*) AS count FROM {table}
         GROUP BY state, kind, site_id ORDER BY state, kind, site_id"
    ));
    decode(&sqlx::query(sql).fetch_all(pg.pool()).await?, tally_row)
}

/// How many incidents there are per state, kind and site.
pub(super) async fn incident_tallies(pg: &PgStore) -> Result<Vec<Tally>, StoreError> {
    tallies(pg, "incidents").await
}

/// How many devices there are per state, kind and site.
pub(super) async fn device_tallies(pg: &PgStore) -> Result<Vec<Tally>, StoreError> {
    tallies(pg, "devices").await
}

/// Up to `limit` devices matching `filter`, in id order, as the board draws them: no
/// record, the name from the generated column.
pub(super) async fn device_tiles(
    pg: &PgStore,
    filter: DeviceFilter,
    limit: u32,
) -> Result<Vec<DeviceTile>, StoreError> {
    let mut q = QueryBuilder::new(
        "SELECT id AS device_id, org_id, mac, kind, site_id, state, since, name FROM devices \
         WHERE true",
    );
    push_device_filter(&mut q, "", &filter);
    q.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
    decode(&q.build().fetch_all(pg.pool()).await?, tile_row)
}

/// The names of the devices with these row ids (those that have one), in id order.
pub(super) async fn device_names(
    pg: &PgStore,
    ids: Vec<i64>,
) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name FROM devices WHERE id = ANY($1) AND name IS NOT NULL ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pg.pool())
    .await?)
}

/// What target `target` remembers under `key`.
pub(super) async fn target_state(
    pg: &PgStore,
    target: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let sql = "SELECT value FROM target_state WHERE target = $1 AND key = $2";
    let query = sqlx::query_scalar(sql).bind(target).bind(key);
    Ok(query.fetch_optional(pg.pool()).await?)
}

/// Remembers `value` for target `target` under `key` (replacing what was there); returns
/// once committed.
pub(super) async fn put_target_state(
    pg: &PgStore,
    target: &str,
    key: &str,
    value: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO target_state (target, key, value, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (target, key) DO UPDATE SET value = EXCLUDED.value,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(target)
    .bind(key)
    .bind(value)
    .bind(at)
    .execute(pg.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
