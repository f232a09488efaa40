//! `GET /api/v1/stats/series`: events stored over time, per topic, in buckets of a whole
//! number of minutes, for charts. Read from the store's per-minute counts
//! (`Store::series`), never from the events.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use store::{MINUTE_US, SeriesQuery};
use utoipa::{IntoParams, ToSchema};

use super::answer::Time;
use super::params::{Params, SHOWN_US, TimeParam, get, instant, pattern_string, topic};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// Most buckets one answer holds.
pub(crate) const MAX_BUCKETS: i64 = 2_000;

/// How far back `since` goes when left out.
const DEFAULT_SPAN_US: i64 = 60 * MINUTE_US;

/// The grammar of `step`: whole minutes from 1 minute to 1 day, in one unit (the
/// humantime spellings `1m` to `1440m`, `1h` to `24h`, `1d`), no leading zero.
pub(crate) const STEP_PATTERN: &str =
    "^(([1-9][0-9]{0,2}|1[0-3][0-9]{2}|14[0-3][0-9]|1440)m|([1-9]|1[0-9]|2[0-4])h|1d)$";

/// `step` as minutes, by [`STEP_PATTERN`] (without a regex engine).
fn step_minutes(v: &str) -> Option<u32> {
    let unit = v.chars().last()?;
    let digits = &v[..v.len() - unit.len_utf8()];
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    let (minutes, max) = match unit {
        'm' => (n, 1_440),
        'h' => (n.checked_mul(60)?, 24 * 60),
        'd' => (n.checked_mul(1_440)?, 1_440),
        _ => return None,
    };
    (minutes <= max).then_some(minutes)
}

/// `step` for the document: [`STEP_PATTERN`], `1m` by default.
pub(crate) struct StepParam;

impl utoipa::PartialSchema for StepParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(
            pattern_string(STEP_PATTERN)
                .default(Some(serde_json::Value::from("1m")))
                .build(),
        ))
    }
}

impl ToSchema for StepParam {}

/// The query parameters of `GET /api/v1/stats/series`, for the OpenAPI document only: the
/// handler reads them as strings so that every mistake gets the JSON error body.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SeriesParams {
    /// Only this topic, in any spelling (`device_events`, `Device-Events`): matched by
    /// canonical name.
    topic: Option<String>,
    /// Only events received from this source (`/ingest/{source}`).
    source: Option<String>,
    /// Bucket width, whole minutes from 1 minute to 1 day: `1m` to `1440m`, `1h` to
    /// `24h`, or `1d` (default `1m`). Buckets start at multiples of the width from the unix
    /// epoch.
    #[param(value_type = Option<StepParam>, inline)]
    step: Option<String>,
    /// The bucket holding this receive time is the first: RFC 3339 or epoch seconds.
    /// Default: an hour before `until`.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// The bucket holding this receive time is the last: RFC 3339 or epoch seconds.
    /// Default: now. At most 2,000 buckets from `since`'s to `until`'s.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
}

/// Events received per bucket and topic.
#[derive(Serialize, ToSchema)]
pub struct SeriesView {
    /// The bucket width in seconds (a whole number of minutes).
    step_seconds: i64,
    /// The start of the first bucket: the one holding the `since` asked for.
    since: Time,
    /// The end of the last bucket (exclusive): the one holding the `until` asked for.
    until: Time,
    /// One series per topic that has events in the range, by topic name.
    series: Vec<TopicSeriesView>,
}

/// One topic's buckets.
#[derive(Serialize, ToSchema)]
pub struct TopicSeriesView {
    /// The topic's canonical name.
    topic: String,
    /// The buckets that hold events, oldest first; a bucket left out holds none.
    points: Vec<PointView>,
}

/// One bucket of one topic.
#[derive(Serialize, ToSchema)]
pub struct PointView {
    /// The bucket's start.
    t: Time,
    /// Events stored (received, duplicates not counted) in the bucket.
    events: i64,
}

fn invalid(detail: String) -> ApiError {
    ApiError::InvalidQuery { detail }
}

/// The checked query of a request at `now` (unix µs).
fn query(q: &Params, now: i64) -> Result<SeriesQuery, ApiError> {
    let step = match get(q, "step") {
        None => 1,
        Some(v) => step_minutes(v).ok_or_else(|| {
            invalid(format!(
                "step `{v}` must be whole minutes from 1 minute to 1 day: `1m` to `1440m`, `1h` to `24h`, or `1d`"
            ))
        })?,
    };
    let until = instant("until", get(q, "until"))?.unwrap_or(now);
    let since = instant("since", get(q, "since"))?.unwrap_or(until - DEFAULT_SPAN_US);
    if since > until {
        return Err(invalid("since must not be after until".to_string()));
    }
    let width = i64::from(step) * MINUTE_US;
    let buckets = until.div_euclid(width) - since.div_euclid(width) + 1;
    if buckets > MAX_BUCKETS {
        return Err(invalid(format!(
            "since to until is {buckets} buckets of {step} min; at most {MAX_BUCKETS}: a wider step or a shorter range"
        )));
    }
    Ok(SeriesQuery {
        since,
        until,
        step_minutes: step,
        topic: topic(q),
        source: get(q, "source").map(str::to_string),
    })
}

/// Events over time
///
/// How many events were stored per bucket of `step` and per topic, by the time mistgate
/// received them (duplicates are not stored, so not counted). Buckets are aligned to
/// multiples of `step` from the unix epoch and taken whole: the first holds `since`, the
/// last holds `until`. Only buckets with events are listed. Counts are kept per minute as
/// events are stored, so a day of buckets costs the same however many events it holds;
/// retention removes the counts of the minutes it removed events from.
#[utoipa::path(
    get,
    path = "/api/v1/stats/series",
    tag = "log",
    params(SeriesParams),
    responses(
        (status = 200, description = "The series.", body = SeriesView),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value, `since` is after `until`, or the range holds more than 2,000 buckets.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn series(
    State(app): State<Arc<AppState>>,
    q: Params,
) -> Result<Json<SeriesView>, ApiError> {
    let query = query(&q, deliver::clock::now_us())?;
    let width = i64::from(query.step_minutes) * MINUTE_US;
    let since = query.since.div_euclid(width) * width;
    // The last bucket's end, within what RFC 3339 can show (the year 9999).
    let until = ((query.until.div_euclid(width) + 1) * width).min(*SHOWN_US.end());
    let points = app.store.series(query.clone()).await?;
    let mut by_topic: BTreeMap<String, Vec<PointView>> = BTreeMap::new();
    for p in points {
        by_topic.entry(p.topic).or_default().push(PointView {
            t: Time(p.bucket),
            events: p.events,
        });
    }
    Ok(Json(SeriesView {
        step_seconds: width / 1_000_000,
        since: Time(since),
        until: Time(until),
        series: by_topic
            .into_iter()
            .map(|(topic, points)| TopicSeriesView { topic, points })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::extract::Query;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    /// The steps accepted are exactly those of the documented pattern: every whole-minute
    /// spelling from 1 minute to 1 day in one unit, nothing else.
    #[test]
    fn steps_follow_the_documented_grammar() {
        assert_eq!(step_minutes("1m"), Some(1));
        assert_eq!(step_minutes("5m"), Some(5));
        assert_eq!(step_minutes("1440m"), Some(1_440));
        assert_eq!(step_minutes("1h"), Some(60));
        assert_eq!(step_minutes("24h"), Some(1_440));
        assert_eq!(step_minutes("1d"), Some(1_440));
        for bad in [
            "",
            "m",
            "0m",
            "01m",
            "1441m",
            "25h",
            "2d",
            "0d",
            "1s",
            "60s",
            "1h30m",
            "1 m",
            "-1m",
            "+1m",
            "1M",
            "1.5h",
            "1é",
            "99999999999m",
        ] {
            assert_eq!(step_minutes(bad), None, "{bad}");
        }
        // The hand parser and the pattern agree on every count of every unit up to 2,000.
        for n in 0..2_000u32 {
            for unit in ["m", "h", "d"] {
                let v = format!("{n}{unit}");
                let in_pattern = match unit {
                    "m" => (1..=1_440).contains(&n),
                    "h" => (1..=24).contains(&n),
                    _ => n == 1,
                };
                assert_eq!(step_minutes(&v).is_some(), in_pattern, "{v}");
            }
        }
    }

    #[test]
    fn defaults_are_the_last_hour_by_minute_and_limits_give_400s() {
        let now = 1_749_998_077_000_000;
        let q = query(&params(&[]), now).unwrap();
        assert_eq!(
            (q.since, q.until, q.step_minutes),
            (now - 3_600_000_000, now, 1)
        );
        assert_eq!((q.topic, q.source), (None, None));
        let q = query(
            &params(&[
                ("topic", "Device_Events"),
                ("source", "lab"),
                ("step", "1h"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(q.topic.as_deref(), Some("device-events"));
        assert_eq!(q.source.as_deref(), Some("lab"));
        assert_eq!(q.step_minutes, 60);
        // 2,000 one-minute buckets pass, 2,001 do not.
        let since = "1749990000";
        let until_ok = (1_749_990_000 + 1_999 * 60).to_string();
        assert!(query(&params(&[("since", since), ("until", &until_ok)]), now).is_ok());
        let until_over = (1_749_990_000 + 2_000 * 60).to_string();
        for bad in [
            params(&[("since", since), ("until", &until_over)]),
            params(&[("step", "90s")]),
            params(&[("since", "yesterday")]),
            params(&[("since", "1749990060"), ("until", "1749990000")]),
            params(&[("since", "0")]),
        ] {
            let e = query(&bad, now).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code()),
                (400, "invalid_query"),
                "{e}"
            );
        }
    }
}
