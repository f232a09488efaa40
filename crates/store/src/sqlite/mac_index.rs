//! The MAC index, maintained in batches.
//!
//! MACs arrive in no order, so a B-tree on (mac, id) updated per event takes a random
//! page per event, and every group commit then writes those pages to the WAL: with a few
//! thousand clients moving around a floor, that was most of the write volume. The
//! writer instead collects (mac, event id) pairs of committed events and inserts them,
//! sorted, once enough have gathered; a MAC's new entries then land on the last page of
//! its own range, one page write for many events. `index_state.upto` records the last
//! event id the index covers; readers scan the (bounded) tail after it.

use rusqlite::{Connection, Transaction, params};

use crate::StoreError;

/// First characters of normalised MACs: pruning walks the index in these slices so that
/// no single statement holds the write lock for long.
const PRUNE_SLICES: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

/// Entries written per group commit while a flush is under way: a flush is spread over
/// several commits so that no single commit (and no request waiting on it) stalls.
const FLUSH_SLICE: usize = 5_000;

/// Entries of committed events not yet in the index.
#[derive(Debug, Default)]
pub(crate) struct MacIndex {
    pending: Vec<(String, i64)>,
    /// The batch being written: sorted entries, how many are written, and the
    /// watermark they complete.
    flushing: Option<Flush>,
    /// Pending entries that trigger a flush (about the longest tail a MAC query scans).
    batch: usize,
}

impl MacIndex {
    /// Reads the watermark and gathers the tail the index does not cover yet.
    pub(crate) fn open(conn: &Connection, batch: usize) -> Result<MacIndex, StoreError> {
        let upto: i64 =
            conn.query_row("SELECT upto FROM index_state WHERE name = 'mac'", [], |r| {
                r.get(0)
            })?;
        let mut stmt = conn
            .prepare("SELECT mac, id FROM events WHERE id > ?1 AND mac IS NOT NULL ORDER BY id")?;
        let pending = stmt
            .query_map([upto], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MacIndex {
            pending,
            flushing: None,
            batch: batch.max(1),
        })
    }

    /// Entries of a transaction that committed.
    pub(crate) fn extend(&mut self, committed: Vec<(String, i64)>) {
        self.pending.extend(committed);
    }

    /// Inside `tx`, writes the next slice of the batch being flushed, starting a batch
    /// when enough entries are pending (`last_committed` is then the watermark the batch
    /// completes). The caller reports the outcome with [`MacIndex::committed`] once `tx`
    /// commits; entries at or below the old watermark are the only ones readers take
    /// from the index, so a half-written batch is never seen twice.
    pub(crate) fn write_slice(
        &mut self,
        tx: &Transaction<'_>,
        last_committed: i64,
    ) -> Result<Option<Progress>, StoreError> {
        if self.flushing.is_none() {
            if self.pending.len() < self.batch {
                return Ok(None);
            }
            let mut entries = std::mem::take(&mut self.pending);
            entries.sort_unstable();
            self.flushing = Some(Flush {
                entries,
                written: 0,
                upto: last_committed,
            });
        }
        let flush = self.flushing.as_ref().expect("a flush is under way");
        let end = (flush.written + FLUSH_SLICE).min(flush.entries.len());
        let mut insert =
            tx.prepare_cached("INSERT OR IGNORE INTO mac_index (mac, event_id) VALUES (?1, ?2)")?;
        for (mac, id) in &flush.entries[flush.written..end] {
            insert.execute(params![mac, id])?;
        }
        let done = end == flush.entries.len();
        if done {
            tx.prepare_cached("UPDATE index_state SET upto = ?1 WHERE name = 'mac'")?
                .execute([flush.upto])?;
        }
        Ok(Some(Progress { written: end, done }))
    }

    /// The transaction that wrote a slice committed.
    pub(crate) fn committed(&mut self, progress: Progress) {
        if progress.done {
            self.flushing = None;
        } else if let Some(flush) = &mut self.flushing {
            flush.written = progress.written;
        }
    }

    /// Drops index entries of events older than `first_kept`.
    pub(crate) fn prune(conn: &Connection, first_kept: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        let chars: Vec<char> = PRUNE_SLICES.chars().collect();
        // Below the first slice, each slice, and above the last one.
        let mut bounds: Vec<(Option<String>, Option<String>)> =
            vec![(None, Some(chars[0].to_string()))];
        for w in chars.windows(2) {
            bounds.push((Some(w[0].to_string()), Some(w[1].to_string())));
        }
        bounds.push((Some(chars[chars.len() - 1].to_string()), None));
        for (from, to) in bounds {
            removed += conn.execute(
                "DELETE FROM mac_index WHERE (?1 IS NULL OR mac >= ?1) AND (?2 IS NULL OR mac < ?2) AND event_id < ?3",
                params![from, to, first_kept],
            )? as u64;
        }
        Ok(removed)
    }
}

/// A batch being written to the index over several commits.
#[derive(Debug)]
struct Flush {
    entries: Vec<(String, i64)>,
    written: usize,
    upto: i64,
}

/// How far a slice took its batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress {
    written: usize,
    done: bool,
}
