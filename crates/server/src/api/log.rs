//! The read side of the log: events, requests, quarantine and totals.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine;
use serde::Serialize;
use serde_json::value::RawValue;
use store::{EventFilter, QuarantineEntry, RequestFilter, RequestSummary, StoredEvent};
use utoipa::ToSchema;

use super::answer::{List, Time};
use super::params::{EventQuery, PageQuery, Params, RequestQuery, get, instant, page_of, topic};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// An event as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// The event's id; ids grow in commit order.
    id: i64,
    /// The topic's canonical name (e.g. `device-events`), whatever spelling was sent.
    #[schema(value_type = String)]
    topic: mist::Topic,
    /// The organisation id the event names, if any.
    #[schema(required = true)]
    org_id: Option<String>,
    /// The site id the event names, if any.
    #[schema(required = true)]
    site_id: Option<String>,
    /// The event's `type`, where it has one.
    #[serde(rename = "type")]
    #[schema(required = true)]
    event_type: Option<String>,
    /// The MAC the event is about, normalised to 12 lowercase hex digits.
    #[schema(required = true)]
    mac: Option<String>,
    /// Normalised severity (`critical`, `major`, `minor`, `warn`, `info`, `notice`, or
    /// another value lowercased), where the event has one.
    #[schema(required = true, value_type = Option<String>)]
    severity: Option<mist::Severity>,
    /// The event's own time, normalised (RFC 3339 UTC with microseconds).
    time: Time,
    /// Which field `time` came from, or `received` when the event carries no time.
    time_source: String,
    /// When mistgate received the request (RFC 3339 UTC with microseconds).
    received_at: Time,
    /// The source (`/ingest/{source}`) it arrived on.
    source: String,
    /// The request that carried it.
    request_id: i64,
    /// What the event says, in one line for a person (derived; the raw event is the
    /// record).
    summary: String,
    /// The device's or client's name, where the event names it (`device_name`,
    /// `hostname`, `ap_name`, ...).
    #[schema(required = true)]
    name: Option<String>,
    /// The site's name: as the event carries it (`site_name`), else as `[routing]
    /// site_names` or earlier events of the site name it.
    #[schema(required = true)]
    site_name: Option<String>,
    /// The floor plan's name, for an event with a `map_id` that Mist's API names
    /// (`[mist]`); null otherwise.
    #[schema(required = true)]
    map_name: Option<String>,
    /// The event exactly as received, byte for byte.
    #[schema(value_type = Object)]
    raw: Box<RawValue>,
}

impl EventView {
    /// This view with its site named by `names` when the event itself does not name it
    /// (alarms never carry `site_name`).
    pub(crate) fn named(mut self, names: &crate::console::SiteNames) -> EventView {
        if self.site_name.is_none() {
            self.site_name = self.site_id.as_deref().and_then(|id| names.get(id));
        }
        if names.has_maps() {
            #[derive(serde::Deserialize)]
            struct MapRef {
                map_id: Option<String>,
            }
            self.map_name = serde_json::from_str::<MapRef>(self.raw.get())
                .ok()
                .and_then(|r| r.map_id)
                .and_then(|id| names.map(&id));
        }
        self
    }
}

impl From<StoredEvent> for EventView {
    fn from(e: StoredEvent) -> EventView {
        let topic = mist::Topic::parse(&e.topic);
        let described = mist::describe(&topic, &e.raw);
        EventView {
            id: e.id,
            topic,
            org_id: e.org_id,
            site_id: e.site_id,
            event_type: e.event_type,
            mac: e.mac,
            severity: e.severity.as_deref().map(mist::Severity::parse),
            time: Time(e.time),
            time_source: e.time_source,
            received_at: Time(e.received_at),
            source: e.source,
            request_id: e.request_id,
            summary: described.summary,
            name: described.name,
            site_name: described.site_name,
            map_name: None,
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

/// List events
///
/// Stored events (duplicates are stored once), filtered, newest first unless `order=asc`.
/// Every filter given must match.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "log",
    params(
        EventQuery,
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of events.", body = List<EventView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_events(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<EventView>>, ApiError> {
    let page = app.store.events(event_filter(&q)?, page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items
            .into_iter()
            .map(|e| EventView::from(e).named(&app.site_names))
            .collect(),
        page.next,
    )))
}

/// The filters of `GET /api/v1/events` ([`EventQuery`]), parsed and checked: also those
/// of `GET /api/v1/stream`.
pub(crate) fn event_filter(q: &Params) -> Result<EventFilter, ApiError> {
    Ok(EventFilter {
        topic: topic(q),
        org_id: get(q, "org_id").map(str::to_string),
        site_id: get(q, "site_id").map(str::to_string),
        event_type: get(q, "type").map(str::to_string),
        mac: get(q, "mac")
            .map(|m| mist::normalize_mac(m).unwrap_or_else(|| m.to_ascii_lowercase())),
        since: instant("since", get(q, "since"))?,
        until: instant("until", get(q, "until"))?,
        source: get(q, "source").map(str::to_string),
    })
}

/// Get one event
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "log",
    params(
        ("id" = i64, Path, description = "The event's id."),
    ),
    responses(
        (status = 200, description = "The event.", body = EventView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no event with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_event(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    let found = match id.parse::<i64>() {
        Ok(id) => app.store.event(id).await?,
        Err(_) => None,
    };
    found
        .map(|e| Json(EventView::from(e).named(&app.site_names)))
        .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))
}

/// A request of the log, without its body.
#[derive(Serialize, ToSchema)]
pub struct RequestView {
    /// The request's id, as answered by the ingest (`request_id`).
    id: i64,
    /// The source (`/ingest/{source}`) it arrived on.
    source: String,
    /// When mistgate received it (RFC 3339 UTC with microseconds).
    received_at: Time,
    /// The envelope's topic, canonical name.
    #[schema(value_type = String)]
    topic: mist::Topic,
    /// How its signature was checked.
    #[schema(value_type = Verdict)]
    verdict: String,
    /// Events stored as new.
    accepted: u32,
    /// Events that repeated earlier ones (not stored again).
    duplicates: u32,
    /// Size of the body in bytes.
    body_bytes: i64,
}

impl From<RequestSummary> for RequestView {
    fn from(r: RequestSummary) -> RequestView {
        RequestView {
            id: r.id,
            source: r.source,
            received_at: Time(r.received_at),
            topic: mist::Topic::parse(&r.topic),
            verdict: r.verdict,
            accepted: r.accepted,
            duplicates: r.duplicates,
            body_bytes: r.body_len,
        }
    }
}

/// How a request's signature was checked: `unsigned` (the source has no secret),
/// `valid_v2` (`X-Mist-Signature-v2` matched), `valid_v1` (`X-Mist-Signature` matched) or
/// `mist_api` (read back from Mist's API by backfill, source `mist-api`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum Verdict {
    Unsigned,
    ValidV2,
    ValidV1,
    MistApi,
}

/// Why a request was quarantined: `malformed_json` (answered 400) or `invalid_envelope`
/// (answered 422).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum QuarantineReason {
    MalformedJson,
    InvalidEnvelope,
}

/// A request with everything kept about it.
#[derive(Serialize, ToSchema)]
pub struct RequestDetailView {
    #[serde(flatten)]
    summary: RequestView,
    /// The request headers that are kept (never credentials), by lowercase name.
    headers: BTreeMap<String, String>,
    /// The body exactly as received (a Mist envelope).
    #[schema(value_type = Object)]
    body: Box<RawValue>,
    /// Events this request stored.
    events: Vec<i64>,
    /// Earlier events this request repeated (duplicates, stored once).
    duplicate_of: Vec<i64>,
}

/// List requests
///
/// Accepted webhook requests, without their bodies, newest first unless `order=asc`.
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    tag = "log",
    params(
        RequestQuery,
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of requests.", body = List<RequestView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_requests(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<RequestView>>, ApiError> {
    let filter = RequestFilter {
        source: get(&q, "source").map(str::to_string),
        topic: topic(&q),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
    };
    let page = app.store.requests(filter, page_of(&q)?).await?;
    Ok(Json(List::new(
        page.items.into_iter().map(RequestView::from).collect(),
        page.next,
    )))
}

/// Get one request
///
/// A request with its kept headers, its body exactly as received, and the ids of the
/// events it stored or repeated.
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}",
    tag = "log",
    params(
        ("id" = i64, Path, description = "The request's id (the ingest answer's `request_id`)."),
    ),
    responses(
        (status = 200, description = "The request.", body = RequestDetailView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no request with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
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
#[derive(Serialize, ToSchema)]
pub struct QuarantineView {
    id: i64,
    /// The source (`/ingest/{source}`) it arrived on.
    source: String,
    /// When mistgate received it (RFC 3339 UTC with microseconds).
    received_at: Time,
    /// Why it was refused.
    #[schema(value_type = QuarantineReason)]
    reason: String,
    /// What was wrong and where.
    detail: String,
    /// The request headers that are kept (never credentials), by lowercase name.
    headers: BTreeMap<String, String>,
    /// The body as text; `null` when it is not UTF-8.
    #[schema(required = true)]
    body: Option<String>,
    /// The body, base64 (standard alphabet, padded).
    body_base64: String,
}

impl From<QuarantineEntry> for QuarantineView {
    fn from(q: QuarantineEntry) -> QuarantineView {
        QuarantineView {
            id: q.id,
            source: q.source,
            received_at: Time(q.received_at),
            reason: q.reason,
            detail: q.detail,
            headers: q.headers.into_iter().collect(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&q.body),
            body: String::from_utf8(q.body).ok(),
        }
    }
}

/// List quarantined requests
///
/// Requests refused as not JSON (400) or not a Mist envelope (422), kept with the reason,
/// newest first unless `order=asc`.
#[utoipa::path(
    get,
    path = "/api/v1/quarantine",
    tag = "log",
    params(
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of quarantined requests.", body = List<QuarantineView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
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

/// Running totals of the log.
#[derive(Serialize, ToSchema)]
pub struct StatsView {
    /// Totals since the data dir was created (retention does not lower them).
    totals: Totals,
    /// The same totals per canonical topic name.
    by_topic: BTreeMap<String, Totals>,
    /// The same totals per source.
    by_source: BTreeMap<String, Totals>,
    /// One row per (source, topic) pair.
    rows: Vec<StatsRowView>,
    /// How far each stage has read the event log.
    stages: BTreeMap<String, StageStatus>,
}

/// Where a stage stands in the event log.
#[derive(Serialize, ToSchema)]
struct StageStatus {
    /// The last event id the stage has fully handled (0 before the first).
    cursor: i64,
}

/// Counts of accepted requests, stored events and duplicate events.
#[derive(Serialize, Default, ToSchema)]
struct Totals {
    requests: i64,
    events: i64,
    duplicates: i64,
    /// Requests kept in quarantine; only in the overall `totals`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    quarantined: Option<i64>,
}

impl Totals {
    fn add(&mut self, r: &store::StatsRow) {
        self.requests += r.requests;
        self.events += r.events;
        self.duplicates += r.duplicates;
    }
}

/// The totals of one (source, topic) pair.
#[derive(Serialize, ToSchema)]
struct StatsRowView {
    source: String,
    topic: String,
    requests: i64,
    events: i64,
    duplicates: i64,
    /// When the last request of this pair arrived (RFC 3339 UTC with microseconds).
    last_received_at: Time,
}

/// Totals
///
/// Request, event and duplicate counts since the data dir was created, overall, per topic,
/// per source and per (source, topic).
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "log",
    responses(
        (status = 200, description = "The totals.", body = StatsView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
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
            last_received_at: Time(r.last_received_at),
        })
        .collect();
    let cursor = app
        .store
        .stage_load(crate::correlation_stage::STAGE)
        .await?
        .map_or(0, |s| s.cursor);
    let stages = BTreeMap::from([(
        crate::correlation_stage::STAGE.to_string(),
        StageStatus { cursor },
    )]);
    Ok(Json(StatsView {
        totals,
        by_topic,
        by_source,
        rows,
        stages,
    }))
}
