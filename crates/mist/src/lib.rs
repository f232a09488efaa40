//! The Juniper Mist webhook vocabulary, with no IO.
//!
//! Mist pushes events as HTTP POSTs whose body is `{"topic": ..., "events": [...]}`, signed
//! with HMAC over the raw body. This crate holds everything a receiver needs to understand
//! such a request, as plain functions over bytes and JSON values:
//!
//! - [`Topic`]: every Mist webhook topic, whatever spelling Mist or a user used;
//! - [`parse_envelope`]: split a body into its events without copying them, telling a body
//!   that is not JSON (HTTP 400) from JSON that is not an envelope (HTTP 422);
//! - [`verify_v2`] / [`verify_v1`]: check `X-Mist-Signature-v2` / `X-Mist-Signature`;
//! - [`normalize()`]: the handful of fields every later stage filters on (org, site, time,
//!   type, MAC, severity), found wherever each topic keeps them;
//! - [`split()`]: a body to the events a receiver stores (byte range, normalised fields,
//!   fingerprint), for events that are valid JSON but not readable as a tree too;
//! - [`fingerprint()`]: a content hash that is the same for the same event sent twice;
//! - [`Names`]: site and device names gathered from every source, looked up by id and MAC;
//! - [`views`]: typed but lenient views of the topics that later stages read field by field.
//!
//! Nothing here reads the clock, the network or the disk, and nothing panics on input.
//!
//! ```
//! let body = br#"{"topic":"device_events","events":[{"type":"AP_RESTARTED","mac":"5c5b350e55c8","timestamp":1749101162}]}"#;
//! let envelope = mist::parse_envelope(body).unwrap();
//! assert_eq!(envelope.topic, mist::Topic::DeviceEvents);
//! let event: serde_json::Value = serde_json::from_str(envelope.events[0].get()).unwrap();
//! let n = mist::normalize(&envelope.topic, &event);
//! assert_eq!(n.event_type.as_deref(), Some("AP_RESTARTED"));
//! assert_eq!(n.mac.as_deref(), Some("5c5b350e55c8"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod describe;
pub mod device;
pub mod envelope;
pub mod fingerprint;
pub mod identity;
pub mod lenient;
pub mod mac;
pub mod names;
pub mod normalize;
pub mod severity;
pub mod signature;
pub mod split;
pub mod time;
pub mod topic;
pub mod views;

#[cfg(test)]
mod test_support;

pub use describe::{Described, describe};
pub use device::DeviceKind;
pub use envelope::{Envelope, EnvelopeError, parse_envelope, wrap_events, write_envelope};
pub use fingerprint::{Fingerprint, fingerprint, fingerprint_text};
pub use mac::normalize_mac;
pub use names::Names;
pub use normalize::{Normalized, Severity, normalize};
pub use signature::{
    SIGNATURE_V1_HEADER, SIGNATURE_V2_HEADER, sign_v1, sign_v2, verify_v1, verify_v2,
};
pub use split::{Split, SplitEvent, split};
pub use time::{EventTime, TimeUnit, parse_time_value};
pub use topic::Topic;
