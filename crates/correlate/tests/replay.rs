//! Replaying an event the correlator has already handled changes nothing: neither under
//! its own id (the shell re-reading its log) nor under a new one (Mist delivering the same
//! message twice, or the org and site webhooks both sending it).
//!
//! Checked on random streams of Mist events (few devices, zones and times in a narrow
//! range, so that ties, out-of-order arrivals and timers happen often), and exhaustively on
//! every prefix of every scenario file.

mod support;

use correlate::{Correlator, Grouping, Settings};
use mist::Topic;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use support::Handled;

const ORG: &str = "9747a50a-23f8-4ca5-83c4-102e807874de";
const SITES: [&str; 2] = [
    "8d2e354a-8340-4432-ac1b-e3c3bab680ab",
    "819b44b2-42ef-459d-8e59-29c5577b2330",
];
const APS: [&str; 3] = ["5c5b350e1d1f", "5c5b353ed0bb", "5c5b35000001"];
const T: i64 = 1_750_000_000;

/// One Mist event of a topic the correlator acts on, with its time `T + dt` seconds.
fn arb_event() -> impl Strategy<Value = (Topic, Value)> {
    let site = prop::sample::select(SITES.to_vec());
    let ap = prop::sample::select(APS.to_vec());
    let dt = 0i64..40;
    prop_oneof![
        (
            prop::sample::select(vec![
                "device_down",
                "device_reconnected",
                "device_restarted"
            ]),
            prop::collection::vec(ap.clone(), 1..3),
            site.clone(),
            dt.clone(),
            "[a-c]"
        )
            .prop_map(|(kind, aps, site, dt, alarm)| (
                Topic::Alarms,
                json!({"type": kind, "group": "infrastructure", "aps": aps, "org_id": ORG,
                       "site_id": site, "id": alarm, "reasons": ["power_cycle"],
                       "timestamp": T + dt * 30})
            )),
        (
            prop::sample::select(vec![
                ("AP_DISCONNECTED", "5c5b350e1d1f"),
                ("AP_CONNECTED", "5c5b350e1d1f"),
                ("AP_RESTARTED", "5c5b353ed0bb"),
                ("SW_DISCONNECTED", "f4bfa806c96c"),
                ("SW_CONNECTED", "f4bfa806c96c"),
                ("GW_DISCONNECTED", "94f7adf72ea0"),
                ("GW_CONNECTED", "94f7adf72ea0"),
            ]),
            prop::sample::select(vec![Topic::DeviceEvents, Topic::DeviceUpdowns]),
            site.clone(),
            dt.clone()
        )
            .prop_map(|((kind, mac), topic, site, dt)| (
                topic,
                json!({"type": kind, "mac": mac, "org_id": ORG, "site_id": site,
                       "timestamp": T + dt * 30})
            )),
        (
            prop::sample::select(vec!["rogue_ap", "honeypot_ssid"]),
            prop::collection::vec(ap.clone(), 1..3),
            site.clone(),
            0i64..40
        )
            .prop_map(|(kind, aps, site, dt)| (
                Topic::Alarms,
                json!({"type": kind, "group": "security", "aps": aps, "org_id": ORG,
                       "site_id": site, "timestamp": T + dt * 3600})
            )),
        (
            prop::sample::select(vec!["open", "validated"]),
            prop::sample::select(vec!["bad_cable", "AP_OFFLINE"]),
            ap.clone(),
            dt.clone()
        )
            .prop_map(|(state, kind, mac, dt)| (
                Topic::Alarms,
                json!({"type": kind, "group": "marvis", "org_id": ORG, "site_id": SITES[0],
                       "details": {"state": state},
                       "impacted_entities": [{"entity_mac": mac, "entity_type": "ap"}],
                       "timestamp": T + dt * 30})
            )),
        (
            prop::sample::select(vec!["COMPLIANCE-VIOLATION", "COMPLIANCE-OK"]),
            prop::sample::select(vec!["zone-a", "zone-b"]),
            dt
        )
            .prop_map(|(kind, zone, dt)| (
                Topic::OccupancyAlerts,
                json!({"site_id": SITES[0], "alert_events": [
                    {"type": kind, "zone_id": zone, "org_id": ORG, "timestamp": T + dt * 30}]})
            )),
    ]
}

fn arb_settings() -> impl Strategy<Value = Settings> {
    (
        any::<bool>(),
        prop::sample::select(vec![0i64, 60, 600]),
        1i64..48,
    )
        .prop_map(|(per_alarm, hold_down, quiet_hours)| Settings {
            grouping: if per_alarm {
                Grouping::PerAlarm
            } else {
                Grouping::PerDevice
            },
            flap_hold_down_us: hold_down * 1_000_000,
            security_quiet_us: quiet_hours * 3600 * 1_000_000,
            security_max_lifetime_us: 3 * 24 * 3600 * 1_000_000,
            ..Settings::default()
        })
}

/// Feeds `events` with ids 1.., moving the fake clock to each event's time and firing the
/// deadlines due by then, as the shell would when it is not lagging. The clock starts at
/// `now` and never goes back; returns where it ends.
fn play(correlator: &mut Correlator, events: &[Handled], mut now: i64) -> i64 {
    for handled in events {
        now = now.max(handled.fallback_time);
        if correlator.poll_timeout().is_some_and(|t| t <= now) {
            correlator.handle_timeout(now);
        }
        handled.feed(correlator, handled.event_id, now);
    }
    now
}

fn handled(events: Vec<(Topic, Value)>) -> Vec<Handled> {
    events
        .into_iter()
        .zip(1..)
        .map(|((topic, raw), event_id)| {
            let time = mist::normalize(&topic, &raw)
                .time
                .map_or(0, |t| t.unix_micros);
            Handled {
                event_id,
                topic,
                raw,
                fallback_time: time,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn replaying_a_handled_event_changes_nothing(
        settings in arb_settings(),
        events in prop::collection::vec(arb_event(), 1..40),
        pick in any::<Index>(),
        fresh_id in any::<bool>(),
    ) {
        let events = handled(events);
        let mut correlator = Correlator::new(settings);
        let now = play(&mut correlator, &events, 0);
        let replayed = &events[pick.index(events.len())];
        let before = correlator.snapshot();
        let id = if fresh_id { events.len() as i64 + 1 } else { replayed.event_id };
        let produced = replayed.feed(&mut correlator, id, now);
        prop_assert!(produced.is_empty(), "replaying {:?} as {} gave {:#?}", replayed, id, produced);
        let mut after = correlator.snapshot();
        if fresh_id {
            prop_assert_eq!(after.last_event_id, Some(id));
            after.last_event_id = before.last_event_id;
        }
        prop_assert_eq!(after, before);
    }

    #[test]
    fn restoring_from_a_snapshot_mid_stream_changes_nothing(
        settings in arb_settings(),
        events in prop::collection::vec(arb_event(), 1..40),
        split in any::<Index>(),
    ) {
        let events = handled(events);
        let mut whole = Correlator::new(settings.clone());
        play(&mut whole, &events, 0);
        let split = split.index(events.len() + 1);
        let mut first = Correlator::new(settings.clone());
        let now = play(&mut first, &events[..split], 0);
        let json = serde_json::to_string(&first.snapshot()).unwrap();
        let mut restored = Correlator::restore(settings, serde_json::from_str(&json).unwrap());
        play(&mut restored, &events[split..], now);
        prop_assert_eq!(restored.snapshot(), whole.snapshot());
    }
}

#[test]
fn replaying_any_event_of_any_scenario_prefix_changes_nothing() {
    for (name, scenario) in support::load_all() {
        let mut driver = support::Driver::new(&name, scenario.settings.clone());
        for (index, step) in scenario.steps.iter().enumerate() {
            driver.step(index, step);
            let now = support::at_us(step);
            let before = driver.correlator.snapshot();
            for handled in &driver.handled {
                for id in [handled.event_id, driver.next_event_id] {
                    let mut correlator = driver.correlator.clone();
                    let produced = handled.feed(&mut correlator, id, now);
                    assert!(
                        produced.is_empty(),
                        "{name} after step {index}: replaying event {} as {id} gave {produced:#?}",
                        handled.event_id
                    );
                    let mut after = correlator.snapshot();
                    after.last_event_id = before.last_event_id;
                    assert_eq!(
                        after, before,
                        "{name} after step {index}: event {}",
                        handled.event_id
                    );
                }
            }
        }
    }
}
