//! Secrets at rest: a webhook subscription's record (its HMAC secret, Splunk token, OAuth2
//! credentials and custom headers, in one JSON text) is sealed before the writer sees it
//! and opened after a reader returns it, so no plaintext secret reaches the file and the
//! rest of the program sees the records as before.
//!
//! At open, the write connection checks the key against `secret_key_check` (written with
//! the first key given), then seals the records still in clear (a database from before
//! sealing, or one written without a key) in one transaction.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::seal::{self, SealError, Sealer};
use crate::{StoreError, SubscriptionRow};

/// What a subscription's record is bound to: its row, so that a sealed record copied
/// onto another subscription does not open there.
pub(crate) fn subscription_aad(id: &str) -> Vec<u8> {
    format!("subscriptions/{id}").into_bytes()
}

pub(crate) const CHECK_AAD: &[u8] = b"secret_key_check";
pub(crate) const CHECK_VALUE: &str = "mistgate secret key check";

/// Seals the row's record for writing (left in clear without a key: tests and tools).
pub(crate) fn seal_row(sealer: Option<&Sealer>, row: &mut SubscriptionRow) {
    if let Some(sealer) = sealer {
        row.record = sealer.seal(&row.record, &subscription_aad(&row.id));
    }
}

/// Opens a record as read. A record in clear is returned as it is (a database not yet
/// opened with a key); a sealed one that does not open is an error naming the row.
pub(crate) fn open_row(
    sealer: Option<&Sealer>,
    mut row: SubscriptionRow,
) -> Result<SubscriptionRow, StoreError> {
    if !seal::is_sealed(&row.record) {
        return Ok(row);
    }
    let what = || format!("the webhook subscription {}", row.id);
    let Some(sealer) = sealer else {
        return Err(StoreError::Unsealable {
            what: what(),
            reason: "it is sealed, and the store was opened without a key".into(),
        });
    };
    row.record = sealer
        .open(&row.record, &subscription_aad(&row.id))
        .map_err(|e: SealError| StoreError::Unsealable {
            what: what(),
            reason: e.to_string(),
        })?;
    Ok(row)
}

pub(crate) fn open_rows(
    sealer: Option<&Sealer>,
    rows: Vec<SubscriptionRow>,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    rows.into_iter().map(|r| open_row(sealer, r)).collect()
}

/// At open, on the write connection (migrated): checks that `sealer` is the key the
/// database's secrets were sealed with, records it at the first start with a key, and
/// seals the records still in clear. Without a key, a database whose secrets are sealed
/// is refused: the writer would otherwise add records in clear beside them.
pub(crate) fn prepare(
    conn: &mut Connection,
    sealer: Option<&Sealer>,
    db: &Path,
) -> Result<(), StoreError> {
    let path = || db.display().to_string();
    let check: Option<String> = conn
        .query_row(
            "SELECT sealed FROM secret_key_check WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(sealer) = sealer else {
        let sealed_rows: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE record LIKE 'mgseal1:%')",
            [],
            |r| r.get(0),
        )?;
        if check.is_some() || sealed_rows {
            return Err(StoreError::SecretKeyMissing { path: path() });
        }
        return Ok(());
    };
    match &check {
        Some(sealed) => {
            if sealer.open(sealed, CHECK_AAD).as_deref() != Ok(CHECK_VALUE) {
                return Err(StoreError::SecretKeyMismatch { path: path() });
            }
        }
        // No check yet, but sealed records (the check row deleted by hand): the first of
        // them tells whether this is their key.
        None => {
            let first: Option<(String, String)> = conn
                .query_row(
                    "SELECT id, record FROM subscriptions WHERE record LIKE 'mgseal1:%' ORDER BY seq LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, record)) = first
                && sealer.open(&record, &subscription_aad(&id)).is_err()
            {
                return Err(StoreError::SecretKeyMismatch { path: path() });
            }
        }
    }
    let clear: Vec<(String, String)> = conn
        .prepare("SELECT id, record FROM subscriptions WHERE record NOT LIKE 'mgseal1:%'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if check.is_some() && clear.is_empty() {
        return Ok(());
    }
    // Overwriting a record leaves the old one in the page's free space unless SQLite
    // zeroes it: secure_delete for the records sealed here (not for every write: sealed
    // records need no wiping, and zeroing would cost retention's deletes).
    conn.pragma_update(None, "secure_delete", true)?;
    let tx = conn.transaction()?;
    if check.is_none() {
        tx.execute(
            "INSERT INTO secret_key_check (id, sealed) VALUES (1, ?1)",
            [sealer.seal(CHECK_VALUE, CHECK_AAD)],
        )?;
    }
    {
        let mut update = tx.prepare("UPDATE subscriptions SET record = ?2 WHERE id = ?1")?;
        for (id, record) in &clear {
            update.execute(params![id, sealer.seal(record, &subscription_aad(id))])?;
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "secure_delete", false)?;
    if !clear.is_empty() {
        // The records in clear may still be in the WAL (written before, or by a server
        // that was not stopped cleanly) and in the main file's old pages: copy the
        // zeroed pages over them and empty the WAL. A reader elsewhere (`mistgate
        // replay`) can hold it back; the WAL is then emptied at a later checkpoint.
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        tracing::info!(
            records = clear.len(),
            wal_emptied = busy == 0,
            "sealed the webhook subscriptions' secrets that were stored in clear"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
