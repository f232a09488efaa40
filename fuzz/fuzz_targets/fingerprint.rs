//! Fingerprints: any bytes as an event's text, under a topic picked by the first byte.
//!
//! Asserts, for text that is a JSON value: reordered keys and changed spacing give the same
//! fingerprint; so does re-serialising the parsed value and adding or changing a delivery
//! field (`for_site`) of an object; changing the topic gives another. For any text:
//! `fingerprint_text` ignores spacing between tokens (and only that: removing it first
//! gives the same fingerprint) and never meets `fingerprint` of a value.

#![no_main]

use fuzz_support::{Cursor, respace, respell, without_spacing};
use libfuzzer_sys::fuzz_target;
use mist::{Topic, fingerprint, fingerprint_text};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let n = Topic::KNOWN.len();
    let at = usize::from(input.byte()) % n;
    // Another topic: 1..n-1 places further round the list.
    let other_at = (at + 1 + usize::from(input.byte()) % (n - 1)) % n;
    let (topic, other) = (&Topic::KNOWN[at], &Topic::KNOWN[other_at]);
    let text = String::from_utf8_lossy(input.rest());
    let noise = text.as_bytes();

    let by_text = fingerprint_text(topic, &text);
    assert_eq!(
        fingerprint_text(topic, &respace(&text, noise)),
        by_text,
        "spacing changed fingerprint_text"
    );
    assert_eq!(fingerprint_text(topic, &without_spacing(&text)), by_text);
    assert_ne!(
        fingerprint_text(other, &text),
        by_text,
        "the topic is not in fingerprint_text"
    );

    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let fp = fingerprint(topic, &value);
    assert_ne!(fp, by_text, "fingerprint and fingerprint_text met");
    assert_ne!(
        fingerprint(other, &value),
        fp,
        "the topic is not in the fingerprint"
    );

    let respelled: Value =
        serde_json::from_str(&respell(&value, noise)).expect("re-spelled JSON parses");
    assert_eq!(
        fingerprint(topic, &respelled),
        fp,
        "key order or spacing changed the fingerprint"
    );
    let reserialised: Value =
        serde_json::from_str(&value.to_string()).expect("serde_json output parses");
    assert_eq!(
        fingerprint(topic, &reserialised),
        fp,
        "re-serialising changed the fingerprint"
    );

    if let Value::Object(map) = &value {
        for for_site in [Value::Bool(true), Value::Bool(false), Value::Null] {
            let mut copy = map.clone();
            copy.insert("for_site".to_string(), for_site);
            assert_eq!(
                fingerprint(topic, &Value::Object(copy)),
                fp,
                "for_site is part of the fingerprint"
            );
        }
        let mut changed = map.clone();
        let old = changed.insert("\u{0}fuzz".to_string(), Value::Bool(true));
        if old != Some(Value::Bool(true)) {
            let fp_changed = fingerprint(topic, &Value::Object(changed));
            assert_ne!(fp_changed, fp, "an added field did not count");
        }
    }
});
