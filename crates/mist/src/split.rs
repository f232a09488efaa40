//! From a webhook body to the events a receiver stores: where each event lies in the body,
//! its normalised fields and its fingerprint.
//!
//! This is the whole of a receiver's work on a body, with no IO, so that every receiver
//! (the HTTP handler, a replay, a fuzz target) does it the same way.
//!
//! An event can be valid JSON and still not be readable as a [`Value`]: a number beyond
//! `f64` (`1e400`, a 400-digit integer), nesting deeper than serde_json's recursion limit,
//! a lone surrogate escape (`"\ud800"`). Such an event is still stored byte for byte; it is
//! fingerprinted from its text ([`fingerprint_text`]), never from a value that failed to
//! parse, and normalised from the top-level fields that do parse, so that its time, type,
//! site and MAC are known whenever they are readable.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::envelope::{EnvelopeError, event_span, parse_envelope};
use crate::fingerprint::{Fingerprint, fingerprint, fingerprint_text};
use crate::normalize::{Normalized, normalize};
use crate::topic::Topic;

/// A webhook body split into its events.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The envelope's topic.
    pub topic: Topic,
    /// The events in envelope order.
    pub events: Vec<SplitEvent>,
}

/// One event of a split body.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitEvent {
    /// Where the event's JSON lies in the body: `&body[span]` is the event exactly as sent.
    pub span: Range<usize>,
    /// The fields every stage filters on.
    pub normalized: Normalized,
    /// The duplicate-detection key.
    pub fingerprint: Fingerprint,
    /// Why the event could not be read as one JSON tree, when it could not (see the module
    /// documentation). `None` for every event Mist has ever been seen to send.
    pub unreadable: Option<String>,
}

/// Parses a webhook body and splits it into events.
///
/// Fails exactly when [`parse_envelope`] fails. Every event of the envelope yields one
/// [`SplitEvent`], in order, and each span is the event's bytes in `body`.
///
/// ```
/// let body = br#"{"topic":"alarms","events":[{"id":"a","timestamp":1749101162},{"id":"b","v":1e400}]}"#;
/// let split = mist::split(body).unwrap();
/// assert_eq!(split.events.len(), 2);
/// assert_eq!(&body[split.events[0].span.clone()], br#"{"id":"a","timestamp":1749101162}"#);
/// assert!(split.events[0].unreadable.is_none());
/// assert!(split.events[1].unreadable.is_some());
/// assert_ne!(split.events[0].fingerprint, split.events[1].fingerprint);
/// ```
pub fn split(body: &[u8]) -> Result<Split, EnvelopeError> {
    let envelope = parse_envelope(body)?;
    let events = envelope
        .events
        .iter()
        .map(|raw| {
            // parse_envelope hands out slices of `body`, so the span always exists; the
            // fallback keeps this total without trusting that.
            let span = event_span(body, raw).unwrap_or(0..0);
            split_event(&envelope.topic, raw.get(), span)
        })
        .collect();
    Ok(Split {
        topic: envelope.topic,
        events,
    })
}

fn split_event(topic: &Topic, text: &str, span: Range<usize>) -> SplitEvent {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => SplitEvent {
            span,
            normalized: normalize(topic, &value),
            fingerprint: fingerprint(topic, &value),
            unreadable: None,
        },
        Err(e) => SplitEvent {
            span,
            normalized: normalize(topic, &readable_fields(text)),
            fingerprint: fingerprint_text(topic, text),
            unreadable: Some(e.to_string()),
        },
    }
}

/// The top-level fields of an event object that parse on their own, as an object; `null`
/// when not even the top level can be read.
fn readable_fields(text: &str) -> Value {
    let Ok(members) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Value::Null;
    };
    let fields: Map<String, Value> = members
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_str(v.get()).ok().map(|v| (k, v)))
        .collect();
    Value::Object(fields)
}

#[cfg(test)]
mod tests;
