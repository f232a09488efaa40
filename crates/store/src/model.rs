//! The values that go into the log and come back out of it.
//!
//! Times are unix microseconds (`i64`) everywhere in this crate: the store never reads
//! the clock, the caller says what "now" is.

use bytes::Bytes;

/// How the sender of a request proved who it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The source has no secret: nothing to verify.
    Unsigned,
    /// `X-Mist-Signature-v2` (HMAC-SHA256) matched one of the source's secrets.
    ValidV2,
    /// `X-Mist-Signature` (HMAC-SHA1) matched, and the source accepts it.
    ValidV1,
    /// Read from Mist's API (backfill), over TLS with the org's API token: no signature.
    MistApi,
}

impl Verdict {
    /// The name stored in the log and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Unsigned => "unsigned",
            Verdict::ValidV2 => "valid_v2",
            Verdict::ValidV1 => "valid_v1",
            Verdict::MistApi => "mist_api",
        }
    }
}

/// One accepted webhook request, with the events split out of it, ready to be appended.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub source: String,
    pub received_at: i64,
    /// Canonical topic name of the envelope.
    pub topic: String,
    pub verdict: Verdict,
    /// The headers worth keeping (never credentials), as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// The body exactly as received.
    pub body: Bytes,
    pub events: Vec<NewEvent>,
}

/// One event of a request: its normalised fields and where its raw JSON sits in the body.
///
/// The raw event is not copied: it is the byte range `raw_offset..raw_offset + raw_len`
/// of the request body, which the log keeps anyway.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub topic: String,
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    pub event_type: Option<String>,
    pub mac: Option<String>,
    pub severity: Option<String>,
    /// The event's own time (unix µs); the receive time when the event carries none.
    pub time: i64,
    /// Which field `time` came from (`timestamp`, `last_seen`, ...), or `received`.
    pub time_source: String,
    pub raw_offset: u32,
    pub raw_len: u32,
    /// Duplicate-detection key (see `mist::fingerprint`).
    pub fingerprint: [u8; 16],
}

/// What the log did with an appended request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub request_id: i64,
    /// Events stored as new.
    pub accepted: u32,
    /// Events already in the log within the duplicate window: not stored again.
    pub duplicates: u32,
    /// The ids of the stored events, in envelope order (new ones and the originals of duplicates).
    pub event_ids: Vec<i64>,
}

/// A request that could not be accepted as Mist data (malformed or invalid), kept so
/// that nothing a sender sent is silently lost.
#[derive(Clone, Debug)]
pub struct NewQuarantine {
    pub source: String,
    pub received_at: i64,
    /// Machine code of the reason, the same as the HTTP error code (`malformed_json`, ...).
    pub reason: String,
    pub detail: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// An event read back from the log.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub id: i64,
    pub request_id: i64,
    pub topic: String,
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    pub event_type: Option<String>,
    pub mac: Option<String>,
    pub severity: Option<String>,
    pub time: i64,
    pub time_source: String,
    pub received_at: i64,
    pub source: String,
    /// The event's JSON, byte for byte as received.
    pub raw: Vec<u8>,
}

/// A request of the log without its body.
#[derive(Clone, Debug)]
pub struct RequestSummary {
    pub id: i64,
    pub source: String,
    pub received_at: i64,
    pub topic: String,
    pub verdict: String,
    pub accepted: u32,
    pub duplicates: u32,
    pub body_len: i64,
}

/// A request of the log with everything kept about it.
#[derive(Clone, Debug)]
pub struct RequestDetail {
    pub summary: RequestSummary,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Events this request stored as new.
    pub event_ids: Vec<i64>,
    /// Earlier events this request repeated.
    pub duplicate_of: Vec<i64>,
}

/// A quarantined request.
#[derive(Clone, Debug)]
pub struct QuarantineEntry {
    pub id: i64,
    pub source: String,
    pub received_at: i64,
    pub reason: String,
    pub detail: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Which way a list runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first.
    #[default]
    Desc,
    /// Oldest first (the order a consumer tailing the log wants).
    Asc,
}

/// Keyset pagination: stable under concurrent inserts because ids only grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Continue after this id (exclusive) in the list's order.
    pub after: Option<i64>,
    pub order: Order,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: 100,
            after: None,
            order: Order::Desc,
        }
    }
}

/// A page of a list, and the id to continue after when there is more.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

/// Filters of the event list. Every field narrows; `None` does not filter.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Canonical topic name.
    pub topic: Option<String>,
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    pub event_type: Option<String>,
    /// Normalised MAC.
    pub mac: Option<String>,
    /// Event time at or after (unix µs).
    pub since: Option<i64>,
    /// Event time at or before (unix µs).
    pub until: Option<i64>,
    pub source: Option<String>,
}

/// Filters of the request list.
#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub source: Option<String>,
    pub topic: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Running totals since the data dir was created (retention does not lower them).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub rows: Vec<StatsRow>,
    pub quarantined: i64,
}

/// Totals of one (source, topic) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRow {
    pub source: String,
    pub topic: String,
    pub requests: i64,
    pub events: i64,
    pub duplicates: i64,
    /// Receive time of the latest request (unix µs).
    pub last_received_at: i64,
}

/// What a retention pass removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub requests: u64,
    pub events: u64,
    pub quarantine: u64,
    pub fingerprints: u64,
    /// Delivered and dead outbox batches.
    pub batches: u64,
    /// Delivery attempt records.
    pub attempts: u64,
    /// Rows of per-minute event counts (one per minute, topic and source).
    pub minutes: u64,
}

/// How many incidents or devices share a state, kind and site (for counts on a page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub state: String,
    pub kind: String,
    pub site_id: Option<String>,
    pub count: i64,
}

/// A device as the device board draws it: no record, its name from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceTile {
    pub device_id: i64,
    pub org_id: String,
    pub mac: String,
    pub kind: String,
    pub site_id: Option<String>,
    pub state: String,
    pub since: i64,
    pub name: Option<String>,
}
