//! The live tail, the event explorer and the event page. They read through the JSON API's
//! own handlers, so a page shows exactly what the API answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Html, Signed, page};
use crate::api::log;
use crate::app_state::AppState;
use crate::error::ApiError;

/// The filters of the event list the console's forms fill in (those of `/api/v1/events`).
pub(crate) const EVENT_FILTERS: &[&str] = &[
    "topic", "site_id", "type", "mac", "source", "org_id", "since", "until",
];

/// The query a console form sent, without empty fields, with `datetime-local` values
/// (`2026-12-07T10:30`, no zone) read as UTC, as the page says.
pub(crate) fn cleaned(q: &HashMap<String, String>, keep: &[&str]) -> HashMap<String, String> {
    q.iter()
        .filter(|(k, v)| keep.contains(&k.as_str()) && !v.trim().is_empty())
        .map(|(k, v)| {
            let v = v.trim();
            let local = v.len() == 16 && v.as_bytes().get(10) == Some(&b'T');
            let v = if local {
                format!("{v}:00Z")
            } else {
                v.to_string()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The query string of `q` (for the pager's links).
pub(crate) fn query_string(q: &HashMap<String, String>) -> String {
    let mut keys: Vec<_> = q.keys().collect();
    keys.sort();
    let mut out = form_urlencoded::Serializer::new(String::new());
    for k in keys {
        out.append_pair(k, &q[k]);
    }
    out.finish()
}

/// The datetime-local value of an RFC 3339 or cleaned filter (for refilling the form).
fn local_value(v: Option<&String>) -> Option<String> {
    v.and_then(|v| v.get(..16).map(str::to_string))
}

/// `GET /ui/tail`: the newest events, then everything new as it is stored.
pub async fn tail(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let mut filters = cleaned(&q, &["topic", "site_id", "type", "mac", "source"]);
    let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut api_q = filters.clone();
    api_q.insert("limit".into(), "100".into());
    let Json(list) = log::list_events(State(app.clone()), Query(api_q)).await?;
    let mut events = serde_json::to_value(&list).map_err(internal)?["items"].take();
    if !text.is_empty() {
        let needle = text.to_lowercase();
        if let Value::Array(items) = &mut events {
            items.retain(|e| e.to_string().to_lowercase().contains(&needle));
        }
    }
    app.site_names.learn_from_views(&events);
    let newest = list_newest(&events);
    let changes = app.store.last_incident_change().await?;
    filters.remove("limit");
    page(
        &signed,
        "tail.html",
        "tail",
        minijinja::context! {
            title => "Live tail",
            topics => mist_topics(),
            events => events,
            filters => filters,
            text => text,
            resume => format!("{newest}.{changes}"),
            site_names => app.site_names.all(),
            stream_query => query_string(&filters),
        },
    )
}

fn list_newest(events: &Value) -> i64 {
    events
        .as_array()
        .and_then(|a| a.iter().filter_map(|e| e["id"].as_i64()).max())
        .unwrap_or(0)
}

/// `GET /ui/events`: the explorer, every filter of `/api/v1/events` and a time range.
pub async fn search(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let filters = cleaned(&q, EVENT_FILTERS);
    let mut api_q = filters.clone();
    for k in ["cursor", "limit", "order"] {
        if let Some(v) = q.get(k).filter(|v| !v.is_empty()) {
            api_q.insert(k.into(), v.clone());
        }
    }
    let Json(list) = log::list_events(State(app.clone()), Query(api_q)).await?;
    let list = serde_json::to_value(&list).map_err(internal)?;
    app.site_names.learn_from_views(&list["items"]);
    page(
        &signed,
        "events.html",
        "events",
        minijinja::context! {
            title => "Events",
            events => list["items"].clone(),
            next => list["next_cursor"].clone(),
            filters => filters.clone(),
            since_local => local_value(filters.get("since")),
            until_local => local_value(filters.get("until")),
            base => format!("/ui/events?{}", query_string(&filters)),
            site_names => app.site_names.all(),
            topics => mist_topics(),
        },
    )
}

/// Every topic name Mist sends, for the filters' suggestions.
pub(crate) fn mist_topics() -> Vec<&'static str> {
    mist::Topic::KNOWN.iter().map(mist::Topic::as_str).collect()
}

/// `GET /ui/events/{id}`: everything about one event.
pub async fn one(signed: Signed, State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Html {
    let Json(event) = log::get_event(State(app.clone()), Path(id.clone())).await?;
    let event = serde_json::to_value(&event).map_err(internal)?;
    app.site_names
        .learn_from_views(&Value::Array(vec![event.clone()]));
    let id = event["id"].as_i64().unwrap_or_default();
    let stored = app
        .store
        .event(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))?;
    let exact = String::from_utf8_lossy(&stored.raw).into_owned();
    let pretty = serde_json::from_slice::<Value>(&stored.raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| exact.clone());
    let request = app.store.request(stored.request_id).await?;
    let (headers, verdict, others, body_len, topic_sent) = match &request {
        Some(r) => (
            r.headers.clone(),
            r.summary.verdict.clone(),
            r.event_ids
                .iter()
                .filter(|e| **e != id)
                .take(50)
                .copied()
                .collect::<Vec<_>>(),
            r.summary.body_len,
            r.summary.topic.clone(),
        ),
        None => (vec![], String::new(), vec![], 0, String::new()),
    };
    let duplicates = app
        .store
        .duplicate_arrivals(id, stored.request_id, 50)
        .await?
        .into_iter()
        .map(|r| {
            minijinja::context! {
                id => r.id, source => r.source, received_at => crate::api::params::rfc3339(r.received_at),
                verdict => r.verdict,
            }
        })
        .collect::<Vec<_>>();
    let incidents = incidents_of(&app, id, stored.time).await?;
    let envelope = format!(
        "{{\"topic\":{},\"events\":[{exact}]}}",
        Value::String(topic_sent.clone())
    );
    page(
        &signed,
        "event.html",
        "events",
        minijinja::context! {
            title => format!("Event {id}"),
            e => event,
            pretty => pretty,
            exact => exact,
            exact_len => stored.raw.len(),
            exact_sha256 => hex::encode(Sha256::digest(&stored.raw)),
            request_id => stored.request_id,
            headers => headers,
            verdict => verdict,
            body_len => body_len,
            others => others,
            duplicates => duplicates,
            incidents => incidents,
            envelope => envelope,
            source => stored.source,
            site_names => app.site_names.all(),
        },
    )
}

/// The incidents that name event `id` among their events: looked for among the 500 newest
/// incidents opened at or before the event's time (an incident opens with its first event).
async fn incidents_of(app: &AppState, id: i64, time: i64) -> Result<Vec<Value>, ApiError> {
    let rows = app
        .store
        .incidents(
            store::IncidentFilter {
                until: Some(time),
                ..Default::default()
            },
            store::PageRequest {
                limit: 500,
                after: None,
                order: store::Order::Desc,
            },
        )
        .await?;
    let mut found = Vec::new();
    for row in rows.items {
        let Ok(record) = serde_json::from_str::<Value>(&row.record) else {
            continue;
        };
        let named = record["event_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|e| e.as_i64() == Some(id)));
        if named {
            found.push(serde_json::json!({
                "id": row.id, "kind": row.kind, "state": row.state,
                "summary": record["summary"], "opened_at": crate::api::params::rfc3339(row.opened_at),
            }));
        }
    }
    Ok(found)
}

pub(crate) fn internal(e: serde_json::Error) -> ApiError {
    ApiError::InvalidBody {
        detail: format!("a view could not be shown: {e}"),
    }
}
