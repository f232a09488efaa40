//! Retention on PostgreSQL: whole days of requests and events go by dropping their
//! partitions (no row-by-row delete, no table bloat); the day that straddles the cut and
//! the smaller tables lose their old rows by `DELETE`.

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
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*) FROM {name}"
                    )))
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                        .execute(&mut *tx)
                        .await?;
                    *count += n as u64;
                } else if day * DAY_US < before {
                    let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {name} WHERE received_at < $1"
                    )))
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    *count += n;
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
    // A fingerprint must not outlive the event it points at, nor the duplicate window.
    let fingerprints_before = match retention.data_before {
        Some(data) => data.max(retention.fingerprints_before),
        None => retention.fingerprints_before,
    };
    pruned.fingerprints = delete(
        &mut tx,
        "DELETE FROM fingerprints WHERE received_at < $1",
        fingerprints_before,
    )
    .await?;
    tx.commit().await?;
    Ok(pruned)
}
