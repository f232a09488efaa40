//! What makes an alarm, a device event or an audit record the same one, whether it came
//! by webhook or from one of Mist's searches.
//!
//! The two forms of one event differ: a search result carries fields the webhook does
//! not (`acked`, `status`, `before`/`after`), the webhook carries fields the search does
//! not (`site_name`, `device_name`, `ev_type`), and a time can be an integer in one and a
//! float in the other. So backfill, which reads the searches and must not store again
//! what a webhook delivered, matches events on the fields both forms share and that tell
//! one event from another:
//!
//! | topic           | identity fields                                                  |
//! |-----------------|------------------------------------------------------------------|
//! | `alarms`        | `id`, `type`, `timestamp` (whole seconds)                        |
//! | `audits`        | `id`, `timestamp` (whole seconds)                                |
//! | `device-events` | `type`, `mac` (else `ap`, as a MAC), `timestamp` (whole seconds), `port_id` when present |
//!
//! Device events have no id, so two different ones can share an identity (an AP's two
//! radios changing channel in one second): identities are counted, not just compared,
//! and an event is missing when the search has more of its identity than the log holds.
//! Duplicate detection of webhooks is not affected: it keeps hashing the whole event
//! ([`crate::fingerprint`]).

use serde_json::{Map, Value};

use crate::time::parse_time_value;
use crate::topic::Topic;

/// The identity of `event` of `topic`, as a small canonical object, or `None` when the
/// topic has no identity fields or the event lacks one.
///
/// ```
/// use mist::{Topic, identity::identity};
/// use serde_json::json;
/// let webhook = json!({"id": "a1", "type": "device_down", "timestamp": 1700000000,
///     "site_name": "HQ", "count": 1});
/// let search = json!({"id": "a1", "type": "device_down", "timestamp": 1700000000.25,
///     "acked": false, "status": "open", "count": 3});
/// assert_eq!(identity(&Topic::Alarms, &webhook), identity(&Topic::Alarms, &search));
/// assert_eq!(identity(&Topic::ClientJoin, &webhook), None);
/// ```
pub fn identity(topic: &Topic, event: &Value) -> Option<Value> {
    let event = event.as_object()?;
    let mut out = Map::new();
    match topic {
        Topic::Alarms => {
            out.insert("id".into(), text(event, "id")?.into());
            out.insert("type".into(), text(event, "type")?.into());
            out.insert("timestamp".into(), seconds(event)?.into());
        }
        Topic::Audits => {
            out.insert("id".into(), text(event, "id")?.into());
            out.insert("timestamp".into(), seconds(event)?.into());
        }
        Topic::DeviceEvents => {
            out.insert("type".into(), text(event, "type")?.into());
            let mac = text(event, "mac")
                .or_else(|| text(event, "ap"))
                .and_then(crate::normalize_mac)?;
            out.insert("mac".into(), mac.into());
            out.insert("timestamp".into(), seconds(event)?.into());
            if let Some(port) = text(event, "port_id") {
                out.insert("port_id".into(), port.into());
            }
        }
        _ => return None,
    }
    Some(Value::Object(out))
}

/// A non-empty text field.
fn text<'a>(event: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    event
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The event's `timestamp` in whole seconds (floored), whatever unit it was written in.
fn seconds(event: &Map<String, Value>) -> Option<i64> {
    let (us, _) = parse_time_value(event.get("timestamp")?)?;
    Some(us.div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_device_event_and_its_search_result_share_an_identity() {
        let webhook = json!({"type": "SW_PORT_DOWN", "mac": "50c709aabbcc", "port_id": "ge-0/0/31",
            "timestamp": 1749073244, "device_name": "sw1", "site_name": "HQ", "text": "down"});
        let search = json!({"type": "SW_PORT_DOWN", "mac": "50:C7:09:AA:BB:CC", "port_id": "ge-0/0/31",
            "timestamp": 1749073244.731, "device_type": "switch", "text": "down", "count": 1});
        assert_eq!(
            identity(&Topic::DeviceEvents, &webhook),
            identity(&Topic::DeviceEvents, &search)
        );
        let other_port = json!({"type": "SW_PORT_DOWN", "mac": "50c709aabbcc", "port_id": "ge-0/0/32",
            "timestamp": 1749073244});
        assert_ne!(
            identity(&Topic::DeviceEvents, &webhook),
            identity(&Topic::DeviceEvents, &other_port)
        );
        // The older `ap` field names the device when `mac` is absent.
        let by_ap = json!({"type": "AP_RESTARTED", "ap": "5c5b350e55c8", "timestamp": 5});
        let by_mac = json!({"type": "AP_RESTARTED", "mac": "5c5b350e55c8", "timestamp": 5});
        assert_eq!(
            identity(&Topic::DeviceEvents, &by_ap),
            identity(&Topic::DeviceEvents, &by_mac)
        );
    }

    #[test]
    fn events_lacking_an_identity_field_have_none() {
        for (topic, event) in [
            (
                Topic::Alarms,
                json!({"type": "device_down", "timestamp": 1}),
            ),
            (Topic::Alarms, json!({"id": "a", "timestamp": 1})),
            (Topic::Alarms, json!({"id": "a", "type": "x"})),
            (Topic::Audits, json!({"id": "", "timestamp": 1})),
            (
                Topic::DeviceEvents,
                json!({"type": "AP_RESTARTED", "timestamp": 1}),
            ),
            (
                Topic::DeviceEvents,
                json!({"type": "AP_RESTARTED", "mac": "not a mac", "timestamp": 1}),
            ),
            (Topic::Audits, json!([1, 2])),
        ] {
            assert_eq!(identity(&topic, &event), None, "{topic:?} {event}");
        }
    }

    #[test]
    fn different_times_or_ids_are_different_events() {
        let a = json!({"id": "x", "timestamp": 10.9});
        assert_eq!(
            identity(&Topic::Audits, &a),
            identity(&Topic::Audits, &json!({"id": "x", "timestamp": 10}))
        );
        assert_ne!(
            identity(&Topic::Audits, &a),
            identity(&Topic::Audits, &json!({"id": "x", "timestamp": 11}))
        );
        assert_ne!(
            identity(&Topic::Audits, &a),
            identity(&Topic::Audits, &json!({"id": "y", "timestamp": 10}))
        );
    }
}
