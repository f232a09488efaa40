//! Devices, incidents and silences: what the correlation stage knows.
//!
//! Reads come from the store (the rows the stage committed); changes (ack, resolve,
//! silences) go to the stage, which owns the correlator's state.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;
use store::{DeviceFilter, IncidentFilter};

use super::correlation_doc::{
    ActorDoc, DeviceDoc, DeviceListDoc, DeviceQuery, IncidentDetailDoc, IncidentDoc,
    IncidentListDoc, IncidentQuery, SilenceDoc, SilenceListDoc, SilenceRequestDoc,
};
use super::log::{EventView, List};
use super::params::{PageQuery, Params, get, instant, page_of, rfc3339};
use crate::error::{ApiError, ErrorBody};
use crate::stage::{Command, CommandError};
use crate::state::AppState;

fn owned(q: &Params, name: &str) -> Option<String> {
    get(q, name).map(str::to_string)
}

/// Time fields of the core's records (unix µs) that the API shows as RFC 3339.
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

/// Rewrites every time field, at any depth, as RFC 3339.
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

fn record(text: &str) -> Value {
    with_times(serde_json::from_str(text).unwrap_or(Value::Null))
}

fn list(items: Vec<Value>, next: Option<i64>) -> Json<Value> {
    Json(serde_json::to_value(List::new(items, next)).expect("a list serialises"))
}

/// List devices
///
/// The device inventory the correlation stage keeps from alarms, device events and
/// up/down events: one record per organisation and MAC, in the order devices were first
/// seen, newest first unless `order=asc`. Every filter given must match.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "correlation",
    params(
        DeviceQuery,
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of devices.", body = DeviceListDoc),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_devices(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let filter = DeviceFilter {
        org_id: owned(&q, "org_id"),
        site_id: owned(&q, "site_id"),
        kind: owned(&q, "kind"),
        state: owned(&q, "state"),
    };
    let p = page_of(&q)?;
    let rows = app.store.devices(filter, p).await?;
    Ok(list(
        rows.items.iter().map(|d| record(&d.record)).collect(),
        rows.next,
    ))
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
        (status = 200, description = "The device.", body = DeviceDoc),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no device with that MAC.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_device(
    State(app): State<Arc<AppState>>,
    Path(mac): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let normalised = mist::normalize_mac(&mac).unwrap_or_else(|| mac.to_ascii_lowercase());
    let row = app.store.device(&normalised).await?;
    row.map(|d| Json(record(&d.record)))
        .ok_or_else(|| ApiError::NotFound(format!("no device with MAC `{mac}`")))
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
        (status = 200, description = "A page of incidents.", body = IncidentListDoc),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_incidents(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let filter = IncidentFilter {
        state: owned(&q, "state"),
        kind: owned(&q, "kind"),
        site_id: owned(&q, "site_id"),
        since: instant("since", get(&q, "since"))?,
        until: instant("until", get(&q, "until"))?,
    };
    let p = page_of(&q)?;
    let rows = app.store.incidents(filter, p).await?;
    Ok(list(
        rows.items.iter().map(|i| record(&i.record)).collect(),
        rows.next,
    ))
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
        (status = 200, description = "The incident and its events.", body = IncidentDetailDoc),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn get_incident(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = incident_record(&app, &id).await?;
    let mut events = Vec::new();
    let ids: Vec<i64> = incident["event_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    for event_id in ids.iter().rev().take(LINKED_EVENTS).rev() {
        if let Some(e) = app.store.event(*event_id).await? {
            events.push(serde_json::to_value(EventView::from(e)).expect("an event serialises"));
        }
    }
    let mut answer = incident;
    answer["events"] = Value::Array(events);
    Ok(Json(answer))
}

async fn incident_record(app: &AppState, id: &str) -> Result<Value, ApiError> {
    let row = match id.parse::<i64>() {
        Ok(n) => app.store.incident(n).await?,
        Err(_) => None,
    };
    row.map(|r| record(&r.record))
        .ok_or_else(|| ApiError::NotFound(format!("no incident with id `{id}`")))
}

/// `{"by": "..."}` or nothing: who did it, for the timeline.
fn actor(body: &Bytes) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("api".into());
    }
    let v: Value = parse_body(body)?;
    Ok(v.get("by")
        .and_then(Value::as_str)
        .unwrap_or("api")
        .to_string())
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson {
        detail: format!("the body is not JSON: {e}"),
        quarantine_id: None,
    })
}

fn stage_gone() -> ApiError {
    ApiError::Store(store::StoreError::Task(
        "the correlation stage is not running".into(),
    ))
}

fn command_error(e: CommandError) -> ApiError {
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
    request_body(content = Option<ActorDoc>, content_type = "application/json", description = "Who acknowledges, for the timeline; empty body: `api`."),
    responses(
        (status = 200, description = "The incident as it is now (without `events`).", body = IncidentDoc),
        (status = 400, description = "`malformed_json`: the body is neither empty nor JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is already resolved.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn acknowledge(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    manual(&app, &id, &body, true).await
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
    request_body(content = Option<ActorDoc>, content_type = "application/json", description = "Who resolves, for the timeline; empty body: `api`."),
    responses(
        (status = 200, description = "The incident as it is now (without `events`).", body = IncidentDoc),
        (status = 400, description = "`malformed_json`: the body is neither empty nor JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no incident with that id.", body = ErrorBody),
        (status = 409, description = "`conflict`: the incident is already resolved.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn resolve(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    manual(&app, &id, &body, false).await
}

async fn manual(
    app: &AppState,
    id: &str,
    body: &Bytes,
    ack: bool,
) -> Result<Json<Value>, ApiError> {
    incident_record(app, id).await?;
    let incident: i64 = id.parse().expect("found, so numeric");
    let by = actor(body)?;
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
    Ok(Json(incident_record(app, id).await?))
}

/// List silences
///
/// Every silence, expired ones included, in the order they were added. Not paged.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "correlation",
    responses(
        (status = 200, description = "The silences.", body = SilenceListDoc),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_silences(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let silences = app
        .stage
        .ask(|reply| Command::Silences { reply })
        .await
        .ok_or_else(stage_gone)?;
    let items = silences
        .iter()
        .map(|s| with_times(serde_json::to_value(s).expect("a silence serialises")))
        .collect();
    Ok(list(items, None))
}

/// Add a silence
///
/// A maintenance window: incidents that open inside it (by event time) and match every
/// matcher set open with `silenced: true`; their resolution is still reported. It applies
/// to incidents that open from now on.
#[utoipa::path(
    post,
    path = "/api/v1/silences",
    tag = "correlation",
    request_body(content = SilenceRequestDoc, content_type = "application/json", description = "The window and its matchers."),
    responses(
        (status = 201, description = "Added, with its id.", body = SilenceDoc),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: `ends_at` missing or not after `starts_at`, a time that is neither RFC 3339 nor epoch seconds, an unknown `kind`, or a field of the wrong type.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn create_silence(
    State(app): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let silence = silence_from(&body, 0)?;
    let added = app
        .stage
        .ask(|reply| Command::AddSilence { silence, reply })
        .await
        .ok_or_else(stage_gone)?
        .map_err(command_error)?;
    Ok((
        StatusCode::CREATED,
        Json(with_times(
            serde_json::to_value(added).expect("a silence serialises"),
        )),
    ))
}

/// Replace a silence
///
/// The whole silence is replaced by the body (same fields as when adding it); its id
/// stays. Incidents already open keep their flag.
#[utoipa::path(
    put,
    path = "/api/v1/silences/{id}",
    tag = "correlation",
    params(
        ("id" = i64, Path, description = "The silence's id."),
    ),
    request_body(content = SilenceRequestDoc, content_type = "application/json", description = "The window and its matchers."),
    responses(
        (status = 200, description = "Replaced.", body = SilenceDoc),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no silence with that id.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: as when adding a silence.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn replace_silence(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no silence with id `{id}`"));
    let n = id.parse::<i64>().map_err(|_| not_found())?;
    let silence = silence_from(&body, n)?;
    let replaced = app
        .stage
        .ask(|reply| Command::ReplaceSilence { silence, reply })
        .await
        .ok_or_else(stage_gone)?
        .map_err(command_error)?
        .ok_or_else(not_found)?;
    Ok(Json(with_times(
        serde_json::to_value(replaced).expect("a silence serialises"),
    )))
}

/// A silence from a request body, with the given id.
fn silence_from(body: &Bytes, id: i64) -> Result<correlate::Silence, ApiError> {
    let v = parse_body(body)?;
    let invalid = |detail: String| ApiError::InvalidBody { detail };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(format!("`{name}` must be a string, found {other}"))),
        }
    };
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|s| (s * 1e6) as i64)),
            Some(Value::String(s)) => instant(name, Some(s)).map_err(|_| {
                invalid(format!(
                    "`{name}` must be RFC 3339 or epoch seconds, found `{s}`"
                ))
            }),
            Some(other) => Err(invalid(format!("`{name}` must be a time, found {other}"))),
        }
    };
    let kind = match text("kind")? {
        None => None,
        Some(k) => Some(
            serde_json::from_value::<correlate::IncidentKind>(Value::String(k.clone()))
                .map_err(|_| invalid(format!("`kind` `{k}` is not an incident kind")))?,
        ),
    };
    let starts_at = time("starts_at")?.unwrap_or_else(crate::clock::now_us);
    let ends_at = time("ends_at")?.ok_or_else(|| invalid("`ends_at` is required".into()))?;
    if ends_at <= starts_at {
        return Err(invalid("`ends_at` must be after `starts_at`".into()));
    }
    Ok(correlate::Silence {
        id,
        site_id: text("site_id")?,
        device: text("device")?.map(|m| mist::normalize_mac(&m).unwrap_or(m)),
        kind,
        alarm_type: text("alarm_type")?,
        starts_at,
        ends_at,
        comment: text("comment")?.unwrap_or_default(),
        created_by: text("created_by")?.unwrap_or_else(|| "api".into()),
    })
}

/// Remove a silence
///
/// Incidents it already silenced stay silenced.
#[utoipa::path(
    delete,
    path = "/api/v1/silences/{id}",
    tag = "correlation",
    params(
        ("id" = i64, Path, description = "The silence's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no silence with that id.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn delete_silence(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let Ok(n) = id.parse::<i64>() else {
        return Err(ApiError::NotFound(format!("no silence with id `{id}`")));
    };
    let removed = app
        .stage
        .ask(|reply| Command::RemoveSilence { id: n, reply })
        .await
        .ok_or_else(stage_gone)?
        .map_err(command_error)?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no silence with id `{id}`")))
    }
}
