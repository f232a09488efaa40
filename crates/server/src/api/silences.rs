//! Silences (maintenance windows): kept by the correlation stage, which applies them to
//! the incidents that open from then on.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;

use super::correlation::{command_error, list, parse_body, stage_gone, with_times};
use super::correlation_doc::{IncidentKindDoc, SilenceDoc, SilenceListDoc, SilenceRequestDoc};
use super::params::{SHOWN_US, parse_time, seconds_to_us};
use crate::error::{ApiError, ErrorBody};
use crate::stage::Command;
use crate::state::AppState;

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
        (status = 422, description = "`invalid_body`: the body is not an object, a field breaks its schema (wrong type, an empty matcher, a time that is neither RFC 3339 nor epoch seconds, an unknown `kind`), or breaks a rule the schema cannot state: `ends_at` must be after `starts_at` (now when left out), and an RFC 3339 time within the years 0000 to 9999 once in UTC.", body = ErrorBody),
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
    let invalid = |detail: String| ApiError::InvalidBody { detail };
    let v = match parse_body(body)? {
        Value::Object(v) => v,
        other => {
            return Err(invalid(format!(
                "the body must be an object, found {other}"
            )));
        }
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(format!("`{name}` must be a string, found {other}"))),
        }
    };
    // An empty matcher would match nothing at all: leaving it out matches anything.
    let matcher = |name: &str| -> Result<Option<String>, ApiError> {
        match text(name)? {
            Some(s) if s.is_empty() => Err(invalid(format!(
                "`{name}` must not be empty; leave it out to match any"
            ))),
            m => Ok(m),
        }
    };
    let time =
        |name: &str| -> Result<Option<i64>, ApiError> {
            let found = match v.get(name) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Number(n)) => n.as_f64().and_then(seconds_to_us),
                Some(Value::String(s)) => parse_time(s),
                Some(_) => None,
            };
            // Within the years RFC 3339 can show: the answer shows the time.
            found.filter(|us| SHOWN_US.contains(us)).map(Some).ok_or_else(|| {
            invalid(format!(
                "`{name}` must be RFC 3339 (years 0000 to 9999 in UTC) or epoch seconds from \
                 0 to below 1e11, found {}",
                v[name]
            ))
        })
        };
    let kind = match text("kind")? {
        None => None,
        Some(k) => Some(
            serde_json::from_value::<IncidentKindDoc>(Value::String(k.clone()))
                .ok()
                .and_then(|d| serde_json::to_value(d).ok())
                .and_then(|d| serde_json::from_value::<correlate::IncidentKind>(d).ok())
                .ok_or_else(|| invalid(format!("`kind` `{k}` is not an incident kind")))?,
        ),
    };
    let starts_at = time("starts_at")?.unwrap_or_else(crate::clock::now_us);
    let ends_at = time("ends_at")?.ok_or_else(|| invalid("`ends_at` is required".into()))?;
    if ends_at <= starts_at {
        return Err(invalid("`ends_at` must be after `starts_at`".into()));
    }
    Ok(correlate::Silence {
        id,
        site_id: matcher("site_id")?,
        device: matcher("device")?.map(|m| mist::normalize_mac(&m).unwrap_or(m)),
        kind,
        alarm_type: matcher("alarm_type")?,
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
