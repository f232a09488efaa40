//! Backfilled events whose webhook copy has not come, shared by the instances on the
//! database: backfill runs on one of them, and the copy may reach any. A pair is given
//! out once (its row is deleted as it is taken), and forgotten once the duplicate window
//! would no longer recognise its copy anyway.

use super::PgStore;
use crate::{LateCopy, StoreError};

/// This part's table (migration 6 of `schema.rs`).
pub(super) const SCHEMA: &str = r#"
    -- Backfilled events waiting for their webhook copy: identity key, fingerprint.
    CREATE TABLE late_copies (
        key           bytea  NOT NULL CHECK (length(key) = 16),
        fingerprint   bytea  NOT NULL CHECK (length(fingerprint) = 16),
        remembered_at bigint NOT NULL,
        PRIMARY KEY (key, fingerprint)
    );
    CREATE INDEX late_copies_remembered ON late_copies (remembered_at);
"#;

pub(super) async fn remember(pg: &PgStore, copies: &[LateCopy], at: i64) -> Result<(), StoreError> {
    if copies.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = copies.iter().map(|(k, _)| k.to_vec()).collect();
    let fingerprints: Vec<Vec<u8>> = copies.iter().map(|(_, f)| f.to_vec()).collect();
    sqlx::query(
        "INSERT INTO late_copies (key, fingerprint, remembered_at)
         SELECT k, f, $3 FROM unnest($1::bytea[], $2::bytea[]) AS c(k, f)
         ON CONFLICT DO NOTHING",
    )
    .bind(keys)
    .bind(fingerprints)
    .bind(at)
    .execute(pg.pool())
    .await?;
    Ok(())
}

pub(super) async fn claim(pg: &PgStore, keys: &[[u8; 16]]) -> Result<Vec<LateCopy>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    // Two instances taking the same pair at once: the second's delete finds the row gone
    // once the first commits, and returns nothing for it.
    let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "DELETE FROM late_copies l
         USING (SELECT DISTINCT ON (key) key, fingerprint FROM late_copies
                WHERE key = ANY($1) ORDER BY key, remembered_at, fingerprint) p
         WHERE l.key = p.key AND l.fingerprint = p.fingerprint
         RETURNING l.key, l.fingerprint",
    )
    .bind(keys)
    .fetch_all(pg.pool())
    .await?;
    // The table's checks keep both 16 bytes long.
    Ok(rows
        .into_iter()
        .filter_map(|(k, f)| Some((k.as_slice().try_into().ok()?, f.as_slice().try_into().ok()?)))
        .collect())
}

pub(super) async fn prune(pg: &PgStore, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM late_copies WHERE remembered_at < $1")
        .bind(before)
        .execute(pg.pool())
        .await?;
    Ok(done.rows_affected())
}
