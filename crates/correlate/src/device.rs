//! The device inventory record, and the event-time rules that keep it right when Mist's
//! messages arrive late, twice, or from several topics at once.
//!
//! One outage typically reaches a receiver three times: as a `device_down` alarm, as an
//! `AP_DISCONNECTED` device event and as the same type on `device-updowns`, each with its
//! own timestamp and delay. The record therefore changes only on an observation newer than
//! the newest one it already holds; an older one is stale and changes nothing.

use serde::{Deserialize, Serialize};

/// How many entries a device keeps in its timeline; older ones are dropped first.
pub const DEVICE_TIMELINE_LEN: usize = 20;

pub use mist::DeviceKind;

/// Whether a device is connected to the Mist cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Connected.
    Up,
    /// Disconnected.
    Down,
    /// Not known yet: the device was only seen restarting.
    Unknown,
}

/// A device, identified by organisation and normalised MAC (Mist Edges by their id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceRef {
    /// The organisation; empty when the event named none.
    pub org_id: String,
    /// The MAC as [`mist::normalize_mac`] writes it, or a Mist Edge's lowercase id.
    pub mac: String,
}

/// One line of a device's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceChange {
    /// Event time of the change, unix µs.
    pub at: i64,
    /// The event that caused it.
    pub event_id: Option<i64>,
    /// What happened.
    pub change: DeviceChangeKind,
    /// Details for a person, e.g. the restart reason.
    pub note: String,
}

/// What happened to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceChangeKind {
    /// It went offline.
    Down,
    /// It came back (or was first seen online).
    Up,
    /// It rebooted.
    Restarted,
    /// It went down and came back within the flap hold-down.
    Flap,
}

/// The inventory record of one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The organisation; empty when no event named it.
    pub org_id: String,
    /// The normalised MAC (a Mist Edge's id for Mist Edges).
    pub mac: String,
    /// What kind of device, from the alarm list or event prefix that first named it.
    pub kind: DeviceKind,
    /// Its name or hostname, as Mist last sent it.
    pub name: Option<String>,
    /// Its site, as Mist last sent it.
    pub site_id: Option<String>,
    /// Whether it is connected.
    pub state: DeviceState,
    /// Event time since which `state` holds, unix µs.
    pub since: i64,
    /// Event time of its newest restart, unix µs.
    pub last_restart_at: Option<i64>,
    /// Why it last restarted, e.g. `power_cycle`.
    pub last_restart_reason: Option<String>,
    /// The newest event (by event time) that told something about it.
    pub last_event_id: Option<i64>,
    /// That event's time, unix µs.
    pub last_event_time: Option<i64>,
    /// How many times it flapped (down and up within the hold-down).
    pub flaps: u32,
    /// Its newest changes, oldest first, at most [`DEVICE_TIMELINE_LEN`].
    pub timeline: Vec<DeviceChange>,
    /// Event time of the newest up/down observation, unix µs. Later than `since` when the
    /// same state was reported again; an up/down observation older than this is stale.
    #[serde(default)]
    pub state_observed_at: Option<i64>,
}

/// What an up/down observation did to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Older than what the record holds, or the same thing again: nothing changed.
    Ignored,
    /// The same state, seen later: only `state_observed_at` moved.
    Confirmed,
    /// The state changed from this one.
    Changed(DeviceState),
}

impl Device {
    /// A device first named by an event at `at`, state unknown.
    pub(crate) fn new(device: &DeviceRef, kind: DeviceKind, at: i64) -> Device {
        Device {
            org_id: device.org_id.clone(),
            mac: device.mac.clone(),
            kind,
            name: None,
            site_id: None,
            state: DeviceState::Unknown,
            since: at,
            last_restart_at: None,
            last_restart_reason: None,
            last_event_id: None,
            last_event_time: None,
            flaps: 0,
            timeline: Vec::new(),
            state_observed_at: None,
        }
    }

    /// The device's identity.
    pub fn reference(&self) -> DeviceRef {
        DeviceRef {
            org_id: self.org_id.clone(),
            mac: self.mac.clone(),
        }
    }

    /// How a person names it: `AP "Lobby-1" (5c5b350e1d1f)`, or without the name.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} \"{name}\" ({})", self.kind.label(), self.mac),
            None => format!("{} {}", self.kind.label(), self.mac),
        }
    }

    fn is_newer(&self, at: i64) -> bool {
        self.last_event_time.is_none_or(|t| at > t)
    }

    /// Takes the name and site an event at `at` carries. A newer event overwrites; an older
    /// one only fills what is missing, so replaying it changes nothing.
    pub(crate) fn learn(&mut self, name: Option<&str>, site_id: Option<&str>, at: i64) -> bool {
        let newer = self.is_newer(at);
        let mut changed = false;
        for (field, value) in [(&mut self.name, name), (&mut self.site_id, site_id)] {
            if let Some(value) = value
                && field.as_deref() != Some(value)
                && (newer || field.is_none())
            {
                *field = Some(value.to_owned());
                changed = true;
            }
        }
        changed
    }

    /// Records `event_id` as the device's last event if it is newer than the one held.
    pub(crate) fn touch(&mut self, at: i64, event_id: i64) -> bool {
        if !self.is_newer(at) {
            return false;
        }
        self.last_event_time = Some(at);
        self.last_event_id = Some(event_id);
        true
    }

    /// Applies an up/down observation at event time `at`.
    ///
    /// Only an observation newer than the newest one held counts. At equal times "up" wins
    /// over "down": with Mist's one-second timestamps a disconnect and reconnect can share a
    /// second, and the device was seen connected at the end of it. That tie rule also makes
    /// every replay a no-op, whatever order the originals came in.
    pub(crate) fn observe_state(&mut self, state: DeviceState, at: i64) -> Observed {
        if let Some(seen) = self.state_observed_at {
            let wins_tie = at == seen && state == DeviceState::Up && self.state != state;
            if at < seen || (at == seen && !wins_tie) {
                return Observed::Ignored;
            }
        }
        self.state_observed_at = Some(at);
        if self.state == state {
            return Observed::Confirmed;
        }
        let from = self.state;
        self.state = state;
        self.since = at;
        Observed::Changed(from)
    }

    /// Applies a restart at event time `at`; older or repeated restarts change nothing.
    pub(crate) fn observe_restart(&mut self, at: i64, reason: Option<&str>) -> bool {
        if self.last_restart_at.is_some_and(|t| at <= t) {
            return false;
        }
        self.last_restart_at = Some(at);
        self.last_restart_reason = reason.map(str::to_owned);
        true
    }

    /// Appends to the timeline, dropping the oldest entry beyond [`DEVICE_TIMELINE_LEN`].
    pub(crate) fn push(
        &mut self,
        at: i64,
        event_id: Option<i64>,
        change: DeviceChangeKind,
        note: String,
    ) {
        self.timeline.push(DeviceChange {
            at,
            event_id,
            change,
            note,
        });
        if self.timeline.len() > DEVICE_TIMELINE_LEN {
            let excess = self.timeline.len() - DEVICE_TIMELINE_LEN;
            self.timeline.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap() -> Device {
        let r = DeviceRef {
            org_id: "o".into(),
            mac: "5c5b350e1d1f".into(),
        };
        Device::new(&r, DeviceKind::Ap, 0)
    }

    #[test]
    fn newer_observations_win_and_older_ones_are_stale() {
        let mut d = ap();
        assert_eq!(
            d.observe_state(DeviceState::Down, 100),
            Observed::Changed(DeviceState::Unknown)
        );
        assert_eq!(d.observe_state(DeviceState::Up, 90), Observed::Ignored);
        assert_eq!(d.observe_state(DeviceState::Down, 120), Observed::Confirmed);
        assert_eq!(d.since, 100);
        assert_eq!(d.observe_state(DeviceState::Up, 110), Observed::Ignored);
        assert_eq!(
            d.observe_state(DeviceState::Up, 130),
            Observed::Changed(DeviceState::Down)
        );
        assert_eq!(d.since, 130);
    }

    #[test]
    fn up_wins_ties_and_replays_change_nothing() {
        let mut d = ap();
        d.observe_state(DeviceState::Down, 100);
        assert_eq!(
            d.observe_state(DeviceState::Up, 100),
            Observed::Changed(DeviceState::Down)
        );
        assert_eq!(d.observe_state(DeviceState::Down, 100), Observed::Ignored);
        assert_eq!(d.observe_state(DeviceState::Up, 100), Observed::Ignored);
    }

    #[test]
    fn older_events_only_fill_missing_names() {
        let mut d = ap();
        assert!(d.learn(Some("AP1"), None, 100));
        d.touch(100, 1);
        assert!(d.learn(Some("old"), Some("s"), 50));
        assert_eq!(d.name.as_deref(), Some("AP1"));
        assert_eq!(d.site_id.as_deref(), Some("s"));
        assert!(!d.learn(Some("old"), Some("s"), 50));
        assert!(d.learn(Some("AP1b"), None, 150));
        assert_eq!(d.name.as_deref(), Some("AP1b"));
    }

    #[test]
    fn timeline_is_bounded() {
        let mut d = ap();
        for i in 0..(DEVICE_TIMELINE_LEN as i64 + 5) {
            d.push(i, None, DeviceChangeKind::Flap, String::new());
        }
        assert_eq!(d.timeline.len(), DEVICE_TIMELINE_LEN);
        assert_eq!(d.timeline[0].at, 5);
    }
}
