//! What the simulated org has said: the alarms, device events and audits it generated,
//! kept (the most recent [`CAPACITY`] of each) with the ids and times its webhooks
//! carried, whether or not a delivery succeeded, so that the searches answer what a
//! receiver missed. Also each device's connection state, from the events, for device
//! stats.

use std::collections::{HashMap, VecDeque};

use mist::Topic;
use serde_json::{Map, Value};

use super::query::{After, Order, Range};

/// Records kept per kind.
pub const CAPACITY: usize = 100_000;

/// The fields of each kind that the search results carry (the spec's item schemas:
/// `alarm`, `events_device_ap`, `response_log_search_item`).
const ALARM_FIELDS: &[&str] = &[
    "id",
    "type",
    "group",
    "severity",
    "count",
    "timestamp",
    "last_seen",
    "site_id",
    "org_id",
    "aps",
    "switches",
    "gateways",
    "hostnames",
    "ssids",
    "bssids",
    "note",
    "status",
];
const DEVICE_EVENT_FIELDS: &[&str] = &[
    "timestamp",
    "type",
    "text",
    "mac",
    "device_type",
    "ap",
    "apfw",
    "port_id",
    "count",
    "site_id",
    "org_id",
];
const AUDIT_FIELDS: &[&str] = &[
    "id",
    "timestamp",
    "message",
    "admin_id",
    "admin_name",
    "src_ip",
    "site_id",
    "org_id",
];

/// One event as the searches answer it.
#[derive(Clone, Debug)]
pub struct Record {
    /// Order of recording, unique in the run: the tie-break of equal times.
    pub seq: u64,
    /// The event's own time, unix µs.
    pub at_us: i64,
    /// The search result object.
    pub view: Map<String, Value>,
    /// The device model (a device-event filter the result does not show).
    pub model: Option<String>,
}

impl Record {
    /// A text field of the view.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.view.get(field).and_then(Value::as_str)
    }

    /// Whether the view's `field` is `wanted` (a text, or a list holding it).
    pub fn has(&self, field: &str, wanted: &str) -> bool {
        match self.view.get(field) {
            Some(Value::String(s)) => s == wanted,
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(wanted)),
            Some(Value::Bool(b)) => b.to_string() == wanted,
            Some(Value::Number(n)) => n.to_string() == wanted,
            _ => false,
        }
    }
}

/// The records of one kind, oldest recorded first.
#[derive(Debug, Default)]
pub struct Log {
    records: VecDeque<Record>,
}

/// One page of a search.
pub struct Found<'a> {
    /// The records of the page, in the order asked.
    pub page: Vec<&'a Record>,
    /// Records matching the range and filters, over every page.
    pub total: usize,
    /// Where the next page starts, when there is one.
    pub next: Option<After>,
}

impl Log {
    pub(super) fn push(&mut self, record: Record) {
        if self.records.len() == CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The records in `range` that `keep` accepts, ordered by time (then recording
    /// order), after `after`, at most `limit`.
    pub fn search<'a>(
        &'a self,
        range: Range,
        order: Order,
        after: Option<After>,
        limit: usize,
        keep: impl Fn(&Record) -> bool,
    ) -> Found<'a> {
        let mut matching: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| range.contains(r.at_us) && keep(r))
            .collect();
        matching.sort_by_key(|r| (r.at_us, r.seq));
        if order == Order::Descending {
            matching.reverse();
        }
        let total = matching.len();
        let rest: Vec<&Record> = matching
            .into_iter()
            .filter(|r| match (after, order) {
                (None, _) => true,
                (Some(a), Order::Ascending) => (r.at_us, r.seq) > a,
                (Some(a), Order::Descending) => (r.at_us, r.seq) < a,
            })
            .collect();
        let more = rest.len() > limit;
        let page: Vec<&Record> = rest.into_iter().take(limit).collect();
        let next = if more {
            page.last().map(|r| (r.at_us, r.seq))
        } else {
            None
        };
        Found { page, total, next }
    }

    /// Every record kept, oldest recorded first.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }
}

/// A device's state as its events left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Connected to the cloud.
    pub connected: bool,
    /// Its last event, unix µs.
    pub last_us: i64,
}

/// Everything recorded.
#[derive(Debug, Default)]
pub struct History {
    /// `alarms` events.
    pub alarms: Log,
    /// `device-events` events.
    pub device_events: Log,
    /// `audits` events.
    pub audits: Log,
    /// Per device MAC, from `device-events` and `device-updowns`.
    pub devices: HashMap<String, Seen>,
    next_seq: u64,
}

impl History {
    /// Keeps `event` of `topic` if the searches answer that kind.
    pub fn record(&mut self, topic: &Topic, event: &Value) {
        let Some(object) = event.as_object() else {
            return;
        };
        let Some(at_us) = object
            .get("timestamp")
            .and_then(mist::parse_time_value)
            .map(|(us, _)| us)
        else {
            return;
        };
        let view = |fields: &[&str]| -> Map<String, Value> {
            fields
                .iter()
                .filter_map(|f| object.get(*f).map(|v| ((*f).to_string(), v.clone())))
                .filter(|(_, v)| !v.is_null())
                .collect()
        };
        let seq = self.next_seq;
        let record = |view, model| Record {
            seq,
            at_us,
            view,
            model,
        };
        match topic {
            Topic::Alarms => {
                let mut v = view(ALARM_FIELDS);
                v.entry("status").or_insert_with(|| "open".into());
                v.insert("acked".into(), false.into());
                self.alarms.push(record(v, None));
            }
            Topic::DeviceEvents => {
                let model = object
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.device_events
                    .push(record(view(DEVICE_EVENT_FIELDS), model));
                self.seen(object, at_us);
            }
            Topic::DeviceUpdowns => {
                self.seen(object, at_us);
                return;
            }
            Topic::Audits => {
                let mut v = view(AUDIT_FIELDS);
                v.insert("for_site".into(), object.contains_key("site_id").into());
                v.insert("before".into(), Value::Object(Map::new()));
                v.insert("after".into(), Value::Object(Map::new()));
                self.audits.push(record(v, None));
            }
            _ => return,
        }
        self.next_seq += 1;
    }

    /// A connection event (`AP_DISCONNECTED`, `SW_CONNECTED`, ...) changes the device's
    /// state; any event is a sign of life.
    fn seen(&mut self, event: &Map<String, Value>, at_us: i64) {
        let Some(mac) = event
            .get("mac")
            .or_else(|| event.get("ap"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let entry = self.devices.entry(mac.to_string()).or_insert(Seen {
            connected: true,
            last_us: at_us,
        });
        if at_us < entry.last_us {
            return;
        }
        entry.last_us = at_us;
        if kind.ends_with("_DISCONNECTED") {
            entry.connected = false;
        } else if kind.ends_with("_CONNECTED") || kind.ends_with("_RESTARTED") {
            entry.connected = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alarm(id: &str, t: i64) -> Value {
        json!({"id": id, "type": "x", "group": "infrastructure", "severity": "warn",
               "count": 1, "timestamp": t, "last_seen": t, "site_name": "HQ"})
    }

    #[test]
    fn searches_page_by_time_with_no_repeat_and_no_gap() {
        let mut h = History::default();
        for (i, t) in [5, 1, 3, 3, 2, 4].iter().enumerate() {
            h.record(&Topic::Alarms, &alarm(&format!("a{i}"), *t));
        }
        let range = Range {
            start_us: 0,
            end_us: 10_000_000,
        };
        for order in [Order::Ascending, Order::Descending] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let found = h.alarms.search(range, order, after, 4, |_| true);
                assert_eq!(found.total, 6);
                seen.extend(found.page.iter().map(|r| r.at_us));
                match found.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let mut sorted = seen.clone();
            sorted.sort();
            if order == Order::Descending {
                sorted.reverse();
            }
            assert_eq!(seen, sorted);
            assert_eq!(seen.len(), 6);
        }
        let first = &h
            .alarms
            .search(range, Order::Ascending, None, 1, |_| true)
            .page[0];
        assert_eq!(first.text("status"), Some("open"));
        assert!(
            !first.view.contains_key("site_name"),
            "only the spec's fields"
        );
    }

    #[test]
    fn connection_events_set_the_device_state() {
        let mut h = History::default();
        let ev = |t: &str, at: i64| json!({"type": t, "mac": "aa", "timestamp": at});
        h.record(&Topic::DeviceEvents, &ev("AP_DISCONNECTED", 10));
        assert!(!h.devices["aa"].connected);
        h.record(&Topic::DeviceEvents, &ev("AP_CONNECTED", 5));
        assert!(!h.devices["aa"].connected, "an older event changes nothing");
        h.record(&Topic::DeviceUpdowns, &ev("AP_CONNECTED", 20));
        assert!(h.devices["aa"].connected);
        assert_eq!(h.device_events.len(), 2);
    }
}
