//! Retention on PostgreSQL: whole days of requests and events go by dropping their
//! partitions, never row by row (no scan of a day's partition, no table bloat). A day
//! goes once all of it is past the cut, so up to a day more is kept than the retention
//! asks. The smaller tables lose their old rows by `DELETE`; expired fingerprints go in
//! chunks, outside the append lock (a fingerprint past the window decides nothing).

use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::writer::{APPEND_LOCK, DAY_US};
use crate::{Pruned, Retention, StoreError, minute_of};

/// The day partitions of `table` (`requests` or `events`), as (day, partition name).
async fn partitions(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
) -> Result<Vec<(i64, String)>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = $1",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    let prefix = format!("{table}_d");
    Ok(names
        .into_iter()
        .filter_map(|n| Some((n.strip_prefix(&prefix)?.parse::<i64>().ok()?, n)))
        .collect())
}

/// Deletes rows of `sql` (with `$1` the cut), returning how many.
async fn delete(
    tx: &mut Transaction<'_, Postgres>,
    sql: &'static str,
    before: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql)
        .bind(before)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Removes what `retention` says is too old; what went, counted.
pub(super) async fn prune(pg: &PgStore, retention: Retention) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    let mut tx = pg.pool().begin().await?;
    // No append runs meanwhile: a partition is never dropped under a writer.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
    if let Some(before) = retention.data_before {
        for (table, count) in [
            ("events", &mut pruned.events),
            ("requests", &mut pruned.requests),
        ] {
            for (day, name) in partitions(&mut tx, table).await? {
                // The name is one this backend made: `<table>_d<integer>`.
                if (day + 1) * DAY_US <= before {
                    // What goes, counted for the log (once a day, about 0.1 s for 1.4
                    // million events).
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*) FROM {name}"
                    )))
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                        .execute(&mut *tx)
                        .await?;
                    *count += n as u64;
                }
            }
        }
        pruned.quarantine = delete(
            &mut tx,
            "DELETE FROM quarantine WHERE received_at < $1",
            before,
        )
        .await?;
        // Pending batches are kept whatever their age: the retry schedule ends them.
        pruned.batches = delete(
            &mut tx,
            "DELETE FROM outbox WHERE created_at < $1 AND state <> 'pending'",
            before,
        )
        .await?;
        sqlx::query(
            "DELETE FROM outbox_incidents oi WHERE NOT EXISTS
                 (SELECT 1 FROM outbox o WHERE o.id = oi.batch_id)",
        )
        .execute(&mut *tx)
        .await?;
        delete(
            &mut tx,
            "DELETE FROM incident_changes WHERE at < $1",
            before,
        )
        .await?;
        pruned.attempts = delete(&mut tx, "DELETE FROM attempts WHERE at < $1", before).await?;
        pruned.minutes = delete(
            &mut tx,
            "DELETE FROM event_minutes WHERE minute < $1",
            minute_of(before),
        )
        .await?;
        delete(&mut tx, "DELETE FROM audit WHERE at < $1", before).await?;
    }
    tx.commit().await?;
    // A fingerprint must not outlive the duplicate window, nor the event it points at
    // (events go by whole days: the first kept is the day the cut falls in).
    let fingerprints_before = match retention.data_before {
        Some(data) => (data.div_euclid(DAY_US) * DAY_US).max(retention.fingerprints_before),
        None => retention.fingerprints_before,
    };
    // By ranges of receipt time, oldest first: an index range scan per statement (deleting
    // through a chunk of fingerprints looked up one by one made 8.6 million take 74 s).
    // The range doubles while a statement deletes few and halves when it deletes many.
    let oldest: Option<i64> = sqlx::query_scalar("SELECT min(received_at) FROM fingerprints")
        .fetch_one(pg.pool())
        .await?;
    let mut from = oldest.unwrap_or(fingerprints_before);
    let mut span: i64 = 60_000_000;
    while from < fingerprints_before {
        let to = from.saturating_add(span).min(fingerprints_before);
        let n =
            sqlx::query("DELETE FROM fingerprints WHERE received_at >= $1 AND received_at < $2")
                .bind(from)
                .bind(to)
                .execute(pg.pool())
                .await?
                .rows_affected();
        pruned.fingerprints += n;
        from = to;
        if n < FINGERPRINTS_CHUNK / 2 {
            span = span.saturating_mul(2);
        } else if n > FINGERPRINTS_CHUNK * 2 && span > 1 {
            span /= 2;
        }
    }
    Ok(pruned)
}

/// About how many expired fingerprints one statement deletes.
const FINGERPRINTS_CHUNK: u64 = 50_000;
