//! Silences (maintenance windows): kept by the correlation stage, which applies them to
//! the incidents that open from then on.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bytes::Bytes;
use correlate::{IncidentKind, Silence};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use super::answer::{List, Time};
use super::correlation::{command_error, parse_body, stage_gone};
use super::params::{
    EPOCH_SECONDS_PATTERN, MAX_EPOCH_SECONDS, SHOWN_US, parse_time, seconds_to_us, time_text,
};
use crate::access::audit::Before;
use crate::app_state::AppState;
use crate::correlation_stage::Command;
use crate::error::{ApiError, ErrorBody};

/// A silence (maintenance window): incidents that open inside it, and match every
/// matcher that is set, open with `silenced: true`. Unset matchers match anything.
#[derive(Serialize, ToSchema)]
pub struct SilenceView {
    /// The silence's id.
    id: i64,
    /// Only incidents at this site.
    #[schema(required = true)]
    site_id: Option<String>,
    /// Only incidents involving this device: the MAC normalised to 12 lowercase hex
    /// digits, or the value as given when it is not a MAC.
    #[schema(required = true)]
    device: Option<String>,
    /// Only incidents of this kind.
    #[schema(required = true)]
    kind: Option<IncidentKind>,
    /// Only incidents of this Mist type (case and `-`/`_` ignored).
    #[schema(required = true)]
    alarm_type: Option<String>,
    /// Start of the window, inclusive (checked against the incident's opening time).
    starts_at: Time,
    /// End of the window, inclusive.
    ends_at: Time,
    /// Why, for people; may be empty.
    comment: String,
    /// Who added it (`api` unless the request said).
    created_by: String,
}

impl From<Silence> for SilenceView {
    fn from(s: Silence) -> SilenceView {
        SilenceView {
            id: s.id,
            site_id: s.site_id,
            device: s.device,
            kind: s.kind,
            alarm_type: s.alarm_type,
            starts_at: Time(s.starts_at),
            ends_at: Time(s.ends_at),
            comment: s.comment,
            created_by: s.created_by,
        }
    }
}

/// The body of `POST /api/v1/silences` and `PUT /api/v1/silences/{id}`, for the
/// document (the handlers read it field by field, see [`silence_from`], so that each
/// mistake is named). Absent and `null` fields are unset; matchers that are set must be
/// non-empty strings.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SilenceBody {
    /// Only incidents at this site.
    #[schema(min_length = 1)]
    site_id: Option<String>,
    /// Only incidents involving this device: a MAC in any notation (stored normalised;
    /// a value that is not a MAC is kept as given).
    #[schema(min_length = 1)]
    device: Option<String>,
    /// Only incidents of this kind.
    kind: Option<IncidentKind>,
    /// Only incidents of this Mist type (case and `-`/`_` ignored).
    #[schema(min_length = 1)]
    alarm_type: Option<String>,
    /// Start of the window; now when left out.
    starts_at: Option<TimeInput>,
    /// End of the window; must be after `starts_at`.
    ends_at: TimeInput,
    /// Why, for people.
    comment: Option<String>,
    /// Who adds it; `api` when left out.
    created_by: Option<String>,
}

/// A time in a request body: an RFC 3339 string, or epoch seconds as a number or a
/// string (fractions allowed).
pub struct TimeInput;

impl utoipa::PartialSchema for TimeInput {
    fn schema() -> RefOr<Schema> {
        let mut any = time_text();
        // The number form has the bounds that the string form's pattern has.
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .exclusive_maximum(Some(MAX_EPOCH_SECONDS));
        any.items.push(seconds.into());
        any.description = Some(format!(
            "RFC 3339 (`2025-06-15T14:25:19Z`) within the years 0000 to 9999 in UTC, or epoch \
             seconds from 0 to below 1e11: a number, or a string matching \
             `{EPOCH_SECONDS_PATTERN}`."
        ));
        RefOr::T(Schema::AnyOf(any))
    }
}

impl ToSchema for TimeInput {}

/// List silences
///
/// Every silence, expired ones included, in the order they were added. Not paged.
#[utoipa::path(
    get,
    path = "/api/v1/silences",
    tag = "correlation",
    responses(
        (status = 200, description = "The silences.", body = List<SilenceView>),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or the correlation stage is not running.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list_silences(
    State(app): State<Arc<AppState>>,
) -> Result<Json<List<SilenceView>>, ApiError> {
    let silences = app
        .stage
        .ask(|reply| Command::Silences { reply })
        .await
        .ok_or_else(stage_gone)?;
    let items = silences.into_iter().map(SilenceView::from).collect();
    Ok(Json(List::new(items, None)))
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
    request_body(content = SilenceBody, content_type = "application/json", description = "The window and its matchers."),
    responses(
        (status = 201, description = "Added, with its id.", body = SilenceView),
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
) -> Result<(StatusCode, Json<SilenceView>), ApiError> {
    let silence = silence_from(&body, 0)?;
    let added = app
        .stage
        .ask(|reply| Command::AddSilence { silence, reply })
        .await
        .ok_or_else(stage_gone)?
        .map_err(command_error)?;
    Ok((StatusCode::CREATED, Json(added.into())))
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
    request_body(content = SilenceBody, content_type = "application/json", description = "The window and its matchers."),
    responses(
        (status = 200, description = "Replaced.", body = SilenceView),
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
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<SilenceView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no silence with id `{id}`"));
    let n = id.parse::<i64>().map_err(|_| not_found())?;
    let silence = silence_from(&body, n)?;
    remember(&app, n, &before).await?;
    let replaced = app
        .stage
        .ask(|reply| Command::ReplaceSilence { silence, reply })
        .await
        .ok_or_else(stage_gone)?
        .map_err(command_error)?
        .ok_or_else(not_found)?;
    Ok(Json(replaced.into()))
}

/// The silence `id` as it is, for the audit record of its change.
async fn remember(app: &AppState, id: i64, before: &Before) -> Result<(), ApiError> {
    let silences = app
        .stage
        .ask(|reply| Command::Silences { reply })
        .await
        .ok_or_else(stage_gone)?;
    if let Some(s) = silences.into_iter().find(|s| s.id == id) {
        before.set(SilenceView::from(s));
    }
    Ok(())
}

/// A silence from a request body, with the given id.
fn silence_from(body: &Bytes, id: i64) -> Result<Silence, ApiError> {
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
            serde_json::from_value::<IncidentKind>(Value::String(k.clone()))
                .ok()
                .ok_or_else(|| invalid(format!("`kind` `{k}` is not an incident kind")))?,
        ),
    };
    let starts_at = time("starts_at")?.unwrap_or_else(deliver::clock::now_us);
    let ends_at = time("ends_at")?.ok_or_else(|| invalid("`ends_at` is required".into()))?;
    if ends_at <= starts_at {
        return Err(invalid("`ends_at` must be after `starts_at`".into()));
    }
    Ok(Silence {
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
    Extension(before): Extension<Before>,
) -> Result<StatusCode, ApiError> {
    let Ok(n) = id.parse::<i64>() else {
        return Err(ApiError::NotFound(format!("no silence with id `{id}`")));
    };
    remember(&app, n, &before).await?;
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
