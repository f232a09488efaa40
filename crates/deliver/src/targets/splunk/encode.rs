//! The HEC request, pure: one event object per message, concatenated.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use super::{Config, EVENT_PATH};
use crate::client::HttpRequest;
use crate::targets::Message;

/// One HEC event object (the fields HEC documents for `/services/collector/event`).
#[derive(Serialize)]
pub struct HecEvent<'a> {
    /// Epoch seconds with milliseconds, as HEC reads `time`.
    pub time: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<&'a str>,
    pub source: &'a str,
    pub sourcetype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<&'a str>,
    /// The message in mistgate's JSON (the Mist event is its `raw`).
    pub event: &'a Message,
    /// Indexed fields: strings only, as HEC requires.
    pub fields: BTreeMap<&'static str, String>,
}

/// The URL events are posted to: the configured one, with the event path added when the
/// configured URL has no path.
pub fn endpoint(config: &Config) -> String {
    match url::Url::parse(&config.url) {
        Ok(mut u) if u.path().trim_end_matches('/').is_empty() => {
            u.set_path(EVENT_PATH);
            u.to_string()
        }
        _ => config.url.clone(),
    }
}

/// `us` (unix µs) as HEC's `<seconds>.<milliseconds>`.
fn hec_time(us: i64) -> Box<RawValue> {
    let text = format!(
        "{}.{:03}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000) / 1_000
    );
    RawValue::from_string(text).expect("digits, a dot and digits are a JSON number")
}

/// The event object for one message.
pub fn hec_event<'a>(config: &'a Config, message: &'a Message) -> HecEvent<'a> {
    let mut fields = BTreeMap::new();
    let (time, sourcetype) = match message {
        Message::Event(e) => {
            fields.insert("topic", e.topic.clone());
            if let Some(t) = &e.event_type {
                fields.insert("type", t.clone());
            }
            if let Some(s) = &e.site_id {
                fields.insert("site_id", s.clone());
            }
            if let Some(s) = &e.site_name {
                fields.insert("site_name", s.clone());
            }
            if let Some(s) = &e.severity {
                fields.insert("severity", s.to_ascii_lowercase());
            }
            (e.time, format!("mist:{}", e.topic))
        }
        Message::Incident(m) => {
            let i = &m.incident;
            fields.insert("kind", i.kind.clone());
            fields.insert("change", m.change.clone());
            if let Some(s) = &i.site_id {
                fields.insert("site_id", s.clone());
            }
            if let Some(s) = &m.site_name {
                fields.insert("site_name", s.clone());
            }
            if !i.severity.is_empty() {
                fields.insert("severity", i.severity.to_ascii_lowercase());
            }
            (m.at, "mistgate:incident".to_string())
        }
    };
    HecEvent {
        time: hec_time(time),
        host: config.host.as_deref(),
        source: &config.source,
        sourcetype: config.sourcetype.clone().unwrap_or(sourcetype),
        index: config.index.as_deref(),
        event: message,
        fields,
    }
}

/// The request for a batch: the event objects one per line (HEC reads concatenated
/// objects; the newlines only make delivery records readable).
pub fn encode(config: &Config, messages: &[Message]) -> Result<HttpRequest, String> {
    let mut body = Vec::with_capacity(messages.len() * 1_024);
    for message in messages {
        if !body.is_empty() {
            body.push(b'\n');
        }
        serde_json::to_writer(&mut body, &hec_event(config, message)).map_err(|e| e.to_string())?;
    }
    let mut request = HttpRequest::post_json(&endpoint(config), body)
        .header("User-Agent", "mistgate")
        .header("Authorization", format!("Splunk {}", config.token));
    request.verify_cert = config.verify_cert;
    Ok(request)
}
