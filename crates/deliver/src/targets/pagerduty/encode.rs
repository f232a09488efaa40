//! The Events API v2 request, pure. Fields as PagerDuty documents them: `routing_key`,
//! `event_action` (`trigger`, `acknowledge`, `resolve`), `dedup_key` (at most 255
//! characters), and for a trigger `payload.summary` (at most 1024 characters),
//! `payload.source`, `payload.severity`, with `timestamp`, `group`, `class`,
//! `custom_details`, `links`, `client` and `client_url`.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Config;
use crate::request::HttpRequest;
use crate::targets::facts::{PLAIN_TITLE, shorten, with_names};
use correlate::Change;
use mist::Severity;

use crate::targets::message::{EventMessage, IncidentMessage, Message, rfc3339};
use crate::targets::template;

/// PagerDuty's limit on `payload.summary`.
pub const SUMMARY_CHARS: usize = 1024;

/// PagerDuty's limit on `dedup_key`.
const DEDUP_KEY_CHARS: usize = 255;

/// The default summary: what happened and where, without the `[Opened]` of chat titles
/// (an alert lives on; its state is PagerDuty's).
pub const DEFAULT_SUMMARY: &str = PLAIN_TITLE;

/// The body; `routing_key` first, so that it is where delivery records hide it.
#[derive(Serialize)]
struct Event<'a> {
    routing_key: &'a str,
    event_action: &'static str,
    dedup_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_url: Option<String>,
}

#[derive(Serialize)]
struct Payload {
    summary: String,
    source: String,
    severity: &'static str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    class: String,
    custom_details: Value,
}

/// A Mist severity as one of PagerDuty's four.
pub fn pd_severity(mist: &Severity) -> &'static str {
    match mist {
        Severity::Critical => "critical",
        Severity::Major => "error",
        Severity::Minor | Severity::Warn => "warning",
        _ => "info",
    }
}

/// The `dedup_key` of an incident: `mistgate:<key>:<id>`. The id is in it because a key
/// comes back (the same AP down again next week is a new incident): a late resolution of
/// the old one must not resolve the new alert. Keys too long for PagerDuty are hashed.
pub fn dedup_key(key: &str, id: i64) -> String {
    let plain = format!("mistgate:{key}:{id}");
    if plain.chars().count() <= DEDUP_KEY_CHARS {
        return plain;
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("mistgate:sha256:{hex}:{id}")
}

fn summary(config: &Config, message: &Message) -> String {
    let text = template::title(
        Some(
            config
                .summary_template
                .as_deref()
                .unwrap_or(DEFAULT_SUMMARY),
        ),
        message,
    );
    shorten(text.trim(), SUMMARY_CHARS)
}

fn incident_event<'a>(config: &'a Config, message: &Message, m: &IncidentMessage) -> Event<'a> {
    let i = &m.incident;
    let dedup_key = dedup_key(&i.key, i.id);
    let action = match m.change {
        Change::Acknowledged => "acknowledge",
        // A suppressed incident is explained by another one, which pages: this one's
        // alert is closed (mistgate keeps tracking it).
        Change::Resolved | Change::Suppressed => "resolve",
        Change::Opened | Change::Updated => "trigger",
    };
    if action != "trigger" {
        return Event {
            routing_key: &config.routing_key,
            event_action: action,
            dedup_key,
            payload: None,
            links: Vec::new(),
            client: None,
            client_url: None,
        };
    }
    let devices = m.device_labels();
    let source = match devices.as_slice() {
        [one] => one.clone(),
        _ => m.site_label(),
    };
    let names: Vec<Value> = i
        .devices
        .iter()
        .map(|mac| json!({"mac": mac, "name": m.device_names.get(mac)}))
        .collect();
    let details = json!({
        "incident_id": i.id,
        "incident_key": i.key,
        "kind": i.kind,
        "change": m.change,
        "mist_severity": i.severity,
        "alarm_type": i.alarm_type,
        "site": m.site_label(),
        "site_id": i.site_id,
        "org_id": i.org_id,
        "devices": names,
        "summary": i.summary,
        "opened_at": rfc3339(i.opened_at),
        "caused_by": i.caused_by,
        "link": m.link,
    });
    Event {
        routing_key: &config.routing_key,
        event_action: "trigger",
        dedup_key,
        payload: Some(Payload {
            summary: summary(config, message),
            source,
            severity: pd_severity(&i.severity),
            timestamp: rfc3339(i.opened_at),
            group: Some(m.site_label()),
            class: i
                .alarm_type
                .clone()
                .unwrap_or_else(|| i.kind.as_str().to_string()),
            custom_details: details,
        }),
        links: m
            .link
            .iter()
            .map(|l| json!({"href": l, "text": format!("mistgate incident #{}", i.id)}))
            .collect(),
        client: Some("mistgate"),
        client_url: m.link.clone(),
    }
}

fn plain_event<'a>(config: &'a Config, message: &Message, e: &EventMessage) -> Event<'a> {
    Event {
        routing_key: &config.routing_key,
        event_action: "trigger",
        dedup_key: format!("mistgate:event:{}", e.id),
        payload: Some(Payload {
            summary: summary(config, message),
            source: e.device_label().unwrap_or_else(|| e.site_label()),
            severity: e.severity.as_ref().map_or("info", pd_severity),
            timestamp: rfc3339(e.time),
            group: Some(e.site_label()),
            class: e
                .event_type
                .clone()
                .unwrap_or_else(|| e.topic.as_str().to_string()),
            custom_details: json!({
                "topic": e.topic,
                "type": e.event_type,
                "site": e.site_label(),
                "site_id": e.site_id,
                "org_id": e.org_id,
                "device": e.device_label(),
                "mac": e.mac,
                "event_id": e.id,
                "event": e.raw,
            }),
        }),
        links: Vec::new(),
        client: Some("mistgate"),
        client_url: None,
    }
}

/// The request for one message.
pub fn encode(config: &Config, message: &Message) -> HttpRequest {
    let named = with_names(message);
    let message = named.as_ref();
    let event = match message {
        Message::Incident(m) => incident_event(config, message, m),
        Message::Event(e) => plain_event(config, message, e),
    };
    let body = serde_json::to_vec(&event).expect("values serialise");
    HttpRequest::post_json(&config.url, body)
}
