//! Incidents: something a person should know about, opened and (mostly) resolved by the
//! rules, with the history of every change and the events behind it.

use std::collections::BTreeMap;

use mist::Severity;
use serde::{Deserialize, Serialize};

/// How many entries an incident keeps in its timeline. The opening entry always stays;
/// beyond the limit the oldest of the others are dropped (a week of rogue-client alarms
/// every 10 minutes would otherwise give a thousand).
pub const INCIDENT_TIMELINE_LEN: usize = 200;

/// How many event ids an incident keeps, with the same policy as the timeline.
pub const INCIDENT_EVENT_IDS_LEN: usize = 500;

/// Which rule an incident comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// One or more devices offline.
    DeviceDown,
    /// A Marvis action.
    Marvis,
    /// A security detection at a site.
    Security,
    /// A zone over its occupancy limit.
    Occupancy,
    /// A source that has received no webhook request for its `silent_after`.
    SourceSilent,
}

impl IncidentKind {
    /// Every kind.
    pub const ALL: [IncidentKind; 5] = [
        IncidentKind::DeviceDown,
        IncidentKind::Marvis,
        IncidentKind::Security,
        IncidentKind::Occupancy,
        IncidentKind::SourceSilent,
    ];

    /// The kind of a snake_case name, as serialised.
    pub fn parse(name: &str) -> Option<IncidentKind> {
        IncidentKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The snake_case name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            IncidentKind::DeviceDown => "device_down",
            IncidentKind::Marvis => "marvis",
            IncidentKind::Security => "security",
            IncidentKind::Occupancy => "occupancy",
            IncidentKind::SourceSilent => "source_silent",
        }
    }
}

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Happening, nobody has said they are on it.
    Open,
    /// Happening, and a person acknowledged it. It still resolves by itself.
    Acknowledged,
    /// Over, by a rule or by a person.
    Resolved,
}

/// What one transition did to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It opened.
    Opened,
    /// It learned something: a device joined or came back, a restart reason, a repeat.
    Updated,
    /// It resolved.
    Resolved,
    /// A person acknowledged it.
    Acknowledged,
    /// It was found to be caused by another incident and is now suppressed.
    Suppressed,
}

impl IncidentState {
    /// Every state.
    pub const ALL: [IncidentState; 3] = [
        IncidentState::Open,
        IncidentState::Acknowledged,
        IncidentState::Resolved,
    ];

    /// The state of a snake_case name, as serialised.
    pub fn parse(name: &str) -> Option<IncidentState> {
        IncidentState::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The snake_case name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Resolved => "resolved",
        }
    }
}

impl Change {
    /// Every change.
    pub const ALL: [Change; 5] = [
        Change::Opened,
        Change::Updated,
        Change::Acknowledged,
        Change::Resolved,
        Change::Suppressed,
    ];

    /// The change of a snake_case name, as serialised.
    pub fn parse(name: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The snake_case name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Opened => "opened",
            Change::Updated => "updated",
            Change::Acknowledged => "acknowledged",
            Change::Resolved => "resolved",
            Change::Suppressed => "suppressed",
        }
    }
}

/// One line of an incident's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When, unix µs: the event's time for changes caused by events, the deadline for
    /// changes made by timers, `now` for manual actions.
    pub at: i64,
    /// What changed.
    pub change: Change,
    /// The event that caused it, if an event did.
    pub event_id: Option<i64>,
    /// Details for a person (who acknowledged, which device came back, ...).
    pub note: String,
}

/// An incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Assigned from a counter in the correlator's state, so the same inputs give the same
    /// ids.
    pub id: i64,
    /// What makes two events part of one incident, e.g. `device_down:<org>:<mac>` or
    /// `security:<org>:<site>:rogue_ap`. At most one live incident has a given key.
    pub key: String,
    /// Which rule it comes from.
    pub kind: IncidentKind,
    /// The Mist type it is about (`device_down`, `switch_down`, `bad_cable`, `rogue_ap`,
    /// `COMPLIANCE-VIOLATION`).
    pub alarm_type: Option<String>,
    /// Where it is in its life.
    pub state: IncidentState,
    /// The severity as Mist rates it (`critical`, `warn`, ...).
    pub severity: Severity,
    /// The organisation.
    pub org_id: Option<String>,
    /// The site.
    pub site_id: Option<String>,
    /// MACs of the devices involved.
    pub devices: Vec<String>,
    /// When it started (event time), unix µs.
    pub opened_at: i64,
    /// Event time of the newest event that touched it, unix µs.
    pub last_seen_at: i64,
    /// When it resolved, unix µs.
    pub resolved_at: Option<i64>,
    /// One line a person can read.
    pub summary: String,
    /// Caused by another incident (see `caused_by`): kept and tracked, but not worth a
    /// separate page.
    pub suppressed: bool,
    /// Opened inside a silence (maintenance window). Its resolution is still reported.
    pub silenced: bool,
    /// The incident that explains this one (an AP down behind a gateway that is down).
    pub caused_by: Option<i64>,
    /// Every change, oldest first (see [`INCIDENT_TIMELINE_LEN`]).
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// The events that changed it, in the order they did (see [`INCIDENT_EVENT_IDS_LEN`]).
    #[serde(default)]
    pub event_ids: Vec<i64>,
    /// Names of its devices by MAC, as its events or the shell's [`mist::Names`] gave them
    /// (a security alarm's `hostnames` name APs that are not in the device inventory).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub device_names: BTreeMap<String, String>,
}

impl Incident {
    /// Whether it is still open or acknowledged.
    pub fn is_live(&self) -> bool {
        self.state != IncidentState::Resolved
    }

    /// Appends a timeline entry and the event behind it.
    pub(crate) fn record(&mut self, at: i64, change: Change, event_id: Option<i64>, note: String) {
        self.timeline.push(TimelineEntry {
            at,
            change,
            event_id,
            note,
        });
        keep_first_and_last(&mut self.timeline, INCIDENT_TIMELINE_LEN);
        if let Some(id) = event_id
            && !self.event_ids.contains(&id)
        {
            self.event_ids.push(id);
            keep_first_and_last(&mut self.event_ids, INCIDENT_EVENT_IDS_LEN);
        }
    }

    /// Adds a device MAC if it is not listed yet.
    pub(crate) fn add_device(&mut self, mac: &str) -> bool {
        if self.devices.iter().any(|d| d == mac) {
            return false;
        }
        self.devices.push(mac.to_owned());
        true
    }
}

/// Drops the oldest entries after the first until at most `limit` remain.
fn keep_first_and_last<T>(list: &mut Vec<T>, limit: usize) {
    if list.len() > limit && limit > 1 {
        let excess = list.len() - limit;
        list.drain(1..1 + excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lists_keep_the_opening() {
        let mut list: Vec<i32> = (0..10).collect();
        keep_first_and_last(&mut list, 4);
        assert_eq!(list, vec![0, 7, 8, 9]);
    }

    #[test]
    fn kinds_and_states_are_snake_case() {
        assert_eq!(
            serde_json::to_value(IncidentKind::DeviceDown).unwrap(),
            "device_down"
        );
        assert_eq!(
            serde_json::to_value(IncidentState::Acknowledged).unwrap(),
            "acknowledged"
        );
        assert_eq!(
            serde_json::to_value(Change::Suppressed).unwrap(),
            "suppressed"
        );
    }

    #[test]
    fn names_are_the_serialised_names_and_parse_back() {
        fn check<T: Serialize + PartialEq + std::fmt::Debug + Copy>(
            all: &[T],
            name: fn(&T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), name(v));
                assert_eq!(parse(name(v)), Some(*v));
            }
            assert_eq!(parse("nonsense"), None);
        }
        check(
            &IncidentKind::ALL,
            IncidentKind::as_str,
            IncidentKind::parse,
        );
        check(
            &IncidentState::ALL,
            IncidentState::as_str,
            IncidentState::parse,
        );
        check(&Change::ALL, Change::as_str, Change::parse);
    }
}
