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

use super::plan;
use crate::{Appended, NewRequest, StoreError};

/// The advisory lock key appends run under ("mgappd").
pub(super) const APPEND_LOCK: i64 = 0x6d67_6170_7064;

/// The advisory lock making a day's partition runs under ("mgpart" in ASCII).
const PARTITION_LOCK: i64 = 0x6d67_7061_7274;

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
    for job in jobs {
        let day = job.request.received_at.div_euclid(DAY_US);
        if !days.contains(&day) {
            // The day's partitions, and the next day's ahead of time, so that the first
            // appends after midnight do not wait for them.
            make_partitions(pool, day).await?;
            make_partitions(pool, day + 1).await?;
            days.insert(day);
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
    let answers = append_group(&mut tx, jobs).await?;
    // Totals per (source, topic) and stored events per (minute, topic, source): a few
    // upserts per commit, however many events it holds.
    let mut totals: HashMap<(&str, &str), [i64; 4]> = HashMap::new();
    let mut minutes: HashMap<(i64, &str, &str), i64> = HashMap::new();
    for (job, appended) in jobs.iter().zip(&answers) {
        let r = &job.request;
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
    if answers.iter().any(|a| a.accepted > 0) {
        // Every instance's stages and streams hear of it at commit (`cluster.rs`).
        super::cluster::notify(&mut tx, super::cluster::EVENTS).await?;
    }
    tx.commit().await?;
    Ok(answers)
}

/// The partitions of requests and events for day `day` (days since the epoch).
async fn make_partitions(pool: &PgPool, day: i64) -> Result<(), StoreError> {
    let (from, to) = (day * DAY_US, (day + 1) * DAY_US);
    for table in ["requests", "events"] {
        // Each in a transaction of its own, outside the append's: creating a partition
        // locks its parent table, and a transaction that held one parent while it waited
        // for the other could deadlock with a reader joining the two. Instances making
        // the same partition take turns.
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PARTITION_LOCK)
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {table}_d{day} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
        );
        // Only integers this function computed are formatted in.
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Reserves `n` consecutive ids of `sequence` (under the append lock nobody else draws
/// from it); the first.
async fn reserve(
    tx: &mut Transaction<'_, Postgres>,
    sequence: &'static str,
    n: usize,
) -> Result<i64, StoreError> {
    let last: i64 =
        sqlx::query_scalar("SELECT setval($1::regclass, nextval($1::regclass) + $2 - 1)")
            .bind(sequence)
            .bind(n as i64)
            .fetch_one(&mut **tx)
            .await?;
    Ok(last - n as i64 + 1)
}

/// Stores a group's requests and events: one lookup of its fingerprints, the decisions
/// made in memory ([`plan`]), then one statement per table.
async fn append_group(
    tx: &mut Transaction<'_, Postgres>,
    jobs: &[Job],
) -> Result<Vec<Appended>, StoreError> {
    let fingerprints: Vec<Vec<u8>> = jobs
        .iter()
        .flat_map(|j| j.request.events.iter().map(|e| e.fingerprint.to_vec()))
        .collect();
    let found: Vec<(Vec<u8>, i64, i64)> = sqlx::query_as(
        "SELECT fingerprint, event_id, received_at FROM fingerprints WHERE fingerprint = ANY($1)",
    )
    .bind(&fingerprints)
    .fetch_all(&mut **tx)
    .await?;
    let stored: HashMap<[u8; 16], (i64, i64)> = found
        .into_iter()
        .filter_map(|(fp, id, at)| Some((<[u8; 16]>::try_from(fp.as_slice()).ok()?, (id, at))))
        .collect();
    let requests: Vec<(&NewRequest, i64)> =
        jobs.iter().map(|j| (&j.request, j.dedup_since)).collect();
    let plan = plan::plan(&requests, &stored);
    let first_request = reserve(tx, "request_ids", jobs.len()).await?;
    let first_event = match plan.new_events {
        0 => 0,
        n => reserve(tx, "event_ids", n).await?,
    };
    let answers = plan.answers(first_request, first_event);
    insert_events(tx, &requests, &plan, first_request, first_event).await?;
    insert_requests(tx, &requests, &answers, &plan).await?;
    Ok(answers)
}

/// The group's new events, and their fingerprints (the newest event per fingerprint).
async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    requests: &[(&NewRequest, i64)],
    plan: &plan::Plan,
    first_request: i64,
    first_event: i64,
) -> Result<(), StoreError> {
    let mut c = EventColumns::default();
    let mut newest: HashMap<[u8; 16], (i64, i64)> = HashMap::new();
    for (i, ((r, _), fates)) in requests.iter().zip(&plan.fates).enumerate() {
        for (e, fate) in r.events.iter().zip(fates) {
            let plan::Fate::New(n) = *fate else { continue };
            let id = first_event + n as i64;
            newest.insert(e.fingerprint, (id, r.received_at));
            c.id.push(id);
            c.request_id.push(first_request + i as i64);
            c.topic.push(e.topic.clone());
            c.org_id.push(e.org_id.clone());
            c.site_id.push(e.site_id.clone());
            c.event_type.push(e.event_type.clone());
            c.mac.push(e.mac.clone());
            c.severity.push(e.severity.clone());
            c.time.push(e.time);
            c.time_source.push(e.time_source.clone());
            c.received_at.push(r.received_at);
            c.source.push(r.source.clone());
            c.raw_offset.push(e.raw_offset as i32);
            c.raw_len.push(e.raw_len as i32);
            c.fingerprint.push(e.fingerprint.to_vec());
        }
    }
    if c.id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO events (id, request_id, topic, org_id, site_id, type, mac, severity,
            time, time_source, received_at, source, raw_offset, raw_len, fingerprint)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[],
            $12::text[], $13::integer[], $14::integer[], $15::bytea[])",
    )
    .bind(c.id)
    .bind(c.request_id)
    .bind(c.topic)
    .bind(c.org_id)
    .bind(c.site_id)
    .bind(c.event_type)
    .bind(c.mac)
    .bind(c.severity)
    .bind(c.time)
    .bind(c.time_source)
    .bind(c.received_at)
    .bind(c.source)
    .bind(c.raw_offset)
    .bind(c.raw_len)
    .bind(c.fingerprint)
    .execute(&mut **tx)
    .await?;
    let (mut fps, mut ids, mut ats) = (Vec::new(), Vec::new(), Vec::new());
    for (fp, (id, at)) in newest {
        fps.push(fp.to_vec());
        ids.push(id);
        ats.push(at);
    }
    sqlx::query(
        "INSERT INTO fingerprints (fingerprint, event_id, received_at)
         SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[])
         ON CONFLICT (fingerprint) DO UPDATE
         SET event_id = EXCLUDED.event_id, received_at = EXCLUDED.received_at",
    )
    .bind(fps)
    .bind(ids)
    .bind(ats)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The columns of the group's new events, for one `unnest`.
#[derive(Default)]
struct EventColumns {
    id: Vec<i64>,
    request_id: Vec<i64>,
    topic: Vec<String>,
    org_id: Vec<Option<String>>,
    site_id: Vec<Option<String>>,
    event_type: Vec<Option<String>>,
    mac: Vec<Option<String>>,
    severity: Vec<Option<String>>,
    time: Vec<i64>,
    time_source: Vec<String>,
    received_at: Vec<i64>,
    source: Vec<String>,
    raw_offset: Vec<i32>,
    raw_len: Vec<i32>,
    fingerprint: Vec<Vec<u8>>,
}

/// The group's requests, with what each stored and repeated.
async fn insert_requests(
    tx: &mut Transaction<'_, Postgres>,
    requests: &[(&NewRequest, i64)],
    answers: &[Appended],
    plan: &plan::Plan,
) -> Result<(), StoreError> {
    let n = requests.len();
    let (mut ids, mut sources, mut received, mut topics, mut verdicts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut accepted, mut duplicates, mut headers, mut bodies, mut repeated, mut firsts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (((r, _), a), fates) in requests.iter().zip(answers).zip(&plan.fates) {
        let mut first = None;
        let mut of = Vec::new();
        for (fate, id) in fates.iter().zip(&a.event_ids) {
            match fate {
                plan::Fate::New(_) => {
                    first.get_or_insert(*id);
                }
                _ => of.push(*id),
            }
        }
        ids.push(a.request_id);
        sources.push(r.source.clone());
        received.push(r.received_at);
        topics.push(r.topic.clone());
        verdicts.push(r.verdict.as_str().to_string());
        accepted.push(a.accepted as i32);
        duplicates.push(a.duplicates as i32);
        headers.push(serde_json::to_string(&r.headers).expect("headers serialise"));
        bodies.push(r.body.to_vec());
        repeated.push((!of.is_empty()).then(|| serde_json::to_string(&of).expect("ids")));
        firsts.push(first);
    }
    sqlx::query(
        "INSERT INTO requests (id, source, received_at, topic, verdict, accepted, duplicates,
            headers, body, duplicate_of, first_event_id)
         SELECT id, source, received_at, topic, verdict, accepted, duplicates,
            headers::jsonb, body, duplicate_of::jsonb, first_event_id
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
            $6::integer[], $7::integer[], $8::text[], $9::bytea[], $10::text[], $11::bigint[])
            AS r(id, source, received_at, topic, verdict, accepted, duplicates, headers, body,
                 duplicate_of, first_event_id)",
    )
    .bind(ids)
    .bind(sources)
    .bind(received)
    .bind(topics)
    .bind(verdicts)
    .bind(accepted)
    .bind(duplicates)
    .bind(headers)
    .bind(bodies)
    .bind(repeated)
    .bind(firsts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
