//! The Table API requests, pure: find a record by `correlation_id`, create one, add a
//! work note or resolve it, and the OAuth token request. Field lengths as a stock
//! instance has them: `short_description` 160 characters, `description`, `work_notes` and
//! `close_notes` 4000 kept here, `correlation_id` 100.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Config;
use crate::request::HttpRequest;
use crate::targets::facts::{PLAIN_TITLE, facts, shorten, with_names};
use mist::Severity;

use crate::targets::message::Message;
use crate::targets::template;

const SHORT_DESCRIPTION_CHARS: usize = 160;
const TEXT_CHARS: usize = 4000;
const CORRELATION_ID_CHARS: usize = 100;

/// The record made for an incident, remembered under `incident:<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub sys_id: String,
    /// `INC0010001`, for people.
    #[serde(default)]
    pub number: Option<String>,
}

/// Impact and urgency (`"1"` high … `"3"` low) for a Mist severity.
pub fn impact_urgency(severity: &Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("1", "1"),
        Severity::Major => ("1", "2"),
        Severity::Minor => ("2", "2"),
        Severity::Warn => ("2", "3"),
        _ => ("3", "3"),
    }
}

/// The `correlation_id` of a message: the incident key (hashed if it is too long for the
/// field or holds `^`, which separates encoded-query terms), or `mistgate:event:<id>`.
pub fn correlation_id(message: &Message) -> String {
    match message {
        Message::Incident(m) => {
            let key = &m.incident.key;
            if key.chars().count() <= CORRELATION_ID_CHARS && !key.contains('^') {
                key.clone()
            } else {
                let digest = Sha256::digest(key.as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("sha256:{hex}")
            }
        }
        Message::Event(e) => format!("mistgate:event:{}", e.id),
    }
}

fn table_url(config: &Config) -> String {
    format!(
        "{}/api/now/table/{}",
        config.url.trim_end_matches('/'),
        config.table
    )
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(url).expect("checked at load");
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

fn request(method: http::Method, url: String, body: Option<Value>, auth: &str) -> HttpRequest {
    let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
    if body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    headers.push(("Authorization".into(), auth.to_string()));
    HttpRequest {
        method,
        url,
        headers,
        body: body.map(|b| b.to_string()).unwrap_or_default().into(),
        verify_cert: true,
        redact: Vec::new(),
    }
}

/// `Basic <base64(user:password)>`.
pub fn basic_auth(config: &Config) -> String {
    let user = config.username.as_deref().unwrap_or_default();
    let password = config.password.as_deref().unwrap_or_default();
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The record of a message, if one exists: active ones only for incidents (a key
/// comes back; a closed ticket of an earlier incident is not reopened).
pub fn lookup_request(config: &Config, message: &Message, auth: &str) -> HttpRequest {
    let mut query = format!("correlation_id={}", correlation_id(message));
    if matches!(message, Message::Incident(_)) {
        query.push_str("^active=true");
    }
    let url = with_query(
        &table_url(config),
        &[
            ("sysparm_query", &query),
            ("sysparm_fields", "sys_id,number"),
            ("sysparm_limit", "1"),
        ],
    );
    let mut r = request(http::Method::GET, url, None, auth);
    r.verify_cert = config.verify_cert;
    r
}

/// The facts as `Label: value` lines, then where the message comes from.
fn details(message: &Message) -> String {
    let mut lines: Vec<String> = facts(message)
        .into_iter()
        .map(|(label, value)| format!("{label}: {value}"))
        .collect();
    lines.push(String::new());
    match message {
        Message::Incident(m) => {
            lines.push(format!(
                "mistgate incident #{} ({})",
                m.incident.id, m.incident.key
            ));
            if let Some(link) = &m.link {
                lines.push(link.clone());
            }
        }
        Message::Event(e) => lines.push(format!("mistgate event #{} ({})", e.id, e.source)),
    }
    lines.join("\n")
}

/// The configured text (if any), then the details.
fn body_text(config: &Config, message: &Message, heading: Option<String>) -> String {
    let mut parts = Vec::new();
    parts.extend(heading);
    if let Some(custom) = config.text_template.as_deref() {
        parts.push(template::text(Some(custom), message));
    }
    parts.push(details(message));
    shorten(&parts.join("\n\n"), TEXT_CHARS)
}

/// Creates the record of a message.
pub fn create_request(config: &Config, message: &Message, auth: &str) -> HttpRequest {
    let named = with_names(message);
    let message = named.as_ref();
    let severity = match message {
        Message::Incident(m) => &m.incident.severity,
        Message::Event(e) => e.severity.as_ref().unwrap_or(&Severity::Info),
    };
    let (impact, urgency) = impact_urgency(severity);
    let title = template::title(
        Some(config.title_template.as_deref().unwrap_or(PLAIN_TITLE)),
        message,
    );
    let mut fields = Map::new();
    for (name, value) in &config.fields {
        fields.insert(name.clone(), json!(value));
    }
    let mut set = |name: &str, value: Value| {
        fields.insert(name.to_string(), value);
    };
    set(
        "short_description",
        json!(shorten(title.trim(), SHORT_DESCRIPTION_CHARS)),
    );
    set("description", json!(body_text(config, message, None)));
    set("category", json!(config.category));
    set("impact", json!(impact));
    set("urgency", json!(urgency));
    set("correlation_id", json!(correlation_id(message)));
    set("correlation_display", json!("mistgate"));
    if let Some(group) = &config.assignment_group {
        set("assignment_group", json!(group));
    }
    if let Some(caller) = &config.caller_id {
        set("caller_id", json!(caller));
    }
    let url = with_query(
        &table_url(config),
        &[
            ("sysparm_fields", "sys_id,number"),
            ("sysparm_exclude_reference_link", "true"),
        ],
    );
    let mut r = request(http::Method::POST, url, Some(Value::Object(fields)), auth);
    r.verify_cert = config.verify_cert;
    r
}

/// Adds a work note to the record, or resolves it (state 6, close code and notes).
pub fn update_request(
    config: &Config,
    message: &Message,
    ticket: &Ticket,
    auth: &str,
) -> HttpRequest {
    let named = with_names(message);
    let message = named.as_ref();
    // The chat-style title says what changed: `[Resolved] ... at HQ`.
    let heading = Some(template::title(None, message));
    let note = body_text(config, message, heading);
    let resolved =
        matches!(message, Message::Incident(m) if m.change == correlate::Change::Resolved);
    let body = if resolved {
        json!({"state": "6", "close_code": config.close_code, "close_notes": note})
    } else {
        json!({"work_notes": note})
    };
    let url = with_query(
        &format!("{}/{}", table_url(config), ticket.sys_id),
        &[
            ("sysparm_fields", "sys_id,number,state"),
            ("sysparm_exclude_reference_link", "true"),
        ],
    );
    let mut r = request(http::Method::PATCH, url, Some(body), auth);
    r.verify_cert = config.verify_cert;
    r
}

/// The form of an OAuth token request: the password grant with a username, else client
/// credentials.
pub fn token_form(config: &Config) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    if let Some(oauth) = &config.oauth {
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                form.append_pair("grant_type", "password");
                form.append_pair("username", user);
                form.append_pair("password", password);
            }
            _ => {
                form.append_pair("grant_type", "client_credentials");
            }
        }
        form.append_pair("client_id", &oauth.client_id);
        form.append_pair("client_secret", &oauth.client_secret);
    }
    form.finish()
}

/// The token request.
pub fn token_request(config: &Config) -> HttpRequest {
    HttpRequest {
        method: http::Method::POST,
        url: config.token_url(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Accept".into(), "application/json".into()),
        ],
        body: token_form(config).into(),
        verify_cert: config.verify_cert,
        redact: Vec::new(),
    }
}
