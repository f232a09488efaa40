//! Query parameters as Mist reads them: lists page with `limit`/`page` and answer
//! `X-Page-*` headers; searches take a time range (`start`, `end`, `duration`, epoch
//! seconds or relative like `-1h` and `now`), `limit`, `sort`, and continue with the
//! `search_after` their `next` link carries.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;

/// The default and largest page.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;
/// A search without `start` or `duration` covers a day (the spec's default `duration`).
const DEFAULT_DURATION_US: i64 = 86_400_000_000;

/// The query string, one value per name (the last one wins, as Django's `QueryDict.get`).
#[derive(Clone, Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Reads a raw query string.
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// A parameter's text, when given and not empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter, `default` when absent.
    pub fn uint(&self, name: &str, default: u64) -> Result<u64, ApiError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("{name}: `{v}` is not an integer"))),
        }
    }

    /// `limit`, at most 1000.
    pub fn limit(&self) -> Result<usize, ApiError> {
        Ok(self.uint("limit", DEFAULT_LIMIT)?.min(MAX_LIMIT) as usize)
    }

    /// The query again with `set` replacing (or adding) some names and `drop` removed.
    pub fn with(&self, set: &[(&str, String)], drop: &[&str]) -> String {
        let mut map = self.0.clone();
        for d in drop {
            map.remove(*d);
        }
        for (k, v) in set {
            map.insert((*k).to_string(), v.clone());
        }
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&map)
            .finish()
    }
}

/// A page of a list: `limit` items from `(page - 1) * limit`.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// Items per page.
    pub limit: usize,
    /// From 1.
    pub page: usize,
}

impl Page {
    /// `limit` (default 100) and `page` (default 1, at least 1).
    pub fn from(params: &Params) -> Result<Page, ApiError> {
        let page = params.uint("page", 1)?;
        if page == 0 {
            return Err(ApiError::BadRequest("page: must be at least 1".into()));
        }
        Ok(Page {
            limit: params.limit()?,
            page: page as usize,
        })
    }

    /// The items of this page, as a bare JSON array with Mist's `X-Page-Limit`,
    /// `X-Page-Page` and `X-Page-Total` (the total without paging) headers.
    pub fn answer<T: Serialize>(self, items: Vec<T>) -> Response {
        let total = items.len();
        let shown: Vec<T> = items
            .into_iter()
            .skip(self.limit.saturating_mul(self.page - 1))
            .take(self.limit)
            .collect();
        let mut response = Json(shown).into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-page-limit", self.limit),
            ("x-page-page", self.page),
            ("x-page-total", total),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
        response
    }
}

/// A search's time range, unix µs, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// From.
    pub start_us: i64,
    /// To.
    pub end_us: i64,
}

impl Range {
    /// `start`+`end`, `end`+`duration`, `start`+`duration` or `duration` alone (then up
    /// to now), as Mist combines them.
    pub fn from(params: &Params, now_us: i64) -> Result<Range, ApiError> {
        let time = |name: &str| {
            params
                .text(name)
                .map(|v| {
                    parse_time(v, now_us)
                        .ok_or_else(|| ApiError::BadRequest(format!("{name}: `{v}` is not a time")))
                })
                .transpose()
        };
        let duration = params
            .text("duration")
            .map(|v| {
                parse_duration(v).ok_or_else(|| {
                    ApiError::BadRequest(format!("duration: `{v}` is not a duration like 1d"))
                })
            })
            .transpose()?;
        let (start, end) = (time("start")?, time("end")?);
        let span = duration.unwrap_or(DEFAULT_DURATION_US);
        let range = match (start, end) {
            (Some(s), Some(e)) => Range {
                start_us: s,
                end_us: e,
            },
            (Some(s), None) if duration.is_some() => Range {
                start_us: s,
                end_us: s + span,
            },
            (Some(s), None) => Range {
                start_us: s,
                end_us: now_us,
            },
            (None, e) => {
                let end_us = e.unwrap_or(now_us);
                Range {
                    start_us: end_us - span,
                    end_us,
                }
            }
        };
        if range.start_us > range.end_us {
            return Err(ApiError::BadRequest("start: after end".into()));
        }
        Ok(range)
    }

    /// Whether `at_us` lies in the range.
    pub fn contains(&self, at_us: i64) -> bool {
        (self.start_us..=self.end_us).contains(&at_us)
    }

    /// The range in whole seconds, widened to hold every µs of it (what answers show and
    /// `next` links pin, so that a relative `now` does not move between pages).
    pub fn seconds(&self) -> (i64, i64) {
        (
            self.start_us.div_euclid(1_000_000),
            (self.end_us + 999_999).div_euclid(1_000_000),
        )
    }
}

/// Epoch seconds (with a fraction), `now`, or `-<n><unit>` before now.
pub fn parse_time(text: &str, now_us: i64) -> Option<i64> {
    if text == "now" {
        return Some(now_us);
    }
    if let Some(ago) = text.strip_prefix('-') {
        return parse_duration(ago).map(|d| now_us - d);
    }
    let seconds: f64 = text.parse().ok()?;
    seconds.is_finite().then(|| (seconds * 1e6).round() as i64)
}

/// `<n><unit>` with the units Mist uses: `s`, `m`, `h`, `d`, `w`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(unit_s)?.checked_mul(1_000_000)
}

/// Ascending or descending by time, from `sort` (`timestamp` or `-timestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

impl Order {
    /// `sort`, by time only; `default` when absent.
    pub fn from(params: &Params, default: Order) -> Result<Order, ApiError> {
        match params.text("sort") {
            None => Ok(default),
            Some("timestamp") => Ok(Order::Ascending),
            Some("-timestamp") => Ok(Order::Descending),
            Some(v) => Err(ApiError::BadRequest(format!(
                "sort: `{v}` is not timestamp or -timestamp"
            ))),
        }
    }
}

/// Where a search page ends: the last record's time and sequence number, carried in
/// `next` as `search_after=[time_us, seq]` (Mist's value is opaque to clients too).
pub type After = (i64, u64);

/// `search_after`, when the request continues a search.
pub fn search_after(params: &Params) -> Result<Option<After>, ApiError> {
    params
        .text("search_after")
        .map(|v| {
            serde_json::from_str::<After>(v)
                .map_err(|_| ApiError::BadRequest(format!("search_after: `{v}` is not ours")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000_000;

    #[test]
    fn times_and_durations_read_as_mist_writes_them() {
        assert_eq!(parse_time("now", NOW), Some(NOW));
        assert_eq!(parse_time("-1h", NOW), Some(NOW - 3_600_000_000));
        assert_eq!(parse_time("1749999999.5", NOW), Some(NOW - 500_000));
        assert_eq!(parse_duration("2w"), Some(2 * 604_800_000_000));
        assert_eq!(parse_time("yesterday", NOW), None);
        assert_eq!(parse_duration("5y"), None);
    }

    #[test]
    fn ranges_combine_start_end_and_duration() {
        let range = |q: &str| Range::from(&Params::parse(Some(q)), NOW);
        assert_eq!(
            range("").unwrap(),
            Range {
                start_us: NOW - DEFAULT_DURATION_US,
                end_us: NOW
            }
        );
        assert_eq!(
            range("duration=1h&end=-1h").unwrap().start_us,
            NOW - 7_200_000_000
        );
        assert_eq!(
            range("start=-2h&duration=1h").unwrap().end_us,
            NOW - 3_600_000_000
        );
        assert!(range("start=now&end=-1h").is_err());
        assert!(range("duration=soon").is_err());
    }

    #[test]
    fn next_links_keep_the_query_and_replace_the_cursor() {
        let p = Params::parse(Some("limit=5&type=x&search_after=%5B1%2C2%5D"));
        assert_eq!(search_after(&p).unwrap(), Some((1, 2)));
        let q = p.with(&[("search_after", "[3,4]".into())], &["duration"]);
        assert_eq!(q, "limit=5&search_after=%5B3%2C4%5D&type=x");
    }
}
