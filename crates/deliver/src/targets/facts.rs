//! What a person-facing target shows besides its title and text: the facts of a message
//! as label/value pairs, the names an event carries itself, and text shortened to a limit.
//!
//! Shared by the Slack, Teams, PagerDuty and ServiceNow encoders.

use std::borrow::Cow;

use correlate::Change;
use mist::Severity;
use serde_json::Value;

use crate::targets::message::{EventMessage, IncidentMessage, Message, rfc3339};

/// Fields of a raw Mist event worth showing, by label, in this order. Topics that lack a
/// field simply do not show it (an audit has `admin_name` and `message`, an alarm
/// `hostnames`, `reasons` and `count`, a device event `reason`, `text` and `port_id`).
const RAW_FACTS: &[(&str, &str)] = &[
    ("message", "Message"),
    ("admin_name", "Admin"),
    ("text", "Text"),
    ("reason", "Reason"),
    ("reasons", "Reasons"),
    ("hostnames", "Hostnames"),
    ("port_id", "Port"),
    ("model", "Model"),
    ("count", "Count"),
];

/// A title without the `[Opened]` of chat messages, for records that live on (a
/// PagerDuty alert, a ServiceNow ticket): what happened and where.
pub const PLAIN_TITLE: &str = "{% if flow == 'incident' %}{{ summary }}{% if (' at ' ~ site) not in summary %} at {{ site }}{% endif %}\
{% else %}{{ type or topic }} at {{ site }}{% if device %} ({{ device }}){% endif %}{% endif %}";

/// Longest value a raw fact keeps.
const RAW_FACT_CHARS: usize = 500;

/// `message` with the site and device names its raw event carries filled in where the
/// routing stage had none, so that no text shows an id when Mist sent a name
/// (`site_name` on most topics; `device_name`, `ap_name` or `hostname` for devices).
pub fn with_names(message: &Message) -> Cow<'_, Message> {
    let Message::Event(e) = message else {
        return Cow::Borrowed(message);
    };
    let site = e
        .site_name
        .is_none()
        .then(|| raw_text(&e.raw, &["site_name"]))
        .flatten();
    let device = e
        .device_name
        .is_none()
        .then(|| raw_text(&e.raw, &["device_name", "ap_name", "hostname"]))
        .flatten();
    if site.is_none() && device.is_none() {
        return Cow::Borrowed(message);
    }
    let mut named = e.clone();
    named.site_name = named.site_name.or(site);
    named.device_name = named.device_name.or(device);
    Cow::Owned(Message::Event(named))
}

/// The first non-empty string among `keys` of a raw event.
fn raw_text(raw: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| raw.get(*k)?.as_str())
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The facts of an incident change: site, severity, devices, reason (the summary), and
/// the duration once resolved, the cause when suppressed. Names stand first; the site id
/// and device MACs they stand for stay beside them.
pub fn incident_facts(m: &IncidentMessage) -> Vec<(&'static str, String)> {
    let i = &m.incident;
    let devices = m.device_labels_with_macs();
    let mut facts = vec![("Site", m.site_label())];
    if let Some(id) = m.named_site_id() {
        facts.push(("Site ID", id.to_string()));
    }
    facts.extend([
        ("Severity", or_dash(i.severity.as_str())),
        (
            if devices.len() == 1 {
                "Device"
            } else {
                "Devices"
            },
            if devices.is_empty() {
                "-".into()
            } else {
                devices.join(", ")
            },
        ),
        ("Reason", or_dash(&i.summary)),
    ]);
    if let Some(t) = i.alarm_type.as_deref().filter(|t| !t.is_empty()) {
        facts.push(("Type", t.to_string()));
    }
    match m.change {
        Change::Resolved => {
            if let Some(d) = m.duration() {
                facts.push(("Duration", d));
            }
        }
        _ => facts.push(("Since", rfc3339(i.opened_at))),
    }
    if let Some(cause) = i.caused_by {
        facts.push(("Caused by", format!("incident #{cause}")));
    }
    facts
}

/// The facts of an event: topic, type, site, device, severity, time, then what its raw
/// event says that a person would want (see [`RAW_FACTS`]).
pub fn event_facts(e: &EventMessage) -> Vec<(&'static str, String)> {
    let mut facts = vec![("Topic", e.topic.as_str().to_string())];
    if let Some(t) = e.event_type.as_deref().filter(|t| !t.is_empty()) {
        facts.push(("Type", t.to_string()));
    }
    // A named site shows its name only: an event's many facts would push out the raw ones.
    facts.push(("Site", e.site_label()));
    if let Some(d) = e.device_label_with_mac() {
        facts.push(("Device", d));
    }
    if let Some(s) = e.severity.as_ref().filter(|s| !s.as_str().is_empty()) {
        facts.push(("Severity", s.as_str().to_string()));
    }
    facts.push(("Time", rfc3339(e.time)));
    for (key, label) in RAW_FACTS {
        if let Some(value) = e.raw.get(*key).and_then(fact_value) {
            facts.push((label, shorten(&value, RAW_FACT_CHARS)));
        }
    }
    facts
}

/// The facts of any message.
pub fn facts(message: &Message) -> Vec<(&'static str, String)> {
    match message {
        Message::Incident(m) => incident_facts(m),
        Message::Event(e) => event_facts(e),
    }
}

/// A raw value as one line: strings, numbers, booleans, lists of them joined by `, `.
fn fact_value(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::Array(_) | Value::Object(_) => None,
                other => fact_value(other),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null | Value::Object(_) => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

/// `text` cut to at most `max` characters (not bytes), ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The message's severity, Mist's word, when it has one.
pub fn severity(message: &Message) -> Option<&Severity> {
    match message {
        Message::Incident(m) => Some(&m.incident.severity),
        Message::Event(e) => e.severity.as_ref(),
    }
    .filter(|s| !s.as_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_counts_characters_and_marks_the_cut() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("ééééé", 4).chars().count(), 4);
    }

    #[test]
    fn raw_values_read_as_one_line() {
        let raw = serde_json::json!({"a": ["x", 1, {"y": 2}], "b": "  ", "c": null});
        assert_eq!(fact_value(&raw["a"]).as_deref(), Some("x, 1"));
        assert_eq!(fact_value(&raw["b"]), None);
        assert_eq!(fact_value(&raw["c"]), None);
    }
}
