//! Mist's paging of lists (`listOrgWebhooks`, `listSiteWebhooks`): `limit` and `page` in
//! the query, a bare array in the body, and the `X-Page-Limit`, `X-Page-Page` and
//! `X-Page-Total` headers that Mist's own clients (`mistapi`'s `get_all`) follow.

use axum::http::{HeaderMap, HeaderValue};
use utoipa::IntoParams;

use crate::api::params::{Params, get};
use crate::error::ApiError;

/// The largest `limit`, as for mistgate's own lists.
const MAX_LIMIT: u32 = 1000;

/// The largest `page`: the document declares both as 32-bit integers (`int32`), as Mist's
/// own specification does.
const MAX_PAGE: u32 = i32::MAX as u32;

/// One page of a Mist list: `limit` items from item `(page - 1) * limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MistPage {
    pub limit: u32,
    pub page: u32,
}

impl MistPage {
    /// `limit` (1 to 1000, default 100) and `page` (from 1, default 1).
    pub(crate) fn of(q: &Params) -> Result<MistPage, ApiError> {
        let number = |name: &str, default: u32, range: std::ops::RangeInclusive<u32>| {
            let Some(v) = get(q, name) else {
                return Ok(default);
            };
            v.parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ApiError::InvalidQuery {
                    detail: format!(
                        "{name} `{v}` must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                })
        };
        Ok(MistPage {
            limit: number("limit", 100, 1..=MAX_LIMIT)?,
            page: number("page", 1, 1..=MAX_PAGE)?,
        })
    }

    /// This page of `items`, and the headers that say where it is.
    pub(crate) fn cut<T>(self, items: Vec<T>) -> (HeaderMap, Vec<T>) {
        let total = items.len();
        let skip = (self.page as usize - 1).saturating_mul(self.limit as usize);
        let page: Vec<T> = items
            .into_iter()
            .skip(skip)
            .take(self.limit as usize)
            .collect();
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-page-limit", self.limit as usize),
            ("x-page-page", self.page as usize),
            ("x-page-total", total),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
        (headers, page)
    }
}

/// The paging parameters of Mist's lists, for the OpenAPI document only.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MistPageQuery {
    /// How many webhooks per page, 1 to 1000.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// Which page, from 1; a page past the end is an empty array.
    #[param(minimum = 1, maximum = 2147483647, default = 1)]
    page: Option<u32>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::extract::Query;

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Params {
        Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn pages_cut_the_list_and_say_where_they_are() {
        let page = MistPage::of(&query(&[("limit", "2"), ("page", "2")])).unwrap();
        let (headers, items) = page.cut((1..=5).collect());
        assert_eq!(items, [3, 4]);
        assert_eq!(headers["x-page-limit"], "2");
        assert_eq!(headers["x-page-page"], "2");
        assert_eq!(headers["x-page-total"], "5");
        let (_, past) = MistPage { limit: 2, page: 9 }.cut((1..=5).collect());
        assert!(past.is_empty());
        let default = MistPage::of(&query(&[])).unwrap();
        assert_eq!(
            default,
            MistPage {
                limit: 100,
                page: 1
            }
        );
        let (_, huge) = MistPage {
            limit: 1000,
            page: u32::MAX,
        }
        .cut(vec![1]);
        assert!(huge.is_empty());
    }

    #[test]
    fn bad_paging_is_a_400_naming_the_parameter() {
        for (name, bad) in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "x"),
            ("page", "0"),
            ("page", "-1"),
            ("page", "2147483648"),
            ("page", ""),
        ] {
            let e = MistPage::of(&query(&[(name, bad)])).unwrap_err();
            assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_query"));
            assert!(e.to_string().starts_with(&format!("{name} `{bad}`")), "{e}");
        }
    }
}
