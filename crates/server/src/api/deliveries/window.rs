//! The time window of delivery results, as Mist's searches take it: `start` and `end`
//! (epoch seconds, RFC 3339, or relative to now: `-1h`, `-7d`, `now`), `duration`
//! (`10m`, `1d`, `2w`) and mistgate's `since`/`until`. Pure: the caller passes the clock.

use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::api::params::{Params, get, parse_time, pattern_string, time_text};
use crate::error::ApiError;

/// `duration` when neither it nor both ends are given: Mist's default, one day.
const DEFAULT_DURATION_US: i64 = 86_400_000_000;

/// A relative time: `now`, or a minus sign and a duration (`-1h`).
pub(crate) const RELATIVE_PATTERN: &str = "^(now|-[0-9]{1,9}[smhdw])$";

/// A duration: a count and its unit, seconds to weeks.
pub(crate) const DURATION_PATTERN: &str = "^[0-9]{1,9}[smhdw]$";

/// The window, unix µs, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: i64,
    pub end: i64,
}

/// A duration as `DURATION_PATTERN` writes it, in µs.
fn duration_us(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let count = &text[..text.len() - unit.len_utf8()];
    if count.is_empty() || count.len() > 9 || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    // A longer span than the clock covers is everything: it saturates.
    Some(
        count
            .parse::<i64>()
            .ok()?
            .saturating_mul(seconds * 1_000_000),
    )
}

/// A time as a window's end takes it: absolute (see `parse_time`) or relative to `now`.
fn moment(name: &str, v: &str, now: i64) -> Result<i64, ApiError> {
    let relative = match v {
        "now" => Some(now),
        _ => v
            .strip_prefix('-')
            .and_then(duration_us)
            .map(|d| now.saturating_sub(d)),
    };
    relative
        .or_else(|| parse_time(v))
        .ok_or_else(|| ApiError::InvalidQuery {
            detail: format!(
                "{name} `{v}` must be epoch seconds, RFC 3339 (2025-06-15T14:25:19Z), `now` or \
             relative to now (`-1h`, `-7d`)"
            ),
        })
}

impl Window {
    /// The window of a query, as Mist reads it: `start` and `end`; `end` (default now)
    /// and `duration` before it; `start` and `duration` after it; `duration` defaults to
    /// one day. `since`/`until` are mistgate's names of `start`/`end`, and win over them.
    pub(crate) fn of(q: &Params, now: i64) -> Result<Window, ApiError> {
        let end_of = |name: &str| get(q, name).map(|v| moment(name, v, now)).transpose();
        let start = end_of("since")?.or(end_of("start")?);
        let end = end_of("until")?.or(end_of("end")?);
        let duration = match get(q, "duration") {
            None => None,
            Some(v) => Some(duration_us(v).ok_or_else(|| ApiError::InvalidQuery {
                detail: format!("duration `{v}` must be a count and a unit: `10m`, `1d`, `2w`"),
            })?),
        };
        let span = duration.unwrap_or(DEFAULT_DURATION_US);
        Ok(match (start, end) {
            (Some(start), Some(end)) => Window { start, end },
            (Some(start), None) if duration.is_some() => Window {
                start,
                end: start.saturating_add(span),
            },
            (Some(start), None) => Window { start, end: now },
            (None, end) => {
                let end = end.unwrap_or(now);
                Window {
                    start: end.saturating_sub(span),
                    end,
                }
            }
        })
    }

    /// Epoch seconds of the start, as Mist's answers write it.
    pub(crate) fn start_s(self) -> i64 {
        self.start.div_euclid(1_000_000)
    }

    /// Epoch seconds of the end, rounded up so that the window it names holds this one.
    pub(crate) fn end_s(self) -> i64 {
        self.end.div_euclid(1_000_000) + i64::from(self.end.rem_euclid(1_000_000) != 0)
    }
}

/// The schema of `start`/`end`/`since`/`until`: a time (RFC 3339 or epoch seconds) or
/// relative to now (`now`, `-1h`).
pub(crate) struct WindowTimeParam;

impl utoipa::PartialSchema for WindowTimeParam {
    fn schema() -> RefOr<Schema> {
        let mut any = AnyOfBuilder::new();
        for item in time_text().items {
            any = any.item(item);
        }
        any = any.item(pattern_string(RELATIVE_PATTERN));
        RefOr::T(Schema::AnyOf(any.build()))
    }
}

impl utoipa::ToSchema for WindowTimeParam {}

/// The schema of `duration`.
pub(crate) struct DurationParam;

impl utoipa::PartialSchema for DurationParam {
    fn schema() -> RefOr<Schema> {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(DURATION_PATTERN))
            .default(Some("1d".into()))
            .build();
        RefOr::T(Schema::Object(schema))
    }
}

impl utoipa::ToSchema for DurationParam {}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::extract::Query;

    use super::*;

    const NOW: i64 = 1_750_000_000_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn window(pairs: &[(&str, &str)]) -> Result<Window, ApiError> {
        let q = Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        );
        Window::of(&q, NOW)
    }

    #[test]
    fn mist_windows_relative_and_absolute() {
        let day = 24 * HOUR;
        assert_eq!(
            window(&[]).unwrap(),
            Window {
                start: NOW - day,
                end: NOW
            }
        );
        assert_eq!(
            window(&[("start", "-1h"), ("end", "now")]).unwrap(),
            Window {
                start: NOW - HOUR,
                end: NOW
            }
        );
        assert_eq!(
            window(&[("duration", "1h")]).unwrap(),
            Window {
                start: NOW - HOUR,
                end: NOW
            }
        );
        assert_eq!(
            window(&[("end", "-2h"), ("duration", "30m")]).unwrap(),
            Window {
                start: NOW - 2 * HOUR - HOUR / 2,
                end: NOW - 2 * HOUR
            }
        );
        assert_eq!(
            window(&[("start", "1749990000"), ("duration", "2w")]).unwrap(),
            Window {
                start: 1_749_990_000_000_000,
                end: 1_749_990_000_000_000 + 14 * day
            }
        );
        assert_eq!(
            window(&[("start", "1749990000")]).unwrap(),
            Window {
                start: 1_749_990_000_000_000,
                end: NOW
            }
        );
        // mistgate's names win over Mist's.
        assert_eq!(
            window(&[
                ("since", "-10s"),
                ("start", "-1w"),
                ("until", "2025-06-15T15:06:40Z")
            ])
            .unwrap(),
            Window {
                start: NOW - 10_000_000,
                end: NOW
            }
        );
        let everything = window(&[("duration", "999999999w")]).unwrap();
        assert!(
            everything.start < 0 && everything.end == NOW,
            "{everything:?}"
        );
        let w = Window {
            start: NOW - 1,
            end: NOW + 1,
        };
        assert_eq!((w.start_s(), w.end_s()), (1_749_999_999, 1_750_000_001));
    }

    #[test]
    fn bad_times_and_durations_are_a_400_naming_the_parameter() {
        for (name, bad) in [
            ("start", "-1y"),
            ("start", "yesterday"),
            ("end", "+1h"),
            ("end", "-h"),
            ("duration", "1"),
            ("duration", "-1h"),
            ("until", ""),
        ] {
            let e = window(&[(name, bad)]).unwrap_err();
            assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_query"));
            assert!(e.to_string().starts_with(&format!("{name} `{bad}`")), "{e}");
        }
    }
}
