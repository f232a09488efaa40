//! The read side of the log: events, requests, quarantine and totals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;
use store::{EventFilter, QuarantineEntry, RequestFilter, RequestSummary, StoredEvent};

use super::params::{instant, page, rfc3339};
use crate::error::ApiError;
use crate::state::AppState;

/// Every list answers `{"items": [...], "next_cursor": ...}`; `null` at the end.
#[derive(Serialize)]
pub struct List<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

impl<T> List<T> {
    fn new(items: Vec<T>, next: Option<i64>) -> List<T> {
        List {
            items,
            next_cursor: next.map(|n| n.to_string()),
        }
    }
}

type Params = Query<HashMap<String, String>>;

fn get<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
}

fn page_of(q: &Params) -> Result<store::PageRequest, ApiError> {
    page(get(q, "limit"), get(q, "cursor"), get(q, "order"))
}

/// An event as the API shows it.
#[derive(Serialize)]
pub struct EventView {
    id: i64,
    topic: String,
    org_id: Option<String>,
    site_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    mac: Option<String>,
    severity: Option<String>,
    /// The event's own time, normalised.
    time: String,
    /// Which field `time` came from, or `received` when the event carries no time.
    time_source: String,
    received_at: String,
    source: String,
    request_id: i64,
    /// The event exactly as received.
    raw: Box<RawValue>,
}

impl From<StoredEvent> for EventView {
    fn from(e: StoredEvent) -> EventView {
        EventView {
            id: e.id,
            topic: e.topic,
            org_id: e.org_id,
            site_id: e.site_id,
            event_type: e.event_type,
            mac: e.mac,
            severity: e.severity,
            time: rfc3339(e.time),
            time_source: e.time_source,
            received_at: rfc3339(e.received_at),
            source: e.source,
            request_id: e.request_id,
            raw: raw_json(e.raw),
        }
    }
}

/// Bytes that were accepted as JSON are embedded verbatim; anything else as a string.
fn raw_json(bytes: Vec<u8>) -> Box<RawValue> {
    match String::from_utf8(bytes) {
        Ok(text) => RawValue::from_string(text).unwrap_or_else(|e| string_raw(&e.to_string())),
        Err(e) => string_raw(&String::from_utf8_lossy(e.as_bytes())),
    }
}

fn string_raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(serde_json::to_string(s).expect("strings serialise"))
        .expect("a JSON string is JSON")
}

pub async fn list_events(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<EventView>>, ApiError> {
    let filter = EventFilter {
        topic: get(&q, "topic").map(|t| mist::Topic::parse(t).as_str().to_string()),
        org_id: get(&q, "org_id").map(str::to_string),
        site_id: get(&q, "site_id").map(str::to_string),
        event_type: get(&q, "type").map(str::to_string),
        mac: get(&q, "mac")
            .map(|m| mist::normalize_mac(m).unwrap_or_else(|| m.to_ascii_lowercase())),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
        source: get(&q, "source").map(str::to_string),
    };
    let page = app.store.events(filter, page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items.into_iter().map(EventView::from).collect(),
        page.next,
    )))
}

pub async fn get_event(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    let found = match id.parse::<i64>() {
        Ok(id) => app.store.event(id).await?,
        Err(_) => None,
    };
    found
        .map(|e| Json(e.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))
}

/// A request of the log, without its body.
#[derive(Serialize)]
pub struct RequestView {
    id: i64,
    source: String,
    received_at: String,
    topic: String,
    /// `unsigned`, `valid_v2` or `valid_v1`.
    verdict: String,
    accepted: u32,
    duplicates: u32,
    body_bytes: i64,
}

impl From<RequestSummary> for RequestView {
    fn from(r: RequestSummary) -> RequestView {
        RequestView {
            id: r.id,
            source: r.source,
            received_at: rfc3339(r.received_at),
            topic: r.topic,
            verdict: r.verdict,
            accepted: r.accepted,
            duplicates: r.duplicates,
            body_bytes: r.body_len,
        }
    }
}

/// A request with everything kept about it.
#[derive(Serialize)]
pub struct RequestDetailView {
    #[serde(flatten)]
    summary: RequestView,
    headers: BTreeMap<String, String>,
    /// The body exactly as received.
    body: Box<RawValue>,
    /// Events this request stored.
    events: Vec<i64>,
    /// Earlier events this request repeated (duplicates, stored once).
    duplicate_of: Vec<i64>,
}

pub async fn list_requests(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<RequestView>>, ApiError> {
    let filter = RequestFilter {
        source: get(&q, "source").map(str::to_string),
        topic: get(&q, "topic").map(|t| mist::Topic::parse(t).as_str().to_string()),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
    };
    let page = app.store.requests(filter, page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items.into_iter().map(RequestView::from).collect(),
        page.next,
    )))
}

pub async fn get_request(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RequestDetailView>, ApiError> {
    let found = match id.parse::<i64>() {
        Ok(id) => app.store.request(id).await?,
        Err(_) => None,
    };
    let r = found.ok_or_else(|| ApiError::NotFound(format!("no request with id `{id}`")))?;
    Ok(Json(RequestDetailView {
        summary: r.summary.into(),
        headers: r.headers.into_iter().collect(),
        body: raw_json(r.body),
        events: r.event_ids,
        duplicate_of: r.duplicate_of,
    }))
}

/// A quarantined request. The body may be anything: it is shown as text when it is
/// UTF-8, and always as base64 so that no byte is lost.
#[derive(Serialize)]
pub struct QuarantineView {
    id: i64,
    source: String,
    received_at: String,
    reason: String,
    detail: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
    body_base64: String,
}

impl From<QuarantineEntry> for QuarantineView {
    fn from(q: QuarantineEntry) -> QuarantineView {
        QuarantineView {
            id: q.id,
            source: q.source,
            received_at: rfc3339(q.received_at),
            reason: q.reason,
            detail: q.detail,
            headers: q.headers.into_iter().collect(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&q.body),
            body: String::from_utf8(q.body).ok(),
        }
    }
}

pub async fn list_quarantine(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<QuarantineView>>, ApiError> {
    let page = app.store.quarantined(page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items.into_iter().map(QuarantineView::from).collect(),
        page.next,
    )))
}

#[derive(Serialize)]
pub struct StatsView {
    /// Totals since the data dir was created (retention does not lower them).
    totals: Totals,
    by_topic: BTreeMap<String, Totals>,
    by_source: BTreeMap<String, Totals>,
    rows: Vec<StatsRowView>,
}

#[derive(Serialize, Default)]
struct Totals {
    requests: i64,
    events: i64,
    duplicates: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    quarantined: Option<i64>,
}

impl Totals {
    fn add(&mut self, r: &store::StatsRow) {
        self.requests += r.requests;
        self.events += r.events;
        self.duplicates += r.duplicates;
    }
}

#[derive(Serialize)]
struct StatsRowView {
    source: String,
    topic: String,
    requests: i64,
    events: i64,
    duplicates: i64,
    last_received_at: String,
}

pub async fn stats(State(app): State<Arc<AppState>>) -> Result<Json<StatsView>, ApiError> {
    let s = app.store.stats().await?;
    let mut totals = Totals {
        quarantined: Some(s.quarantined),
        ..Totals::default()
    };
    let mut by_topic: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_source: BTreeMap<String, Totals> = BTreeMap::new();
    for r in &s.rows {
        totals.add(r);
        by_topic.entry(r.topic.clone()).or_default().add(r);
        by_source.entry(r.source.clone()).or_default().add(r);
    }
    let rows = s
        .rows
        .into_iter()
        .map(|r| StatsRowView {
            source: r.source,
            topic: r.topic,
            requests: r.requests,
            events: r.events,
            duplicates: r.duplicates,
            last_received_at: rfc3339(r.last_received_at),
        })
        .collect();
    Ok(Json(StatsView {
        totals,
        by_topic,
        by_source,
        rows,
    }))
}
