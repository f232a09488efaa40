//! Query parameters shared by the lists: `limit`, `cursor`, `order`, `since`, `until`.
//!
//! Parameters arrive as plain strings and are parsed here, so that every mistake gets
//! the JSON error body instead of the framework's plain-text rejection.

use std::collections::HashMap;

use axum::extract::Query;
use serde::de::DeserializeOwned;
use store::{Order, PageRequest};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::schema::{
    AnyOf, AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, Schema};

use crate::error::ApiError;

/// Query parameters as strings, so that every mistake gets the JSON error body.
pub(crate) type Params = Query<HashMap<String, String>>;

/// One query parameter.
pub(crate) fn get<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
}

/// The `topic` filter, in any spelling, as the canonical name the store keeps.
pub(crate) fn topic(q: &Params) -> Option<String> {
    get(q, "topic").map(|t| mist::Topic::parse(t).as_str().to_string())
}

/// `limit`, `cursor` and `order` of a list request.
pub(crate) fn page_of(q: &Params) -> Result<PageRequest, ApiError> {
    page(get(q, "limit"), get(q, "cursor"), get(q, "order"))
}

fn invalid(detail: String) -> ApiError {
    ApiError::InvalidQuery { detail }
}

/// `limit` (1..=1000, default 100), `cursor` (from a previous `next_cursor`), `order`.
pub fn page(
    limit: Option<&str>,
    cursor: Option<&str>,
    order: Option<&str>,
) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => 100,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(invalid(format!(
                    "limit `{l}` must be an integer from 1 to 1000"
                )));
            }
        },
    };
    let after =
        match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(cursor_value(c).ok_or_else(|| {
                invalid(format!("cursor `{c}` is not one this server handed out"))
            })?),
        };
    let order = match order {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(o) => return Err(invalid(format!("order `{o}` must be `asc` or `desc`"))),
    };
    Ok(PageRequest {
        limit,
        after,
        order,
    })
}

/// The grammar of a cursor as the document states it: today the id of the last item of
/// the page, and never longer than 18 digits (always an `i64`). Clients treat it as
/// opaque; empty means the first page, as absent does.
pub(crate) const CURSOR_PATTERN: &str = "^[0-9]{0,18}$";

fn cursor_value(c: &str) -> Option<i64> {
    if c.len() > 18 || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    c.parse().ok()
}

/// Epoch seconds are from 0 to below this (the year 5138): every such time converts to
/// unix µs and shows as RFC 3339.
pub(crate) const MAX_EPOCH_SECONDS: f64 = 1e11;

/// Epoch seconds written as text: a decimal with at most 11 integer digits (so below
/// [`MAX_EPOCH_SECONDS`]).
pub(crate) const EPOCH_SECONDS_PATTERN: &str = r"^[0-9]{1,11}(\.[0-9]+)?$";

/// Epoch seconds as unix µs, if from 0 to below [`MAX_EPOCH_SECONDS`].
pub(crate) fn seconds_to_us(secs: f64) -> Option<i64> {
    (0.0..MAX_EPOCH_SECONDS)
        .contains(&secs)
        .then(|| (secs * 1e6).round() as i64)
}

/// The times RFC 3339 can show, unix µs: the years 0000 to 9999 in UTC.
pub(crate) const SHOWN_US: std::ops::RangeInclusive<i64> =
    -62_167_219_200_000_000..=253_402_300_799_999_999;

/// Epoch seconds by [`EPOCH_SECONDS_PATTERN`], without a regex engine.
fn epoch_seconds(v: &str) -> Option<f64> {
    let (int, frac) = match v.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (v, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if int.len() > 11 || !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    v.parse().ok()
}

/// A time: RFC 3339 (`2025-06-15T14:25:19Z`, any offset, any fraction of a second) or
/// epoch seconds by [`EPOCH_SECONDS_PATTERN`]. Returns unix µs.
pub(crate) fn parse_time(v: &str) -> Option<i64> {
    if let Some(secs) = epoch_seconds(v) {
        return seconds_to_us(secs);
    }
    // RFC 3339's grammar (and JSON Schema's `date-time`) has `T` between date and time;
    // the parser also takes the space that the RFC's prose allows.
    if !matches!(v.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    let t = OffsetDateTime::parse(v, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000).ok()
}

/// A time filter (see [`parse_time`]); absent is no filter, anything else that is not a
/// time (the empty string too) is refused. Returns unix µs.
pub fn instant(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else {
        return Ok(None);
    };
    parse_time(v).map(Some).ok_or_else(|| {
        invalid(format!(
            "{name} `{v}` must be RFC 3339 (2025-06-15T14:25:19Z) or epoch seconds"
        ))
    })
}

/// A query parameter whose values are a closed set: the serde names of `T`, which are
/// also the `enum` of `T`'s schema in the document. Absent is `None`; any other value,
/// the empty string too, is a 400 naming the allowed ones.
pub(crate) fn one_of<T: DeserializeOwned + utoipa::PartialSchema>(
    q: &Params,
    name: &str,
) -> Result<Option<T>, ApiError> {
    let Some(v) = get(q, name) else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map(Some)
        .map_err(|_| {
            let allowed: Vec<String> = enum_values::<T>()
                .iter()
                .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                .collect();
            invalid(format!(
                "{name} `{v}` must be one of {}",
                allowed.join(", ")
            ))
        })
}

/// The `enum` of a type's schema.
pub(crate) fn enum_values<T: utoipa::PartialSchema>() -> Vec<serde_json::Value> {
    match T::schema() {
        RefOr::T(Schema::Object(o)) => o.enum_values.unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A string schema with a pattern.
pub(crate) fn pattern_string(pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
}

/// The text forms of a time: RFC 3339 or epoch seconds (see [`parse_time`]).
pub(crate) fn time_text() -> AnyOf {
    let date_time = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    AnyOfBuilder::new()
        .item(date_time)
        .item(pattern_string(EPOCH_SECONDS_PATTERN))
        .build()
}

/// A time query parameter, for the document (`#[param(value_type = TimeParam, inline)]`):
/// RFC 3339 or epoch seconds, see [`parse_time`].
pub(crate) struct TimeParam;

impl utoipa::PartialSchema for TimeParam {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::AnyOf(time_text()))
    }
}

impl utoipa::ToSchema for TimeParam {}

/// `cursor`, for the document: opaque to clients, see [`CURSOR_PATTERN`].
pub(crate) struct CursorParam;

impl utoipa::PartialSchema for CursorParam {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(pattern_string(CURSOR_PATTERN).build()))
    }
}

impl utoipa::ToSchema for CursorParam {}

/// Unix µs as RFC 3339 UTC with microseconds, the format of every time in the API.
pub fn rfc3339(us: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let d = t.date();
    let (h, m, s) = (t.hour(), t.minute(), t.second());
    format!(
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{:06}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        t.microsecond()
    )
}

/// The query parameters of `GET /api/v1/events`, for the OpenAPI document only: the
/// handler reads them as strings (see `list_events`) so that every mistake gets the JSON
/// error body.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventQuery {
    /// Topic, in any spelling (`device_events`, `Device-Events`): matched by canonical name.
    topic: Option<String>,
    /// Exact organisation id.
    org_id: Option<String>,
    /// Exact site id.
    site_id: Option<String>,
    /// Exact event `type` (e.g. `AP_DISCONNECTED`).
    #[param(rename = "type")]
    event_type: Option<String>,
    /// MAC in any notation (`5c:5b:35:0e:55:c8`, `5C5B-350E-55C8`, `5c5b.350e.55c8`).
    mac: Option<String>,
    /// Exact source name (`/ingest/{source}`).
    source: Option<String>,
    /// Events whose own time is at or after this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// Events whose own time is at or before this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
}

/// The query parameters of `GET /api/v1/requests`, for the OpenAPI document only.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RequestQuery {
    /// Exact source name (`/ingest/{source}`).
    source: Option<String>,
    /// The envelope's topic, in any spelling: matched by canonical name.
    topic: Option<String>,
    /// Requests received at or after this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// Requests received at or before this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
}

/// The paging parameters of every list (see [`page`]), for the OpenAPI document only.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// How many items to answer, 1 to 1000.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page, passed back unchanged (opaque: its form may
    /// change); leave out, or empty, for the first page. A value this server could not have
    /// handed out is 400 `invalid_query`.
    #[param(value_type = Option<CursorParam>, inline)]
    cursor: Option<String>,
    /// `desc` (newest first) or `asc` (oldest first, the order for tailing the log).
    #[param(inline)]
    order: Option<OrderParam>,
}

// The values of `order`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase", default = "desc")]
#[allow(dead_code)]
pub enum OrderParam {
    Desc,
    Asc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_both_ways_and_format_with_fractions() {
        assert_eq!(
            instant("since", Some("1749998077.5")).unwrap(),
            Some(1_749_998_077_500_000)
        );
        assert_eq!(
            instant("since", Some("2025-06-15T14:34:37.5Z")).unwrap(),
            Some(1_749_998_077_500_000)
        );
        assert_eq!(
            instant("since", Some("2025-06-15T16:34:37.5+02:00")).unwrap(),
            Some(1_749_998_077_500_000)
        );
        assert_eq!(instant("since", None).unwrap(), None);
        assert!(instant("since", Some("yesterday")).is_err());
        assert_eq!(
            rfc3339(1_749_998_077_621_725),
            "2025-06-15T14:34:37.621725Z"
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn paging_parameters_are_checked() {
        let p = page(Some("10"), Some("42"), Some("asc")).unwrap();
        assert_eq!((p.limit, p.after, p.order), (10, Some(42), Order::Asc));
        assert!(page(Some("0"), None, None).is_err());
        assert!(page(Some("5000"), None, None).is_err());
        assert!(page(None, Some("abc"), None).is_err());
        assert!(page(None, None, Some("sideways")).is_err());
    }

    /// The cursor grammar is the document's pattern: up to 18 digits, empty for the
    /// first page; anything else is a 400 with the JSON error.
    #[test]
    fn cursors_follow_the_documented_pattern() {
        assert_eq!(page(None, Some(""), None).unwrap().after, None);
        assert_eq!(page(None, Some("007"), None).unwrap().after, Some(7));
        let longest = "9".repeat(18);
        assert_eq!(
            page(None, Some(&longest), None).unwrap().after,
            Some(999_999_999_999_999_999)
        );
        for bad in [
            "+5",
            "-1",
            " 5",
            "5 ",
            "1e3",
            "0x10",
            "9999999999999999999",
            "¤",
        ] {
            let e = page(None, Some(bad), None).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code()),
                (400, "invalid_query"),
                "{bad}"
            );
            assert!(e.to_string().contains("cursor"), "{bad}: {e}");
        }
    }

    /// Times are RFC 3339 or decimal epoch seconds below 1e11, exactly as the document's
    /// `anyOf` says; the empty string and other number spellings are refused.
    #[test]
    fn times_follow_the_documented_grammar() {
        assert_eq!(parse_time("0"), Some(0));
        assert_eq!(parse_time("99999999999.5"), Some(99_999_999_999_500_000));
        assert_eq!(
            parse_time("0001-01-01T00:00:00+23:59"),
            Some(-62_135_683_140_000_000)
        );
        assert!(parse_time("9999-12-31T23:59:59.999999-23:59").is_some());
        assert!(parse_time("2025-06-15T14:25:19-00:00").is_some());
        assert!(parse_time("2025-06-15t14:25:19z").is_some());
        assert!(parse_time("2025-06-15T14:25:19.1234567891Z").is_some());
        assert!(parse_time("2016-12-31T23:59:60Z").is_some());
        for bad in [
            "",
            "100000000000",
            "-86400",
            "1e9",
            "+5",
            ".5",
            "5.",
            "inf",
            "NaN",
            "2025-06-15",
            "2024-01-01T12:99:00Z",
            "2025-06-15 14:25:19Z",
            "2025-06-15T14:25:19+24:00",
            "2025-06-15T14:25:60Z",
            "2025-02-29T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
            let e = instant("until", Some(bad)).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code()),
                (400, "invalid_query"),
                "{bad}"
            );
            assert!(e.to_string().starts_with("until `"), "{bad}: {e}");
        }
    }

    #[derive(serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    enum Colour {
        Red,
        DarkBlue,
    }

    /// A closed set is parsed by the same type that documents it, and its 400 names
    /// every documented value.
    #[test]
    fn closed_sets_are_parsed_by_their_documented_type() {
        let q =
            |v: &str| -> Params { Query(HashMap::from([("colour".to_string(), v.to_string())])) };
        assert!(matches!(
            one_of::<Colour>(&q("dark_blue"), "colour"),
            Ok(Some(Colour::DarkBlue))
        ));
        assert!(matches!(
            one_of::<Colour>(&q("red"), "colour"),
            Ok(Some(Colour::Red))
        ));
        assert!(matches!(one_of::<Colour>(&q("red"), "other"), Ok(None)));
        for bad in ["", "Red", "AAA"] {
            let e = one_of::<Colour>(&q(bad), "colour").err().unwrap();
            assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_query"));
            assert_eq!(
                e.to_string(),
                format!("colour `{bad}` must be one of `red`, `dark_blue`")
            );
        }
        assert_eq!(enum_values::<OrderParam>(), ["desc", "asc"]);
    }
}
