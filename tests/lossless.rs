//! A 200 is a promise: every event it acknowledges is stored and readable. Events that
//! are valid JSON but not readable as a value (numbers beyond f64, deep nesting, lone
//! surrogates) included, as a property over generated events; and a zero duplicate
//! window stores every copy.

mod support;

use proptest::prelude::*;
use serde_json::Value;
use support::Server;

/// JSON values that are valid JSON but cannot be read as a `serde_json::Value`: beyond
/// f64, a 400-digit integer, a lone surrogate, nesting past serde_json's limit of 128.
fn unreadable_values() -> Vec<String> {
    vec![
        "1e400".to_string(),
        "9".repeat(400),
        r#""\ud800""#.to_string(),
        format!("{}{}", "[".repeat(300), "]".repeat(300)),
    ]
}

/// The `events` of a `/requests/{id}` answer, read from its text: the answer holds the
/// body verbatim, which a client parsing numbers as f64 (as this test's does) cannot read.
fn stored_event_ids(request_detail: &str) -> Vec<i64> {
    let at = request_detail
        .rfind(r#""events":["#)
        .expect("an events field")
        + 10;
    let list = &request_detail[at..at + request_detail[at..].find(']').expect("a list")];
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("an event id"))
        .collect()
}

#[tokio::test]
async fn events_that_are_json_but_not_values_are_each_stored() {
    let server = Server::start();
    let odd = unreadable_values();
    let mut last_event = 0;
    let mut stored = Vec::new();
    for (i, value) in odd.iter().enumerate() {
        for id in ["a", "b"] {
            // The defect: the second of these was answered `accepted: 0, duplicates: 1`
            // and never stored, because both were fingerprinted as `null`.
            let event = format!(
                r#"{{"id":"{id}{i}","type":"device_down","site_id":"s1","timestamp":1749998077,"v":{value}}}"#
            );
            let body = format!(r#"{{"topic":"alarms","events":[{event}]}}"#);
            let (status, answer) = server.ingest("default", body.clone(), &[]).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(
                (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
                (Some(1), Some(0)),
                "{event}"
            );
            stored.push((answer["request_id"].as_i64().unwrap(), body, event));
        }
    }
    // Each is readable, byte for byte, and normalised from the fields that parse.
    for (request_id, body, event) in &stored {
        let (status, _, text) = server
            .call("GET", &format!("/requests/{request_id}"), None)
            .await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(body.as_str()), "body not verbatim: {text}");
        let event_id = stored_event_ids(&text)[0];
        let (status, _, text) = server
            .call("GET", &format!("/events/{event_id}"), None)
            .await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(event.as_str()), "raw not verbatim: {text}");
        for normalised in [
            r#""type":"device_down""#,
            r#""site_id":"s1""#,
            r#""time":"2025-06-15T14:34:37.000000Z","time_source":"timestamp""#,
        ] {
            assert!(text.contains(normalised), "{normalised} missing: {text}");
        }
        last_event = event_id;
    }
    // The same event again is still a duplicate, and the stages read past them all.
    let (_, _, again) = stored[0].clone();
    let (status, answer) = server
        .ingest(
            "default",
            format!(r#"{{"topic":"alarms","events":[{again}]}}"#),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["duplicates"], 1, "{answer}");
    // The correlation stage reads alarms: it got past every one of them.
    server.correlated_up_to(last_event).await;
}

#[tokio::test]
async fn a_zero_dedup_window_turns_duplicate_detection_off() {
    let server = Server::start_with(Some(
        "[[sources]]\nname = \"default\"\n[ingest]\ndedup_window = \"0s\"\n",
    ));
    let event = r#"{"id":"same","type":"device_down","timestamp":1749998077}"#;
    let body = format!(r#"{{"topic":"alarms","events":[{event},{event}]}}"#);
    for _ in 0..2 {
        let (status, answer) = server.ingest("default", body.clone(), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(
            (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
            (Some(2), Some(0)),
            "{answer}"
        );
    }
    assert_eq!(server.all_events("&topic=alarms").await.len(), 4);
    assert_eq!(server.stats().await["totals"]["duplicates"], 0);
}

/// Values for generated events: readable ones, and unreadable ones that differ from each
/// other in a digit, a sign or a level of nesting, so that two generated events are often
/// "nearly" the same.
fn value_texts() -> Vec<String> {
    let mut v: Vec<String> = ["null", "1", "1.5", r#""a""#, "[]", "{}", "true"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(["1e400", "1e401", "-1e400", r#""\ud800""#, r#""\udc00""#].map(String::from));
    v.extend([
        "9".repeat(400),
        "8".repeat(400),
        format!("{}{}", "[".repeat(129), "]".repeat(129)),
        format!("{}{}", "[".repeat(130), "]".repeat(130)),
    ]);
    v
}

/// An event object's text with up to three of the keys `id`, `v`, `w`.
fn arb_event_text() -> impl Strategy<Value = String> {
    let values = proptest::sample::select(value_texts());
    proptest::collection::btree_map(
        proptest::sample::select(vec!["id", "v", "w"]),
        values,
        0..=3,
    )
    .prop_map(|fields| {
        let members: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!(r#""{k}":{v}"#))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// Whether two event texts are the same event: equal values when both are readable,
/// equal texts otherwise (the generator writes no spacing).
fn same_event(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn any_two_different_accepted_events_are_both_stored() {
    let server = Server::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let case = std::cell::Cell::new(0u64);
    let config = ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    };
    proptest!(config, |(a in arb_event_text(), b in arb_event_text())| {
        prop_assume!(!same_event(&a, &b));
        case.set(case.get() + 1);
        let n = case.get();
        // The case number keeps cases apart; within a case, the events differ only in
        // what was generated.
        let tag = |e: &str| {
            let rest = &e[1..];
            let sep = if rest == "}" { "" } else { "," };
            format!(r#"{{"case":{n}{sep}{rest}"#)
        };
        let (a, b) = (tag(&a), tag(&b));
        runtime.block_on(async {
            let mut ids = Vec::new();
            for event in [&a, &b] {
                let body = format!(r#"{{"topic":"alarms","events":[{event}]}}"#);
                let (status, answer) = server.ingest("default", body, &[]).await;
                prop_assert_eq!(status, 200, "{}", answer);
                prop_assert_eq!(&answer["accepted"], 1, "{} was not stored: {}", event, answer);
                let (_, _, request) = server.call("GET", &format!("/requests/{}", answer["request_id"]), None).await;
                ids.push(stored_event_ids(&request)[0]);
            }
            for (id, event) in ids.iter().zip([&a, &b]) {
                let (status, _, text) = server.call("GET", &format!("/events/{id}"), None).await;
                prop_assert_eq!(status, 200);
                prop_assert!(text.contains(event.as_str()), "{} not in {}", event, text);
            }
            Ok(())
        })?;
    });
}
