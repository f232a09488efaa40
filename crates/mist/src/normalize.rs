//! The few fields every stage filters on, found wherever each topic keeps them.
//!
//! Mist topics disagree on where the interesting fields live: the client MAC of a guest is
//! `client`, of a raw Wi-Fi frame `client_id` (dashed); an alarm names its devices in
//! `aps`/`switches`/`gateways`; an occupancy alert keeps its type, time and org inside
//! `alert_events`. [`normalize`] knows those rules and gives every event the same shape.

use serde_json::{Map, Value};

use crate::mac::normalize_mac;
use crate::time::EventTime;
use crate::topic::Topic;

pub use crate::severity::Severity;

/// What every stage needs to know about an event, whatever its topic.
///
/// Each field is `None` when the event does not carry it in a usable form.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Normalized {
    /// The organisation the event belongs to.
    pub org_id: Option<String>,
    /// The site the event belongs to; org-level events (audits, Mist Edge events) have none.
    pub site_id: Option<String>,
    /// The event's own time; `None` means the receiver should use its receive time.
    pub time: Option<EventTime>,
    /// The event type in Mist's own case (`AP_RESTARTED`, `device_down`, `NAC_CLIENT_DENY`).
    pub event_type: Option<String>,
    /// The main device or client MAC, normalised with [`normalize_mac`].
    pub mac: Option<String>,
    /// The severity, for topics that have one (alarms, device events).
    pub severity: Option<Severity>,
}

/// Fields that name the event's main MAC, most specific first.
///
/// `client` is the client MAC in `guest-authorizations`; `client_id` is the client MAC,
/// dashed, in `wifi-conn-raw`/`wifi-unconn-raw`; `device_mac` is the switch or AP in
/// `nac-events` and the Minis topics; `ap` is the device in `device-updowns` and older
/// `device-events`.
const MAC_FIELDS: &[&str] = &[
    "mac",
    "client_mac",
    "client",
    "client_id",
    "device_mac",
    "ap",
    "switch_mac",
    "gateway_mac",
];

/// Alarm fields listing the devices an alarm is about, in the order they are tried.
const ALARM_DEVICE_LISTS: &[&str] = &["aps", "switches", "gateways", "mxedges"];

/// Mist device ids embed the device MAC: `00000000-0000-0000-1000-<mac>`.
const DEVICE_ID_PREFIX: &str = "00000000-0000-0000-1000-";

/// Extracts the common fields of one event. Never fails and never panics: a field that is
/// missing, empty or of the wrong type (an `org_id` that is a number, a `timestamp` that is
/// an object) simply yields `None`.
///
/// Rules, by field:
/// - `org_id`, `site_id`: top-level non-empty strings (`orgid`/`siteid` as a fallback, a
///   spelling documented for the raw Wi-Fi topics); `occupancy-alerts` takes the org from
///   `alert_events[0].org_id`.
/// - `time`: `timestamp`, else per topic: `sdkclient-scan-data` `last_seen`,
///   `guest-authorizations` `authorized_time`, `occupancy-alerts` the latest
///   `alert_events[*].timestamp`, `client-join` `connect_float` then `connect`,
///   `client-sessions` `disconnect_float` then `disconnect`, `alarms` `last_seen`.
/// - `event_type`: `type` if a non-empty string; `occupancy-alerts` `alert_events[0].type`.
/// - `mac`: the first field of `mac`, `client_mac`, `client`, `client_id`, `device_mac`, `ap`,
///   `switch_mac`, `gateway_mac` that holds a MAC; for alarms then the first entry of `aps`,
///   `switches`, `gateways`, `mxedges`, then `impacted_entities[0].entity_mac` (Marvis);
///   last, the MAC inside a Mist `device_id`.
/// - `severity`: `severity` for alarms, `ev_type` for device events.
///
/// ```
/// use mist::{normalize, Severity, Topic};
/// let event = serde_json::json!({
///     "type": "device_restarted", "severity": "info", "aps": ["5c5b350e55c8"],
///     "org_id": "o", "site_id": "s", "timestamp": 1749998077.6217253
/// });
/// let n = normalize(&Topic::Alarms, &event);
/// assert_eq!(n.mac.as_deref(), Some("5c5b350e55c8"));
/// assert_eq!(n.severity, Some(Severity::Info));
/// assert_eq!(n.time.unwrap().unix_micros, 1_749_998_077_621_725);
/// ```
pub fn normalize(topic: &Topic, event: &Value) -> Normalized {
    let Some(obj) = event.as_object() else {
        return Normalized::default();
    };
    Normalized {
        org_id: org_id(topic, obj),
        site_id: text(obj, "site_id").or_else(|| text(obj, "siteid")),
        time: event_time(topic, obj),
        event_type: event_type(topic, obj),
        mac: main_mac(topic, obj),
        severity: severity(topic, obj),
    }
}

/// A non-empty string field, as sent.
fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn first_alert_event(obj: &Map<String, Value>) -> Option<&Map<String, Value>> {
    obj.get("alert_events")?.as_array()?.first()?.as_object()
}

fn org_id(topic: &Topic, obj: &Map<String, Value>) -> Option<String> {
    text(obj, "org_id")
        .or_else(|| text(obj, "orgid"))
        .or_else(|| {
            // Occupancy alerts have no top-level org: each alert event carries it.
            if *topic == Topic::OccupancyAlerts {
                first_alert_event(obj).and_then(|alert| text(alert, "org_id"))
            } else {
                None
            }
        })
}

fn time_at(obj: &Map<String, Value>, key: &str) -> Option<EventTime> {
    EventTime::from_value(key, obj.get(key)?)
}

fn event_time(topic: &Topic, obj: &Map<String, Value>) -> Option<EventTime> {
    if let Some(time) = time_at(obj, "timestamp") {
        return Some(time);
    }
    match topic {
        // The schema has no `timestamp` here: `last_seen` is the scan's time.
        Topic::SdkclientScanData | Topic::Alarms => time_at(obj, "last_seen"),
        Topic::GuestAuthorizations => time_at(obj, "authorized_time"),
        Topic::ClientJoin => time_at(obj, "connect_float").or_else(|| time_at(obj, "connect")),
        Topic::ClientSessions => {
            time_at(obj, "disconnect_float").or_else(|| time_at(obj, "disconnect"))
        }
        Topic::OccupancyAlerts => latest_alert_time(obj),
        _ => None,
    }
}

fn latest_alert_time(obj: &Map<String, Value>) -> Option<EventTime> {
    obj.get("alert_events")?
        .as_array()?
        .iter()
        .enumerate()
        .filter_map(|(i, alert)| {
            let value = alert.as_object()?.get("timestamp")?;
            EventTime::from_value(format!("alert_events[{i}].timestamp"), value)
        })
        .reduce(|latest, t| {
            if t.unix_micros > latest.unix_micros {
                t
            } else {
                latest
            }
        })
}

fn event_type(topic: &Topic, obj: &Map<String, Value>) -> Option<String> {
    text(obj, "type").or_else(|| {
        if *topic == Topic::OccupancyAlerts {
            first_alert_event(obj).and_then(|alert| text(alert, "type"))
        } else {
            None
        }
    })
}

fn mac_at(obj: &Map<String, Value>, key: &str) -> Option<String> {
    normalize_mac(obj.get(key)?.as_str()?)
}

fn main_mac(topic: &Topic, obj: &Map<String, Value>) -> Option<String> {
    MAC_FIELDS
        .iter()
        .find_map(|key| mac_at(obj, key))
        .or_else(|| {
            if *topic == Topic::Alarms {
                alarm_mac(obj)
            } else {
                None
            }
        })
        .or_else(|| {
            let id = obj.get("device_id")?.as_str()?;
            let mac = id.strip_prefix(DEVICE_ID_PREFIX)?;
            normalize_mac(mac)
        })
}

fn alarm_mac(obj: &Map<String, Value>) -> Option<String> {
    ALARM_DEVICE_LISTS
        .iter()
        .find_map(|key| normalize_mac(obj.get(*key)?.as_array()?.first()?.as_str()?))
        .or_else(|| {
            let entity = obj
                .get("impacted_entities")?
                .as_array()?
                .first()?
                .as_object()?;
            mac_at(entity, "entity_mac")
        })
}

fn severity(topic: &Topic, obj: &Map<String, Value>) -> Option<Severity> {
    let key = match topic {
        Topic::Alarms => "severity",
        Topic::DeviceEvents => "ev_type",
        _ => return None,
    };
    text(obj, key).map(|s| Severity::parse(&s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{arb_event, arb_json};
    use crate::time::TimeUnit;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn ids_are_top_level_strings() {
        let n = normalize(&Topic::Audits, &json!({"org_id": "o1", "site_id": ""}));
        assert_eq!(n.org_id.as_deref(), Some("o1"));
        assert_eq!(n.site_id, None);
        let n = normalize(&Topic::WifiConnRaw, &json!({"orgid": "o2", "siteid": "s2"}));
        assert_eq!(
            (n.org_id.as_deref(), n.site_id.as_deref()),
            (Some("o2"), Some("s2"))
        );
    }

    #[test]
    fn occupancy_alerts_read_inside_alert_events() {
        let event = json!({
            "site_id": "s",
            "alert_events": [
                {"org_id": "o", "type": "COMPLIANCE-VIOLATION", "timestamp": 1700000000},
                {"org_id": "o", "type": "COMPLIANCE-OK", "timestamp": 1700000100.5},
                {"timestamp": "junk"}
            ]
        });
        let n = normalize(&Topic::OccupancyAlerts, &event);
        assert_eq!(n.org_id.as_deref(), Some("o"));
        assert_eq!(n.event_type.as_deref(), Some("COMPLIANCE-VIOLATION"));
        let time = n.time.unwrap();
        assert_eq!(time.unix_micros, 1_700_000_100_500_000);
        assert_eq!(time.field, "alert_events[1].timestamp");
        // Other topics do not look inside alert_events.
        assert_eq!(normalize(&Topic::Zone, &event).org_id, None);
    }

    #[test]
    fn time_fallbacks_by_topic() {
        let scan = json!({"last_seen": 1592333828.0});
        assert_eq!(
            normalize(&Topic::SdkclientScanData, &scan)
                .time
                .unwrap()
                .field,
            "last_seen"
        );
        assert_eq!(normalize(&Topic::Zone, &scan).time, None);

        let guest = json!({"authorized_time": 1677076519});
        assert_eq!(
            normalize(&Topic::GuestAuthorizations, &guest)
                .time
                .unwrap()
                .field,
            "authorized_time"
        );

        let join = json!({"connect": 1695172665, "connect_float": 1695172665.082});
        let t = normalize(&Topic::ClientJoin, &join).time.unwrap();
        assert_eq!(
            (t.field.as_str(), t.unix_micros),
            ("connect_float", 1_695_172_665_082_000)
        );

        let session = json!({"disconnect": 1695189374, "timestamp": 1695189375});
        assert_eq!(
            normalize(&Topic::ClientSessions, &session)
                .time
                .unwrap()
                .field,
            "timestamp"
        );
        let session = json!({"disconnect": 1695189374});
        assert_eq!(
            normalize(&Topic::ClientSessions, &session)
                .time
                .unwrap()
                .field,
            "disconnect"
        );

        let alarm = json!({"timestamp": 0.0, "last_seen": "2025-06-15T14:25:19"});
        let t = normalize(&Topic::Alarms, &alarm).time.unwrap();
        assert_eq!((t.field.as_str(), t.unit), ("last_seen", TimeUnit::Iso8601));
    }

    #[test]
    fn millisecond_and_string_timestamps() {
        let n = normalize(&Topic::NacEvents, &json!({"timestamp": 1749083623737_u64}));
        assert_eq!(n.time.unwrap().unit, TimeUnit::Milliseconds);
        let n = normalize(
            &Topic::MxedgeEvents,
            &json!({"timestamp": "1695194041.635342"}),
        );
        assert_eq!(n.time.unwrap().unix_micros, 1_695_194_041_635_342);
    }

    #[test]
    fn event_type_keeps_mist_case_and_skips_empty() {
        let n = normalize(&Topic::DeviceEvents, &json!({"type": "AP_CONFIGURED"}));
        assert_eq!(n.event_type.as_deref(), Some("AP_CONFIGURED"));
        assert_eq!(
            normalize(&Topic::NacEvents, &json!({"type": ""})).event_type,
            None
        );
        assert_eq!(
            normalize(&Topic::NacEvents, &json!({"type": 3})).event_type,
            None
        );
    }

    #[test]
    fn mac_sources_by_topic() {
        let mac = |topic: Topic, v: Value| normalize(&topic, &v).mac;
        assert_eq!(
            mac(
                Topic::WifiConnRaw,
                json!({"ap_id": "ac-23-16-ec-a7-0b", "client_id": "28-f0-76-2d-22-1e"})
            )
            .as_deref(),
            Some("28f0762d221e")
        );
        assert_eq!(
            mac(
                Topic::GuestAuthorizations,
                json!({"ap": "5c5b350e55c8", "client": "ac2316eca70a"})
            )
            .as_deref(),
            Some("ac2316eca70a")
        );
        assert_eq!(
            mac(
                Topic::ClientJoin,
                json!({"ap": "5c5b350e55c8", "mac": "AC:23:16:EC:A7:0A"})
            )
            .as_deref(),
            Some("ac2316eca70a")
        );
        assert_eq!(
            mac(Topic::DeviceUpdowns, json!({"ap": "5c5b350e55c8"})).as_deref(),
            Some("5c5b350e55c8")
        );
        assert_eq!(
            mac(
                Topic::MinisApplication,
                json!({"device_mac": "003e7316fd96"})
            )
            .as_deref(),
            Some("003e7316fd96")
        );
        // A field that holds no MAC does not hide the next one.
        assert_eq!(
            mac(
                Topic::NacEvents,
                json!({"mac": "string", "device_mac": "50c709aabbcc"})
            )
            .as_deref(),
            Some("50c709aabbcc")
        );
        assert_eq!(
            mac(
                Topic::Alarms,
                json!({"aps": [], "switches": ["60C78D000001"]})
            )
            .as_deref(),
            Some("60c78d000001")
        );
        assert_eq!(
            mac(
                Topic::Alarms,
                json!({"impacted_entities": [{"entity_mac": "aabbccddeeff"}]})
            )
            .as_deref(),
            Some("aabbccddeeff")
        );
        assert_eq!(
            mac(Topic::DeviceEvents, json!({"aps": ["aabbccddeeff"]})),
            None
        );
        assert_eq!(
            mac(
                Topic::Audits,
                json!({"device_id": "00000000-0000-0000-1000-5c5b35000001"})
            )
            .as_deref(),
            Some("5c5b35000001")
        );
        assert_eq!(
            mac(
                Topic::Audits,
                json!({"device_id": "00000380-0000-0000-0000-000000000000"})
            ),
            None
        );
    }

    #[test]
    fn severity_for_alarms_and_device_events_only() {
        let sev = |topic: Topic, v: Value| normalize(&topic, &v).severity;
        assert_eq!(
            sev(Topic::Alarms, json!({"severity": "critical"})),
            Some(Severity::Critical)
        );
        assert_eq!(
            sev(Topic::DeviceEvents, json!({"ev_type": "NOTICE"})),
            Some(Severity::Notice)
        );
        assert_eq!(
            sev(Topic::DeviceEvents, json!({"ev_type": "warn"})),
            Some(Severity::Warn)
        );
        assert_eq!(
            sev(Topic::DeviceEvents, json!({"severity": "critical"})),
            None
        );
        assert_eq!(sev(Topic::NacEvents, json!({"severity": "critical"})), None);
        assert_eq!(sev(Topic::Alarms, json!({"severity": 3})), None);
    }

    #[test]
    fn wrong_types_yield_none() {
        let event = json!({
            "org_id": 42, "site_id": ["s"], "timestamp": {"t": 1}, "type": true,
            "mac": 123456789012_u64, "severity": null, "alert_events": "x", "aps": "5c5b350e55c8",
            "random_mac": "true"
        });
        for topic in Topic::KNOWN {
            assert_eq!(normalize(topic, &event), Normalized::default(), "{topic}");
        }
        assert_eq!(
            normalize(&Topic::Alarms, &json!([1, 2])),
            Normalized::default()
        );
        assert_eq!(
            normalize(&Topic::Alarms, &json!("x")),
            Normalized::default()
        );
    }

    proptest! {
        #[test]
        fn never_panics(event in arb_event(), other in arb_json(), index in 0usize..32) {
            let topic = &Topic::KNOWN[index];
            let _ = normalize(topic, &event);
            let _ = normalize(topic, &other);
            let _ = normalize(&Topic::Other("x".into()), &event);
        }

        /// Mirrors the `normalize` fuzz target: normalising is stable (the same for the
        /// event's text re-spelled) and gives fields in normal form.
        #[test]
        fn stable_and_in_normal_form(event in arb_event(), index in 0usize..32) {
            let topic = &Topic::KNOWN[index];
            let n = normalize(topic, &event);
            let pretty = serde_json::to_string_pretty(&event).unwrap();
            prop_assert_eq!(&normalize(topic, &serde_json::from_str(&pretty).unwrap()), &n);
            if let Some(mac) = &n.mac {
                prop_assert_eq!(normalize_mac(mac), Some(mac.clone()));
            }
            if let Some(t) = &n.time {
                prop_assert_eq!(crate::parse_time_value(&t.raw), Some((t.unix_micros, t.unit)));
            }
        }
    }
}
