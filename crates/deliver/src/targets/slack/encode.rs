//! The Slack requests, pure: a Block Kit payload per message, and the three requests
//! that carry it (incoming webhook, `chat.postMessage`, `chat.update`).
//!
//! Block Kit limits honoured: a `header` holds at most 150 characters of plain text, a
//! section's text 3000, a field 2000, a section at most 10 fields. Text in `mrkdwn` has
//! `&`, `<` and `>` escaped, so a name from Mist can neither form a link nor mention
//! `@channel`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Config;
use crate::request::HttpRequest;
use crate::targets::facts::{facts, severity, shorten, with_names};
use correlate::Change;
use mist::Severity;

use crate::targets::message::{Message, rfc3339};
use crate::targets::template;

const HEADER_CHARS: usize = 150;
const SECTION_CHARS: usize = 3000;
const FIELD_CHARS: usize = 2000;
const MAX_FIELDS: usize = 10;
/// The notification text; Slack takes far more (40,000), nobody reads it.
const FALLBACK_CHARS: usize = 3000;

/// The message a bot posted for an incident, remembered to edit it later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    /// The channel id Slack answered with (`chat.update` wants the id, not a name).
    pub channel: String,
    /// The message's timestamp, its id within the channel.
    pub ts: String,
}

/// `text` with the three characters Slack's `mrkdwn` reserves escaped.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` escaped and cut to `max` characters, never in the middle of an entity.
fn mrkdwn(text: &str, max: usize) -> String {
    let escaped = escape(text);
    if escaped.chars().count() <= max {
        return escaped;
    }
    let mut cut: String = escaped.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

/// The emoji before the title: the change for incidents that are not news any more,
/// else the severity.
fn emoji(message: &Message) -> &'static str {
    if let Message::Incident(m) = message {
        match m.change {
            Change::Resolved => return ":white_check_mark:",
            Change::Acknowledged => return ":eyes:",
            Change::Suppressed => return ":mute:",
            _ => {}
        }
    }
    match severity(message) {
        Some(Severity::Critical) => ":red_circle:",
        Some(Severity::Major) => ":large_orange_circle:",
        Some(Severity::Minor | Severity::Warn) => ":large_yellow_circle:",
        _ => ":large_blue_circle:",
    }
}

/// The `text` (notification and fallback) and `blocks` of a message.
pub fn payload(config: &Config, message: &Message) -> Value {
    let named = with_names(message);
    let message = named.as_ref();
    let title = template::title(config.title_template.as_deref(), message);
    let mut blocks = Vec::new();
    match message {
        Message::Incident(_) => blocks.push(json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": shorten(&format!("{} {title}", emoji(message)), HEADER_CHARS),
                "emoji": true,
            },
        })),
        // Events are many and small: a bold line, not a header.
        Message::Event(_) => blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": format!("{} *{}*", emoji(message), mrkdwn(&title, SECTION_CHARS - 40)),
            },
        })),
    }
    let fields: Vec<Value> = facts(message)
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            json!({
                "type": "mrkdwn",
                "text": format!("*{label}*\n{}", mrkdwn(&value, FIELD_CHARS - label.len() - 4)),
            })
        })
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));
    if let Some(custom) = config.text_template.as_deref() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(&template::text(Some(custom), message), SECTION_CHARS)},
        }));
    }
    let mut context = match message {
        Message::Incident(m) => format!(
            "mistgate incident #{} · {} · {} {}",
            m.incident.id,
            escape(m.incident.kind.as_str()),
            escape(m.change.as_str()),
            rfc3339(m.at)
        ),
        Message::Event(e) => format!("mistgate event #{} · source {}", e.id, escape(&e.source)),
    };
    if let Message::Incident(m) = message
        && let Some(link) = &m.link
    {
        // A link's URL may hold `&`; Slack wants it escaped like any other text.
        context.push_str(&format!(" · <{}|Open in mistgate>", escape(link)));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context}],
    }));
    let text = template::text(config.text_template.as_deref(), message);
    json!({
        "text": mrkdwn(&format!("{title}\n{text}"), FALLBACK_CHARS),
        "blocks": blocks,
    })
}

/// The incoming-webhook POST.
pub fn webhook_request(url: &str, config: &Config, message: &Message) -> HttpRequest {
    let mut body = payload(config, message);
    body["unfurl_links"] = json!(false);
    HttpRequest::post_json(url, body.to_string())
}

/// A Web API call: JSON (with the charset Slack asks for), the token as a bearer.
fn api_request(config: &Config, method: &str, body: Value) -> HttpRequest {
    let mut request = HttpRequest::post_json(
        &format!("{}/{method}", config.api_url.trim_end_matches('/')),
        body.to_string(),
    );
    request.headers = vec![(
        "Content-Type".into(),
        "application/json; charset=utf-8".into(),
    )];
    request.header(
        "Authorization",
        format!("Bearer {}", config.token.as_deref().unwrap_or_default()),
    )
}

/// `chat.postMessage` to the configured channel.
pub fn post_request(config: &Config, message: &Message) -> HttpRequest {
    let mut body = payload(config, message);
    body["channel"] = json!(config.channel.as_deref().unwrap_or_default());
    body["unfurl_links"] = json!(false);
    api_request(config, "chat.postMessage", body)
}

/// `chat.update` of a message posted before.
pub fn update_request(config: &Config, message: &Message, posted: &Posted) -> HttpRequest {
    let mut body = payload(config, message);
    body["channel"] = json!(posted.channel);
    body["ts"] = json!(posted.ts);
    api_request(config, "chat.update", body)
}
