//! Reports one instance makes and every instance shows: the instance running a stage
//! under its lease (backfill) writes what it last did, and the API of the others reads it.

use super::PgStore;
use crate::StoreError;

/// This part's table (migration 7 of `schema.rs`).
pub(super) const SCHEMA: &str = r#"
    -- The last report of a stage that runs on one instance, as JSON, by the stage's name.
    CREATE TABLE reports (
        name       text   PRIMARY KEY,
        body       text   NOT NULL,
        updated_at bigint NOT NULL
    );
"#;

pub(super) async fn put(pg: &PgStore, name: &str, body: &str, at: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reports (name, body, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at",
    )
    .bind(name)
    .bind(body)
    .bind(at)
    .execute(pg.pool())
    .await?;
    Ok(())
}

pub(super) async fn get(pg: &PgStore, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT body FROM reports WHERE name = $1")
            .bind(name)
            .fetch_optional(pg.pool())
            .await?,
    )
}
