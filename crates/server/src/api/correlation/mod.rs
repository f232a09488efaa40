//! Devices and incidents: what the correlation stage knows (silences are in `silences.rs`).
//!
//! Reads come from the store (the rows the stage committed); changes (ack, resolve,
//! silences) go to the stage, which owns the correlator's state.

pub(crate) mod history;
mod views;

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use correlate::{DeviceKind, DeviceState, IncidentKind, IncidentState};
use serde::de::DeserializeOwned;
use serde_json::Value;
use store::{DeviceFilter, IncidentFilter};

pub use self::views::{
    ActorBody, DeviceListView, DeviceQuery, DeviceView, IncidentDetailView, IncidentQuery,
    IncidentView,
};
use super::answer::List;
use super::log::EventView;
use super::params::{PageQuery, Params, get, instant, one_of, page_of, rfc3339};
use crate::access::Principal;
use crate::access::audit::Before;
use crate::app_state::AppState;
use crate::correlation_stage::{Command, CommandError};
use crate::error::{ApiError, ErrorBody};

fn owned(q: &Params, name: &str) -> Option<String> {
    get(q, name).map(str::to_string)
}

/// A closed-set filter (see [`one_of`]) as the name the store matches on.
fn named<T: DeserializeOwned + serde::Serialize + utoipa::PartialSchema>(
    q: &Params,
    name: &str,
) -> Result<Option<String>, ApiError> {
    Ok(
        one_of::<T>(q, name)?.map(|v| match serde_json::to_value(v) {
            Ok(Value::String(s)) => s,
            other => unreachable!("a unit variant serialises as a string: {other:?}"),
        }),
    )
}

/// Time fields of the core's records (unix µs) that `mistgate replay` shows as RFC 3339.
const TIME_FIELDS: &[&str] = &[
    "since",
    "last_restart_at",
    "last_event_time",
    "state_observed_at",
    "opened_at",
    "last_seen_at",
    "resolved_at",
    "at",
    "starts_at",
    "ends_at",
];

/// Rewrites every time field, at any depth, as RFC 3339: for `server::present`, which
/// shows records the API does not answer (`mistgate replay`'s incidents).
pub(crate) fn with_times(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    if TIME_FIELDS.contains(&k.as_str())
                        && let Some(us) = item.as_i64()
                    {
                        *item = Value::String(rfc3339(us));
                    } else {
                        walk(item);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// A record the correlation stage stored, read back as its core type.
pub(crate) fn record<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| {
        ApiError::Store(store::StoreError::Task(format!(
            "a stored {what} is unreadable: {e}"
        )))
    })
}

/// List devices
///
/// The device inventory the correlation stage keeps from alarms, device events and
/// up/down events: one record per organisation and MAC, in the order devices were first
/// seen, newest first unless `order=asc`. Every filter given must match.
///
/// With `at`, the board as it was then, from the device history: each device's state
/// and site as of that time (`DeviceAtView`; devices with no change by then are left out),
/// in the same order and pages; the filters apply to the state and site of then.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "correlation",
    params(
        DeviceQuery,
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of devices (`DeviceView`), or with `at` of devices as they were then (`DeviceAtView`).", body = DeviceListView),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_devices(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<DeviceListView>, ApiError> {
    let filter = DeviceFilter {
        org_id: owned(&q, "org_id"),
        site_id: owned(&q, "site_id"),
        kind: one_of::<DeviceKind>(&q, "kind")?.map(|k| k.as_str().to_string()),
        state: named::<DeviceState>(&q, "state")?,
    };
    let p = page_of(&q)?;
    if let Some(at) = instant("at", get(&q, "at"))? {
        let board = history::board(&app, at, filter, p).await?;
        return Ok(Json(DeviceListView::At(board)));
    }
    let rows = app.store.devices(filter, p).await?;
    let items = rows
        .items
        .iter()
        .map(|d| record::<correlate::Device>("device", &d.record).map(DeviceView::from))
        .collect::<Result<_, _>>()?;
    Ok(Json(DeviceListView::Now(List::new(items, rows.next))))
}

/// Get one device
///
/// A device by MAC, in any notation. When the same MAC is known in several
/// organisations, the one seen first.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{mac}",
    tag = "correlation",
    params(
        ("mac" = String, Path, description = "The device's MAC in any notation (`5c:5b:35:0e:55:c8`, `5C5B-350E-55C8`, `5c5b.350e.55c8`), or a Mist Edge's id (case ignored)."),
    ),
    responses(
        (status = 200, description = "The device.", body = DeviceView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no device with that MAC.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_device(
    State(app): State<Arc<AppState>>,
    Path(mac): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let normalised = mist::normalize_mac(&mac).unwrap_or_else(|| mac.to_ascii_lowercase());
    let row = app
        .store
        .device(&normalised)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no device with MAC `{mac}`")))?;
    let device: correlate::Device = record("device", &row.record)?;
    Ok(Json(device.into()))
}

/// List incidents
///
/// Incidents opened by the correlation rules, in id order, newest first unless
/// `order=asc`. Every filter given must match; `since` and `until` bound the opening time.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "correlation",
    params(
        IncidentQuery,
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of incidents.", body = List<IncidentView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_incidents(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<List<IncidentView>>, ApiError> {
    let filter = IncidentFilter {
        state: named::<IncidentState>(&q, "state")?,
        kind: one_of::<IncidentKind>(&q, "kind")?.map(|k| k.as_str().to_string()),
        site_id: owned(&q, "site_id"),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
    };
    let p = page_of(&q)?;
    let rows = app.store.incidents(filter, p).await?;
    let items = rows
        .items
        .iter()
        .map(|i| record::<correlate::Incident>("incident", &i.record).map(IncidentView::from))
        .collect::<Result<_, _>>()?;
    Ok(Json(List::new(items, rows.next)))
}

/// Most linked events shown with an incident (the timeline names them all by id).
const LINKED_EVENTS: usize = 100;

/// Get one incident
///
/// An incident with its timeline, and the events behind it: the last (at most) 100 of
/// `event_ids` that are still in the log.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "correlation",
    params(
        ("id" = i64, Path, description = "The incident's id."),
    ),
    responses(
        (status = 200, description = "The incident and its events.", body = IncidentDetailView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_incident(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetailView>, ApiError> {
    let incident = incident_record(&app, &id).await?;
    let mut events = Vec::new();
    let ids = &incident.event_ids;
    for event_id in &ids[ids.len().saturating_sub(LINKED_EVENTS)..] {
        if let Some(e) = app.store.event(*event_id).await? {
            events.push(EventView::from(e).named(&app.site_names));
        }
    }
    Ok(Json(IncidentDetailView {
        incident: incident.into(),
        events,
    }))
}

async fn incident_record(app: &AppState, id: &str) -> Result<correlate::Incident, ApiError> {
    let row = match id.parse::<i64>() {
        Ok(n) => app.store.incident(n).await?,
        Err(_) => None,
    };
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no incident with id `{id}`")))?;
    record("incident", &row.record)
}

/// `{"by": "..."}` or nothing: who did it, for the timeline.
/// Who acts: the body's `by`, else the token's name.
fn actor(body: &Bytes, token: &str) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(token.into());
    }
    let invalid = |detail: String| ApiError::InvalidBody { detail };
    match parse_body(body)? {
        Value::Null => Ok(token.into()),
        Value::Object(v) => match v.get("by") {
            None | Some(Value::Null) => Ok(token.into()),
            Some(Value::String(by)) => Ok(by.clone()),
            Some(other) => Err(invalid(format!("`by` must be a string, found {other}"))),
        },
        other => Err(invalid(format!(
            "the body must be an object, found {other}"
        ))),
    }
}

pub(crate) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson {
        detail: format!("the body is not JSON: {e}"),
        quarantine_id: None,
    })
}

pub(crate) fn stage_gone() -> ApiError {
    ApiError::Store(store::StoreError::Task(
        "the correlation stage is not running".into(),
    ))
}

pub(crate) fn command_error(e: CommandError) -> ApiError {
    match e {
        CommandError::Rejected(e) => ApiError::Conflict(e.to_string()),
        CommandError::Store(e) => ApiError::Store(e),
    }
}

/// Acknowledge an incident
///
/// Records that a person is on it (state `acknowledged`, a timeline entry `acknowledged
/// by <by>`); it still resolves by itself. Acknowledging an acknowledged incident changes
/// nothing. The body is optional.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/ack",
    tag = "correlation",
    params(
        ("id" = i64, Path, description = "The incident's id."),
    ),
    request_body(content = Option<ActorBody>, content_type = "application/json", description = "Who acknowledges, for the timeline; empty body: the token's name."),
    responses(
        (status = 200, description = "The incident as it is now (without `events`).", body = IncidentView),
        (status = 400, description = "`malformed_json`: the body is neither empty nor JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is already resolved.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: the body is neither an object nor `null`, or `by` is not a string.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn acknowledge(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Extension(who): Extension<Principal>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    manual(&app, &id, &body, true, &who, &before).await
}

/// Resolve an incident
///
/// Ends it by hand (state `resolved`, a timeline entry `resolved by <by>`). The devices
/// keep their state; the next event that would open it opens a new incident. The body is
/// optional.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resolve",
    tag = "correlation",
    params(
        ("id" = i64, Path, description = "The incident's id."),
    ),
    request_body(content = Option<ActorBody>, content_type = "application/json", description = "Who resolves, for the timeline; empty body: the token's name."),
    responses(
        (status = 200, description = "The incident as it is now (without `events`).", body = IncidentView),
        (status = 400, description = "`malformed_json`: the body is neither empty nor JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is already resolved.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: the body is neither an object nor `null`, or `by` is not a string.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn resolve(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Extension(who): Extension<Principal>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    manual(&app, &id, &body, false, &who, &before).await
}

async fn manual(
    app: &AppState,
    id: &str,
    body: &Bytes,
    ack: bool,
    who: &Principal,
    before: &Before,
) -> Result<Json<IncidentView>, ApiError> {
    let was = incident_record(app, id).await?;
    before.set(IncidentView::from(was));
    let incident: i64 = id.parse().expect("found, so numeric");
    let by = actor(body, &who.name)?;
    let answer = app
        .stage
        .ask(|reply| {
            if ack {
                Command::Acknowledge {
                    incident,
                    by,
                    reply,
                }
            } else {
                Command::Resolve {
                    incident,
                    by,
                    reply,
                }
            }
        })
        .await
        .ok_or_else(stage_gone)?;
    answer.map_err(command_error)?;
    Ok(Json(incident_record(app, id).await?.into()))
}
