//! Per-key watermarks: the newest event time each incident key has seen, kept after its
//! incident resolves, so that a late or replayed event cannot reopen what a newer one
//! closed.
//!
//! Marvis, occupancy and security incidents are keyed by what they are about, not by a
//! device whose record would remember the newest state; these marks play that part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How long a mark of a closed key is kept once the map is large: replays older than this
/// before the newest event are rejected by the event-id watermark alone.
const RETENTION_US: i64 = 30 * 24 * 3600 * 1_000_000;

/// Above this many marks, closed marks older than [`RETENTION_US`] are pruned.
const SOFT_LIMIT: usize = 4096;

/// The newest event time seen for one key, as kept in a [`crate::Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The incident key.
    pub key: String,
    /// Event time of the newest event that counted for it, unix µs.
    pub time: i64,
    /// Whether that event closed it (Marvis `validated`, `COMPLIANCE-OK`, a resolved
    /// security incident).
    pub closed: bool,
}

/// All marks, by key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Marks {
    by_key: BTreeMap<String, (i64, bool)>,
}

impl Marks {
    /// Rebuilds from a snapshot's list.
    pub(crate) fn from_list(list: Vec<Mark>) -> Marks {
        Marks {
            by_key: list
                .into_iter()
                .map(|m| (m.key, (m.time, m.closed)))
                .collect(),
        }
    }

    /// Every mark, by key.
    pub(crate) fn to_list(&self) -> Vec<Mark> {
        self.by_key
            .iter()
            .map(|(key, (time, closed))| Mark {
                key: key.clone(),
                time: *time,
                closed: *closed,
            })
            .collect()
    }

    /// The mark of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<(i64, bool)> {
        self.by_key.get(key).copied()
    }

    /// Whether an event at `time` that opens (or closes, `closing`) `key` is news: newer
    /// than the mark, or at the same time a close after an open ("resolved" wins a tie, as
    /// "up" does for devices, so replays in any order change nothing).
    pub(crate) fn admits(&self, key: &str, time: i64, closing: bool) -> bool {
        match self.get(key) {
            None => true,
            Some((seen, closed)) => time > seen || (time == seen && closing && !closed),
        }
    }

    /// Moves the mark of `key` to `time`.
    pub(crate) fn record(&mut self, key: &str, time: i64, closed: bool) {
        self.by_key.insert(key.to_owned(), (time, closed));
        if self.by_key.len() > SOFT_LIMIT {
            let horizon = time.saturating_sub(RETENTION_US);
            self.by_key
                .retain(|_, (seen, closed)| !*closed || *seen >= horizon);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_wins_and_close_wins_a_tie() {
        let mut marks = Marks::default();
        assert!(marks.admits("k", 10, false));
        marks.record("k", 10, false);
        assert!(!marks.admits("k", 10, false));
        assert!(!marks.admits("k", 9, true));
        assert!(marks.admits("k", 10, true));
        marks.record("k", 10, true);
        assert!(!marks.admits("k", 10, true));
        assert!(!marks.admits("k", 10, false));
        assert!(marks.admits("k", 11, false));
    }

    #[test]
    fn prunes_old_closed_marks_only_when_large() {
        let mut marks = Marks::default();
        for i in 0..=SOFT_LIMIT as i64 {
            marks.record(&format!("closed{i}"), i, true);
        }
        marks.record("open", 0, false);
        marks.record("new", RETENTION_US + 100, true);
        assert!(marks.get("open").is_some());
        assert!(marks.get("closed50").is_none());
        assert!(marks.get("closed100").is_some());
    }
}
