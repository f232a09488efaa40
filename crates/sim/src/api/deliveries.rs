//! Delivery results, as Mist keeps them for the topics it keeps them for (alarms,
//! audits, device-updowns, occupancy-alerts, ping): one per attempt, searchable
//! (`events/search`) and countable (`events/count`); and `ping`, which sends a `ping`
//! event to the webhook.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use bytes::Bytes;
use deliver::client::Exchange;
use deliver::schedule::Outcome;
use mist::Topic;
use serde_json::{Map, Value, json};

use super::history::{Log, Record};
use super::query::{Order, Params, Range, search_after};
use super::webhooks::{Webhook, find};
use super::{ApiError, Cloud, lock};
use crate::topics::wire_name;

/// Every delivery result kept (the most recent [`super::CAPACITY`]).
#[derive(Debug, Default)]
pub struct Deliveries {
    log: Log,
    next_seq: u64,
}

impl Deliveries {
    /// Keeps the result of one attempt of `hook` to deliver `topic`.
    pub fn record(&mut self, id: String, hook: &Webhook, topic: &Topic, ex: &Exchange, at_us: i64) {
        let mut v = Map::new();
        let ok = matches!(ex.outcome, Outcome::Success);
        v.insert("id".into(), id.into());
        v.insert("webhook_id".into(), hook.id.clone().into());
        if let Some(org) = &hook.sub.org_id {
            v.insert("org_id".into(), org.clone().into());
        }
        if let Some(site) = &hook.sub.site_id {
            v.insert("site_id".into(), site.clone().into());
        }
        v.insert("topic".into(), wire_name(topic).into());
        v.insert(
            "status".into(),
            if ok { "success" } else { "failure" }.into(),
        );
        if let Some(code) = ex.status_code {
            v.insert("status_code".into(), code.into());
        }
        v.insert("error".into(), ex.error.clone().unwrap_or_default().into());
        v.insert("timestamp".into(), (at_us as f64 / 1e6).into());
        v.insert("req_url".into(), hook.sub.url.clone().into());
        v.insert("req_headers".into(), ex.request_headers.clone().into());
        v.insert("req_payload".into(), ex.request_body.clone().into());
        v.insert("resp_headers".into(), ex.response_headers.clone().into());
        v.insert("resp_body".into(), ex.response_body.clone().into());
        self.log.push(Record {
            seq: self.next_seq,
            at_us,
            view: v,
            model: None,
        });
        self.next_seq += 1;
    }
}

/// The filters `events/search` and `events/count` share.
fn keep<'a>(params: &'a Params, hook: &'a Webhook) -> impl Fn(&Record) -> bool + 'a {
    move |r| {
        r.text("webhook_id") == Some(hook.id.as_str())
            && ["status", "status_code", "topic"]
                .iter()
                .all(|f| params.text(f).is_none_or(|w| r.has(f, w)))
            && params
                .text("error")
                .is_none_or(|e| r.text("error").is_some_and(|x| x.contains(e)))
    }
}

pub(super) async fn search(
    State(cloud): State<Cloud>,
    Path(path): Path<BTreeMap<String, String>>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let hook = find(&cloud, &path)?;
    let params = Params::parse(q.as_deref());
    let range = Range::from(&params, crate::send::now_us())?;
    let order = Order::from(&params, Order::Ascending)?;
    let limit = params.limit()?;
    let d = lock(&cloud.inner.deliveries);
    let found = d.log.search(
        range,
        order,
        search_after(&params)?,
        limit,
        keep(&params, &hook),
    );
    let (start, end) = range.seconds();
    // `search_webhook_delivery` has no `next`: Mist answers one page.
    Ok(Json(json!({
        "start": start,
        "end": end,
        "limit": limit,
        "total": found.total,
        "results": found.page.iter().map(|r| Value::Object(r.view.clone())).collect::<Vec<_>>(),
    })))
}

pub(super) async fn count(
    State(cloud): State<Cloud>,
    Path(path): Path<BTreeMap<String, String>>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let hook = find(&cloud, &path)?;
    let params = Params::parse(q.as_deref());
    let range = Range::from(&params, crate::send::now_us())?;
    let limit = params.limit()?;
    let distinct = params.text("distinct").unwrap_or("webhook_id");
    if !matches!(distinct, "status" | "status_code" | "topic" | "webhook_id") {
        return Err(ApiError::BadRequest(format!(
            "distinct: `{distinct}` is not status, status_code, topic or webhook_id"
        )));
    }
    let d = lock(&cloud.inner.deliveries);
    let found = d.log.search(
        range,
        Order::Ascending,
        None,
        usize::MAX,
        keep(&params, &hook),
    );
    let mut counts: HashMap<String, u64> = HashMap::new();
    for r in &found.page {
        // count_result's other properties are strings, status codes included.
        let key = match r.view.get(distinct) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut results: Vec<(String, u64)> = counts.into_iter().collect();
    results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (start, end) = range.seconds();
    Ok(Json(json!({
        "distinct": distinct,
        "start": start,
        "end": end,
        "limit": limit,
        "total": found.total,
        "results": results
            .into_iter()
            .take(limit)
            .map(|(value, count)| json!({ "count": count, distinct: value }))
            .collect::<Vec<_>>(),
    })))
}

/// Sends a `ping` event to the webhook (one attempt, its result recorded) and answers 200
/// at once, as Mist does.
pub(super) async fn ping(
    State(cloud): State<Cloud>,
    Path(path): Path<BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    let hook = find(&cloud, &path)?;
    let now = crate::send::now_us();
    let mut event = json!({
        "id": cloud.new_id(),
        "name": "webhook event delivery test",
        "org_id": cloud.org().id,
        "timestamp": now as f64 / 1e6,
    });
    if let Some(site) = &hook.sub.site_id {
        event["site_id"] = Value::from(site.clone());
    }
    let body = Bytes::from(mist::write_envelope("ping", [event.to_string()]));
    let hook = Arc::new(hook);
    tokio::spawn(async move {
        super::fanout::attempt(&cloud, &hook, &Topic::Ping, &body, "ping").await;
    });
    Ok(())
}
