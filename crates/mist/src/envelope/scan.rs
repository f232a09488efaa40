//! The single pass over a body: records what the top level, `topic` and `events` are
//! without ever failing on shape, so that serde_json checks the syntax of the whole body
//! before [`Scan::into_envelope`] judges its shape.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Envelope, EnvelopeError, Kind, element_detail};
use crate::topic::Topic;

/// What one pass over the body found, judged only after the whole body proved to be JSON.
pub(super) enum Scan<'a> {
    NotObject(Kind),
    Object(ObjectScan<'a>),
}

#[derive(Default)]
pub(super) struct ObjectScan<'a> {
    topic: Option<&'a RawValue>,
    events: Option<EventsScan<'a>>,
    duplicate: Option<&'static str>,
}

pub(super) enum EventsScan<'a> {
    NotArray(Kind),
    Array {
        items: Vec<&'a RawValue>,
        first_bad: Option<(usize, Kind)>,
    },
}

impl<'a> Scan<'a> {
    pub(super) fn into_envelope(self) -> Result<Envelope<'a>, EnvelopeError> {
        let scan = match self {
            Scan::Object(scan) => scan,
            Scan::NotObject(kind) => {
                return Err(EnvelopeError::shape(format!(
                    "the body must be a JSON object with `topic` and `events`, found {kind}"
                )));
            }
        };
        if let Some(key) = scan.duplicate {
            return Err(EnvelopeError::shape(format!("duplicate `{key}`")));
        }
        let topic = match scan.topic {
            None => return Err(EnvelopeError::shape("missing `topic`")),
            Some(raw) => topic_from_raw(raw)?,
        };
        let events = match scan.events {
            None => return Err(EnvelopeError::shape("missing `events`")),
            Some(EventsScan::NotArray(kind)) => {
                return Err(EnvelopeError::shape(format!(
                    "`events` must be an array, found {kind}"
                )));
            }
            Some(EventsScan::Array {
                first_bad: Some((index, kind)),
                ..
            }) => return Err(EnvelopeError::shape(element_detail(index, kind))),
            Some(EventsScan::Array { items, .. }) => items,
        };
        Ok(Envelope { topic, events })
    }
}

fn topic_from_raw(raw: &RawValue) -> Result<Topic, EnvelopeError> {
    let kind = Kind::of(raw);
    if kind != Kind::String {
        return Err(EnvelopeError::shape(format!(
            "`topic` must be a string, found {kind}"
        )));
    }
    let name: String = serde_json::from_str(raw.get())
        .map_err(|_| EnvelopeError::shape("`topic` must be a string"))?;
    if name.trim().is_empty() {
        return Err(EnvelopeError::shape("`topic` must not be empty"));
    }
    Ok(Topic::parse(&name))
}

/// Visits the top-level value. Never fails on shape: it records what it found and lets
/// serde_json go on checking the syntax of the rest of the body.
pub(super) struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = Scan<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scan<'de>, A::Error> {
        let mut scan = ObjectScan::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Topic => {
                    let raw: &'de RawValue = map.next_value()?;
                    if scan.topic.replace(raw).is_some() {
                        scan.duplicate.get_or_insert("topic");
                    }
                }
                Key::Events => {
                    let events = map.next_value_seed(EventsSeed)?;
                    if scan.events.replace(events).is_some() {
                        scan.duplicate.get_or_insert("events");
                    }
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Scan::Object(scan))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scan<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scan::NotObject(Kind::Array))
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::String))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::Bool))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::Number))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::Number))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::Number))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Scan<'de>, E> {
        Ok(Scan::NotObject(Kind::Null))
    }
}

enum Key {
    Topic,
    Events,
    Other,
}

/// Reads an object key without allocating.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "topic" => Key::Topic,
            "events" => Key::Events,
            _ => Key::Other,
        })
    }
}

/// Reads the value of `events`, whatever it is, recording each element as raw text.
struct EventsSeed;

impl<'de> DeserializeSeed<'de> for EventsSeed {
    type Value = EventsScan<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed {
    type Value = EventsScan<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        let mut first_bad = None;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let kind = Kind::of(raw);
            if kind != Kind::Object && first_bad.is_none() {
                first_bad = Some((items.len(), kind));
            }
            items.push(raw);
        }
        Ok(EventsScan::Array { items, first_bad })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(EventsScan::NotArray(Kind::Object))
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::String))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::Bool))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::Number))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::Number))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::Number))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(EventsScan::NotArray(Kind::Null))
    }
}
