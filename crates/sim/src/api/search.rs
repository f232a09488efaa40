//! The searches over what the org said: alarms, device events (org and site) and the
//! audit logs, with Mist's time ranges, `limit`, `sort`, `total` and `next` links.

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use serde_json::{Map, Value, json};

use super::history::{Log, Record};
use super::query::{Order, Params, Range, search_after};
use super::{ApiError, Cloud, lock};

/// The search answer for `log`: records in range that `keep` accepts, one page, with a
/// `next` link (this path, the same query pinned to absolute times, and the cursor).
fn answer(
    path: &str,
    params: &Params,
    log: &Log,
    keep: impl Fn(&Record) -> bool,
) -> Result<Json<Value>, ApiError> {
    let range = Range::from(params, crate::send::now_us())?;
    let order = Order::from(params, Order::Ascending)?;
    let limit = params.limit()?;
    let found = log.search(range, order, search_after(params)?, limit, keep);
    let (start, end) = range.seconds();
    let mut body = json!({
        "start": start,
        "end": end,
        "limit": limit,
        "total": found.total,
        "results": found.page.iter().map(|r| Value::Object(r.view.clone())).collect::<Vec<_>>(),
    });
    if let Some(after) = found.next {
        let query = params.with(
            &[
                ("start", start.to_string()),
                ("end", end.to_string()),
                (
                    "search_after",
                    serde_json::to_string(&after).unwrap_or_default(),
                ),
            ],
            &["duration"],
        );
        body["next"] = Value::from(format!("{path}?{query}"));
    }
    Ok(Json(body))
}

/// Whether `r`'s `field` is what the query asks for (or the query does not ask).
fn matches(params: &Params, r: &Record, field: &str) -> bool {
    params.text(field).is_none_or(|w| r.has(field, w))
}

fn alarm_filter<'a>(params: &'a Params, site: Option<&'a str>) -> impl Fn(&Record) -> bool + 'a {
    move |r| {
        site.is_none_or(|s| r.text("site_id") == Some(s))
            && [
                "site_id",
                "type",
                "status",
                "severity",
                "group",
                "acked",
                "ack_admin_name",
            ]
            .iter()
            .all(|f| matches(params, r, f))
    }
}

fn device_event_filter<'a>(
    params: &'a Params,
    site: Option<&'a str>,
) -> Result<impl Fn(&Record) -> bool + 'a, ApiError> {
    // Mist's org search answers AP events unless asked for another device type.
    let device_type = if site.is_none() {
        Some(params.text("device_type").unwrap_or("ap"))
    } else {
        params.text("device_type")
    };
    if let Some(t) = device_type.filter(|t| !matches!(*t, "ap" | "switch" | "gateway" | "all")) {
        return Err(ApiError::BadRequest(format!(
            "device_type: `{t}` is not ap, switch, gateway or all"
        )));
    }
    Ok(move |r: &Record| {
        site.is_none_or(|s| r.text("site_id") == Some(s))
            && device_type.is_none_or(|t| t == "all" || r.text("device_type") == Some(t))
            && params
                .text("model")
                .is_none_or(|m| r.model.as_deref() == Some(m))
            && params
                .text("text")
                .is_none_or(|t| r.text("text").is_some_and(|x| x.contains(t)))
            && ["mac", "type"].iter().all(|f| matches(params, r, f))
    })
}

pub(super) async fn org_alarms(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    cloud.check_org(&org_id)?;
    let params = Params::parse(q.as_deref());
    let h = lock(&cloud.inner.history);
    answer(uri.path(), &params, &h.alarms, alarm_filter(&params, None))
}

pub(super) async fn site_alarms(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    cloud.site(&site_id)?;
    let params = Params::parse(q.as_deref());
    let h = lock(&cloud.inner.history);
    answer(
        uri.path(),
        &params,
        &h.alarms,
        alarm_filter(&params, Some(&site_id)),
    )
}

pub(super) async fn org_device_events(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    cloud.check_org(&org_id)?;
    let params = Params::parse(q.as_deref());
    let keep = device_event_filter(&params, None)?;
    let h = lock(&cloud.inner.history);
    answer(uri.path(), &params, &h.device_events, keep)
}

pub(super) async fn site_device_events(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    cloud.site(&site_id)?;
    let params = Params::parse(q.as_deref());
    let keep = device_event_filter(&params, Some(&site_id))?;
    let h = lock(&cloud.inner.history);
    answer(uri.path(), &params, &h.device_events, keep)
}

/// `listOrgAuditLogs`: a time range like the searches, paged with `page` (and a `next`
/// link to the following page), sorted by `timestamp` (default newest first), `site_id`
/// or `admin_id`.
pub(super) async fn audit_logs(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    cloud.check_org(&org_id)?;
    let params = Params::parse(q.as_deref());
    let range = Range::from(&params, crate::send::now_us())?;
    let limit = params.limit()?;
    let page = params.uint("page", 1)?.max(1) as usize;
    let sort = params.text("sort").unwrap_or("-timestamp");
    let (key, descending) = match sort.strip_prefix('-') {
        Some(k) => (k, true),
        None => (sort, false),
    };
    if !matches!(key, "timestamp" | "site_id" | "admin_id") {
        return Err(ApiError::BadRequest(format!(
            "sort: `{sort}` is not timestamp, -timestamp, site_id or admin_id"
        )));
    }
    let h = lock(&cloud.inner.history);
    let mut found: Vec<&Record> = h
        .audits
        .iter()
        .filter(|r| range.contains(r.at_us))
        .filter(|r| {
            ["site_id", "admin_name"]
                .iter()
                .all(|f| matches(&params, r, f))
        })
        .filter(|r| {
            params
                .text("message")
                .is_none_or(|m| r.text("message").is_some_and(|x| x.contains(m)))
        })
        .collect();
    found.sort_by(|a, b| {
        let by_key = match key {
            "timestamp" => a.at_us.cmp(&b.at_us),
            k => a.text(k).cmp(&b.text(k)).then(a.at_us.cmp(&b.at_us)),
        };
        by_key.then(a.seq.cmp(&b.seq))
    });
    if descending {
        found.reverse();
    }
    let total = found.len();
    let results: Vec<Value> = found
        .iter()
        .skip(limit.saturating_mul(page - 1))
        .take(limit)
        .map(|r| Value::Object(r.view.clone()))
        .collect();
    let (start, end) = range.seconds();
    let mut body = Map::new();
    body.insert("start".into(), start.into());
    body.insert("end".into(), end.into());
    body.insert("limit".into(), limit.into());
    body.insert("total".into(), total.into());
    body.insert("results".into(), results.into());
    if limit > 0 && page * limit < total {
        let query = params.with(
            &[
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("page", (page + 1).to_string()),
            ],
            &["duration"],
        );
        body.insert("next".into(), format!("{}?{query}", uri.path()).into());
    }
    Ok(Json(Value::Object(body)))
}
