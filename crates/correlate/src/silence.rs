//! Silences: maintenance windows during which matching incidents open quietly.

use serde::{Deserialize, Serialize};

use crate::catalog::normalize_type;
use crate::incident::{Incident, IncidentKind};

/// A silence. Every matcher that is set must match; unset matchers match anything.
///
/// An incident is checked once, when it opens, against its `opened_at` (event time, so a
/// replay of last night's maintenance is silenced the same way). Resolutions are never
/// silenced: people want to know a silenced problem is over.
///
/// ```
/// use correlate::{IncidentKind, Silence};
/// let silence = Silence {
///     site_id: Some("site-1".into()),
///     kind: Some(IncidentKind::DeviceDown),
///     starts_at: 1_750_000_000_000_000,
///     ends_at: 1_750_003_600_000_000,
///     comment: "switch upgrade".into(),
///     created_by: "alice".into(),
///     ..Silence::default()
/// };
/// assert!(silence.device.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Assigned by [`crate::Correlator::add_silence`].
    #[serde(default)]
    pub id: i64,
    /// Only incidents at this site.
    pub site_id: Option<String>,
    /// Only incidents involving this device (any MAC spelling).
    pub device: Option<String>,
    /// Only incidents of this kind.
    pub kind: Option<IncidentKind>,
    /// Only incidents of this Mist type (case and `-`/`_` ignored).
    pub alarm_type: Option<String>,
    /// Start of the window, unix µs, inclusive.
    pub starts_at: i64,
    /// End of the window, unix µs, inclusive.
    pub ends_at: i64,
    /// Why, for people.
    #[serde(default)]
    pub comment: String,
    /// Who added it.
    #[serde(default)]
    pub created_by: String,
}

impl Silence {
    /// Whether an incident that opens as `incident` falls under this silence.
    pub fn matches(&self, incident: &Incident) -> bool {
        let at = incident.opened_at;
        if at < self.starts_at || at > self.ends_at {
            return false;
        }
        if let Some(site) = &self.site_id
            && incident.site_id.as_ref() != Some(site)
        {
            return false;
        }
        if let Some(kind) = self.kind
            && incident.kind != kind
        {
            return false;
        }
        if let Some(wanted) = &self.alarm_type {
            let wanted = normalize_type(wanted);
            if incident.alarm_type.as_deref().map(normalize_type) != Some(wanted) {
                return false;
            }
        }
        if let Some(device) = &self.device {
            let wanted = mist::normalize_mac(device).unwrap_or_else(|| device.to_ascii_lowercase());
            if !incident.devices.contains(&wanted) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::IncidentState;

    fn incident() -> Incident {
        Incident {
            id: 1,
            key: "k".into(),
            kind: IncidentKind::DeviceDown,
            alarm_type: Some("device_down".into()),
            state: IncidentState::Open,
            severity: mist::Severity::Warn,
            org_id: Some("o".into()),
            site_id: Some("s".into()),
            devices: vec!["5c5b350e1d1f".into()],
            opened_at: 100,
            last_seen_at: 100,
            resolved_at: None,
            summary: String::new(),
            suppressed: false,
            silenced: false,
            caused_by: None,
            timeline: Vec::new(),
            event_ids: Vec::new(),
            device_names: Default::default(),
        }
    }

    #[test]
    fn every_set_matcher_must_match() {
        let base = Silence {
            starts_at: 100,
            ends_at: 200,
            ..Silence::default()
        };
        assert!(base.matches(&incident()));
        let device = Silence {
            device: Some("5C:5B:35:0E:1D:1F".into()),
            alarm_type: Some("DEVICE-DOWN".into()),
            ..base.clone()
        };
        assert!(device.matches(&incident()));
        let other_site = Silence {
            site_id: Some("t".into()),
            ..base.clone()
        };
        assert!(!other_site.matches(&incident()));
        let other_kind = Silence {
            kind: Some(IncidentKind::Security),
            ..base.clone()
        };
        assert!(!other_kind.matches(&incident()));
        let later = Silence {
            starts_at: 101,
            ..base
        };
        assert!(!later.matches(&incident()));
    }
}
