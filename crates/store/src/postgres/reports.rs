//! What one instance makes and every instance uses: the instance running a stage under
//! its lease writes what it last did or read (backfill's report, the names and wiring
//! read from Mist's API), and the others read it. Each write raises the row's version, so
//! that a reader fetches a body only when it changed (clocks of instances may differ).

use super::PgStore;
use crate::StoreError;

/// This part's table (migration 7 of `schema.rs`).
pub(super) const SCHEMA: &str = r#"
    -- The last report of a stage that runs on one instance, as JSON, by the stage's name.
    CREATE TABLE reports (
        name       text   PRIMARY KEY,
        body       text   NOT NULL,
        updated_at bigint NOT NULL,
        version    bigint NOT NULL DEFAULT 1
    );
"#;

pub(super) async fn put(pg: &PgStore, name: &str, body: &str, at: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reports (name, body, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE
         SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, version = reports.version + 1",
    )
    .bind(name)
    .bind(body)
    .bind(at)
    .execute(pg.pool())
    .await?;
    Ok(())
}

pub(super) async fn get(
    pg: &PgStore,
    name: &str,
    after: i64,
) -> Result<Option<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT body, version FROM reports WHERE name = $1 AND version > $2")
            .bind(name)
            .bind(after)
            .fetch_optional(pg.pool())
            .await?,
    )
}
