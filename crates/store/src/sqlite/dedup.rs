//! The duplicate index of the SQLite backend: which fingerprints were stored recently,
//! kept in the writer's memory.
//!
//! Why memory and not a table: fingerprints are hashes, so a B-tree keyed on them takes
//! every insert on a random page, and each commit then writes one 4 KiB page per new
//! event to the WAL. The fingerprint is stored as a column of its event instead (an
//! append, no index), and this index is rebuilt from those columns at start.
//!
//! The index holds at most `capacity` fingerprints; past that the oldest are forgotten
//! first, so the effective window is the configured window or the last `capacity`
//! events, whichever is shorter. Mist's org+site duplicates arrive seconds apart, well
//! inside either.

use std::collections::{HashMap, VecDeque};

/// A stored event's fingerprint entry: which event, first seen when (unix µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    event_id: i64,
    seen_at: i64,
}

/// Fingerprints of recently stored events.
#[derive(Debug)]
pub(crate) struct DedupIndex {
    seen: HashMap<u128, Seen>,
    /// Fingerprints in the order they were remembered, with the time they were
    /// remembered at (a slot whose time differs from the entry's is stale).
    order: VecDeque<(u128, i64)>,
    capacity: usize,
    evicted: u64,
}

/// What the index says about one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    New,
    DuplicateOf(i64),
}

impl DedupIndex {
    pub(crate) fn new(capacity: usize) -> DedupIndex {
        DedupIndex {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    /// Whether `fp` was stored at or after `since`. `staged` holds what the current
    /// (not yet committed) transaction stored, and is consulted first.
    pub(crate) fn check(&self, staged: &Staged, fp: u128, since: i64) -> Verdict {
        let found = staged.seen.get(&fp).or_else(|| self.seen.get(&fp));
        match found {
            Some(s) if s.seen_at >= since => Verdict::DuplicateOf(s.event_id),
            _ => Verdict::New,
        }
    }

    /// Takes in what a committed transaction stored.
    pub(crate) fn commit(&mut self, staged: Staged) {
        for (fp, seen) in staged
            .order
            .into_iter()
            .filter_map(|fp| staged.seen.get(&fp).map(|s| (fp, *s)))
        {
            self.remember(fp, seen);
        }
    }

    fn remember(&mut self, fp: u128, seen: Seen) {
        self.seen.insert(fp, seen);
        self.order.push_back((fp, seen.seen_at));
        while self.seen.len() > self.capacity {
            if !self.pop_oldest(i64::MAX) {
                break;
            }
            self.evicted += 1;
        }
        // Stale queue entries (fingerprints remembered again later) must not grow the
        // queue without bound.
        if self.order.len() > 2 * self.capacity {
            let seen = &self.seen;
            self.order
                .retain(|(fp, at)| seen.get(fp).is_some_and(|s| s.seen_at == *at));
        }
    }

    /// Forgets the oldest entry if it was seen before `before`; false when nothing was
    /// forgotten.
    fn pop_oldest(&mut self, before: i64) -> bool {
        while let Some(&(fp, at)) = self.order.front() {
            match self.seen.get(&fp) {
                Some(s) if s.seen_at == at => {
                    if at >= before {
                        return false;
                    }
                    self.seen.remove(&fp);
                    self.order.pop_front();
                    return true;
                }
                // Forgotten, or remembered again later: this queue slot is stale.
                _ => {
                    self.order.pop_front();
                }
            }
        }
        false
    }

    /// Forgets every fingerprint first seen before `before`; returns how many.
    pub(crate) fn expire(&mut self, before: i64) -> u64 {
        let mut n = 0;
        while self.pop_oldest(before) {
            n += 1;
        }
        n
    }

    /// Rebuilds from stored events, oldest first.
    pub(crate) fn load(&mut self, rows: impl IntoIterator<Item = (u128, i64, i64)>) {
        for (fp, event_id, seen_at) in rows {
            self.remember(fp, Seen { event_id, seen_at });
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    /// How many fingerprints were forgotten early because the index was full.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// Fingerprints stored by the transaction in progress; they join the index only when it
/// commits, so a rolled-back batch leaves no trace.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    seen: HashMap<u128, Seen>,
    order: Vec<u128>,
}

impl Staged {
    pub(crate) fn stage(&mut self, fp: u128, event_id: i64, seen_at: i64) {
        self.seen.insert(fp, Seen { event_id, seen_at });
        self.order.push(fp);
    }
}

/// The index key of a fingerprint.
pub(crate) fn key(fp: &[u8; 16]) -> u128 {
    u128::from_le_bytes(*fp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_one(index: &mut DedupIndex, fp: u128, id: i64, at: i64) {
        let mut staged = Staged::default();
        staged.stage(fp, id, at);
        index.commit(staged);
    }

    #[test]
    fn duplicates_inside_the_window_only() {
        let mut index = DedupIndex::new(100);
        commit_one(&mut index, 7, 1, 1_000);
        let none = Staged::default();
        assert_eq!(index.check(&none, 7, 500), Verdict::DuplicateOf(1));
        assert_eq!(index.check(&none, 7, 1_000), Verdict::DuplicateOf(1));
        assert_eq!(
            index.check(&none, 7, 1_001),
            Verdict::New,
            "older than the window"
        );
        assert_eq!(index.check(&none, 8, 0), Verdict::New);
        // Stored again after expiry: the new event is the original from now on.
        commit_one(&mut index, 7, 9, 5_000);
        assert_eq!(index.check(&none, 7, 4_000), Verdict::DuplicateOf(9));
    }

    #[test]
    fn staged_entries_count_before_commit_and_vanish_on_rollback() {
        let mut index = DedupIndex::new(100);
        let mut staged = Staged::default();
        staged.stage(3, 30, 10);
        assert_eq!(index.check(&staged, 3, 0), Verdict::DuplicateOf(30));
        drop(staged); // rolled back
        assert_eq!(index.check(&Staged::default(), 3, 0), Verdict::New);
        let mut staged = Staged::default();
        staged.stage(3, 31, 10);
        index.commit(staged);
        assert_eq!(
            index.check(&Staged::default(), 3, 0),
            Verdict::DuplicateOf(31)
        );
    }

    #[test]
    fn expiry_and_capacity_forget_the_oldest_first() {
        let mut index = DedupIndex::new(3);
        for i in 0..3u128 {
            commit_one(&mut index, i, i as i64, i as i64 * 10);
        }
        commit_one(&mut index, 99, 99, 30);
        assert_eq!(index.len(), 3);
        assert_eq!(index.evicted(), 1);
        let none = Staged::default();
        assert_eq!(index.check(&none, 0, 0), Verdict::New, "evicted");
        assert_eq!(index.check(&none, 1, 0), Verdict::DuplicateOf(1));
        assert_eq!(index.expire(25), 2);
        assert_eq!(index.check(&none, 99, 0), Verdict::DuplicateOf(99));
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn a_renewed_fingerprint_survives_its_stale_queue_slot() {
        let mut index = DedupIndex::new(10);
        commit_one(&mut index, 5, 1, 10);
        commit_one(&mut index, 6, 2, 20);
        commit_one(&mut index, 5, 3, 30); // renewed after its window
        assert_eq!(index.expire(25), 1, "only fingerprint 6 is older than 25");
        assert_eq!(
            index.check(&Staged::default(), 5, 0),
            Verdict::DuplicateOf(3)
        );
        for i in 0..100 {
            commit_one(&mut index, 5, 100 + i, 100 + i);
        }
        assert!(index.order.len() <= 20, "stale slots are compacted");
    }
}
