//! RFC 5424 messages, pure: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.

use std::fmt::Write;

use correlate::Change;

use super::{Config, Transport};
use crate::targets::{Message, template};

/// Facility names and numbers (RFC 5424 table 1, with the names syslog daemons use).
const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("security", 13),
    ("console", 14),
    ("clock", 15),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// A facility name (any case) or number 0–23.
pub fn facility_code(facility: &str) -> Option<u8> {
    let f = facility.trim().to_ascii_lowercase();
    if let Ok(n) = f.parse::<u8>() {
        return (n <= 23).then_some(n);
    }
    FACILITIES
        .iter()
        .find(|(name, _)| *name == f)
        .map(|(_, n)| *n)
}

/// Mist's severity as a syslog severity: critical → 2 (crit), major → 3 (err),
/// minor and warn → 4 (warning), notice → 5, info and anything else → 6 (info).
fn from_mist(severity: &mist::Severity) -> u8 {
    match severity {
        mist::Severity::Critical => 2,
        mist::Severity::Major => 3,
        mist::Severity::Minor | mist::Severity::Warn => 4,
        mist::Severity::Notice => 5,
        mist::Severity::Info | mist::Severity::Other(_) => 6,
    }
}

/// The syslog severity of a message: an event's own severity (info when it has none);
/// an incident opened or updated at its severity; acknowledged, resolved or suppressed
/// at notice (5): worth a look, not an alert.
pub fn syslog_severity(message: &Message) -> u8 {
    match message {
        Message::Event(e) => e.severity.as_ref().map_or(6, from_mist),
        Message::Incident(m) => match m.change {
            Change::Opened | Change::Updated => from_mist(&m.incident.severity),
            _ => 5,
        },
    }
}

/// Unix µs as RFC 5424's TIMESTAMP: RFC 3339 in UTC with microseconds.
fn timestamp(us: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "-".into())
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3);
/// control characters become spaces so a message stays one line.
fn param(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, " {name}=\"");
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The MSGID: the topic of an event, `incident` for an incident change (at most 32
/// printable characters, as RFC 5424 allows).
fn msgid(message: &Message) -> String {
    let id = match message {
        Message::Event(e) => e.topic.as_str(),
        Message::Incident(_) => "incident",
    };
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    if id.is_empty() { "-".into() } else { id }
}

/// The structured data element naming what the message is about.
fn structured_data(sd_id: &str, message: &Message) -> String {
    let mut sd = format!("[{sd_id}");
    match message {
        Message::Event(e) => {
            param(&mut sd, "id", &e.id.to_string());
            param(&mut sd, "topic", e.topic.as_str());
            let optional = [
                ("type", e.event_type.as_deref()),
                ("severity", e.severity.as_ref().map(|s| s.as_str())),
                ("org_id", e.org_id.as_deref()),
                ("site_id", e.site_id.as_deref()),
                ("site", e.site_name.as_deref()),
                ("mac", e.mac.as_deref()),
                ("device", e.device_name.as_deref()),
            ];
            for (name, value) in optional {
                if let Some(v) = value {
                    param(&mut sd, name, v);
                }
            }
            // Audits say what happened only in `message` ("Add Webhook ..."), which
            // the title does not show.
            if let Some(text) = e.raw.get("message").and_then(|m| m.as_str()) {
                param(&mut sd, "message", text);
            }
        }
        Message::Incident(m) => {
            let i = &m.incident;
            param(&mut sd, "change_id", &m.change_id.to_string());
            param(&mut sd, "change", m.change.as_str());
            param(&mut sd, "incident_id", &i.id.to_string());
            param(&mut sd, "kind", i.kind.as_str());
            param(&mut sd, "state", i.state.as_str());
            param(&mut sd, "severity", i.severity.as_str());
            if let Some(o) = &i.org_id {
                param(&mut sd, "org_id", o);
            }
            if let Some(s) = &i.site_id {
                param(&mut sd, "site_id", s);
            }
            param(&mut sd, "site", &m.site_label());
            if !i.devices.is_empty() {
                param(&mut sd, "devices", &m.device_labels().join(","));
            }
            if let Some(link) = &m.link {
                param(&mut sd, "link", link);
            }
        }
    }
    sd.push(']');
    sd
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One RFC 5424 message, unframed, at most `config.max_bytes()` bytes (MSG is cut first).
/// PROCID is the NILVALUE `-`; MSG is UTF-8 without a BOM (RFC 5424's MSG-ANY), the
/// title template on one line unless the config names another.
pub fn line(config: &Config, facility: u8, message: &Message) -> String {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(message));
    let at = match message {
        Message::Event(e) => e.time,
        Message::Incident(m) => m.at,
    };
    let head = format!(
        "<{pri}>1 {} {} {} - {} {} ",
        timestamp(at),
        config.hostname,
        config.app_name,
        msgid(message),
        structured_data(&config.sd_id, message),
    );
    let msg = template::title(config.template.as_deref(), message);
    let max = config.max_bytes();
    let mut out = cut(&head, max).to_string();
    out.push_str(cut(&msg, max - out.len()));
    out
}

/// A message as it goes on the wire: alone in its datagram on UDP, `<length> <message>`
/// on TCP and TLS (octet counting, RFC 6587 section 3.4.1).
pub fn frame(transport: Transport, line: &str) -> Vec<u8> {
    match transport {
        Transport::Udp => line.as_bytes().to_vec(),
        Transport::Tcp | Transport::Tls => format!("{} {line}", line.len()).into_bytes(),
    }
}

/// The frames of a batch, one per message.
pub fn encode(config: &Config, messages: &[Message]) -> Result<Vec<Vec<u8>>, String> {
    let facility = facility_code(&config.facility)
        .ok_or_else(|| format!("facility: `{}` is not a syslog facility", config.facility))?;
    Ok(messages
        .iter()
        .map(|m| frame(config.transport, &line(config, facility, m)))
        .collect())
}
