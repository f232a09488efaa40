//! What the routing stage hands to targets: an event of the log or an incident change,
//! in mistgate's own JSON, with the names a person would want to read.

use std::collections::BTreeMap;

use correlate::{Change, Incident};
use mist::{Severity, Topic};
use serde::{Deserialize, Serialize};

/// One thing to notify.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case")]
pub enum Message {
    /// An event of the log.
    Event(EventMessage),
    /// An incident opened, changed, was acknowledged or resolved.
    Incident(IncidentMessage),
}

/// An event as the API shows it, plus names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    /// The event's id in the log (unique, stable: targets deduplicate on it).
    pub id: i64,
    /// The topic (serialised by its canonical name).
    pub topic: Topic,
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub mac: Option<String>,
    pub severity: Option<Severity>,
    /// The event's own time, unix µs.
    pub time: i64,
    /// When mistgate received it, unix µs.
    pub received_at: i64,
    /// The ingest source it came through.
    pub source: String,
    /// The event exactly as Mist sent it.
    pub raw: serde_json::Value,
    /// The site's name, when known.
    #[serde(default)]
    pub site_name: Option<String>,
    /// The device's name, when known.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// One change of an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentMessage {
    /// The change's id (unique, stable: targets deduplicate on it).
    pub change_id: i64,
    /// What happened to the incident.
    pub change: Change,
    /// When it happened, unix µs.
    pub at: i64,
    /// The incident as the change left it (the correlator's record).
    pub incident: Incident,
    /// The site's name, when known.
    #[serde(default)]
    pub site_name: Option<String>,
    /// Device names by MAC, where known.
    #[serde(default)]
    pub device_names: BTreeMap<String, String>,
    /// A link to the incident in mistgate's API, when `[routing] public_url` is set.
    #[serde(default)]
    pub link: Option<String>,
}

impl IncidentMessage {
    /// The message of one change of `incident`, its site and devices named by `names`
    /// (every source the shell has, highest first: the inventory, the configuration, ...),
    /// else by what its own events said (`Incident::device_names`).
    pub fn named(
        change_id: i64,
        change: Change,
        at: i64,
        incident: Incident,
        names: &mist::Names,
        link: Option<String>,
    ) -> IncidentMessage {
        let site_name = incident
            .site_id
            .as_deref()
            .and_then(|s| names.site(s))
            .map(str::to_owned);
        let device_names = incident
            .devices
            .iter()
            .filter_map(|mac| {
                let name = names
                    .device(mac)
                    .or_else(|| incident.device_names.get(mac).map(String::as_str))?;
                Some((mac.clone(), name.to_owned()))
            })
            .collect();
        IncidentMessage {
            change_id,
            change,
            at,
            incident,
            site_name,
            device_names,
            link,
        }
    }

    /// The site as a person reads it: its name, else its id.
    pub fn site_label(&self) -> String {
        self.site_name
            .clone()
            .or_else(|| self.incident.site_id.clone())
            .unwrap_or_else(|| "(no site)".into())
    }

    /// The devices as a person reads them: names where known, else MACs.
    pub fn device_labels(&self) -> Vec<String> {
        self.incident
            .devices
            .iter()
            .map(|mac| {
                self.device_names
                    .get(mac)
                    .cloned()
                    .unwrap_or_else(|| mac.clone())
            })
            .collect()
    }

    /// The devices for a fact: `name (MAC)` where named, so that the MAC is not lost to
    /// the name, else the MAC.
    pub fn device_labels_with_macs(&self) -> Vec<String> {
        self.incident
            .devices
            .iter()
            .map(|mac| with_id(self.device_names.get(mac).map(String::as_str), mac))
            .collect()
    }

    /// The site's id, when a name stands in for it in [`IncidentMessage::site_label`].
    pub fn named_site_id(&self) -> Option<&str> {
        self.site_name
            .as_ref()
            .and(self.incident.site_id.as_deref())
    }

    /// How long the incident lasted, for a resolution (`"12m 5s"`).
    pub fn duration(&self) -> Option<String> {
        let end = self.incident.resolved_at?;
        let secs = ((end - self.incident.opened_at) / 1_000_000).max(0);
        let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
        Some(match (d, h, m) {
            (0, 0, 0) => format!("{s}s"),
            (0, 0, _) => format!("{m}m {s}s"),
            (0, _, _) => format!("{h}h {m}m"),
            _ => format!("{d}d {h}h"),
        })
    }
}

impl EventMessage {
    /// The site as a person reads it.
    pub fn site_label(&self) -> String {
        self.site_name
            .clone()
            .or_else(|| self.site_id.clone())
            .unwrap_or_else(|| "(no site)".into())
    }

    /// The device as a person reads it, if the event names one.
    pub fn device_label(&self) -> Option<String> {
        self.device_name.clone().or_else(|| self.mac.clone())
    }

    /// The device for a fact: `name (MAC)` when both are known.
    pub fn device_label_with_mac(&self) -> Option<String> {
        match (&self.device_name, &self.mac) {
            (name, Some(mac)) => Some(with_id(name.as_deref(), mac)),
            (name, None) => name.clone(),
        }
    }
}

/// `name (id)`, or the id alone when there is no name or the name is the id.
fn with_id(name: Option<&str>, id: &str) -> String {
    match name.filter(|n| *n != id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

/// Unix µs as RFC 3339 UTC (seconds).
pub fn rfc3339(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_prefer_names_and_durations_read_well() {
        let Message::Incident(mut m) = crate::targets::template::tests::incident("resolved") else {
            unreachable!("an incident message")
        };
        m.incident.devices = vec!["5c5b350e0001".into(), "5c5b350e0002".into()];
        m.incident.opened_at = 0;
        m.incident.resolved_at = Some(725_000_000);
        assert_eq!(m.site_label(), "HQ");
        assert_eq!(m.device_labels(), ["ap-lobby", "5c5b350e0002"]);
        assert_eq!(
            m.device_labels_with_macs(),
            ["ap-lobby (5c5b350e0001)", "5c5b350e0002"]
        );
        assert_eq!(m.named_site_id(), Some("s-1"));
        m.site_name = None;
        assert_eq!(m.named_site_id(), None);
        assert_eq!(m.duration().as_deref(), Some("12m 5s"));
        assert_eq!(rfc3339(1_700_000_000_500_000), "2023-11-14T22:13:20Z");
    }
}
