//! What is published, pure: subject, message id and payload per message.

use bytes::Bytes;

use super::Config;
use crate::targets::Message;

/// One message to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    pub subject: String,
    /// The `Nats-Msg-Id` header: the stream drops a second message with the same id
    /// within its duplicate window.
    pub msg_id: String,
    /// mistgate's JSON of the message (the Mist event as sent is its `raw`).
    pub payload: Bytes,
}

/// Stands for a missing org or site in a subject (org-level audits have no site).
pub const MISSING: &str = "_";

/// `value` as one subject token: characters NATS gives a meaning to (`.`, `*`, `>`) and
/// whitespace become `_`, so an odd value can never add a token or a wildcard.
pub(crate) fn token(value: &str) -> String {
    let t: String = value
        .chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() { MISSING.into() } else { t }
}

/// `<subject_prefix>.<org_id>.<site_id>.<topic>` for an event,
/// `<incident_prefix>.<kind>` for an incident change.
pub fn subject(config: &Config, message: &Message) -> String {
    match message {
        Message::Event(e) => format!(
            "{}.{}.{}.{}",
            config.subject_prefix,
            e.org_id.as_deref().map_or_else(|| MISSING.into(), token),
            e.site_id.as_deref().map_or_else(|| MISSING.into(), token),
            token(e.topic.as_str())
        ),
        Message::Incident(m) => format!(
            "{}.{}",
            config.incident_prefix,
            token(m.incident.kind.as_str())
        ),
    }
}

/// The message id: `event-<id>` (the event's id in the log) or `incident-change-<id>`;
/// the prefixes keep the two id spaces apart in one stream.
pub fn msg_id(message: &Message) -> String {
    match message {
        Message::Event(e) => format!("event-{}", e.id),
        Message::Incident(m) => format!("incident-change-{}", m.change_id),
    }
}

/// The publications of a batch, in order.
pub fn encode(config: &Config, messages: &[Message]) -> Result<Vec<Publication>, String> {
    messages
        .iter()
        .map(|m| {
            Ok(Publication {
                subject: subject(config, m),
                msg_id: msg_id(m),
                payload: Bytes::from(serde_json::to_vec(m).map_err(|e| e.to_string())?),
            })
        })
        .collect()
}
