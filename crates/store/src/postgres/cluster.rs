//! [`crate::Cluster`] on PostgreSQL: what several instances on one database coordinate
//! through it. Instances beat in `instances`; the instance that sends to a destination
//! holds that destination's row of `lanes` until a time it keeps extending, and claims
//! rows with `FOR UPDATE SKIP LOCKED` so that two claimers never wait on each other and
//! never both win; commands for the holder of a stage wait in `stage_commands` for its
//! answer; `versions` counts the changes of shared configuration.

use sqlx::Row;

use super::PgStore;
use crate::{BatchRow, LateCopy, StoreError};

/// This part's tables (migration 5 of `schema.rs`, run inside a transaction).
pub(super) const SCHEMA: &str = r#"
    -- Every commit of a stage raises its version; a commit from an instance that loaded an
    -- older version is refused (another instance took the stage's lease meanwhile).
    ALTER TABLE stages ADD COLUMN version bigint NOT NULL DEFAULT 0;
    -- The instances on this database, and when each was last seen alive.
    CREATE TABLE instances (
        id text PRIMARY KEY, started_at bigint NOT NULL, seen_at bigint NOT NULL
    );
    -- Which instance sends to a destination (a webhook's id, `target:<name>`), until when.
    CREATE TABLE lanes (
        destination text PRIMARY KEY, holder text NOT NULL, until bigint NOT NULL
    );
    -- Commands for the instance that holds a stage (an incident acknowledged on another).
    CREATE TABLE stage_commands (
        id          bigserial PRIMARY KEY,
        stage       text   NOT NULL,
        body        text   NOT NULL,
        created_at  bigint NOT NULL,
        answer      text,
        answered_at bigint
    );
    CREATE INDEX stage_commands_open ON stage_commands (stage, id) WHERE answer IS NULL;
    CREATE INDEX stage_commands_created ON stage_commands (created_at);
    -- Console sessions, by the SHA-256 of their id; the record (CSRF token, who) sealed.
    CREATE TABLE console_sessions (
        hash bytea PRIMARY KEY, record text NOT NULL, created_at bigint NOT NULL,
        used_at bigint NOT NULL
    );
    -- How many times each kind of shared state has changed.
    CREATE TABLE versions (kind text PRIMARY KEY, version bigint NOT NULL);
"#;

/// A statement prefix that raises kind `$1`'s version, for a change's own statement
/// (`WITH bump AS (...) <change>`), so that the two commit together.
pub(super) const BUMP: &str = "WITH bump AS (INSERT INTO versions (kind, version) VALUES ($1, 1) \
     ON CONFLICT (kind) DO UPDATE SET version = versions.version + 1) ";

/// Writes stage `name`'s cursor (and its snapshot when `snapshot` is given) in `tx`, as
/// the next version after the one this instance last loaded or wrote: refused with
/// [`StoreError::Fenced`] when another instance wrote one since (it holds the stage's
/// lease now). A stage this instance never loaded is written unconditionally.
pub(super) async fn write_stage(
    pg: &PgStore,
    tx: &mut sqlx::PgConnection,
    name: &str,
    cursor: i64,
    snapshot: Option<&[u8]>,
    at: i64,
) -> Result<(), StoreError> {
    let expected = pg.stage_versions().get(name);
    let version: Option<i64> = sqlx::query_scalar(
        "INSERT INTO stages (name, cursor, snapshot, updated_at, version)
         VALUES ($1, $2, coalesce($3, ''::bytea), $4, 1)
         ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor,
             updated_at = EXCLUDED.updated_at,
             snapshot = coalesce($3, stages.snapshot),
             version = stages.version + 1
         WHERE $5::bigint IS NULL OR stages.version = $5
         RETURNING version",
    )
    .bind(name)
    .bind(cursor)
    .bind(snapshot)
    .bind(at)
    .bind(expected)
    .fetch_optional(tx)
    .await?;
    match version {
        Some(v) => {
            pg.stage_versions().set(name, v);
            Ok(())
        }
        None => Err(StoreError::Fenced {
            stage: name.to_string(),
        }),
    }
}

/// The version of each stage this instance last loaded or wrote (0: it had no row).
#[derive(Default)]
pub(crate) struct StageVersions(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl StageVersions {
    pub(super) fn get(&self, name: &str) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
    }

    pub(super) fn set(&self, name: &str, version: i64) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), version);
    }
}

/// What a sealed console session record is bound to.
const SESSION_AAD: &[u8] = b"console_sessions.record";

/// The channel commits are announced on, and its payloads.
const CHANNEL: &str = "mistgate_commits";
pub(super) const EVENTS: &str = "events";
pub(super) const INCIDENTS: &str = "incidents";

/// Announces a commit of `what` to every instance (delivered when `tx` commits, not
/// before, and not at all if it rolls back).
pub(super) async fn notify(tx: &mut sqlx::PgConnection, what: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(what)
        .execute(tx)
        .await?;
    Ok(())
}

/// Listens for commits until the receiver is dropped, connecting again after a loss.
async fn listen(pool: sqlx::PgPool, tx: tokio::sync::mpsc::Sender<crate::Committed>) {
    use crate::Committed;
    let mut first = true;
    loop {
        if pool.is_closed() {
            return; // the store was closed: the instance is stopping
        }
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match connected.await {
            Ok(l) => l,
            Err(_) if pool.is_closed() => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances' commits; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if !first {
            // Something may have been committed while no one listened.
            for c in [Committed::Events, Committed::Incidents] {
                if tx.send(c).await.is_err() {
                    return;
                }
            }
        }
        first = false;
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let what = match n.payload() {
                        EVENTS => Committed::Events,
                        INCIDENTS => Committed::Incidents,
                        _ => continue,
                    };
                    if tx.send(what).await.is_err() {
                        return;
                    }
                }
                // The connection was lost (and is made again by the next call).
                Ok(None) => break,
                Err(_) if pool.is_closed() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that listens for commits");
                    break;
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::Cluster for PgStore {
    async fn commits(&self) -> Result<tokio::sync::mpsc::Receiver<crate::Committed>, StoreError> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(listen(self.pool().clone(), tx));
        Ok(rx)
    }

    async fn heartbeat(&self, instance: &str, now: i64, live_us: i64) -> Result<u32, StoreError> {
        let live: i64 = sqlx::query_scalar(
            "WITH beat AS (
                 INSERT INTO instances (id, started_at, seen_at) VALUES ($1, $2, $2)
                 ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at
             )
             SELECT 1 + count(*) FROM instances WHERE id <> $1 AND seen_at >= $3",
        )
        .bind(instance)
        .bind(now)
        .bind(now - live_us)
        .fetch_one(self.pool())
        .await?;
        // Instances gone for a day are forgotten.
        sqlx::query("DELETE FROM instances WHERE seen_at < $1")
            .bind(now - 86_400_000_000)
            .execute(self.pool())
            .await?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX))
    }

    async fn unclaimed_lanes(
        &self,
        candidates: &[String],
        now: i64,
    ) -> Result<(Vec<String>, u32), StoreError> {
        let free: Vec<String> = sqlx::query_scalar(
            "SELECT d FROM unnest($1::text[]) d
             WHERE NOT EXISTS (SELECT 1 FROM lanes l WHERE l.destination = d AND l.until >= $2)
               AND EXISTS (SELECT 1 FROM outbox o WHERE o.subscription_id = d AND o.state = 'pending')",
        )
        .bind(candidates)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let current: i64 = sqlx::query_scalar("SELECT count(*) FROM lanes WHERE until >= $1")
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok((free, u32::try_from(current).unwrap_or(u32::MAX)))
    }

    async fn busy_lanes(&self, destinations: &[String]) -> Result<Vec<String>, StoreError> {
        let busy = sqlx::query_scalar(
            "SELECT d FROM unnest($1::text[]) d
             WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.subscription_id = d AND o.state = 'pending')",
        )
        .bind(destinations)
        .fetch_all(self.pool())
        .await?;
        Ok(busy)
    }

    async fn claim_lanes(
        &self,
        instance: &str,
        destinations: &[String],
        now: i64,
        until: i64,
    ) -> Result<Vec<String>, StoreError> {
        if destinations.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO lanes (destination, holder, until)
             SELECT d, '', 0 FROM unnest($1::text[]) d ON CONFLICT (destination) DO NOTHING",
        )
        .bind(destinations)
        .execute(&mut *tx)
        .await?;
        let claimed: Vec<String> = sqlx::query_scalar(
            "WITH free AS (
                 SELECT destination FROM lanes
                 WHERE destination = ANY($1) AND (until < $2 OR holder = $3)
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE lanes SET holder = $3, until = $4 FROM free
             WHERE lanes.destination = free.destination
             RETURNING lanes.destination",
        )
        .bind(destinations)
        .bind(now)
        .bind(instance)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn renew_lanes(
        &self,
        instance: &str,
        destinations: &[String],
        until: i64,
    ) -> Result<Vec<String>, StoreError> {
        if destinations.is_empty() {
            return Ok(Vec::new());
        }
        let renewed = sqlx::query_scalar(
            "UPDATE lanes SET until = $3 WHERE destination = ANY($1) AND holder = $2
             RETURNING destination",
        )
        .bind(destinations)
        .bind(instance)
        .bind(until)
        .fetch_all(self.pool())
        .await?;
        Ok(renewed)
    }

    async fn release_lanes(
        &self,
        instance: &str,
        destinations: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE lanes SET until = 0 WHERE destination = ANY($1) AND holder = $2")
            .bind(destinations)
            .bind(instance)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn pending_of(
        &self,
        destinations: &[String],
        after: i64,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        super::outbox::pending_of(self, destinations, after, limit).await
    }

    async fn version(&self, kind: &str) -> Result<i64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM versions WHERE kind = $1")
                .bind(kind)
                .fetch_optional(self.pool())
                .await?;
        Ok(version.unwrap_or(0))
    }

    async fn relay_put(&self, stage: &str, body: &str, at: i64) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO stage_commands (stage, body, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(stage)
        .bind(body)
        .bind(at)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    async fn relay_open(&self, stage: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM stage_commands WHERE stage = $1 AND answer IS NULL ORDER BY id",
        )
        .bind(stage)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn relay_answer(&self, id: i64, answer: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE stage_commands SET answer = $2, answered_at = $3 WHERE id = $1")
            .bind(id)
            .bind(answer)
            .bind(at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn relay_answer_of(&self, id: i64) -> Result<Option<String>, StoreError> {
        let answer: Option<Option<String>> =
            sqlx::query_scalar("SELECT answer FROM stage_commands WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(answer.flatten())
    }

    async fn session_put(
        &self,
        hash: &[u8],
        record: &str,
        created_at: i64,
        used_at: i64,
    ) -> Result<(), StoreError> {
        let record = match self.sealer() {
            Some(sealer) => sealer.seal(record, SESSION_AAD),
            None => record.to_string(),
        };
        sqlx::query(
            "INSERT INTO console_sessions (hash, record, created_at, used_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO UPDATE SET record = EXCLUDED.record, used_at = EXCLUDED.used_at",
        )
        .bind(hash)
        .bind(record)
        .bind(created_at)
        .bind(used_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn session_get(&self, hash: &[u8]) -> Result<Option<(String, i64, i64)>, StoreError> {
        let row: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT record, created_at, used_at FROM console_sessions WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        let Some((record, created, used)) = row else {
            return Ok(None);
        };
        let record = match self.sealer() {
            Some(sealer) if crate::seal::is_sealed(&record) => sealer
                .open(&record, SESSION_AAD)
                .map_err(|e| StoreError::Unsealable {
                    what: "a console session".into(),
                    reason: e.to_string(),
                })?,
            _ => record,
        };
        Ok(Some((record, created, used)))
    }

    async fn session_used(&self, hash: &[u8], at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_sessions SET used_at = greatest(used_at, $2) WHERE hash = $1")
            .bind(hash)
            .bind(at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn session_end(&self, hash: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM console_sessions WHERE hash = $1")
            .bind(hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn sessions_prune(
        &self,
        used_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM console_sessions WHERE used_at < $1 OR created_at < $2")
                .bind(used_before)
                .bind(created_before)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }

    async fn late_remember(&self, copies: &[LateCopy], at: i64) -> Result<(), StoreError> {
        super::late::remember(self, copies, at).await
    }

    async fn late_claim(&self, keys: &[[u8; 16]]) -> Result<Vec<LateCopy>, StoreError> {
        super::late::claim(self, keys).await
    }

    async fn late_prune(&self, before: i64) -> Result<u64, StoreError> {
        super::late::prune(self, before).await
    }

    async fn report_put(&self, name: &str, body: &str, at: i64) -> Result<(), StoreError> {
        super::reports::put(self, name, body, at).await
    }

    async fn report_get(
        &self,
        name: &str,
        after: i64,
    ) -> Result<Option<(String, i64)>, StoreError> {
        super::reports::get(self, name, after).await
    }

    async fn relay_prune(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM stage_commands WHERE created_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
