//! Pending deadlines: the only way time passes inside the correlator.
//!
//! Deadlines are computed from event times (a device's down time plus the hold-down, a
//! security incident's last alarm plus the quiet period), so they mean the same thing
//! whether events arrive live or are replayed. The shell asks for the earliest one with
//! [`crate::Correlator::poll_timeout`] and fires them with
//! [`crate::Correlator::handle_timeout`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::device::DeviceRef;

/// What a deadline is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// The flap hold-down of a device that went down: if it is still down then, its
    /// incident opens.
    HoldDown {
        /// The device.
        device: DeviceRef,
    },
    /// The end of a security incident: its quiet period or its maximum lifetime,
    /// whichever comes first.
    SecurityExpiry {
        /// The incident.
        incident_id: i64,
    },
    /// The end of a watched source's quiet period: if no request came since, its
    /// `source_silent` incident opens.
    SourceSilent {
        /// The source's name.
        source: String,
    },
}

/// A pending deadline, as kept in a [`crate::Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// When it fires, unix µs.
    pub at: i64,
    /// What for.
    #[serde(flatten)]
    pub kind: TimerKind,
}

/// The set of pending deadlines, at most one per [`TimerKind`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadline_of: BTreeMap<TimerKind, i64>,
    queue: BTreeSet<(i64, TimerKind)>,
}

impl Timers {
    /// Rebuilds from a snapshot's list.
    pub(crate) fn from_list(list: Vec<Timer>) -> Timers {
        let mut timers = Timers::default();
        for timer in list {
            timers.set(timer.kind, timer.at);
        }
        timers
    }

    /// Every pending deadline, earliest first.
    pub(crate) fn to_list(&self) -> Vec<Timer> {
        self.queue
            .iter()
            .map(|(at, kind)| Timer {
                at: *at,
                kind: kind.clone(),
            })
            .collect()
    }

    /// Sets (or moves) the deadline of `kind`.
    pub(crate) fn set(&mut self, kind: TimerKind, at: i64) {
        self.cancel(&kind);
        self.queue.insert((at, kind.clone()));
        self.deadline_of.insert(kind, at);
    }

    /// Removes the deadline of `kind`, if any.
    pub(crate) fn cancel(&mut self, kind: &TimerKind) {
        if let Some(at) = self.deadline_of.remove(kind) {
            self.queue.remove(&(at, kind.clone()));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<i64> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest deadline if it is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<(i64, TimerKind)> {
        let (at, _) = self.queue.first()?;
        if *at > now {
            return None;
        }
        let (at, kind) = self.queue.pop_first()?;
        self.deadline_of.remove(&kind);
        Some((at, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(id: i64) -> TimerKind {
        TimerKind::SecurityExpiry { incident_id: id }
    }

    #[test]
    fn earliest_first_and_moving_a_deadline_replaces_it() {
        let mut timers = Timers::default();
        timers.set(security(1), 50);
        timers.set(security(2), 20);
        timers.set(security(1), 10);
        assert_eq!(timers.next(), Some(10));
        assert_eq!(timers.pop_due(5), None);
        assert_eq!(timers.pop_due(30), Some((10, security(1))));
        assert_eq!(timers.pop_due(30), Some((20, security(2))));
        assert_eq!(timers.pop_due(30), None);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn round_trips_through_a_list() {
        let mut timers = Timers::default();
        timers.set(security(3), 7);
        let list = timers.to_list();
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json[0]["kind"], "security_expiry");
        let back: Vec<Timer> = serde_json::from_value(json).unwrap();
        assert_eq!(Timers::from_list(back).to_list(), list);
    }
}
