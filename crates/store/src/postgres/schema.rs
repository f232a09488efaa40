//! The PostgreSQL schema and its migrations, applied at open under an advisory lock so
//! that several instances starting together migrate once.
//!
//! Requests and events are partitioned by day of receipt (`received_at`, unix µs): the
//! pruner drops a whole day's partitions instead of deleting rows. Partitions are made by
//! the writer as days come (see `writer.rs`).

use sqlx::PgPool;

use crate::StoreError;

/// The advisory lock key migrations run under ("mgmigr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d67_6d69_6772;

/// The schema version this build brings a database to.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations, in order; each runs once, in its own transaction.
const MIGRATIONS: &[&str] = &[
    // 1: the log. Ids come from sequences read under the append lock, so they grow in
    // commit order as the SQLite backend's do.
    r#"
    CREATE SEQUENCE request_ids;
    CREATE SEQUENCE event_ids;
    CREATE TABLE requests (
        id             bigint  NOT NULL,
        source         text    NOT NULL,
        received_at    bigint  NOT NULL,        -- unix µs
        topic          text    NOT NULL,
        verdict        text    NOT NULL,
        accepted       integer NOT NULL,
        duplicates     integer NOT NULL,
        headers        jsonb   NOT NULL,        -- [[name, value], ...]
        body           bytea   NOT NULL,        -- exactly as received
        duplicate_of   jsonb,                   -- ids of the events it repeated
        first_event_id bigint,
        PRIMARY KEY (id, received_at)
    ) PARTITION BY RANGE (received_at);
    CREATE INDEX requests_received_at ON requests (received_at);
    CREATE TABLE events (
        id          bigint  NOT NULL,
        request_id  bigint  NOT NULL,
        topic       text    NOT NULL,
        org_id      text,
        site_id     text,
        type        text,
        mac         text,
        severity    text,
        time        bigint  NOT NULL,           -- the event's own time, unix µs
        time_source text    NOT NULL,
        received_at bigint  NOT NULL,
        source      text    NOT NULL,
        raw_offset  integer NOT NULL,           -- the event is body[raw_offset..+raw_len]
        raw_len     integer NOT NULL,
        fingerprint bytea   NOT NULL,
        PRIMARY KEY (id, received_at)
    ) PARTITION BY RANGE (received_at);
    CREATE INDEX events_topic ON events (topic, id);
    CREATE INDEX events_site ON events (site_id, id) WHERE site_id IS NOT NULL;
    CREATE INDEX events_mac ON events (mac, id) WHERE mac IS NOT NULL;
    CREATE INDEX events_time ON events (time);
    -- Duplicate detection across every instance: one row per fingerprint, the newest
    -- event stored with it. Checked and written under the append lock.
    CREATE TABLE fingerprints (
        fingerprint bytea  PRIMARY KEY,
        event_id    bigint NOT NULL,
        received_at bigint NOT NULL
    );
    CREATE INDEX fingerprints_received_at ON fingerprints (received_at);
    CREATE TABLE quarantine (
        id          bigserial PRIMARY KEY,
        source      text   NOT NULL,
        received_at bigint NOT NULL,
        reason      text   NOT NULL,
        detail      text   NOT NULL,
        headers     jsonb  NOT NULL,
        body        bytea  NOT NULL
    );
    CREATE INDEX quarantine_received_at ON quarantine (received_at);
    -- Running totals since the database was made (retention does not lower them).
    CREATE TABLE totals (
        source           text   NOT NULL,
        topic            text   NOT NULL,
        requests         bigint NOT NULL,
        events           bigint NOT NULL,
        duplicates       bigint NOT NULL,
        last_received_at bigint NOT NULL,
        PRIMARY KEY (source, topic)
    );
    CREATE TABLE quarantine_total (n bigint NOT NULL);
    INSERT INTO quarantine_total (n) VALUES (0);
    -- Events stored per minute of receipt, topic and source (GET /api/v1/stats/series).
    CREATE TABLE event_minutes (
        minute bigint NOT NULL,                 -- unix minutes
        topic  text   NOT NULL,
        source text   NOT NULL,
        events bigint NOT NULL,
        PRIMARY KEY (minute, topic, source)
    );
    "#,
    // 2: subscriptions, the outbox and delivery attempts (outbox.rs).
    super::outbox::SCHEMA,
    // 3: the correlation stage's state: stages, devices, incidents, history (state.rs).
    super::state::SCHEMA,
    // 4: tokens, the audit log, sources added at run time, backfill marks (access.rs).
    super::access::SCHEMA,
    // 5: several instances: stage versions, instances, lanes, relayed commands (cluster.rs).
    super::cluster::SCHEMA,
    // 6: backfilled events waiting for their webhook copy, on any instance (late.rs).
    super::late::SCHEMA,
    // 7: the last report of a stage run on one instance, for the others' API (reports.rs).
    super::reports::SCHEMA,
];

/// Brings the database up to the schema this build knows, once across instances.
pub(super) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = apply(&mut conn).await;
    // Released whatever happened: the connection goes back to the pool.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    result
}

async fn apply(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('schema_migrations')::text")
            .fetch_one(&mut *conn)
            .await?;
    if exists.is_none() {
        sqlx::query(
            "CREATE TABLE schema_migrations (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .execute(&mut *conn)
        .await?;
    }
    let found: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    let found = i64::from(found.unwrap_or(0));
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind((i + 1) as i32)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = i + 1, "applied PostgreSQL schema migration");
    }
    Ok(())
}
