//! Message text from small templates (minijinja), with defaults that read well.
//!
//! Targets call [`title`] and [`text`] with the template the config names (or `None` for
//! the default). Templates see, for incidents: `change` (`opened`, ...), `verb`
//! (`Opened`, `Resolved`, ...), `kind`, `severity`, `summary`, `site` (name, else id),
//! `devices` (names, else MACs, joined), `duration`, `link`, `id`, `key`; for events:
//! `topic`, `type`, `severity`, `site`, `device`, `time`, `message` (the event's own
//! words, e.g. an audit's `Update Site Settings`).

use crate::targets::ConfigError;
use minijinja::{Environment, Value, context};

use super::message::{Message, rfc3339};

/// The default one-line title.
pub const DEFAULT_TITLE: &str = "{% if flow == 'incident' %}[{{ verb }}] {{ summary }}\
{% if (' at ' ~ site) not in summary %} at {{ site }}{% endif %}\
{% else %}{{ type or topic }}{% if message %}: {{ message }}{% endif %} at {{ site }}\
{% if device %} ({{ device }}){% endif %}{% endif %}";

/// The default body text.
pub const DEFAULT_TEXT: &str = "{% if flow == 'incident' %}{{ kind }} incident {{ verb | lower }}: {{ summary }}\n\
Site: {{ site }}\nDevices: {{ devices or '-' }}\nSeverity: {{ severity }}\
{% if duration %}\nDuration: {{ duration }}{% endif %}{% if link %}\n{{ link }}{% endif %}\
{% else %}{{ topic }} event{% if type %} {{ type }}{% endif %}{% if message %}: {{ message }}{% endif %} \
at {{ site }}{% if device %} on {{ device }}{% endif %} ({{ time }}){% endif %}";

/// The values a template sees for `message`.
pub fn values(message: &Message) -> Value {
    match message {
        Message::Incident(m) => {
            let i = &m.incident;
            let verb = match m.change.as_str() {
                "opened" => "Opened",
                "resolved" => "Resolved",
                "acknowledged" => "Acknowledged",
                "suppressed" => "Suppressed",
                _ => "Updated",
            };
            context! {
                flow => "incident",
                change => m.change,
                verb => verb,
                kind => i.kind,
                severity => i.severity,
                summary => i.summary,
                site => m.site_label(),
                devices => m.device_labels().join(", "),
                duration => m.duration(),
                link => m.link,
                id => i.id,
                key => i.key,
                opened_at => rfc3339(i.opened_at),
                resolved_at => i.resolved_at.map(rfc3339),
            }
        }
        Message::Event(e) => context! {
            flow => "event",
            topic => e.topic,
            type => e.event_type,
            severity => e.severity,
            site => e.site_label(),
            device => e.device_label(),
            time => rfc3339(e.time),
            // What audits and some device events say in words (`Update Site Settings`).
            message => e.raw.get("message").and_then(|m| m.as_str()).filter(|m| !m.is_empty()),
        },
    }
}

/// Renders `template` for `message`; a broken template says where.
pub fn render(template: &str, message: &Message) -> Result<String, ConfigError> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(false);
    env.render_str(template, values(message))
        .map_err(|e| ConfigError(format!("template: {e}")))
}

/// The title for `message` with `custom` or the default template.
pub fn title(custom: Option<&str>, message: &Message) -> String {
    render(custom.unwrap_or(DEFAULT_TITLE), message).unwrap_or_else(|e| format!("(mistgate: {e})"))
}

/// The body text for `message` with `custom` or the default template.
pub fn text(custom: Option<&str>, message: &Message) -> String {
    render(custom.unwrap_or(DEFAULT_TEXT), message).unwrap_or_else(|e| format!("(mistgate: {e})"))
}

/// Checks that `template` parses (config load).
pub fn check(template: &str) -> Result<(), ConfigError> {
    Environment::new()
        .template_from_str(template)
        .map(|_| ())
        .map_err(|e| ConfigError(format!("template does not parse: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::targets::message::{EventMessage, IncidentMessage};
    use correlate::{Change, Incident, IncidentKind, IncidentState};

    pub(crate) fn incident(change: &str) -> Message {
        let change = Change::parse(change).expect("a change name");
        let resolved = change == Change::Resolved;
        Message::Incident(IncidentMessage {
            change_id: 7,
            change,
            at: 1_700_000_600_000_000,
            incident: Incident {
                id: 3,
                key: "device_down:o:5c5b350e0001".into(),
                kind: IncidentKind::DeviceDown,
                alarm_type: None,
                state: if resolved {
                    IncidentState::Resolved
                } else {
                    IncidentState::Open
                },
                severity: mist::Severity::Critical,
                org_id: None,
                site_id: Some("s-1".into()),
                devices: vec!["5c5b350e0001".into()],
                opened_at: 1_700_000_000_000_000,
                last_seen_at: 1_700_000_000_000_000,
                resolved_at: resolved.then_some(1_700_000_600_000_000),
                summary: "AP ap-lobby is down".into(),
                suppressed: false,
                silenced: false,
                caused_by: None,
                timeline: Vec::new(),
                event_ids: Vec::new(),
                device_names: Default::default(),
            },
            site_name: Some("HQ".into()),
            device_names: [("5c5b350e0001".into(), "ap-lobby".into())].into(),
            link: Some("https://mistgate.example.net/api/v1/incidents/3".into()),
        })
    }

    #[test]
    fn default_titles_and_texts_use_names() {
        assert_eq!(
            title(None, &incident("opened")),
            "[Opened] AP ap-lobby is down at HQ"
        );
        let resolved = text(None, &incident("resolved"));
        assert!(
            resolved.contains("Devices: ap-lobby") && resolved.contains("Duration: 10m 0s"),
            "{resolved}"
        );
        let event = Message::Event(EventMessage {
            id: 1,
            topic: "device-events".into(),
            org_id: None,
            site_id: Some("s-1".into()),
            event_type: Some("AP_RESTARTED".into()),
            mac: Some("5c5b350e0001".into()),
            severity: None,
            time: 0,
            received_at: 0,
            source: "default".into(),
            raw: serde_json::json!({}),
            site_name: Some("HQ".into()),
            device_name: Some("ap-lobby".into()),
        });
        assert_eq!(title(None, &event), "AP_RESTARTED at HQ (ap-lobby)");
        assert_eq!(
            text(None, &event),
            "device-events event AP_RESTARTED at HQ on ap-lobby (1970-01-01T00:00:00Z)"
        );
        let Message::Event(mut audit) = event.clone() else {
            unreachable!()
        };
        audit.topic = "audits".into();
        audit.event_type = None;
        audit.device_name = None;
        audit.mac = None;
        audit.raw = serde_json::json!({"message": "Update Site Settings"});
        let audit = Message::Event(audit);
        assert_eq!(title(None, &audit), "audits: Update Site Settings at HQ");
        assert_eq!(
            text(None, &audit),
            "audits event: Update Site Settings at HQ (1970-01-01T00:00:00Z)"
        );
        assert_eq!(
            title(Some("{{ verb }} {{ kind }}"), &incident("acknowledged")),
            "Acknowledged device_down"
        );
        assert!(check("{{ unclosed").is_err());
    }
}
