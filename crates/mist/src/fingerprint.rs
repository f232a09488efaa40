//! Content fingerprints for recognising the same event sent twice.
//!
//! Mist delivers an event once per webhook that subscribes to it, so a topic enabled at
//! both the org and the site level arrives twice. The copies are the same event but not
//! always the same bytes (key order and whitespace can differ), so the fingerprint hashes a
//! canonical form: keys sorted, no whitespace. Fields that describe the delivery rather
//! than the event (see [`DELIVERY_FIELDS`]) are left out.

use std::fmt;
use std::io::{self, Write};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::topic::Topic;

/// The first 16 bytes of SHA-256 over an event's topic and canonical JSON.
///
/// 128 bits keep accidental collisions out of reach for any number of events one gateway
/// will ever store, at half the size of the full hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    /// The fingerprint as 32 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 32 hex characters (either case) back into a fingerprint.
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Fingerprint(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Top-level event fields that say which webhook delivered the event, not what happened.
///
/// `for_site` is `true` on the copy a site-level webhook delivers (alarms, device-updowns
/// and occupancy-alerts carry it, per Mist's webhook schemas), so the org-level and the
/// site-level copy of one event differ in it and only in it.
pub const DELIVERY_FIELDS: &[&str] = &["for_site"];

/// Fingerprints one event of `topic`.
///
/// The hash covers the canonical topic name (length-prefixed, so no topic name can run into
/// the JSON) and the event in canonical JSON: object keys sorted by their bytes, no
/// whitespace, strings escaped and numbers printed as serde_json prints them. Equal JSON
/// gives equal fingerprints whatever the key order or spacing; any changed value, key or
/// topic gives a different one, except the [`DELIVERY_FIELDS`] of the event object.
///
/// ```
/// use mist::{fingerprint, Topic};
/// let a: serde_json::Value = serde_json::from_str(r#"{"id": 1, "type": "x"}"#).unwrap();
/// let b: serde_json::Value = serde_json::from_str(r#"{"type":"x","id":1}"#).unwrap();
/// assert_eq!(fingerprint(&Topic::Alarms, &a), fingerprint(&Topic::Alarms, &b));
/// assert_ne!(fingerprint(&Topic::Alarms, &a), fingerprint(&Topic::Audits, &a));
/// ```
pub fn fingerprint(topic: &Topic, event: &Value) -> Fingerprint {
    let mut hasher = HashWriter(Sha256::new());
    let name = topic.as_str().as_bytes();
    hasher.0.update((name.len() as u64).to_le_bytes());
    hasher.0.update(name);
    match event {
        Value::Object(map) if DELIVERY_FIELDS.iter().any(|f| map.contains_key(*f)) => {
            let mut content = map.clone();
            for field in DELIVERY_FIELDS {
                content.remove(*field);
            }
            write_canonical(&mut hasher, &Value::Object(content));
        }
        other => write_canonical(&mut hasher, other),
    }
    let digest = hasher.0.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    Fingerprint(out)
}

/// Fingerprints one event of `topic` from its JSON text, for an event that is valid JSON
/// but cannot be read as a [`Value`] (a number beyond `f64`, nesting deeper than the
/// parser's limit, a lone surrogate escape such as `"\ud800"`).
///
/// Such an event must never share a fingerprint with a different one, so its fingerprint
/// is computed from what it is, not from a value that failed to parse: the topic as in
/// [`fingerprint`], a zero byte (no canonical JSON starts with one, so the two forms never
/// meet), then the text with the whitespace between tokens removed. Copies that differ
/// only in spacing are still recognised; copies with their keys in another order are not
/// (they are stored twice, never lost).
///
/// ```
/// use mist::{fingerprint_text, Topic};
/// let a = fingerprint_text(&Topic::Alarms, r#"{"id": "a", "v": 1e400}"#);
/// let b = fingerprint_text(&Topic::Alarms, r#"{"id": "b", "v": 1e400}"#);
/// assert_ne!(a, b);
/// assert_eq!(a, fingerprint_text(&Topic::Alarms, "{\"id\":\"a\",\n \"v\":1e400}"));
/// ```
pub fn fingerprint_text(topic: &Topic, json: &str) -> Fingerprint {
    let mut hasher = Sha256::new();
    let name = topic.as_str().as_bytes();
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name);
    hasher.update([0u8]);
    let bytes = json.as_bytes();
    let (mut in_string, mut escaped, mut run_start) = (false, false, 0);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            hasher.update(&bytes[run_start..i]);
            run_start = i + 1;
        } else if b == b'"' {
            in_string = true;
        }
    }
    hasher.update(&bytes[run_start..]);
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    Fingerprint(out)
}

/// Feeds bytes written to it straight into the hash, so no canonical string is built.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_canonical(out: &mut HashWriter, value: &Value) {
    match value {
        Value::Null => out.0.update(b"null"),
        Value::Bool(true) => out.0.update(b"true"),
        Value::Bool(false) => out.0.update(b"false"),
        Value::Number(n) => out.0.update(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.0.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.0.update(b",");
                }
                write_canonical(out, item);
            }
            out.0.update(b"]");
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map's own order, which depends on
            // serde_json's `preserve_order` feature being off workspace-wide.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.0.update(b"{");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.0.update(b",");
                }
                write_string(out, key);
                out.0.update(b":");
                write_canonical(out, item);
            }
            out.0.update(b"}");
        }
    }
}

fn write_string(out: &mut HashWriter, s: &str) {
    // Writing into the hasher cannot fail, and serde_json escapes exactly as it would
    // when serialising the value.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::arb_json;
    use proptest::prelude::*;

    #[test]
    fn the_org_and_the_site_copy_of_an_alarm_are_one_event() {
        let org: Value = serde_json::from_str(
            r#"{"id":"a1","type":"device_down","aps":["5c5b350e55c8"],"timestamp":1}"#,
        )
        .unwrap();
        let site: Value = serde_json::from_str(r#"{"id":"a1","type":"device_down","aps":["5c5b350e55c8"],"timestamp":1,"for_site":true}"#).unwrap();
        let site_false: Value = serde_json::from_str(r#"{"for_site":false,"id":"a1","type":"device_down","aps":["5c5b350e55c8"],"timestamp":1}"#).unwrap();
        assert_eq!(
            fingerprint(&Topic::Alarms, &org),
            fingerprint(&Topic::Alarms, &site)
        );
        assert_eq!(
            fingerprint(&Topic::Alarms, &org),
            fingerprint(&Topic::Alarms, &site_false)
        );
        // Nested `for_site` is content, and so is every other field.
        let nested: Value = serde_json::from_str(r#"{"id":"a1","type":"device_down","aps":["5c5b350e55c8"],"timestamp":1,"details":{"for_site":true}}"#).unwrap();
        assert_ne!(
            fingerprint(&Topic::Alarms, &org),
            fingerprint(&Topic::Alarms, &nested)
        );
    }
    use serde_json::json;

    /// JSON text for `value` with every object's keys in reverse order and extra spaces,
    /// as a second copy of an event might arrive.
    fn reversed_text(value: &Value) -> String {
        match value {
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(reversed_text).collect();
                format!("[ {} ]", items.join(" , "))
            }
            Value::Object(map) => {
                let entries: Vec<String> = map
                    .iter()
                    .rev()
                    .map(|(k, v)| {
                        format!(
                            "{} : {}",
                            serde_json::to_string(k).unwrap(),
                            reversed_text(v)
                        )
                    })
                    .collect();
                format!("{{ {} }}", entries.join(" ,\n "))
            }
            other => other.to_string(),
        }
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b": {"y": 1, "x": [1, 2]}, "a": "s"}"#).unwrap();
        let b: Value = serde_json::from_str("{\"a\":\"s\",\n\"b\":{\"x\":[1,2],\"y\":1}}").unwrap();
        assert_eq!(fingerprint(&Topic::Zone, &a), fingerprint(&Topic::Zone, &b));
    }

    #[test]
    fn any_change_matters() {
        let base = json!({"a": 1, "b": [1, 2], "c": {"d": "e"}});
        let fp = fingerprint(&Topic::Zone, &base);
        for changed in [
            json!({"a": 2, "b": [1, 2], "c": {"d": "e"}}),
            json!({"a": 1, "b": [2, 1], "c": {"d": "e"}}),
            json!({"a": 1, "b": [1, 2], "c": {"d": "E"}}),
            json!({"a": 1, "b": [1, 2], "c": {"D": "e"}}),
            json!({"a": 1, "b": [1, 2], "c": {"d": "e"}, "f": null}),
            json!({"a": "1", "b": [1, 2], "c": {"d": "e"}}),
            json!({"a": 1.0, "b": [1, 2], "c": {"d": "e"}}),
        ] {
            assert_ne!(fingerprint(&Topic::Zone, &changed), fp, "{changed}");
        }
        assert_ne!(fingerprint(&Topic::Location, &base), fp);
    }

    #[test]
    fn topic_and_json_cannot_run_into_each_other() {
        let a = fingerprint(&Topic::Other("a\"".into()), &json!("b"));
        let b = fingerprint(&Topic::Other("a".into()), &json!("\"b"));
        assert_ne!(a, b);
    }

    #[test]
    fn canonical_form_is_the_documented_one() {
        // Pins the format: stored fingerprints must not change between releases.
        let mut expected = Sha256::new();
        expected.update(4u64.to_le_bytes());
        expected.update(b"zone");
        expected.update(r#"{"a":[1,2.5,"\u0001\"é"],"b":null,"c":true}"#.as_bytes());
        let digest = expected.finalize();
        let event = json!({"c": true, "a": [1, 2.5, "\u{1}\"é"], "b": null});
        assert_eq!(fingerprint(&Topic::Zone, &event).0, digest[..16]);
    }

    #[test]
    fn hex_round_trip() {
        let fp = fingerprint(&Topic::Ping, &json!({}));
        let hex = fp.to_hex();
        assert_eq!(hex.len(), 32);
        assert_eq!(hex, fp.to_string());
        assert_eq!(Fingerprint::from_hex(&hex), Some(fp));
        assert_eq!(Fingerprint::from_hex(&hex.to_uppercase()), Some(fp));
        assert_eq!(Fingerprint::from_hex("abc"), None);
    }

    proptest! {
        #[test]
        fn invariant_under_key_reordering(value in arb_json()) {
            let reordered: Value = serde_json::from_str(&reversed_text(&value)).unwrap();
            prop_assert_eq!(fingerprint(&Topic::Alarms, &value), fingerprint(&Topic::Alarms, &reordered));
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let reparsed: Value = serde_json::from_str(&pretty).unwrap();
            prop_assert_eq!(fingerprint(&Topic::Alarms, &value), fingerprint(&Topic::Alarms, &reparsed));
        }

        #[test]
        fn changing_a_value_changes_the_fingerprint(value in arb_json(), extra in arb_json()) {
            let a = json!({"k": value});
            let b = json!({"k": value, "k2": extra});
            prop_assert_ne!(fingerprint(&Topic::Alarms, &a), fingerprint(&Topic::Alarms, &b));
        }
    }
}
