//! What one backfill read covers and what of it is missing: no IO, no clock.

use std::collections::HashMap;

use mist::Topic;
use serde_json::Value;

/// The kinds of event Mist's API can give back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Alarms,
    DeviceEvents,
    Audits,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Alarms, Kind::DeviceEvents, Kind::Audits];

    /// The topic the events are stored under (and the kind's name in the API).
    pub fn topic(self) -> Topic {
        match self {
            Kind::Alarms => Topic::Alarms,
            Kind::DeviceEvents => Topic::DeviceEvents,
            Kind::Audits => Topic::Audits,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Alarms => "alarms",
            Kind::DeviceEvents => "device-events",
            Kind::Audits => "audits",
        }
    }
}

/// The device types whose events the org's device event search answers one at a time
/// (`device_type`, default `ap`).
pub const DEVICE_TYPES: [&str; 3] = ["ap", "switch", "gateway"];

/// A range of event times, unix µs, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_us: i64,
    pub end_us: i64,
}

impl Window {
    /// As Mist's searches take it: epoch seconds.
    pub fn to_range(self) -> mistapi::Range {
        mistapi::Range {
            start: self.start_us as f64 / 1e6,
            end: self.end_us as f64 / 1e6,
        }
    }

    /// The stored events to compare with: one second wider each side, since the
    /// identity of an event is its time in whole seconds and its two forms may write
    /// that time with and without a fraction.
    pub fn widened(self) -> Window {
        Window {
            start_us: self.start_us.saturating_sub(1_000_000),
            end_us: self.end_us.saturating_add(1_000_000),
        }
    }
}

/// What a read covers: from where the last complete read ended (else the newest event
/// of the kind stored, else now), less `overlap`, but no further back than `max_age`;
/// up to `now`.
pub fn window(
    read_until: Option<i64>,
    newest_stored: Option<i64>,
    now: i64,
    overlap_us: i64,
    max_age_us: i64,
) -> Window {
    let from = read_until
        .or(newest_stored)
        .unwrap_or(now)
        .min(now)
        .saturating_sub(overlap_us);
    Window {
        start_us: from.max(now.saturating_sub(max_age_us)),
        end_us: now,
    }
}

/// Where the next read may start: the end of the window when every result was read,
/// else the time of the last result read (results come oldest first).
pub fn read_until(window: Window, results: &[Value], capped: bool) -> i64 {
    if !capped {
        return window.end_us;
    }
    results
        .last()
        .and_then(|r| r.get("timestamp"))
        .and_then(mist::parse_time_value)
        .map_or(window.end_us, |(us, _)| {
            us.clamp(window.start_us, window.end_us)
        })
}

/// What tells one event of `topic` from another across its webhook and search forms:
/// a hash of its identity fields ([`mist::identity`]), or of the whole event when it
/// lacks them.
pub fn key(topic: &Topic, event: &Value) -> [u8; 16] {
    match mist::identity::identity(topic, event) {
        Some(identity) => mist::fingerprint(topic, &identity).0,
        None => mist::fingerprint(topic, event).0,
    }
}

/// A stored event as the comparison sees it.
#[derive(Clone, Copy)]
pub struct Stored {
    pub key: [u8; 16],
    /// Stored by backfill (source `mist-api`).
    pub backfilled: bool,
    /// Its duplicate-detection fingerprint.
    pub fingerprint: [u8; 16],
}

impl Stored {
    /// From the stored event.
    pub fn of(topic: &Topic, event: &store::KindEvent, backfill_source: &str) -> Stored {
        let key = match serde_json::from_slice::<Value>(&event.raw) {
            Ok(v) => key(topic, &v),
            Err(_) => event.fingerprint,
        };
        Stored {
            key,
            backfilled: event.source == backfill_source,
            fingerprint: event.fingerprint,
        }
    }
}

/// What a read found, against what the log holds over the same window.
#[derive(Debug, PartialEq)]
pub struct Comparison<'a> {
    /// The results the log lacks, in their order: for each identity, those beyond the
    /// number of events of that identity already stored.
    pub missing: Vec<&'a Value>,
    /// Events backfill stored whose webhook copy has not come (yet): (key, fingerprint).
    /// A webhook copy arriving later is recognised as their duplicate.
    pub unclaimed: Vec<([u8; 16], [u8; 16])>,
}

/// Compares a read's results with the stored events of the same kind and window.
pub fn compare<'a>(topic: &Topic, results: &'a [Value], stored: &[Stored]) -> Comparison<'a> {
    let mut held: HashMap<[u8; 16], usize> = HashMap::new();
    let mut live: HashMap<[u8; 16], usize> = HashMap::new();
    for s in stored {
        *held.entry(s.key).or_default() += 1;
        if !s.backfilled {
            *live.entry(s.key).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    for r in results {
        match held.get_mut(&key(topic, r)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(r),
        }
    }
    let mut unclaimed = Vec::new();
    for s in stored.iter().filter(|s| s.backfilled) {
        match live.get_mut(&s.key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => unclaimed.push((s.key, s.fingerprint)),
        }
    }
    Comparison { missing, unclaimed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MIN: i64 = 60_000_000;

    #[test]
    fn a_read_starts_where_the_last_one_ended_less_the_overlap() {
        let now = 1_000 * MIN;
        let w = window(Some(990 * MIN), Some(999 * MIN), now, 10 * MIN, 1_440 * MIN);
        assert_eq!(
            w,
            Window {
                start_us: 980 * MIN,
                end_us: now
            }
        );
        // Never read before: from the newest event stored, else from now.
        assert_eq!(
            window(None, Some(900 * MIN), now, 10 * MIN, 1_440 * MIN).start_us,
            890 * MIN
        );
        assert_eq!(
            window(None, None, now, 10 * MIN, 1_440 * MIN).start_us,
            990 * MIN
        );
        // A long outage reads back no further than max_age.
        assert_eq!(
            window(Some(0), None, now, 10 * MIN, 60 * MIN).start_us,
            940 * MIN
        );
        // A mark in the future (a clock set back) is treated as now.
        assert_eq!(
            window(Some(2_000 * MIN), None, now, 10 * MIN, 60 * MIN).start_us,
            990 * MIN
        );
    }

    #[test]
    fn a_capped_read_continues_after_its_last_result() {
        let w = Window {
            start_us: 0,
            end_us: 100_000_000,
        };
        let results = [json!({"timestamp": 10}), json!({"timestamp": 42.5})];
        assert_eq!(read_until(w, &results, false), 100_000_000);
        assert_eq!(read_until(w, &results, true), 42_500_000);
        assert_eq!(read_until(w, &[], true), 100_000_000);
    }

    fn stored(topic: &Topic, event: &Value, backfilled: bool) -> Stored {
        Stored {
            key: key(topic, event),
            backfilled,
            fingerprint: mist::fingerprint(topic, event).0,
        }
    }

    #[test]
    fn what_a_webhook_delivered_is_not_missing() {
        let topic = Topic::Alarms;
        let a = json!({"id": "a", "type": "device_down", "timestamp": 10.5, "acked": false});
        let b = json!({"id": "b", "type": "device_down", "timestamp": 11});
        // The webhook form of `a` is what is stored.
        let webhook_a =
            json!({"id": "a", "type": "device_down", "timestamp": 10, "site_name": "HQ"});
        let results = [a.clone(), b.clone()];
        let c = compare(&topic, &results, &[stored(&topic, &webhook_a, false)]);
        assert_eq!(c.missing, vec![&b]);
        assert!(c.unclaimed.is_empty());
    }

    #[test]
    fn identities_are_counted_not_just_compared() {
        let topic = Topic::DeviceEvents;
        // Two radios of one AP changing channel in one second: one identity, two events.
        let radio = |band: &str| json!({"type": "AP_RRM_ACTION", "mac": "5c5b350e0001", "timestamp": 7, "band": band});
        let results = [radio("24"), radio("5")];
        let c = compare(&topic, &results, &[stored(&topic, &radio("24"), false)]);
        assert_eq!(c.missing.len(), 1, "one of the two is stored");
        let c = compare(&topic, &results, &[]);
        assert_eq!(c.missing.len(), 2);
        let both = [
            stored(&topic, &radio("24"), false),
            stored(&topic, &radio("5"), false),
        ];
        assert!(compare(&topic, &results, &both).missing.is_empty());
    }

    #[test]
    fn backfilled_events_without_their_webhook_copy_are_unclaimed() {
        let topic = Topic::Audits;
        let search = json!({"id": "x", "timestamp": 5, "before": {}, "after": {}});
        let webhook = json!({"id": "x", "timestamp": 5, "admin_name": "Jo"});
        let other = json!({"id": "y", "timestamp": 6});
        let backfilled = [stored(&topic, &search, true), stored(&topic, &other, true)];
        let results = [search.clone(), other.clone()];
        let c = compare(&topic, &results, &backfilled);
        assert!(c.missing.is_empty(), "a second read recovers nothing again");
        assert_eq!(c.unclaimed.len(), 2);
        // Once the webhook copy of `x` is stored too, only `y` waits for its copy.
        let mut with_copy = backfilled.to_vec();
        with_copy.push(stored(&topic, &webhook, false));
        let c = compare(&topic, &results, &with_copy);
        assert_eq!(
            c.unclaimed,
            vec![(key(&topic, &other), mist::fingerprint(&topic, &other).0)]
        );
    }
}
