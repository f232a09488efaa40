//! Envelope parse and split: any bytes as a webhook body.
//!
//! Asserts: `split` fails exactly when `parse_envelope` fails, and then with the same
//! error; invalid JSON is always a syntax error (400); split never loses an event (one per
//! envelope element, in order); each event's bytes are a slice of the body (`&body[span]`
//! is the event's raw text, at the same address); spans are in order and disjoint;
//! splitting is a function of the body; a readable event's fingerprint and normalised
//! fields are those of its parsed value; an unreadable one is fingerprinted from its text.
//! Bare events wrapped with `wrap_events` parse back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mist::{EnvelopeError, Topic, fingerprint, fingerprint_text, normalize};
use serde_json::Value;
use serde_json::value::RawValue;

fuzz_target!(|body: &[u8]| {
    let envelope = mist::parse_envelope(body);
    let split = mist::split(body);
    let valid_json =
        std::str::from_utf8(body).is_ok_and(|text| serde_json::from_str::<&RawValue>(text).is_ok());

    let (envelope, split) = match (envelope, split) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "split and parse_envelope disagree on the error");
            if !valid_json {
                assert!(
                    matches!(a, EnvelopeError::Syntax { .. }),
                    "invalid JSON must be a syntax error, got {a}"
                );
            }
            assert_eq!(
                a.http_status(),
                if a.code() == "malformed_json" {
                    400
                } else {
                    422
                }
            );
            check_wrap(body);
            return;
        }
        (Ok(e), Ok(s)) => (e, s),
        (e, s) => panic!(
            "split fails iff parse_envelope fails: envelope ok = {}, split ok = {}",
            e.is_ok(),
            s.is_ok()
        ),
    };
    assert!(valid_json, "an accepted envelope is valid JSON");
    assert_eq!(split.topic, envelope.topic);
    assert_eq!(
        split.events.len(),
        envelope.events.len(),
        "split lost or invented an event"
    );

    let mut previous_end = 0;
    for (event, raw) in split.events.iter().zip(&envelope.events) {
        let span = event.span.clone();
        assert!(
            span.start >= previous_end && span.end <= body.len(),
            "span {span:?} out of order or bounds"
        );
        previous_end = span.end;
        assert_eq!(
            &body[span.clone()],
            raw.get().as_bytes(),
            "span is not the raw event"
        );
        assert_eq!(
            raw.get().as_ptr() as usize - body.as_ptr() as usize,
            span.start,
            "the raw event is not a slice of the body"
        );
        match serde_json::from_str::<Value>(raw.get()) {
            Ok(value) => {
                assert!(event.unreadable.is_none());
                assert_eq!(event.fingerprint, fingerprint(&split.topic, &value));
                assert_eq!(event.normalized, normalize(&split.topic, &value));
            }
            Err(_) => {
                assert!(event.unreadable.is_some());
                assert_eq!(event.fingerprint, fingerprint_text(&split.topic, raw.get()));
            }
        }
    }
    assert_eq!(
        mist::split(body).as_ref().ok(),
        Some(&split),
        "split is not a function of the body"
    );
});

/// A body that is not an envelope may be bare events: wrapping them must keep every event
/// byte for byte.
fn check_wrap(bare: &[u8]) {
    let topic = Topic::parse("alarms");
    let Ok(wrapped) = mist::wrap_events(&topic, bare) else {
        return;
    };
    let envelope = mist::parse_envelope(&wrapped).expect("wrapped events parse as an envelope");
    assert_eq!(envelope.topic, topic);
    let text = std::str::from_utf8(bare).expect("wrap_events accepted UTF-8 only");
    let whole: &RawValue = serde_json::from_str(text).expect("wrap_events accepted JSON only");
    let expected: Vec<&RawValue> = if whole.get().trim_start().starts_with('[') {
        serde_json::from_str(whole.get()).expect("an array of events")
    } else {
        vec![whole]
    };
    let got: Vec<&str> = envelope.events.iter().map(|e| e.get()).collect();
    let want: Vec<&str> = expected.iter().map(|e| e.get()).collect();
    assert_eq!(got, want, "wrapping changed the events");
}
