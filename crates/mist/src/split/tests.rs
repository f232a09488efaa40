use super::*;
use crate::test_support::arb_event;
use proptest::prelude::*;

/// JSON texts that are valid JSON but cannot be read as a `serde_json::Value`.
fn unreadable_values() -> Vec<String> {
    vec![
        "1e400".to_string(),
        "-1e400".to_string(),
        "9".repeat(400),
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        format!("{}1{}", "{\"a\":".repeat(140), "}".repeat(140)),
        r#""\ud800""#.to_string(),
        r#""x\udfffy""#.to_string(),
    ]
}

fn body_of(events: &[String]) -> String {
    format!(r#"{{"topic":"alarms","events":[{}]}}"#, events.join(","))
}

#[test]
fn readable_events_keep_the_value_fingerprint() {
    let body =
        br#"{"topic":"alarms","events":[{"id":"a","type":"device_down","timestamp":1749101162}]}"#;
    let split = split(body).unwrap();
    let value: Value = serde_json::from_slice(&body[split.events[0].span.clone()]).unwrap();
    assert_eq!(
        split.events[0].fingerprint,
        fingerprint(&Topic::Alarms, &value)
    );
    assert_eq!(split.events[0].unreadable, None);
    assert_eq!(
        split.events[0].normalized.event_type.as_deref(),
        Some("device_down")
    );
}

#[test]
fn unreadable_events_get_their_own_fingerprints() {
    // The defect: every such event used to get the fingerprint of `null`, so the second
    // one was answered as a duplicate of the first and never stored.
    let mut texts = Vec::new();
    for (i, odd) in unreadable_values().iter().enumerate() {
        for id in ["a", "b"] {
            texts.push(format!(r#"{{"id":"{id}{i}","v":{odd}}}"#));
        }
    }
    let body = body_of(&texts);
    let split = split(body.as_bytes()).unwrap();
    assert_eq!(split.events.len(), texts.len());
    let mut seen = std::collections::HashSet::new();
    for (event, text) in split.events.iter().zip(&texts) {
        assert_eq!(&body[event.span.clone()], text);
        assert!(event.unreadable.is_some(), "{text}");
        assert!(
            seen.insert(event.fingerprint),
            "two events share a fingerprint"
        );
        assert_ne!(event.fingerprint, fingerprint(&Topic::Alarms, &Value::Null));
    }
}

#[test]
fn unreadable_events_are_normalised_from_the_fields_that_parse() {
    let body = br#"{"topic":"alarms","events":[{"type":"device_down","site_id":"s1","aps":["5c5b350e55c8"],"timestamp":1749101162,"v":1e400}]}"#;
    let event = &split(body).unwrap().events[0];
    assert!(
        event
            .unreadable
            .as_deref()
            .unwrap()
            .contains("out of range")
    );
    let n = &event.normalized;
    assert_eq!(n.event_type.as_deref(), Some("device_down"));
    assert_eq!(n.site_id.as_deref(), Some("s1"));
    assert_eq!(n.mac.as_deref(), Some("5c5b350e55c8"));
    assert_eq!(n.time.as_ref().unwrap().unix_micros, 1_749_101_162_000_000);
}

#[test]
fn a_lone_surrogate_in_a_key_leaves_nothing_to_normalise_but_loses_nothing() {
    let body = br#"{"topic":"alarms","events":[{"\ud800":1,"type":"x"},{"\ud800":2,"type":"x"}]}"#;
    let split = split(body).unwrap();
    assert_eq!(split.events.len(), 2);
    assert_eq!(split.events[0].normalized, Normalized::default());
    assert_ne!(split.events[0].fingerprint, split.events[1].fingerprint);
}

#[test]
fn spacing_does_not_make_an_unreadable_event_new() {
    let a = split(br#"{"topic":"alarms","events":[{"id":"a","v":1e400}]}"#).unwrap();
    let b = split(b"{\"topic\":\"alarms\",\"events\":[ {\n \"id\" : \"a\",\t\"v\": 1e400 } ]}")
        .unwrap();
    assert_eq!(a.events[0].fingerprint, b.events[0].fingerprint);
    // Spaces inside strings are content.
    let c = split(br#"{"topic":"alarms","events":[{"id":"a ","v":1e400}]}"#).unwrap();
    assert_ne!(a.events[0].fingerprint, c.events[0].fingerprint);
    // The topic is part of it, as for readable events.
    let d = split(br#"{"topic":"audits","events":[{"id":"a","v":1e400}]}"#).unwrap();
    assert_ne!(a.events[0].fingerprint, d.events[0].fingerprint);
}

/// The text without whitespace between tokens (the test's own oracle).
fn without_spacing(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c.is_ascii_whitespace() {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

/// An event text: a generated object, sometimes with an unreadable value spliced in.
fn arb_event_text() -> impl Strategy<Value = String> {
    let odd = proptest::sample::select(unreadable_values());
    (arb_event(), proptest::option::of(odd), any::<bool>()).prop_map(|(event, odd, pretty)| {
        let text = if pretty {
            serde_json::to_string_pretty(&event).unwrap()
        } else {
            event.to_string()
        };
        match odd {
            Some(odd) if text.len() > 2 => format!("{{\"odd\":{odd},{}", &text[1..]),
            Some(odd) => format!("{{\"odd\":{odd}}}"),
            None => text,
        }
    })
}

proptest! {
    /// Split never loses an event, each event's bytes are a slice of the body, and
    /// splitting is a function of the body.
    #[test]
    fn split_keeps_every_event_verbatim(texts in proptest::collection::vec(arb_event_text(), 0..8)) {
        let body = body_of(&texts);
        let first = split(body.as_bytes()).unwrap();
        prop_assert_eq!(first.events.len(), texts.len());
        for (event, text) in first.events.iter().zip(&texts) {
            prop_assert_eq!(&body[event.span.clone()], text.as_str());
        }
        prop_assert_eq!(split(body.as_bytes()).unwrap(), first);
    }

    /// Two events that are different JSON never share a fingerprint, readable or not.
    #[test]
    fn different_events_have_different_fingerprints(
        a in arb_event_text(),
        b in arb_event_text(),
    ) {
        let split = split(body_of(&[a.clone(), b.clone()]).as_bytes()).unwrap();
        let same = match (serde_json::from_str::<Value>(&a), serde_json::from_str::<Value>(&b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => without_spacing(&a) == without_spacing(&b),
        };
        prop_assert_eq!(split.events[0].fingerprint == split.events[1].fingerprint, same);
    }
}
