//! Appends with group commit: what arrived while the previous transaction committed goes
//! into the next one. Each transaction takes the append lock (a transaction-scoped
//! advisory lock) first, so that across every instance on the database:
//! - ids come from their sequences in commit order (a reader that remembers the last id
//!   it saw never misses a row committed later with a smaller id);
//! - a fingerprint is checked and written by one transaction at a time, so the same event
//!   posted to two instances at once is stored once.
//!
//! The day partitions a transaction needs are made in it, under the same lock.

use std::collections::{HashMap, HashSet};

use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::{Appended, NewRequest, StoreError};

/// The advisory lock key appends run under ("mgappd").
pub(super) const APPEND_LOCK: i64 = 0x6d67_6170_7064;

/// Most requests one transaction takes.
const MAX_GROUP: usize = 256;

pub(super) const DAY_US: i64 = 86_400_000_000;

/// One append waiting for its commit.
pub(super) struct Job {
    pub request: NewRequest,
    pub dedup_since: i64,
    pub reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// Starts the writer; appends are sent to the returned channel.
pub(super) fn spawn(pool: PgPool) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(4096);
    tokio::spawn(async move {
        let mut days = HashSet::new();
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            match commit(&pool, &mut days, &jobs).await {
                Ok(answers) => {
                    for (job, answer) in jobs.into_iter().zip(answers) {
                        let _ = job.reply.send(Ok(answer));
                    }
                }
                // A failed group is tried again one request at a time, so that one bad
                // request fails alone.
                Err(e) if jobs.len() > 1 => {
                    tracing::warn!(error = %e, requests = jobs.len(), "a group commit failed; committing its requests one by one");
                    for job in jobs {
                        let one = std::slice::from_ref(&job);
                        let answer = commit(&pool, &mut days, one).await.map(|mut a| a.remove(0));
                        let _ = job.reply.send(answer);
                    }
                }
                Err(e) => {
                    if let Some(job) = jobs.pop() {
                        let _ = job.reply.send(Err(e));
                    }
                }
            }
        }
    });
    tx
}

async fn commit(
    pool: &PgPool,
    days: &mut HashSet<i64>,
    jobs: &[Job],
) -> Result<Vec<Appended>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
    let mut made = Vec::new();
    for job in jobs {
        let day = job.request.received_at.div_euclid(DAY_US);
        if !days.contains(&day) && !made.contains(&day) {
            make_partitions(&mut tx, day).await?;
            made.push(day);
        }
    }
    let mut answers = Vec::with_capacity(jobs.len());
    // Totals per (source, topic) and stored events per (minute, topic, source): a few
    // upserts per commit, however many events it holds.
    let mut totals: HashMap<(&str, &str), [i64; 4]> = HashMap::new();
    let mut minutes: HashMap<(i64, &str, &str), i64> = HashMap::new();
    for job in jobs {
        let r = &job.request;
        let appended = append_one(&mut tx, r, job.dedup_since).await?;
        let t = totals.entry((&r.source, &r.topic)).or_default();
        t[0] += 1;
        t[1] += i64::from(appended.accepted);
        t[2] += i64::from(appended.duplicates);
        t[3] = t[3].max(r.received_at);
        if appended.accepted > 0 {
            // Every event of a request is received at the request's time.
            let n = minutes
                .entry((crate::minute_of(r.received_at), &r.topic, &r.source))
                .or_default();
            *n += i64::from(appended.accepted);
        }
        answers.push(appended);
    }
    for ((source, topic), [requests, events, duplicates, last]) in &totals {
        sqlx::query(
            "INSERT INTO totals (source, topic, requests, events, duplicates, last_received_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (source, topic) DO UPDATE SET
                requests = totals.requests + EXCLUDED.requests,
                events = totals.events + EXCLUDED.events,
                duplicates = totals.duplicates + EXCLUDED.duplicates,
                last_received_at = greatest(totals.last_received_at, EXCLUDED.last_received_at)",
        )
        .bind(source)
        .bind(topic)
        .bind(requests)
        .bind(events)
        .bind(duplicates)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    }
    for ((minute, topic, source), n) in &minutes {
        sqlx::query(
            "INSERT INTO event_minutes (minute, topic, source, events) VALUES ($1, $2, $3, $4)
             ON CONFLICT (minute, topic, source) DO UPDATE SET events = event_minutes.events + EXCLUDED.events",
        )
        .bind(minute)
        .bind(topic)
        .bind(source)
        .bind(n)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    days.extend(made);
    Ok(answers)
}

/// The partitions of requests and events for day `day` (days since the epoch).
async fn make_partitions(tx: &mut Transaction<'_, Postgres>, day: i64) -> Result<(), StoreError> {
    let (from, to) = (day * DAY_US, (day + 1) * DAY_US);
    for table in ["requests", "events"] {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {table}_d{day} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
        );
        // Only integers this function computed are formatted in.
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn append_one(
    tx: &mut Transaction<'_, Postgres>,
    r: &NewRequest,
    dedup_since: i64,
) -> Result<Appended, StoreError> {
    let request_id: i64 = sqlx::query_scalar("SELECT nextval('request_ids')")
        .fetch_one(&mut **tx)
        .await?;
    let (mut accepted, mut duplicates) = (0u32, 0u32);
    let mut event_ids = Vec::with_capacity(r.events.len());
    let mut duplicate_of = Vec::new();
    let mut first_event_id = None;
    for e in &r.events {
        let seen: Option<(i64, i64)> =
            sqlx::query_as("SELECT event_id, received_at FROM fingerprints WHERE fingerprint = $1")
                .bind(&e.fingerprint[..])
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((original, at)) = seen
            && at >= dedup_since
        {
            duplicates += 1;
            duplicate_of.push(original);
            event_ids.push(original);
            continue;
        }
        let id: i64 = sqlx::query_scalar("SELECT nextval('event_ids')")
            .fetch_one(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO fingerprints (fingerprint, event_id, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (fingerprint) DO UPDATE
             SET event_id = EXCLUDED.event_id, received_at = EXCLUDED.received_at",
        )
        .bind(&e.fingerprint[..])
        .bind(id)
        .bind(r.received_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO events (id, request_id, topic, org_id, site_id, type, mac, severity,
                time, time_source, received_at, source, raw_offset, raw_len, fingerprint)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id)
        .bind(request_id)
        .bind(&e.topic)
        .bind(&e.org_id)
        .bind(&e.site_id)
        .bind(&e.event_type)
        .bind(&e.mac)
        .bind(&e.severity)
        .bind(e.time)
        .bind(&e.time_source)
        .bind(r.received_at)
        .bind(&r.source)
        .bind(e.raw_offset as i32)
        .bind(e.raw_len as i32)
        .bind(&e.fingerprint[..])
        .execute(&mut **tx)
        .await?;
        accepted += 1;
        first_event_id.get_or_insert(id);
        event_ids.push(id);
    }
    let headers = serde_json::to_string(&r.headers).expect("headers serialise");
    let duplicate_of_json =
        (!duplicate_of.is_empty()).then(|| serde_json::to_string(&duplicate_of).expect("ids"));
    sqlx::query(
        "INSERT INTO requests (id, source, received_at, topic, verdict, accepted, duplicates,
            headers, body, duplicate_of, first_event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11)",
    )
    .bind(request_id)
    .bind(&r.source)
    .bind(r.received_at)
    .bind(&r.topic)
    .bind(r.verdict.as_str())
    .bind(accepted as i32)
    .bind(duplicates as i32)
    .bind(headers)
    .bind(&r.body[..])
    .bind(duplicate_of_json)
    .bind(first_event_id)
    .execute(&mut **tx)
    .await?;
    Ok(Appended {
        request_id,
        accepted,
        duplicates,
        event_ids,
    })
}
