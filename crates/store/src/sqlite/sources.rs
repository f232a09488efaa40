//! Sources added at run time: one row per source, its record sealed like a webhook
//! subscription's (the secrets in it never reach the file in clear). Written on the
//! tokens' and audit's connection (see access.rs), so that `mistgate mist setup` can add
//! one to a data dir whose server is not running, or is.

use rusqlite::{Connection, params};

use crate::seal::{self, Sealer};
use crate::{SourceRow, StoreError};

fn aad(name: &str) -> Vec<u8> {
    format!("sources/{name}").into_bytes()
}

/// Every source added at run time, by name, records opened.
pub fn sources(conn: &Connection, sealer: Option<&Sealer>) -> Result<Vec<SourceRow>, StoreError> {
    let rows = conn
        .prepare_cached("SELECT name, record, created_at, modified_at FROM sources ORDER BY name")?
        .query_map([], |r| {
            Ok(SourceRow {
                name: r.get(0)?,
                record: r.get(1)?,
                created_at: r.get(2)?,
                modified_at: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|row| open_source(sealer, row))
        .collect()
}

/// A stored source row with its record opened (records written before a key existed are
/// in clear). Shared with the PostgreSQL backend.
pub(crate) fn open_source(
    sealer: Option<&Sealer>,
    mut row: SourceRow,
) -> Result<SourceRow, StoreError> {
    if seal::is_sealed(&row.record) {
        let what = || format!("the source {}", row.name);
        let sealer = sealer.ok_or_else(|| StoreError::Unsealable {
            what: what(),
            reason: "it is sealed, and the store was opened without a key".into(),
        })?;
        row.record =
            sealer
                .open(&row.record, &aad(&row.name))
                .map_err(|e| StoreError::Unsealable {
                    what: what(),
                    reason: e.to_string(),
                })?;
    }
    Ok(row)
}

/// The record of `row` as stored: sealed when there is a key. Shared with the PostgreSQL
/// backend.
pub(crate) fn stored_record(sealer: Option<&Sealer>, row: &SourceRow) -> String {
    match sealer {
        Some(s) => s.seal(&row.record, &aad(&row.name)),
        None => row.record.clone(),
    }
}

/// Adds or replaces `row` (its record sealed when there is a key); a replaced source
/// keeps its creation time.
pub fn put_source(
    conn: &Connection,
    sealer: Option<&Sealer>,
    row: &SourceRow,
) -> Result<(), StoreError> {
    let record = stored_record(sealer, row);
    conn.prepare_cached(
        "INSERT INTO sources (name, record, created_at, modified_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET record = excluded.record, modified_at = excluded.modified_at",
    )?
    .execute(params![row.name, record, row.created_at, row.modified_at])?;
    Ok(())
}

pub fn delete_source(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM sources WHERE name = ?1", [name])? > 0)
}
