//! Splunk HTTP Event Collector bodies, pure: what both a Mist-format `splunk` webhook and
//! the Splunk target send.
//!
//! A body is event objects (`/services/collector/event`), one per line: HEC reads
//! concatenated objects, and the newlines make delivery records readable. The event
//! itself is written verbatim (a Mist event byte for byte, or a message's JSON).

use std::collections::BTreeMap;

use serde::Serialize;

/// The metadata of one HEC event object (the fields HEC documents besides `event`).
#[derive(Clone, Debug, Serialize)]
pub struct HecMeta<'a> {
    /// Unix µs; written as HEC reads `time`: epoch seconds with milliseconds.
    #[serde(skip)]
    pub time_us: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<&'a str>,
    pub source: &'a str,
    pub sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<&'a str>,
    /// Indexed fields: strings only, as HEC requires (absent values are left out).
    pub fields: BTreeMap<&'static str, &'a str>,
}

/// Appends one event object for `event` (JSON, written verbatim) to `body`, on a new line
/// when `body` already holds one.
pub fn push_event(body: &mut Vec<u8>, meta: &HecMeta<'_>, event: &[u8]) {
    if !body.is_empty() {
        body.push(b'\n');
    }
    // `time` is written as digits: an f64 would print 1700000000.123 as 1700000000.1229999.
    let ms = meta.time_us.div_euclid(1_000);
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    body.extend_from_slice(
        format!("{{\"time\":{sign}{}.{:03},", ms / 1_000, ms % 1_000).as_bytes(),
    );
    // The metadata object without its braces, then the event. Serialising plain strings
    // and maps into a Vec cannot fail.
    let head = serde_json::to_vec(meta).unwrap_or_else(|_| b"{}".to_vec());
    body.extend_from_slice(&head[1..head.len() - 1]);
    body.extend_from_slice(b",\"event\":");
    body.extend_from_slice(event);
    body.push(b'}');
}

/// The body of a Mist-format `splunk` webhook: one event object per Mist event, with
/// the event's own time, `mist:<topic>` as sourcetype, and topic, org and site as indexed
/// fields. `events` are (time in unix µs, org id, site id, raw event).
pub fn mist_body<'a>(
    topic: &str,
    events: impl IntoIterator<Item = (i64, Option<&'a str>, Option<&'a str>, &'a str)>,
) -> Vec<u8> {
    let sourcetype = format!("mist:{topic}");
    let mut body = Vec::new();
    for (time_us, org_id, site_id, raw) in events {
        let fields = [
            ("topic", Some(topic)),
            ("org_id", org_id),
            ("site_id", site_id),
        ];
        let meta = HecMeta {
            time_us,
            host: None,
            source: "mistgate",
            sourcetype: &sourcetype,
            index: None,
            fields: fields
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
        };
        push_event(&mut body, &meta, raw.as_bytes());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(body: &[u8]) -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_slice(body)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn events_are_kept_verbatim_one_per_line_with_millisecond_times() {
        let mut body = Vec::new();
        let meta = |time_us, site: Option<&'static str>| HecMeta {
            time_us,
            host: None,
            source: "mistgate",
            sourcetype: "mist:alarms",
            index: Some("net"),
            fields: [("topic", Some("alarms")), ("site_id", site)]
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
        };
        push_event(
            &mut body,
            &meta(1_700_000_000_123_456, Some("s")),
            br#"{"type": "x"}"#,
        );
        push_event(&mut body, &meta(-1, None), br#"{"type":"y"}"#);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"time":1700000000.123,"source":"mistgate","#),
            "{text}"
        );
        assert!(
            text.contains(r#""event":{"type": "x"}}"#),
            "raw kept verbatim: {text}"
        );
        assert_eq!(text.lines().count(), 2);
        let got = objects(&body);
        assert_eq!(got[0]["fields"]["site_id"], "s");
        assert_eq!(got[0]["index"], "net");
        assert!(got[0].get("host").is_none());
        assert!(
            got[1]["fields"].get("site_id").is_none(),
            "absent, not null"
        );
        assert_eq!(got[1]["time"].as_f64(), Some(-0.001));
        assert_eq!(got[1]["event"]["type"], "y");
    }

    #[test]
    fn mist_bodies_carry_each_raw_event_with_its_time_topic_and_site() {
        let body = mist_body(
            "alarms",
            [
                (
                    1_700_000_000_123_456,
                    Some("o"),
                    Some("s"),
                    r#"{"type": "x"}"#,
                ),
                (1_700_000_001_000_000, Some("o"), None, r#"{"type":"y"}"#),
            ],
        );
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains(r#""event":{"type": "x"}}"#),
            "raw kept verbatim: {text}"
        );
        let got = objects(&body);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["sourcetype"], "mist:alarms");
        assert_eq!(got[0]["source"], "mistgate");
        assert_eq!(got[0]["fields"]["topic"], "alarms");
        assert_eq!(got[0]["fields"]["org_id"], "o");
        assert_eq!(got[1]["time"].as_f64(), Some(1_700_000_001.0));
        assert!(got[1]["fields"].get("site_id").is_none());
    }
}
