//! `GET /api/v1/stream`: new events and incident changes as Server-Sent Events, for a live
//! tail of the log (the operator console's, or anyone's with the API token).
//!
//! The first block carries only `id:`, where the stream starts; after it come `event:
//! event` messages (data: the event as `GET /api/v1/events` shows it) and `event:
//! incident` messages (data: [`IncidentChangeView`]), and a comment after 15 s of silence.
//! Every message's `id` is `<event id>.<incident change id>`: the last of each log the
//! stream had looked at (sent, or left out by the filters) when it sent that message. A
//! client that comes back with it as `Last-Event-ID` (browsers do so by themselves)
//! resumes after both, with nothing missed and nothing repeated; without one the stream
//! starts at the current end of both logs.
//!
//! No timer: each stream waits on its own [`deliver::tail::Waiter`] of the commits of
//! what it sends (the same watch channels that wake the stages; any number of waiters
//! share them). Reads are pages of [`PAGE`] after the cursors, one per log, and the next
//! page is read only once the client has taken the last one (axum pulls the stream as
//! the connection drains): a slow client holds at most a page in memory.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use correlate::Change;
use deliver::tail::{Log, Waiter};
use serde::Serialize;
use store::{EventFilter, IncidentChange, Order, PageRequest, StoredEvent};
use tokio::sync::watch;
use utoipa::ToSchema;

use super::answer::Time;
use super::correlation::{IncidentView, record};
use super::log::{EventView, event_filter};
use super::params::{EventQuery, Params, get};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// The most rows one read takes from each log.
pub(crate) const PAGE: u32 = 500;

/// How often an idle stream sends a comment, so that proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The grammar of a stream position (`Last-Event-ID`, `last_event_id`). The document's
/// attributes repeat it (they take literals only), with the empty string, which is the
/// same as no id.
const POSITION_PATTERN: &str = r"^[0-9]{1,18}\.[0-9]{1,18}$";

/// `data` of an `event: incident` message: one change of an incident.
#[derive(Serialize, ToSchema)]
pub struct IncidentChangeView {
    /// The change's id; ids grow in commit order (the second half of the message's `id`).
    change_id: i64,
    /// What changed.
    change: Change,
    /// When it changed: the event's time, the timer's deadline, or the manual action's.
    at: Time,
    /// The incident after the change, as `GET /api/v1/incidents/{id}` shows it (without
    /// `events`: those are the stream's `event` messages).
    incident: IncidentView,
}

/// The parameters of `GET /api/v1/stream` besides those of `GET /api/v1/events`, for the
/// OpenAPI document only: the handler reads them as strings.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StreamQuery {
    /// `false` leaves events out.
    #[param(default = true)]
    events: Option<bool>,
    /// `false` leaves incident changes out.
    #[param(default = true)]
    incidents: Option<bool>,
    /// Where to resume, for clients that cannot send `Last-Event-ID` (which wins when both
    /// are given): the `id` of the last message received.
    #[param(pattern = r"^([0-9]{1,18}\.[0-9]{1,18})?$")]
    last_event_id: Option<String>,
}

/// The header a reconnecting `EventSource` sends, for the OpenAPI document only.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ResumeHeader {
    /// Resume after this position: the `id` of the last message received (`<event
    /// id>.<incident change id>`). Without it (and without `last_event_id`), the stream
    /// starts at the current end of the log.
    #[param(
        rename = "Last-Event-ID",
        nullable = false,
        pattern = r"^([0-9]{1,18}\.[0-9]{1,18})?$"
    )]
    last_event_id: Option<String>,
}

/// Stream events and incident changes
///
/// New events and incident changes as Server-Sent Events, until the client disconnects
/// or the server stops. The event filters are those of `GET /api/v1/events`; of them,
/// `org_id`, `site_id` and `mac` also narrow the incident changes (to incidents of that
/// organisation or site, or involving that device); `topic`, `type`, `source`, `since`
/// and `until` narrow events only.
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "log",
    params(
        EventQuery,
        StreamQuery,
        ResumeHeader,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`. First a block with only \
            `id:` (where the stream starts), then `event: event` messages (data: an \
            `EventView`) and `event: incident` messages (data: an `IncidentChangeView`), each \
            kind in commit order and a change after the events behind it, each message with \
            `id: <event id>.<incident change id>`; a comment (`:`) after 15 s without a block.",
         body = String, content_type = "text/event-stream"),
        (status = 400, description = "`invalid_query`: a parameter or `Last-Event-ID` has a wrong value, or both `events` and `incidents` are `false`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn stream(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Params,
) -> Result<impl IntoResponse, ApiError> {
    let filter = event_filter(&q)?;
    let (events, incidents) = (flag(&q, "events")?, flag(&q, "incidents")?);
    if !events && !incidents {
        return Err(invalid(
            "`events=false` and `incidents=false` leave nothing to stream".into(),
        ));
    }
    let resume = resume_at(&headers, &q)?;
    let logs: Vec<Log> = [(events, Log::Events), (incidents, Log::Incidents)]
        .into_iter()
        .filter_map(|(on, log)| on.then_some(log))
        .collect();
    // Before the end of the logs is read: a commit from here on wakes the stream.
    let wake = app.stages.wakes().waiter(&logs);
    let at = match resume {
        Some(at) => at,
        None => Position {
            event: newest_event(&app).await?,
            change: app.store.last_incident_change().await?,
        },
    };
    let scope = incidents.then(|| IncidentScope::of(&filter));
    let tail = Tail {
        stopping: app.stopping.subscribe(),
        app,
        events: events.then_some(filter),
        incidents: scope,
        at,
        queue: VecDeque::from([Event::default().id(at.id())]),
        more: true,
        wake,
        _open: Open::new(),
    };
    let messages = futures_util::stream::unfold(tail, Tail::next);
    let sse = Sse::new(messages).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // nginx would otherwise buffer the stream.
    Ok(([("x-accel-buffering", "no")], sse))
}

fn invalid(detail: String) -> ApiError {
    ApiError::InvalidQuery { detail }
}

/// `true` or `false`; absent is `true`.
fn flag(q: &Params, name: &str) -> Result<bool, ApiError> {
    match get(q, name) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(invalid(format!("{name} `{v}` must be `true` or `false`"))),
    }
}

/// Where a reconnecting client resumes: `Last-Event-ID` (what a browser sends by itself,
/// so it wins over the URL's), else `last_event_id`. Empty is absent, as a browser that
/// received no id sends none.
fn resume_at(headers: &HeaderMap, q: &Params) -> Result<Option<Position>, ApiError> {
    let (name, value) = match headers.get("last-event-id") {
        Some(v) => (
            "Last-Event-ID",
            v.to_str()
                .map_err(|_| invalid("Last-Event-ID is not ASCII text".into()))?,
        ),
        None => match get(q, "last_event_id") {
            Some(v) => ("last_event_id", v),
            None => return Ok(None),
        },
    };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    Position::parse(value).map(Some).ok_or_else(|| {
        invalid(format!(
            "{name} `{value}` must be the `id` of a message of this stream \
             (`<event id>.<incident change id>`, {POSITION_PATTERN})"
        ))
    })
}

/// The id of the newest event of the log, 0 when it is empty.
async fn newest_event(app: &AppState) -> Result<i64, ApiError> {
    let newest = PageRequest {
        limit: 1,
        after: None,
        order: Order::Desc,
    };
    let page = app.store.events(EventFilter::default(), newest).await?;
    Ok(page.items.first().map_or(0, |e| e.id))
}

/// How far a stream has looked into each log: the last event id and the last incident
/// change id it sent or left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    event: i64,
    change: i64,
}

impl Position {
    /// `<event id>.<incident change id>`, each 1 to 18 digits ([`POSITION_PATTERN`]).
    fn parse(text: &str) -> Option<Position> {
        let (event, change) = text.split_once('.')?;
        Some(Position {
            event: cursor(event)?,
            change: cursor(change)?,
        })
    }

    /// The SSE `id` of a block sent at this position.
    fn id(self) -> String {
        format!("{}.{}", self.event, self.change)
    }
}

fn cursor(digits: &str) -> Option<i64> {
    let ok = (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| digits.parse().ok()).flatten()
}

/// Whether `e` passes `filter`, exactly as the store's event queries match: every given
/// field equal (a missing field matches nothing), the event's own time within
/// `since`..=`until`. The stream reads every event after its cursor and filters here, so
/// that its cursor moves over what it leaves out (a narrow filter never rescans).
fn matches(filter: &EventFilter, e: &StoredEvent) -> bool {
    fn eq(want: &Option<String>, have: Option<&str>) -> bool {
        want.as_deref().is_none_or(|w| have == Some(w))
    }
    eq(&filter.topic, Some(&e.topic))
        && eq(&filter.org_id, e.org_id.as_deref())
        && eq(&filter.site_id, e.site_id.as_deref())
        && eq(&filter.event_type, e.event_type.as_deref())
        && eq(&filter.mac, e.mac.as_deref())
        && eq(&filter.source, Some(&e.source))
        && filter.since.is_none_or(|t| e.time >= t)
        && filter.until.is_none_or(|t| e.time <= t)
}

/// The event filters that also apply to incidents.
struct IncidentScope {
    org_id: Option<String>,
    site_id: Option<String>,
    mac: Option<String>,
}

impl IncidentScope {
    fn of(filter: &EventFilter) -> IncidentScope {
        IncidentScope {
            org_id: filter.org_id.clone(),
            site_id: filter.site_id.clone(),
            mac: filter.mac.clone(),
        }
    }

    fn matches(&self, i: &correlate::Incident) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        eq(&self.org_id, &i.org_id)
            && eq(&self.site_id, &i.site_id)
            && self.mac.as_ref().is_none_or(|m| i.devices.contains(m))
    }
}

/// `mistgate_api_streams`: open streams, one while this lives.
struct Open;

impl Open {
    fn new() -> Open {
        metrics::gauge!("mistgate_api_streams").increment(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("mistgate_api_streams").decrement(1.0);
    }
}

/// One client's stream.
struct Tail {
    app: Arc<AppState>,
    /// The event filter; `None` with `events=false`.
    events: Option<EventFilter>,
    /// `None` with `incidents=false`.
    incidents: Option<IncidentScope>,
    at: Position,
    /// Blocks read but not yet taken by the client: at most one page of each log.
    queue: VecDeque<Event>,
    /// The last read filled a page: read again without waiting.
    more: bool,
    wake: Waiter,
    stopping: watch::Receiver<bool>,
    _open: Open,
}

impl Tail {
    /// The next block, read when the queue is empty and waiting for a commit when the
    /// logs hold nothing new; `None` (the end of the answer) when the server stops or a
    /// read fails (the client then resumes from the last id it got).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Tail)> {
        loop {
            if let Some(block) = self.queue.pop_front() {
                return Some((Ok(block), self));
            }
            if *self.stopping.borrow() {
                return None;
            }
            if !self.more {
                tokio::select! {
                    () = self.wake.changed() => {}
                    _ = self.stopping.changed() => return None,
                }
            }
            match self.read().await {
                Ok(more) => self.more = more,
                Err(e) => {
                    tracing::warn!(error = %e, "an event stream could not read the log; it ends (its client resumes from its last id)");
                    return None;
                }
            }
        }
    }

    /// Reads the next page of each log after the cursors into the queue; true when a page
    /// was full (there may be more at once).
    ///
    /// Changes are read before events: the events behind a change were committed before
    /// it, so this read's events hold them, and an incident message comes after the
    /// messages of its events. Only when the events page is full may a change name a newer
    /// event: that change and those after it wait for the next read.
    async fn read(&mut self) -> Result<bool, ApiError> {
        let store = &self.app.store;
        let changes = match self.incidents {
            Some(_) => store.incident_changes(self.at.change, PAGE).await?,
            None => Vec::new(),
        };
        let mut more = changes.len() as u32 == PAGE;
        let mut events_full = false;
        if let Some(filter) = &self.events {
            let events = store.tail_all(self.at.event, PAGE).await?;
            events_full = events.len() as u32 == PAGE;
            for e in events {
                self.at.event = e.id;
                if matches(filter, &e) {
                    let view = EventView::from(e).named(&self.app.site_names);
                    let block = message("event", &view, self.at)?;
                    self.queue.push_back(block);
                }
            }
        }
        if let Some(scope) = &self.incidents {
            for c in changes {
                let incident: correlate::Incident = record("incident change", &c.record)?;
                let newest = incident.event_ids.iter().copied().max().unwrap_or(0);
                if events_full && newest > self.at.event {
                    more = true;
                    break;
                }
                self.at.change = c.id;
                if scope.matches(&incident) {
                    let view = change_view(&c, incident)?;
                    self.queue.push_back(message("incident", &view, self.at)?);
                }
            }
        }
        Ok(more || events_full)
    }
}

fn change_view(
    c: &IncidentChange,
    incident: correlate::Incident,
) -> Result<IncidentChangeView, ApiError> {
    let change: Change = serde_json::from_value(serde_json::Value::String(c.change.clone()))
        .map_err(|_| {
            ApiError::Store(store::StoreError::Task(format!(
                "incident change {} has an unknown kind `{}`",
                c.id, c.change
            )))
        })?;
    Ok(IncidentChangeView {
        change_id: c.id,
        change,
        at: Time(c.at),
        incident: incident.into(),
    })
}

/// A message block: `event: <kind>`, `id: <at>`, `data: <data as JSON>`.
fn message(kind: &str, data: &impl Serialize, at: Position) -> Result<Event, ApiError> {
    Event::default()
        .event(kind)
        .id(at.id())
        .json_data(data)
        .map_err(|e| ApiError::Store(store::StoreError::Task(format!("a {kind} message: {e}"))))
}

#[cfg(test)]
mod tests;
