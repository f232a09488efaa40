//! Normalisation: times, MACs, topics and whole events, from any bytes.
//!
//! The bytes are read twice: as one string (a MAC, a topic name, a time string), and, when
//! they are JSON, as events (the events of an envelope under its topic, any other value
//! under every known topic).
//!
//! Asserts: `normalize_mac` is idempotent, gives 12 lowercase letters or digits, and ignores
//! case and separators; `Topic::parse` of its own `as_str()` round-trips and ignores case,
//! `_`/`-` and surrounding spaces, and serde reads a topic the same way; a time value parses
//! to the same result twice, within the documented range, and a number parses as its own
//! text does; `normalize(event)` is stable: the same twice, and the same for the event's
//! bytes re-spelled (keys reordered, spacing changed); every normalised field is in normal
//! form (the MAC normalised, the time re-readable from its raw value, ids not blank).

#![no_main]

use fuzz_support::respell;
use libfuzzer_sys::fuzz_target;
use mist::{Normalized, Topic, normalize, normalize_mac, parse_time_value};
use serde_json::Value;

/// 9999-12-31T23:59:59.999999Z: no accepted time is later (see `mist::time`).
const MAX_MICROS: i64 = 253_402_300_799_999_999;
/// Leaves of one input whose times are checked; enough for any Mist event.
const MAX_LEAVES: usize = 512;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_mac(&text);
    check_topic(&text);
    check_time(&Value::String(text.to_string()));

    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut leaves = 0;
    for_each_leaf(&value, &mut |leaf| {
        leaves += 1;
        if leaves <= MAX_LEAVES {
            check_time(leaf);
        }
    });
    match envelope(&value) {
        Some((topic, events)) => {
            for event in events {
                check_event(&topic, event, data);
            }
        }
        None => {
            for topic in Topic::KNOWN {
                check_event(topic, &value, data);
            }
        }
    }
});

fn check_mac(s: &str) {
    let mac = normalize_mac(s);
    assert_eq!(
        normalize_mac(&s.to_ascii_uppercase()),
        mac,
        "case changed {s:?}"
    );
    let Some(mac) = mac else { return };
    assert!(
        mac.len() == 12
            && mac
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "not in normal form: {mac:?}"
    );
    assert_eq!(normalize_mac(&mac).as_ref(), Some(&mac), "not idempotent");
    let pairs: Vec<&str> = (0..6).map(|i| &mac[2 * i..2 * i + 2]).collect();
    for sep in [":", "-", " "] {
        assert_eq!(normalize_mac(&pairs.join(sep)).as_ref(), Some(&mac));
    }
    let cisco = format!("{}.{}.{}", &mac[..4], &mac[4..8], &mac[8..]);
    assert_eq!(normalize_mac(&cisco).as_ref(), Some(&mac));
}

fn check_topic(s: &str) {
    let topic = Topic::parse(s);
    assert_eq!(
        Topic::parse(topic.as_str()),
        topic,
        "canonical name does not round-trip"
    );
    assert_eq!(topic.to_string(), topic.as_str());
    assert_eq!(Topic::parse(&s.to_ascii_uppercase()), topic);
    assert_eq!(Topic::parse(&s.replace('-', "_")), topic);
    assert_eq!(Topic::parse(&format!(" {s}\t")), topic);
    assert_eq!(
        serde_json::from_value::<Topic>(Value::String(s.to_string())).ok(),
        Some(topic.clone())
    );
    assert_eq!(topic.is_known(), Topic::KNOWN.contains(&topic));
}

fn check_time(value: &Value) {
    let parsed = parse_time_value(value);
    assert_eq!(
        parse_time_value(value),
        parsed,
        "not a function of the value"
    );
    if let Some((micros, _)) = parsed {
        assert!(
            micros > 0 && micros <= MAX_MICROS,
            "{value} gave {micros} µs, out of range"
        );
    }
    match value {
        Value::Number(n) => {
            // A number is read as the shortest decimal that is the same f64 (`mist::time`),
            // and a numeric string as the decimal it spells, so the two agree. When two
            // decimals are equally short and equally near, serde_json (ryu) and std print
            // different ones: 99991749998077.62 and .63 ms are one f64 (an input this target
            // found), so the text compared is std's, the one `mist::time` reads.
            let text = match n.as_f64() {
                Some(f) if !n.is_u64() && !n.is_i64() => f.to_string(),
                _ => n.to_string(),
            };
            let as_text = Value::String(text.clone());
            assert_eq!(
                parse_time_value(&as_text),
                parsed,
                "{n} and \"{text}\" differ"
            );
        }
        Value::String(s) => {
            let padded = Value::String(format!(" {s} "));
            assert_eq!(
                parse_time_value(&padded),
                parsed,
                "spaces around {s:?} matter"
            );
        }
        _ => {}
    }
}

fn check_event(topic: &Topic, event: &Value, noise: &[u8]) {
    let n = normalize(topic, event);
    assert_eq!(normalize(topic, event), n, "normalize is not a function");
    let respelled: Value =
        serde_json::from_str(&respell(event, noise)).expect("a re-spelled value parses");
    assert_eq!(
        normalize(topic, &respelled),
        n,
        "normalize changed with the spelling of the event"
    );
    check_normal_form(&n);
}

fn check_normal_form(n: &Normalized) {
    if let Some(mac) = &n.mac {
        assert_eq!(normalize_mac(mac).as_ref(), Some(mac), "MAC not normalised");
    }
    if let Some(time) = &n.time {
        assert_eq!(
            parse_time_value(&time.raw),
            Some((time.unix_micros, time.unit)),
            "time not re-readable from its raw value"
        );
        let _ = time.to_offset_date_time();
    }
    for id in [&n.org_id, &n.site_id, &n.event_type].into_iter().flatten() {
        assert!(!id.trim().is_empty(), "blank field kept");
    }
}

/// The topic and the events, when `value` is shaped like an envelope.
fn envelope(value: &Value) -> Option<(Topic, &Vec<Value>)> {
    let topic = value.get("topic")?.as_str()?;
    let events = value.get("events")?.as_array()?;
    Some((Topic::parse(topic), events))
}

fn for_each_leaf(value: &Value, f: &mut dyn FnMut(&Value)) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| for_each_leaf(v, f)),
        Value::Object(map) => map.values().for_each(|v| for_each_leaf(v, f)),
        leaf => f(leaf),
    }
}
