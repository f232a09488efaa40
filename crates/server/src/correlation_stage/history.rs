//! The device history rows of one event: the changes the correlator made to devices while
//! handling it, each once.
//!
//! Every device change the correlator makes is a timeline entry pushed while it handles
//! an event, carrying that event's id (`correlate`'s device rule; timers, manual actions
//! and source checks change no device). So the entries of a device's record whose
//! `event_id` is the event just fed are exactly what that event did to it. One event can
//! emit a device more than once (one record per signal): the last record holds every
//! entry. The stage commits these rows with the cursor past the event, so after a restart
//! the event is fed again only if its rows were not committed.

use correlate::{Device, DeviceChangeKind, DeviceState, Transition};
use store::DeviceHistoryRow;

/// The history rows for what handling event `event_id` did to devices, in the order the
/// devices were first changed and their entries were made.
pub(crate) fn rows(event_id: i64, transitions: &[Transition]) -> Vec<DeviceHistoryRow> {
    let mut last: Vec<&Device> = Vec::new();
    for t in transitions {
        if let Transition::Device(d) = t {
            match last
                .iter_mut()
                .find(|seen| seen.org_id == d.org_id && seen.mac == d.mac)
            {
                Some(seen) => *seen = d,
                None => last.push(d),
            }
        }
    }
    last.into_iter()
        .flat_map(|d| {
            d.timeline
                .iter()
                .filter(move |c| c.event_id == Some(event_id))
                .map(move |c| {
                    let (state, since) = after(d, c.change, c.at);
                    DeviceHistoryRow {
                        id: 0,
                        org_id: d.org_id.clone(),
                        mac: d.mac.clone(),
                        kind: d.kind.as_str().to_string(),
                        site_id: d.site_id.clone(),
                        at: c.at,
                        change: change_name(c.change).to_string(),
                        state: state_name(state).to_string(),
                        since,
                        event_id: c.event_id,
                        note: c.note.clone(),
                    }
                })
        })
        .collect()
}

/// The state a change left the device in, and since when. A restart changes no state: the
/// device was in the state its record shows holding at that time (a late restart can be
/// older than the record's `since`: then the newest state change before it, if the
/// timeline still has one).
fn after(d: &Device, change: DeviceChangeKind, at: i64) -> (DeviceState, i64) {
    match change {
        DeviceChangeKind::Down => (DeviceState::Down, at),
        DeviceChangeKind::Up | DeviceChangeKind::Flap => (DeviceState::Up, at),
        DeviceChangeKind::Restarted if d.since <= at => (d.state, d.since),
        DeviceChangeKind::Restarted => d
            .timeline
            .iter()
            .rev()
            .find(|c| c.change != DeviceChangeKind::Restarted && c.at <= at)
            .map_or((DeviceState::Unknown, at), |c| match c.change {
                DeviceChangeKind::Down => (DeviceState::Down, c.at),
                _ => (DeviceState::Up, c.at),
            }),
    }
}

fn change_name(c: DeviceChangeKind) -> &'static str {
    match c {
        DeviceChangeKind::Down => "down",
        DeviceChangeKind::Up => "up",
        DeviceChangeKind::Restarted => "restarted",
        DeviceChangeKind::Flap => "flap",
    }
}

fn state_name(s: DeviceState) -> &'static str {
    match s {
        DeviceState::Up => "up",
        DeviceState::Down => "down",
        DeviceState::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use correlate::{Correlator, Input, Settings};
    use serde_json::{Value, json};

    use super::*;

    const AP: &str = "5c5b350e0001";

    fn alarm(kind: &str, t: i64, extra: Value) -> Value {
        let mut v = json!({"type": kind, "org_id": "o", "site_id": "s", "aps": [AP],
            "hostnames": ["ap-1"], "severity": "warn", "timestamp": t});
        if let (Value::Object(v), Value::Object(x)) = (&mut v, extra) {
            v.extend(x);
        }
        v
    }

    /// Feeds alarms (event ids 1, 2, ...) and returns every history row, in order.
    fn history(correlator: &mut Correlator, alarms: &[Value]) -> Vec<(i64, String, String, i64)> {
        let mut out = Vec::new();
        for (i, raw) in alarms.iter().enumerate() {
            let id = i as i64 + 1;
            let input = Input {
                event_id: id,
                topic: &mist::Topic::Alarms,
                time: raw["timestamp"].as_i64().unwrap() * 1_000_000,
                org_id: Some("o"),
                site_id: Some("s"),
                event_type: raw["type"].as_str(),
                raw,
            };
            let transitions = correlator.handle(&input, 0);
            for r in rows(id, &transitions) {
                assert_eq!(
                    (r.org_id.as_str(), r.mac.as_str(), r.kind.as_str()),
                    ("o", AP, "ap")
                );
                assert_eq!(r.event_id, Some(id));
                out.push((r.at / 1_000_000, r.change, r.state, r.since / 1_000_000));
            }
        }
        out
    }

    fn row(at: i64, change: &str, state: &str, since: i64) -> (i64, String, String, i64) {
        (at, change.into(), state.into(), since)
    }

    /// Down, a restart while down, up within the hold-down (up and flap from one event),
    /// a repeat that changes nothing, and a late restart older than the up.
    #[test]
    fn every_change_once_with_the_state_it_left() {
        let settings = Settings {
            flap_hold_down_us: 300_000_000,
            ..Settings::default()
        };
        let mut c = Correlator::new(settings);
        let rows = history(
            &mut c,
            &[
                alarm("device_down", 1_000, json!({})),
                alarm(
                    "device_restarted",
                    1_010,
                    json!({"reasons": ["power_cycle"]}),
                ),
                alarm("device_reconnected", 1_060, json!({})),
                alarm("device_reconnected", 1_070, json!({})),
                alarm("device_down", 900, json!({})),
                alarm("device_restarted", 1_050, json!({})),
            ],
        );
        assert_eq!(
            rows,
            [
                row(1_000, "down", "down", 1_000),
                row(1_010, "restarted", "down", 1_000),
                row(1_060, "up", "up", 1_060),
                row(1_060, "flap", "up", 1_060),
                // device_restarted at 1_050 is newer than the last restart (1_010): kept,
                // and it happened while the device was down (since 1_000).
                row(1_050, "restarted", "down", 1_000),
            ]
        );
        // The record's timeline holds the same entries: nothing was missed.
        let d = c.device("o", AP).unwrap();
        assert_eq!(d.timeline.len(), rows.len());
    }

    #[test]
    fn a_device_first_seen_restarting_is_unknown_since_then() {
        let mut c = Correlator::new(Settings::default());
        let rows = history(&mut c, &[alarm("device_restarted", 500, json!({}))]);
        assert_eq!(rows, [row(500, "restarted", "unknown", 500)]);
    }
}
