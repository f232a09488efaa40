//! The HEC request, pure: one event object per message (see [`crate::hec`]).

use super::{Config, EVENT_PATH};
use crate::hec::{HecMeta, push_event};
use crate::request::HttpRequest;
use crate::targets::ConfigError;
use crate::targets::Message;

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

/// Appends the event object for one message to `body`.
pub fn push_message(body: &mut Vec<u8>, config: &Config, message: &Message) {
    let mut fields = std::collections::BTreeMap::new();
    let (time_us, sourcetype) = match message {
        Message::Event(e) => {
            fields.insert("topic", e.topic.as_str());
            let optional = [
                ("type", &e.event_type),
                ("site_id", &e.site_id),
                ("site_name", &e.site_name),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    fields.insert(key, v.as_str());
                }
            }
            if let Some(s) = &e.severity {
                fields.insert("severity", s.as_str());
            }
            (e.time, format!("mist:{}", e.topic.as_str()))
        }
        Message::Incident(m) => {
            let i = &m.incident;
            fields.insert("kind", i.kind.as_str());
            fields.insert("change", m.change.as_str());
            for (key, value) in [("site_id", &i.site_id), ("site_name", &m.site_name)] {
                if let Some(v) = value {
                    fields.insert(key, v.as_str());
                }
            }
            if !i.severity.as_str().is_empty() {
                fields.insert("severity", i.severity.as_str());
            }
            (m.at, "mistgate:incident".to_string())
        }
    };
    let meta = HecMeta {
        time_us,
        host: config.host.as_deref(),
        source: &config.source,
        sourcetype: config.sourcetype.as_deref().unwrap_or(&sourcetype),
        index: config.index.as_deref(),
        fields,
    };
    // A message is plain data: serialising it into a Vec cannot fail.
    let event = serde_json::to_vec(message).unwrap_or_else(|_| b"null".to_vec());
    push_event(body, &meta, &event);
}

/// The request for a batch: the messages' event objects, one per line.
pub fn encode(config: &Config, messages: &[Message]) -> Result<HttpRequest, ConfigError> {
    let mut body = Vec::with_capacity(messages.len() * 1_024);
    for message in messages {
        push_message(&mut body, config, message);
    }
    let mut request = HttpRequest::post_json(&endpoint(config), body)
        .header("User-Agent", "mistgate")
        .header("Authorization", format!("Splunk {}", config.token));
    request.verify_cert = config.verify_cert;
    Ok(request)
}
