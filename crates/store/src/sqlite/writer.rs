//! The single writer: one thread owns the write connection and commits whatever arrived
//! while the previous commit ran, as one transaction (group commit).
//!
//! SQLite allows one writer at a time anyway; funnelling every write through one thread
//! turns N concurrent fsyncs into one, and makes id assignment trivially monotone: the
//! writer hands out request and event ids itself, in commit order.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::mpsc;

use super::dedup::{self, DedupIndex, Staged, StoredEvent, Verdict};
use super::mac_index::MacIndex;
use super::open::WriteHealth;
use super::ops::{Op, Outcome, answer};
use super::series::{self, Minutes};
use crate::{Appended, NewRequest, Pruned, Retention, StoreError};

/// Most operations folded into one transaction. Large enough that a burst of 64
/// concurrent clients commits together, small enough to bound one commit's latency.
const MAX_BATCH: usize = 512;

/// Rows deleted per statement during pruning, so that retention never holds the write
/// lock for long.
const PRUNE_CHUNK: i64 = 5_000;

/// Ids the writer hands out next. Read from the database at start and after a rollback.
struct NextIds {
    request: i64,
    event: i64,
    quarantine: i64,
}

impl NextIds {
    fn load(conn: &Connection) -> rusqlite::Result<NextIds> {
        let next = |table: &str| -> rusqlite::Result<i64> {
            conn.query_row(
                &format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"),
                [],
                |r| r.get(0),
            )
        };
        Ok(NextIds {
            request: next("requests")?,
            event: next("events")?,
            quarantine: next("quarantine")?,
        })
    }
}

/// The writer's state: its connection, the ids it hands out, the duplicate index and
/// the MAC index entries not yet written.
struct Writer {
    conn: Connection,
    ids: NextIds,
    dedup: DedupIndex,
    macs: MacIndex,
    health: std::sync::Arc<WriteHealth>,
}

/// Opens the writer's state, says on `ready` whether it could, and runs its loop until
/// every sender is gone.
pub(crate) fn run(
    conn: Connection,
    dedup_capacity: usize,
    mac_batch: usize,
    mut rx: mpsc::Receiver<Op>,
    health: std::sync::Arc<WriteHealth>,
    ready: std::sync::mpsc::Sender<Result<(), StoreError>>,
) {
    let mut writer = match Writer::open(conn, dedup_capacity, mac_batch, health) {
        Ok(w) => {
            let _ = ready.send(Ok(()));
            w
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut ops = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(first) = rx.blocking_recv() {
        ops.push(first);
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        // What was queued before a close is written; what comes after it is refused.
        if let Some(at) = ops.iter().position(|op| matches!(op, Op::Close { .. })) {
            if let Op::Close { reply } = ops.remove(at) {
                closing = Some(reply);
            }
            ops.truncate(at);
        }
        let started = Instant::now();
        let n = ops.len();
        writer.commit_group(&mut ops);
        metrics::histogram!("mistgate_store_commit_batch_size").record(n as f64);
        metrics::histogram!("mistgate_store_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("mistgate_dedup_index_entries").set(writer.dedup.len() as f64);
        metrics::gauge!("mistgate_dedup_index_bytes").set(writer.dedup.bytes() as f64);
        if closing.is_some() {
            break;
        }
    }
    rx.close();
    let closed = writer.close();
    if let Some(reply) = closing {
        let _ = reply.send(closed);
    }
}

impl Writer {
    /// Folds the WAL into the database and closes the connection. (MAC index entries
    /// still in memory need no writing: readers scan the tail the index does not cover.)
    fn close(self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| StoreError::from(e))?;
        tracing::info!("the store is closed");
        Ok(())
    }

    fn open(
        conn: Connection,
        dedup_capacity: usize,
        mac_batch: usize,
        health: std::sync::Arc<WriteHealth>,
    ) -> Result<Writer, StoreError> {
        let ids = NextIds::load(&conn)?;
        let dedup = rebuild_dedup(&conn, dedup_capacity, ids.event)?;
        let macs = MacIndex::open(&conn, mac_batch)?;
        // Both scans filled the page cache with old events' pages, which the writes to
        // come do not need: give them back now rather than hold them while idle.
        conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(Writer {
            conn,
            ids,
            dedup,
            macs,
            health,
        })
    }

    /// Commits `ops` as one transaction and answers each; when the group fails, retries
    /// each operation alone so that one bad operation cannot fail its neighbours.
    fn commit_group(&mut self, ops: &mut Vec<Op>) {
        // Prunes run in their own transactions (they commit in chunks).
        let (prunes, writes): (Vec<Op>, Vec<Op>) =
            ops.drain(..).partition(|op| matches!(op, Op::Prune { .. }));
        if !writes.is_empty() {
            let group = self.apply_all(&writes);
            self.health.record(&group);
            match group {
                Ok(done) => {
                    for (op, result) in writes.into_iter().zip(done) {
                        answer(op, Ok(result));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, ops = writes.len(), "group commit failed; retrying one by one");
                    for op in writes {
                        let result = self
                            .apply_all(std::slice::from_ref(&op))
                            .map(|mut done| done.remove(0));
                        self.health.record(&result);
                        answer(op, result);
                    }
                }
            }
        }
        for op in prunes {
            if let Op::Prune { retention, reply } = op {
                let _ = reply.send(self.prune(retention));
            }
        }
    }

    /// Applies every operation in one transaction. Ids and the duplicate index only
    /// move on once it commits.
    fn apply_all(&mut self, ops: &[Op]) -> Result<Vec<Outcome>, StoreError> {
        let tx = self.conn.transaction()?;
        let mac_progress = self.macs.write_slice(&tx, self.ids.event - 1)?;
        let mut next = NextIds {
            request: self.ids.request,
            event: self.ids.event,
            quarantine: self.ids.quarantine,
        };
        let mut staged = Staged::default();
        let mut staged_macs = Vec::new();
        let mut totals: HashMap<(&str, &str), Total> = HashMap::new();
        let mut minutes = Minutes::default();
        let mut quarantined = 0i64;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Append {
                    request,
                    dedup_since,
                    ..
                } => {
                    let appended = append(
                        &tx,
                        &mut next,
                        &self.dedup,
                        &mut staged,
                        &mut staged_macs,
                        &mut minutes,
                        request,
                        *dedup_since,
                    )?;
                    let t = totals.entry((&request.source, &request.topic)).or_default();
                    t.requests += 1;
                    t.events += i64::from(appended.accepted);
                    t.duplicates += i64::from(appended.duplicates);
                    t.last = t.last.max(request.received_at);
                    out.push(Outcome::Appended(appended));
                }
                Op::Quarantine { entry, .. } => {
                    let id = next.quarantine;
                    next.quarantine += 1;
                    tx.prepare_cached(
                        "INSERT INTO quarantine (id, source, received_at, reason, detail, headers, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?
                    .execute(params![
                        id,
                        entry.source,
                        entry.received_at,
                        entry.reason,
                        entry.detail,
                        headers_json(&entry.headers),
                        &entry.body[..],
                    ])?;
                    quarantined += 1;
                    out.push(Outcome::Quarantined(id));
                }
                Op::Stage { commit, .. } => {
                    super::state_tables::write(&tx, commit)?;
                    out.push(Outcome::Staged);
                }
                Op::PutSubscription { row, .. } => {
                    super::state_tables::put_subscription(&tx, row)?;
                    out.push(Outcome::Staged);
                }
                Op::DeleteSubscription { id, .. } => {
                    let n = tx
                        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
                        .execute([id])?;
                    super::outbox::forget_subscription(&tx, id)?;
                    out.push(Outcome::Deleted(n > 0));
                }
                Op::Outbox { commit, .. } => {
                    out.push(Outcome::Ids(super::outbox::commit(&tx, commit)?));
                }
                Op::Attempts { records, .. } => {
                    super::outbox::record(&tx, records)?;
                    out.push(Outcome::Staged);
                }
                Op::TargetState {
                    target,
                    key,
                    value,
                    at,
                    ..
                } => {
                    super::state_tables::put_target_state(&tx, target, key, value, *at)?;
                    out.push(Outcome::Staged);
                }
                Op::Replay { request, .. } => {
                    out.push(Outcome::Ids(super::outbox::replay(&tx, request)?));
                }
                Op::Probe { .. } => {
                    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                    tx.pragma_update(None, "user_version", version)?;
                    out.push(Outcome::Staged);
                }
                Op::Prune { .. } | Op::Close { .. } => {
                    unreachable!("prunes and closes are split off before")
                }
            }
        }
        for ((source, topic), t) in &totals {
            tx.prepare_cached(
                "INSERT INTO totals (source, topic, requests, events, duplicates, last_received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source, topic) DO UPDATE SET
                    requests = requests + excluded.requests,
                    events = events + excluded.events,
                    duplicates = duplicates + excluded.duplicates,
                    last_received_at = MAX(last_received_at, excluded.last_received_at)",
            )?
            .execute(params![
                source,
                topic,
                t.requests,
                t.events,
                t.duplicates,
                t.last
            ])?;
        }
        minutes.write(&tx)?;
        if quarantined > 0 {
            tx.prepare_cached("UPDATE quarantine_total SET n = n + ?1")?
                .execute([quarantined])?;
        }
        tx.commit()?;
        self.ids = next;
        self.dedup.commit(staged);
        if let Some(progress) = mac_progress {
            self.macs.committed(progress);
        }
        self.macs.extend(staged_macs);
        Ok(out)
    }

    /// Deletes in chunks, each its own transaction, so that ingest commits interleave.
    fn prune(&mut self, retention: Retention) -> Result<Pruned, StoreError> {
        let conn = &mut self.conn;
        let mut pruned = Pruned::default();
        let chunked = |sql: &str, before: i64| -> Result<u64, StoreError> {
            let mut total = 0u64;
            loop {
                let n = conn.execute(sql, params![before, PRUNE_CHUNK])?;
                total += n as u64;
                if (n as i64) < PRUNE_CHUNK {
                    return Ok(total);
                }
            }
        };
        if let Some(before) = retention.data_before {
            pruned.events = chunked(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
            pruned.requests = chunked(
                "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE received_at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
            pruned.quarantine = chunked(
                "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE received_at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
            // Pending batches are kept whatever their age: the retry schedule ends them.
            pruned.batches = chunked(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_at < ?1 AND state != 'pending' ORDER BY id LIMIT ?2)",
                before,
            )?;
            conn.execute(
                "DELETE FROM outbox_incidents WHERE NOT EXISTS
                     (SELECT 1 FROM outbox WHERE outbox.id = outbox_incidents.batch_id)",
                [],
            )?;
            chunked(
                "DELETE FROM incident_changes WHERE id IN (SELECT id FROM incident_changes WHERE at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
            pruned.attempts = chunked(
                "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
            pruned.minutes = series::prune(conn, before, PRUNE_CHUNK)?;
            chunked(
                "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY id LIMIT ?2)",
                before,
            )?;
        }
        if retention.data_before.is_some() {
            let first_kept: i64 = conn.query_row(
                "SELECT COALESCE(MIN(id), ?1) FROM events",
                [self.ids.event],
                |r| r.get(0),
            )?;
            MacIndex::prune(conn, first_kept)?;
        }
        // A fingerprint must not outlive the event it points at, nor the duplicate window.
        let fp_before = match retention.data_before {
            Some(data) => data.max(retention.fingerprints_before),
            None => retention.fingerprints_before,
        };
        pruned.fingerprints = self.dedup.expire(fp_before, |from, to, before| {
            self.conn.query_row(
                "SELECT MIN(id) FROM events WHERE id >= ?1 AND id < ?2 AND received_at >= ?3",
                params![from, to, before],
                |r| r.get(0),
            )
        })?;
        if self.dedup.evicted() > 0 {
            metrics::gauge!("mistgate_dedup_evicted").set(self.dedup.evicted() as f64);
        }
        // `received_at` has no index on events: a pass reads the table through the page
        // cache, whose pages the writes to come do not need.
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(pruned)
    }
}

/// The duplicate index, rebuilt from the fingerprints of the last `capacity` events,
/// streamed in id order (a rowid range: no sort, nothing gathered first).
fn rebuild_dedup(
    conn: &Connection,
    capacity: usize,
    next_event: i64,
) -> Result<DedupIndex, StoreError> {
    let started = Instant::now();
    let mut dedup = DedupIndex::new(capacity);
    let from = next_event.saturating_sub(capacity as i64);
    let first: i64 = conn.query_row(
        "SELECT COALESCE(MIN(id), ?2) FROM events WHERE id >= ?1",
        params![from, next_event],
        |r| r.get(0),
    )?;
    dedup.reserve((next_event - first) as usize);
    let mut stmt =
        conn.prepare("SELECT fingerprint, id, received_at FROM events WHERE id >= ?1 ORDER BY id")?;
    let mut rows = stmt.query([first])?;
    while let Some(row) = rows.next()? {
        if let Some(fp) = fingerprint(row.get_ref(0)?) {
            dedup.remember(fp, row.get(1)?, row.get(2)?);
        }
    }
    if dedup.len() > 0 {
        tracing::info!(entries = dedup.len(), bytes = dedup.bytes(), took = ?started.elapsed(), "rebuilt the duplicate index");
    }
    Ok(dedup)
}

/// A stored fingerprint column as the index's key (`None` for a malformed one).
fn fingerprint(value: ValueRef<'_>) -> Option<u128> {
    let bytes = value.as_blob().ok()?;
    <[u8; 16]>::try_from(bytes).ok().map(|fp| dedup::key(&fp))
}

/// What the duplicate index needs to confirm a match: a stored event's fingerprint and
/// receive time.
fn stored_event(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Option<StoredEvent>> {
    let row = tx
        .prepare_cached("SELECT fingerprint, received_at FROM events WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((fingerprint(r.get_ref(0)?), r.get::<_, i64>(1)?))
        })
        .optional()?;
    Ok(row.and_then(|(fp, at)| Some((fp?, at))))
}

#[derive(Default)]
struct Total {
    requests: i64,
    events: i64,
    duplicates: i64,
    last: i64,
}

#[allow(clippy::too_many_arguments)]
fn append<'a>(
    tx: &Transaction<'_>,
    next: &mut NextIds,
    dedup: &DedupIndex,
    staged: &mut Staged,
    staged_macs: &mut Vec<(String, i64)>,
    minutes: &mut Minutes<'a>,
    request: &'a NewRequest,
    dedup_since: i64,
) -> Result<Appended, StoreError> {
    let request_id = next.request;
    next.request += 1;
    let mut insert_event = tx.prepare_cached(
        "INSERT INTO events (id, request_id, topic, org_id, site_id, type, mac, severity, time, time_source,
                             received_at, source, raw_offset, raw_len, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    let mut accepted = 0u32;
    let mut duplicate_of = Vec::new();
    let mut event_ids = Vec::with_capacity(request.events.len());
    let first_event_id = next.event;
    for event in &request.events {
        let fp = dedup::key(&event.fingerprint);
        if let Verdict::DuplicateOf(original) =
            dedup.check(staged, fp, dedup_since, |id| stored_event(tx, id))?
        {
            duplicate_of.push(original);
            event_ids.push(original);
            continue;
        }
        let id = next.event;
        next.event += 1;
        insert_event.execute(params![
            id,
            request_id,
            event.topic,
            event.org_id,
            event.site_id,
            event.event_type,
            event.mac,
            event.severity,
            event.time,
            event.time_source,
            request.received_at,
            request.source,
            event.raw_offset,
            event.raw_len,
            &event.fingerprint[..],
        ])?;
        staged.stage(fp, id, request.received_at);
        minutes.add(request.received_at, &event.topic, &request.source);
        if let Some(mac) = &event.mac {
            staged_macs.push((mac.clone(), id));
        }
        accepted += 1;
        event_ids.push(id);
    }
    let duplicates = duplicate_of.len() as u32;
    let duplicate_of = (!duplicate_of.is_empty())
        .then(|| serde_json::to_string(&duplicate_of).expect("ids serialise"));
    tx.prepare_cached(
        "INSERT INTO requests (id, source, received_at, topic, verdict, headers, body, accepted, duplicates,
                               duplicate_of, first_event_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        request_id,
        request.source,
        request.received_at,
        request.topic,
        request.verdict.as_str(),
        headers_json(&request.headers),
        &request.body[..],
        accepted,
        duplicates,
        duplicate_of,
        (accepted > 0).then_some(first_event_id),
    ])?;
    Ok(Appended {
        request_id,
        accepted,
        duplicates,
        event_ids,
    })
}

pub(crate) fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).expect("strings serialise")
}
