//! Query parameters shared by the lists: `limit`, `cursor`, `order`, `since`, `until`.
//!
//! Parameters arrive as plain strings and are parsed here, so that every mistake gets
//! the JSON error body instead of the framework's plain-text rejection.

use std::collections::HashMap;

use axum::extract::Query;
use store::{Order, PageRequest};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;

/// Query parameters as strings, so that every mistake gets the JSON error body.
pub(crate) type Params = Query<HashMap<String, String>>;

/// One query parameter.
pub(crate) fn get<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
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
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| invalid(format!("cursor `{c}` is not one this server handed out")))?,
        ),
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

/// A time filter: RFC 3339, or epoch seconds (integer or fractional). Returns unix µs.
pub fn instant(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs.abs() < 1e11
    {
        return Ok(Some((secs * 1e6).round() as i64));
    }
    OffsetDateTime::parse(v, &Rfc3339)
        .map(|t| Some((t.unix_timestamp_nanos() / 1_000) as i64))
        .map_err(|_| {
            invalid(format!(
                "{name} `{v}` must be RFC 3339 (2025-06-15T14:25:19Z) or epoch seconds"
            ))
        })
}

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
    since: Option<String>,
    /// Events whose own time is at or before this: RFC 3339 or epoch seconds.
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
    since: Option<String>,
    /// Requests received at or before this: RFC 3339 or epoch seconds.
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
    /// The `next_cursor` of the previous page; leave out for the first page.
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
}
