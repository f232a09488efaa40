//! What the correlator is fed, and what one event says about devices.
//!
//! Device changes hide in three topics with three shapes: an alarm names several devices
//! in `aps`/`switches`/`gateways` with their names in the parallel `hostnames`; a device
//! event or device-updown names one in `mac` (or the older `ap`); a Mist Edge event names
//! its `mxedge_id`. Marvis `ap_offline` actions name theirs in `impacted_entities`.

use mist::views::{Alarm, DeviceEvent, DeviceUpdown};
use mist::{Normalized, Severity, Topic};
use serde_json::Value;

use crate::catalog::{self, AlarmClass};
use crate::device::{DeviceKind, DeviceRef};

/// One normalised event, as the shell hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The event's id in the log. Ids must increase: an input whose id is not greater than
    /// the last one handled is a replay and changes nothing.
    pub event_id: i64,
    /// The topic.
    pub topic: &'a Topic,
    /// The event's own time (not its arrival), unix µs. It decides ordering.
    pub time: i64,
    /// The organisation, from [`mist::normalize()`].
    pub org_id: Option<&'a str>,
    /// The site, from [`mist::normalize()`].
    pub site_id: Option<&'a str>,
    /// The event type, from [`mist::normalize()`].
    pub event_type: Option<&'a str>,
    /// The event exactly as sent.
    pub raw: &'a Value,
}

impl<'a> Input<'a> {
    /// Builds an input from what [`mist::normalize()`] found; `fallback_time` (the receive
    /// time) stands in when the event carries no time of its own.
    ///
    /// ```
    /// let raw = serde_json::json!({"type": "AP_CONNECTED", "ap": "5c5b35000001", "timestamp": 1552408871});
    /// let topic = mist::Topic::DeviceUpdowns;
    /// let normalized = mist::normalize(&topic, &raw);
    /// let input = correlate::Input::from_normalized(7, &topic, &normalized, &raw, 0);
    /// assert_eq!(input.time, 1_552_408_871_000_000);
    /// assert_eq!(input.event_type, Some("AP_CONNECTED"));
    /// ```
    pub fn from_normalized(
        event_id: i64,
        topic: &'a Topic,
        normalized: &'a Normalized,
        raw: &'a Value,
        fallback_time: i64,
    ) -> Input<'a> {
        Input {
            event_id,
            topic,
            time: normalized
                .time
                .as_ref()
                .map_or(fallback_time, |t| t.unix_micros),
            org_id: normalized.org_id.as_deref(),
            site_id: normalized.site_id.as_deref(),
            event_type: normalized.event_type.as_deref(),
            raw,
        }
    }

    /// The site's name, when the event carries one (for summaries).
    pub(crate) fn site_name(&self) -> Option<&'a str> {
        self.raw.get("site_name").and_then(Value::as_str)
    }
}

/// What an event says about one device.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DeviceSignal {
    pub device: DeviceRef,
    pub kind: DeviceKind,
    pub name: Option<String>,
    pub site_id: Option<String>,
    pub what: Signal,
    /// The Mist type that said it.
    pub source_type: String,
    /// The alarm's `id`, which groups devices under [`crate::Grouping::PerAlarm`].
    pub alarm_id: Option<String>,
    /// The alarm's severity.
    pub severity: Option<Severity>,
}

/// The device news itself.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Signal {
    Down,
    Up,
    Restarted { reason: Option<String> },
}

/// One entry of a Marvis action's `impacted_entities`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Entity {
    /// The entity's normalised MAC, for devices.
    pub mac: Option<String>,
    /// What identifies it: the MAC, else `entity_id` (a WLAN), else `entity_ip` (a server).
    pub identity: Option<String>,
    pub name: Option<String>,
    pub entity_type: Option<String>,
    pub port_id: Option<String>,
}

/// Reads `impacted_entities`; entries that are not objects are skipped.
pub(crate) fn impacted_entities(alarm: &Alarm) -> Vec<Entity> {
    let Some(list) = alarm.impacted_entities.as_ref().and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(Value::as_object)
        .map(|e| {
            let text = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
            };
            let mac = text("entity_mac").and_then(|m| mist::normalize_mac(&m));
            let identity = mac
                .clone()
                .or_else(|| text("entity_id"))
                .or_else(|| text("entity_ip"));
            Entity {
                mac,
                identity,
                name: text("entity_name"),
                entity_type: text("entity_type"),
                port_id: text("port_id"),
            }
        })
        .collect()
}

/// The device signals of an alarm of class `class`.
pub(crate) fn alarm_signals(
    input: &Input<'_>,
    alarm: &Alarm,
    class: AlarmClass,
) -> Vec<DeviceSignal> {
    let source_type = alarm.alarm_type.clone().unwrap_or_default();
    let what = match class {
        AlarmClass::DeviceDown => Signal::Down,
        AlarmClass::DeviceUp => Signal::Up,
        AlarmClass::DeviceRestarted => Signal::Restarted {
            reason: alarm
                .reasons
                .as_ref()
                .filter(|r| !r.is_empty())
                .map(|r| r.join(", ")),
        },
        AlarmClass::Marvis => return marvis_signals(input, alarm),
        AlarmClass::Security | AlarmClass::Other => return Vec::new(),
    };
    let org = input.org_id.unwrap_or_default();
    // `hostnames` runs parallel to the device list; alarm definitions carry one list each.
    let lists = [
        (&alarm.aps, DeviceKind::Ap),
        (&alarm.switches, DeviceKind::Switch),
        (&alarm.gateways, DeviceKind::Gateway),
        (&alarm.mxedges, DeviceKind::Mxedge),
    ];
    let hostnames = alarm.hostnames.as_deref().unwrap_or_default();
    let mut signals = Vec::new();
    let mut position = 0;
    for (list, kind) in lists {
        for entry in list.as_deref().unwrap_or_default() {
            let name = hostnames.get(position).filter(|h| !h.is_empty()).cloned();
            position += 1;
            let Some(mac) = device_id(kind, entry) else {
                continue;
            };
            if signals.iter().any(|s: &DeviceSignal| s.device.mac == mac) {
                continue;
            }
            signals.push(DeviceSignal {
                device: DeviceRef {
                    org_id: org.to_owned(),
                    mac,
                },
                kind,
                name,
                site_id: input.site_id.map(str::to_owned),
                what: what.clone(),
                source_type: source_type.clone(),
                alarm_id: alarm.id.clone(),
                severity: alarm.severity.as_deref().map(Severity::parse),
            });
        }
    }
    signals
}

/// Marvis actions that track device presence: `open` is down, closed is up.
fn marvis_signals(input: &Input<'_>, alarm: &Alarm) -> Vec<DeviceSignal> {
    let source_type = alarm.alarm_type.clone().unwrap_or_default();
    if !catalog::MARVIS_DEVICE_OFFLINE.contains(&catalog::normalize_type(&source_type).as_str()) {
        return Vec::new();
    }
    let what = if marvis_is_closing(alarm) {
        Signal::Up
    } else {
        Signal::Down
    };
    let org = input.org_id.unwrap_or_default();
    let mut signals: Vec<DeviceSignal> = Vec::new();
    for entity in impacted_entities(alarm) {
        let Some(mac) = entity.mac else { continue };
        let kind = match entity.entity_type.as_deref() {
            Some("switch") => DeviceKind::Switch,
            Some("gateway") => DeviceKind::Gateway,
            _ => DeviceKind::Ap,
        };
        if signals.iter().any(|s| s.device.mac == mac) {
            continue;
        }
        signals.push(DeviceSignal {
            device: DeviceRef {
                org_id: org.to_owned(),
                mac,
            },
            kind,
            name: entity.name,
            site_id: input.site_id.map(str::to_owned),
            what: what.clone(),
            source_type: source_type.clone(),
            alarm_id: alarm.id.clone(),
            severity: alarm.severity.as_deref().map(Severity::parse),
        });
    }
    signals
}

/// Whether a Marvis alarm says its action is over: `details.state` (or `details.status`)
/// `validated`/`resolved`, or a top-level `status` of `resolved`. Mist sends the last one
/// alongside a stale `details.status` of `open` in some alarm definitions.
pub(crate) fn marvis_is_closing(alarm: &Alarm) -> bool {
    let closed = |s: &str| {
        let s = s.to_ascii_lowercase();
        s == "validated" || s == "resolved"
    };
    alarm.state().is_some_and(closed) || alarm.status.as_deref().is_some_and(closed)
}

/// The device signal of a `device-events`, `device-updowns` or `mxedge-events` event.
pub(crate) fn event_signal(input: &Input<'_>) -> Option<DeviceSignal> {
    let event_type = input.event_type?;
    let what = if catalog::EVENT_DOWN.contains(&event_type) {
        Signal::Down
    } else if catalog::EVENT_UP.contains(&event_type) {
        Signal::Up
    } else if catalog::EVENT_RESTARTED.contains(&event_type) {
        Signal::Restarted {
            reason: restart_reason(input.raw, event_type),
        }
    } else {
        return None;
    };
    let kind = DeviceKind::of_event_type(event_type)?;
    let (mac, name) = match input.topic {
        Topic::DeviceUpdowns => {
            let updown = DeviceUpdown::from_value(input.raw);
            (updown.device_mac(), updown.device_name.or(updown.ap_name))
        }
        Topic::MxedgeEvents => {
            let id = input.raw.get("mxedge_id").and_then(Value::as_str);
            (id.and_then(|id| device_id(kind, id)), None)
        }
        _ => {
            let event = DeviceEvent::from_value(input.raw);
            (event.device_mac(), event.device_name.or(event.ap_name))
        }
    };
    Some(DeviceSignal {
        device: DeviceRef {
            org_id: input.org_id.unwrap_or_default().to_owned(),
            mac: mac?,
        },
        kind,
        name: name.filter(|n| !n.is_empty()),
        site_id: input.site_id.map(str::to_owned),
        what,
        source_type: event_type.to_owned(),
        alarm_id: None,
        severity: None,
    })
}

/// `reason` as sent; the `*_BY_USER` types say who without a `reason`.
fn restart_reason(raw: &Value, event_type: &str) -> Option<String> {
    raw.get("reason")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| {
            event_type
                .contains("BY_USER")
                .then(|| "restart_by_user".to_owned())
        })
}

/// Mist device ids embed the MAC: `00000000-0000-0000-1000-<mac>`.
const DEVICE_ID_PREFIX: &str = "00000000-0000-0000-1000-";

/// How a device is identified: its normalised MAC. Mist Edges are named by id; the MAC
/// inside a Mist device id is used when there is one, else the lowercase id.
fn device_id(kind: DeviceKind, entry: &str) -> Option<String> {
    if kind == DeviceKind::Mxedge {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            return None;
        }
        return Some(
            entry
                .strip_prefix(DEVICE_ID_PREFIX)
                .and_then(mist::normalize_mac)
                .unwrap_or(entry),
        );
    }
    mist::normalize_mac(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input<'a>(topic: &'a Topic, raw: &'a Value, n: &'a Normalized) -> Input<'a> {
        Input::from_normalized(1, topic, n, raw, 42)
    }

    #[test]
    fn an_alarm_naming_two_aps_gives_two_signals_with_their_hostnames() {
        let raw = json!({
            "type": "device_restarted", "aps": ["5c5b350e1d1f", "string", "5C5B353ED0BB"],
            "hostnames": ["AP1", "junk", "AP3"], "reasons": ["power_cycle"],
            "org_id": "o", "site_id": "s", "id": "a1", "timestamp": 1629754030
        });
        let topic = Topic::Alarms;
        let n = mist::normalize(&topic, &raw);
        let alarm = Alarm::from_value(&raw);
        let signals = alarm_signals(&input(&topic, &raw, &n), &alarm, catalog::classify(&alarm));
        assert_eq!(signals.len(), 2);
        assert_eq!(signals[1].device.mac, "5c5b353ed0bb");
        assert_eq!(signals[1].name.as_deref(), Some("AP3"));
        assert_eq!(
            signals[0].what,
            Signal::Restarted {
                reason: Some("power_cycle".into())
            }
        );
    }

    #[test]
    fn device_events_use_the_prefix_for_the_kind() {
        let raw = json!({"type": "GW_RESTARTED", "device_type": "switch", "mac": "408f9d04245f", "reason": "unknown"});
        let topic = Topic::DeviceEvents;
        let n = mist::normalize(&topic, &raw);
        let signal = event_signal(&input(&topic, &raw, &n)).unwrap();
        assert_eq!(signal.kind, DeviceKind::Gateway);
        let raw =
            json!({"type": "ME_DISCONNECTED", "mxedge_id": "387804A7-3474-85ce-15a2-f9a9684c9c90"});
        let topic = Topic::MxedgeEvents;
        let n = mist::normalize(&topic, &raw);
        let signal = event_signal(&input(&topic, &raw, &n)).unwrap();
        assert_eq!(signal.device.mac, "387804a7-3474-85ce-15a2-f9a9684c9c90");
        assert_eq!(signal.what, Signal::Down);
        assert_eq!(input(&topic, &raw, &n).time, 42);
    }

    #[test]
    fn marvis_ap_offline_tracks_presence() {
        let raw = json!({
            "type": "AP_OFFLINE", "group": "marvis", "details": {"state": "validated"},
            "impacted_entities": [{"entity_type": "ap", "entity_mac": "5c5b350eb27b", "entity_name": "GPS-AP21"}]
        });
        let topic = Topic::Alarms;
        let n = mist::normalize(&topic, &raw);
        let alarm = Alarm::from_value(&raw);
        let signals = alarm_signals(&input(&topic, &raw, &n), &alarm, AlarmClass::Marvis);
        assert_eq!(signals.len(), 1);
        assert_eq!(signals[0].what, Signal::Up);
        assert_eq!(signals[0].name.as_deref(), Some("GPS-AP21"));
    }

    #[test]
    fn marvis_closing_reads_details_then_status() {
        let open = Alarm::from_value(&json!({"details": {"status": "open"}}));
        assert!(!marvis_is_closing(&open));
        let stale_details =
            Alarm::from_value(&json!({"details": {"status": "open"}, "status": "resolved"}));
        assert!(marvis_is_closing(&stale_details));
        let validated =
            Alarm::from_value(&json!({"details": {"state": "validated"}, "status": "open"}));
        assert!(marvis_is_closing(&validated));
    }
}
