//! The Teams request, pure: a `message` whose one attachment is an Adaptive Card
//! (schema 1.4, which Teams renders on desktop, web and mobile): a title coloured by
//! severity, a fact set, the optional text, a footnote, and a link to the incident.

use serde_json::{Value, json};

use super::Config;
use crate::request::HttpRequest;
use crate::targets::facts::{facts, severity, shorten, with_names};
use correlate::Change;
use mist::Severity;

use crate::targets::message::{Message, rfc3339};
use crate::targets::template;

/// Teams refuses messages above about 28 KB; cards are kept under this.
pub const MAX_BODY_BYTES: usize = 27 * 1024;

/// Character limits of a card's parts: roomy first, tight if the card is still too big.
const LIMITS: [(usize, usize); 2] = [(1_000, 4_000), (150, 600)];

/// The colour of the title: green once resolved, else by severity.
fn color(message: &Message) -> &'static str {
    if let Message::Incident(m) = message {
        match m.change {
            Change::Resolved => return "Good",
            Change::Suppressed => return "Default",
            _ => {}
        }
    }
    match severity(message) {
        Some(Severity::Critical | Severity::Major) => "Attention",
        Some(Severity::Minor | Severity::Warn) => "Warning",
        _ => "Default",
    }
}

/// The Adaptive Card for a message, with facts cut to `fact_chars` and the text to
/// `text_chars` characters.
fn card_within(config: &Config, message: &Message, fact_chars: usize, text_chars: usize) -> Value {
    let title = template::title(config.title_template.as_deref(), message);
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": shorten(&title, 300),
        "size": "Large",
        "weight": "Bolder",
        "color": color(message),
        "wrap": true,
    })];
    let facts: Vec<Value> = facts(message)
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": shorten(&value, fact_chars)}))
        .collect();
    body.push(json!({"type": "FactSet", "facts": facts}));
    if let Some(custom) = config.text_template.as_deref() {
        body.push(json!({
            "type": "TextBlock",
            "text": shorten(&template::text(Some(custom), message), text_chars),
            "wrap": true,
        }));
    }
    let footnote = match message {
        Message::Incident(m) => format!(
            "mistgate incident #{} · {} · {} {}",
            m.incident.id,
            m.incident.kind.as_str(),
            m.change.as_str(),
            rfc3339(m.at)
        ),
        Message::Event(e) => format!("mistgate event #{} · source {}", e.id, e.source),
    };
    body.push(json!({
        "type": "TextBlock",
        "text": shorten(&footnote, 300),
        "size": "Small",
        "isSubtle": true,
        "wrap": true,
    }));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if let Message::Incident(m) = message
        && let Some(link) = &m.link
    {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in mistgate", "url": link}]);
    }
    card
}

/// The Adaptive Card for a message.
pub fn card(config: &Config, message: &Message) -> Value {
    let named = with_names(message);
    let (facts, text) = LIMITS[0];
    card_within(config, named.as_ref(), facts, text)
}

fn envelope(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// The POST to the workflow; a card too big with roomy limits is built again with
/// tight ones.
pub fn encode(config: &Config, message: &Message) -> HttpRequest {
    let named = with_names(message);
    let mut body = String::new();
    for (facts, text) in LIMITS {
        body = envelope(card_within(config, named.as_ref(), facts, text)).to_string();
        if body.len() <= MAX_BODY_BYTES {
            break;
        }
    }
    HttpRequest::post_json(&config.url, body)
}
