//! The Mist webhook envelope: `{"topic": "...", "events": [{...}, ...]}`.
//!
//! [`parse_envelope`] is on the ingest hot path, so it reads the body once, never builds a
//! JSON tree, and hands back each event as a [`RawValue`] that borrows the body: the caller
//! stores the bytes exactly as Mist sent them and can compute where each event sits in the
//! body (see [`event_span`]).
//!
//! It also tells the two kinds of bad body apart, because they get different answers: a
//! body that is not JSON at all is HTTP 400 (`malformed_json`), JSON that is not an envelope
//! is HTTP 422 (`invalid_envelope`). A syntax error anywhere in the body wins over a shape
//! problem found before it, since the whole body is scanned before any shape is judged.

use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, IgnoredAny};
use serde_json::value::RawValue;

use crate::topic::Topic;

mod scan;

/// A parsed envelope whose events still borrow the request body.
///
/// Each event's text is a slice of the body, so `event.get().as_ptr() as usize -
/// body.as_ptr() as usize` is its byte offset in the body; [`event_span`] does that
/// arithmetic safely.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    /// The envelope's `topic`, in any spelling Mist used.
    pub topic: Topic,
    /// Every element of `events`, each a JSON object, exactly as sent. May be empty.
    pub events: Vec<&'a RawValue>,
}

/// Why a body is not a Mist envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not JSON at all (HTTP 400).
    #[error("malformed JSON at line {line} column {column}: {message}")]
    Syntax {
        /// 1-based line of the first byte that is not JSON.
        line: usize,
        /// Column of that byte on its line, counted in bytes as serde_json does.
        column: usize,
        /// What is wrong there, without the position.
        message: String,
    },
    /// Valid JSON that is not a Mist envelope (HTTP 422).
    #[error("not a Mist envelope: {detail}")]
    Shape {
        /// What is wrong and where, e.g. `events[3] is a string, expected an object`.
        detail: String,
    },
}

impl EnvelopeError {
    /// The machine-readable error code for API answers: `malformed_json` or
    /// `invalid_envelope`.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Syntax { .. } => "malformed_json",
            EnvelopeError::Shape { .. } => "invalid_envelope",
        }
    }

    /// The HTTP status this error deserves: 400 for syntax, 422 for shape.
    pub fn http_status(&self) -> u16 {
        match self {
            EnvelopeError::Syntax { .. } => 400,
            EnvelopeError::Shape { .. } => 422,
        }
    }

    fn shape(detail: impl Into<String>) -> Self {
        EnvelopeError::Shape {
            detail: detail.into(),
        }
    }
}

/// Splits a webhook body into its topic and events.
///
/// The top level must be an object with `topic`, a non-empty string, and `events`, an array
/// whose every element is an object. Other top-level keys are allowed and ignored. An empty
/// `events` array is a valid envelope with no events.
///
/// ```
/// let body = br#"{"topic": "audits", "events": [{"id": "a"}, {"id": "b"}]}"#;
/// let envelope = mist::parse_envelope(body).unwrap();
/// assert_eq!(envelope.topic, mist::Topic::Audits);
/// assert_eq!(envelope.events[1].get(), r#"{"id": "b"}"#);
///
/// let err = mist::parse_envelope(br#"{"topic": "audits", "events": {}}"#).unwrap_err();
/// assert_eq!(err.code(), "invalid_envelope");
/// ```
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let text = as_utf8(body)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let scan = de
        .deserialize_any(scan::TopLevelVisitor)
        .and_then(|scan| de.end().map(|()| scan))
        .map_err(|err| from_json_error(err, text))?;
    scan.into_envelope()
}

/// Builds envelope bytes around bare events, keeping each event's bytes verbatim.
///
/// `bare` is one event object or an array of event objects, as found in documentation
/// and in captures that show only the events. The result is
/// `{"topic":"<canonical topic>","events":[...]}` and parses with [`parse_envelope`].
///
/// ```
/// let body = mist::wrap_events(&mist::Topic::Zone, br#"{"trigger": "exit"}"#).unwrap();
/// assert_eq!(body, br#"{"topic":"zone","events":[{"trigger": "exit"}]}"#);
/// ```
pub fn wrap_events(topic: &Topic, bare: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let text = as_utf8(bare)?;
    let whole: &RawValue = serde_json::from_str(text).map_err(|err| from_json_error(err, text))?;
    let events: Vec<&RawValue> = match Kind::of(whole) {
        Kind::Object => vec![whole],
        Kind::Array => {
            let items: Vec<&RawValue> =
                serde_json::from_str(whole.get()).map_err(|err| from_json_error(err, text))?;
            if let Some((index, kind)) = first_non_object(&items) {
                return Err(EnvelopeError::shape(element_detail(index, kind)));
            }
            items
        }
        kind => {
            return Err(EnvelopeError::shape(format!(
                "expected an event object or an array of event objects, found {kind}"
            )));
        }
    };

    Ok(write_envelope(
        topic.as_str(),
        events.iter().map(|e| e.get()),
    ))
}

/// Writes the Mist envelope `{"topic":"<topic>","events":[<event>,...]}`, each event
/// copied byte for byte (whitespace and key order included), so a receiver sees it as
/// Mist or the original sender wrote it.
///
/// `topic` is written as a JSON string (escaped as JSON requires); it is usually a
/// [`Topic::as_str`], or the spelling a simulated sender uses on the wire. The events
/// must each be a JSON value for the result to parse; they are not checked here.
///
/// ```
/// let body = mist::write_envelope("alarms", [r#"{"id": 1}"#, r#"{"id":2}"#]);
/// assert_eq!(body, br#"{"topic":"alarms","events":[{"id": 1},{"id":2}]}"#);
/// ```
pub fn write_envelope<I>(topic: &str, events: I) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let events = events.into_iter();
    let mut out = Vec::with_capacity(topic.len() + 32 + 64 * events.size_hint().0);
    out.extend_from_slice(b"{\"topic\":");
    // Writing a &str into a Vec cannot fail; serde_json escapes it as JSON requires.
    let _ = serde_json::to_writer(&mut out, topic);
    out.extend_from_slice(b",\"events\":[");
    for (i, event) in events.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(event.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

/// Where `event` lies inside `body`, as a byte range, if it borrows from `body`.
///
/// Events returned by [`parse_envelope`] always do; for any other value this is `None`.
///
/// ```
/// let body = br#"{"topic":"ping","events":[{"id":"x"}]}"#;
/// let envelope = mist::parse_envelope(body).unwrap();
/// let span = mist::envelope::event_span(body, envelope.events[0]).unwrap();
/// assert_eq!(&body[span], br#"{"id":"x"}"#);
/// ```
pub fn event_span(body: &[u8], event: &RawValue) -> Option<Range<usize>> {
    let start = (event.get().as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(event.get().len())?;
    (end <= body.len()).then_some(start..end)
}

/// What kind of JSON value a raw value is, judged by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    fn of(raw: &RawValue) -> Kind {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
        })
    }
}

fn first_non_object(items: &[&RawValue]) -> Option<(usize, Kind)> {
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| (i, Kind::of(raw)))
        .find(|(_, kind)| *kind != Kind::Object)
}

fn element_detail(index: usize, kind: Kind) -> String {
    format!("events[{index}] is {kind}, expected an object")
}

fn as_utf8(body: &[u8]) -> Result<&str, EnvelopeError> {
    std::str::from_utf8(body).map_err(|err| {
        let valid = &body[..err.valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        EnvelopeError::Syntax {
            line,
            column: valid.len() - line_start + 1,
            message: format!("invalid UTF-8 at byte {}", err.valid_up_to()),
        }
    })
}

/// Turns a serde_json failure into the right kind of [`EnvelopeError`].
///
/// The scanner itself only fails on syntax, but a data error is handled defensively: the
/// body is checked again for syntax alone, and only a syntactically valid body counts as a
/// shape problem.
fn from_json_error(err: serde_json::Error, text: &str) -> EnvelopeError {
    if err.is_data() {
        return match serde_json::from_str::<IgnoredAny>(text) {
            Err(syntax) if !syntax.is_data() => syntax_error(syntax),
            _ => EnvelopeError::shape(err.to_string()),
        };
    }
    syntax_error(err)
}

fn syntax_error(err: serde_json::Error) -> EnvelopeError {
    let (line, column) = (err.line(), err.column());
    let full = err.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    EnvelopeError::Syntax {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::arb_json;
    use proptest::prelude::*;

    fn shape(body: &str) -> String {
        match parse_envelope(body.as_bytes()) {
            Err(EnvelopeError::Shape { detail }) => detail,
            other => panic!("expected a shape error for {body}, got {other:?}"),
        }
    }

    #[test]
    fn parses_events_borrowing_the_body() {
        let body = br#"{"topic":"device_events", "x": 1, "events":[ {"a":1} ,{"b":[2]}]}"#;
        let envelope = parse_envelope(body).unwrap();
        assert_eq!(envelope.topic, Topic::DeviceEvents);
        assert_eq!(envelope.events.len(), 2);
        assert_eq!(envelope.events[0].get(), r#"{"a":1}"#);
        assert_eq!(envelope.events[1].get(), r#"{"b":[2]}"#);
        for event in &envelope.events {
            let offset = event.get().as_ptr() as usize - body.as_ptr() as usize;
            let span = event_span(body, event).unwrap();
            assert_eq!(span.start, offset);
            assert_eq!(&body[span], event.get().as_bytes());
        }
    }

    #[test]
    fn empty_events_is_a_valid_envelope() {
        let envelope = parse_envelope(br#"{"topic":"ping","events":[]}"#).unwrap();
        assert_eq!(envelope.topic, Topic::Ping);
        assert!(envelope.events.is_empty());
    }

    #[test]
    fn not_json_reports_line_and_column() {
        let err = parse_envelope(b"{\n  \"topic\": \"alarms\",\n  \"events\": [}\n").unwrap_err();
        match &err {
            EnvelopeError::Syntax {
                line,
                column,
                message,
            } => {
                assert_eq!((*line, *column), (3, 14));
                assert!(!message.contains("line"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.code(), "malformed_json");
        assert_eq!(err.http_status(), 400);
        assert!(matches!(
            parse_envelope(b"").unwrap_err(),
            EnvelopeError::Syntax { line: 1, .. }
        ));
        assert!(matches!(
            parse_envelope(br#"{"topic":"a","events":[]} x"#).unwrap_err(),
            EnvelopeError::Syntax { .. }
        ));
    }

    #[test]
    fn not_utf8_is_a_syntax_error() {
        let err = parse_envelope(b"{\"topic\":\n\"al\xffarms\"}").unwrap_err();
        assert_eq!(
            err,
            EnvelopeError::Syntax {
                line: 2,
                column: 4,
                message: "invalid UTF-8 at byte 13".into()
            }
        );
    }

    #[test]
    fn shape_errors_name_the_problem() {
        assert_eq!(
            shape(r#"[{"topic":"alarms"}]"#),
            "the body must be a JSON object with `topic` and `events`, found an array"
        );
        assert_eq!(
            shape(r#""alarms""#),
            "the body must be a JSON object with `topic` and `events`, found a string"
        );
        assert_eq!(shape(r#"{"events":[]}"#), "missing `topic`");
        assert_eq!(
            shape(r#"{"topic":7,"events":[]}"#),
            "`topic` must be a string, found a number"
        );
        assert_eq!(
            shape(r#"{"topic":" ","events":[]}"#),
            "`topic` must not be empty"
        );
        assert_eq!(shape(r#"{"topic":"alarms"}"#), "missing `events`");
        assert_eq!(
            shape(r#"{"topic":"alarms","events":{}}"#),
            "`events` must be an array, found an object"
        );
        assert_eq!(
            shape(r#"{"topic":"alarms","events":null}"#),
            "`events` must be an array, found null"
        );
        assert_eq!(
            shape(r#"{"topic":"alarms","events":[{},{},{},"x",1]}"#),
            "events[3] is a string, expected an object"
        );
        assert_eq!(
            shape(r#"{"topic":"a","topic":"b","events":[]}"#),
            "duplicate `topic`"
        );
        let err = parse_envelope(br#"{"events":[]}"#).unwrap_err();
        assert_eq!(err.code(), "invalid_envelope");
        assert_eq!(err.http_status(), 422);
    }

    #[test]
    fn a_later_syntax_error_wins_over_an_earlier_shape_error() {
        for body in [
            r#"{"topic": 5, "events": [1, 2, }"#,
            r#"{"events": "x", "topic": "alarms", oops}"#,
            r#"[1, 2, 3"#,
            r#"{"topic":"alarms","events":[{},"x",{"a":]}"#,
        ] {
            assert!(
                matches!(
                    parse_envelope(body.as_bytes()),
                    Err(EnvelopeError::Syntax { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn escaped_topic_names_are_decoded() {
        let envelope = parse_envelope(br#"{"topic":"device\u002devents","events":[]}"#).unwrap();
        assert_eq!(envelope.topic, Topic::DeviceEvents);
    }

    #[test]
    fn write_envelope_keeps_event_bytes_and_escapes_the_topic() {
        let raws = [
            r#"{ "b": 1,  "a": [1, 2.50, "x"] }"#,
            r#"{"unicode":"caf\u00e9 ☕","n":1e3}"#,
            r#"{}"#,
        ];
        let body = write_envelope("made \"up\"", raws);
        let envelope = parse_envelope(&body).unwrap();
        assert_eq!(envelope.topic, Topic::parse("made \"up\""));
        let got: Vec<&str> = envelope.events.iter().map(|e| e.get()).collect();
        assert_eq!(got, raws);
        assert_eq!(
            write_envelope("zone", [""; 0]),
            br#"{"topic":"zone","events":[]}"#
        );
    }

    #[test]
    fn wrap_events_keeps_event_bytes() {
        let body = wrap_events(&Topic::NacEvents, b" [ {\"a\": 1},\n{\"b\" : 2} ] ").unwrap();
        assert_eq!(
            body,
            b"{\"topic\":\"nac-events\",\"events\":[{\"a\": 1},{\"b\" : 2}]}"
        );
        let envelope = parse_envelope(&body).unwrap();
        assert_eq!(envelope.topic, Topic::NacEvents);
        assert_eq!(envelope.events.len(), 2);

        let odd = Topic::Other("we\"ird".into());
        let body = wrap_events(&odd, b"{}").unwrap();
        assert_eq!(
            parse_envelope(&body).unwrap().topic,
            Topic::parse("we\"ird")
        );
    }

    #[test]
    fn wrap_events_rejects_what_is_not_events() {
        assert!(matches!(
            wrap_events(&Topic::Zone, b"{"),
            Err(EnvelopeError::Syntax { .. })
        ));
        assert_eq!(
            wrap_events(&Topic::Zone, b"[{}, 3]").unwrap_err(),
            EnvelopeError::Shape {
                detail: "events[1] is a number, expected an object".into()
            }
        );
        assert!(matches!(
            wrap_events(&Topic::Zone, b"\"x\""),
            Err(EnvelopeError::Shape { .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_envelope(&bytes);
            let _ = wrap_events(&Topic::Alarms, &bytes);
        }

        #[test]
        fn never_panics_on_arbitrary_json(value in arb_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            let result = parse_envelope(&body);
            let is_syntax_error = matches!(result, Err(EnvelopeError::Syntax { .. }));
            prop_assert!(!is_syntax_error);
        }

        #[test]
        fn envelopes_of_arbitrary_objects_parse(events in proptest::collection::vec(arb_json(), 0..5)) {
            let events: Vec<serde_json::Value> = events
                .into_iter()
                .map(|v| serde_json::json!({ "payload": v }))
                .collect();
            let body = serde_json::to_vec(&serde_json::json!({"topic": "zone", "events": events})).unwrap();
            let envelope = parse_envelope(&body).unwrap();
            prop_assert_eq!(envelope.events.len(), events.len());
            for (raw, value) in envelope.events.iter().zip(&events) {
                let parsed: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
                prop_assert_eq!(&parsed, value);
            }
        }
    }
}
