//! Incidents (list with counts, the incident page with its actions) and silences.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::events::{cleaned, internal, query_string};
use super::{Html, Signed, page};
use crate::api::correlation;
use crate::api::params::rfc3339;
use crate::app_state::AppState;
use crate::error::ApiError;

/// `GET /ui/incidents?state=&kind=&site_id=&since=&until=`.
pub async fn list(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let filters = cleaned(&q, &["state", "kind", "site_id", "since", "until"]);
    let mut api_q = filters.clone();
    if let Some(c) = q.get("cursor").filter(|c| !c.is_empty()) {
        api_q.insert("cursor".into(), c.clone());
    }
    api_q.insert("limit".into(), "100".into());
    let Json(list) = correlation::list_incidents(State(app.clone()), Query(api_q)).await?;
    let list = serde_json::to_value(&list).map_err(internal)?;
    let mut site_ids: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["site_id"].as_str().map(str::to_string))
        .collect();
    site_ids.sort();
    site_ids.dedup();
    app.site_names
        .resolve(app.store.as_ref(), &site_ids)
        .await?;
    let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, i64> = BTreeMap::new();
    for t in app.store.incident_tallies().await? {
        *by_state.entry(t.state.clone()).or_default() += t.count;
        if t.state != "resolved" {
            *by_kind.entry(t.kind).or_default() += t.count;
        }
    }
    page(
        &signed,
        "incidents.html",
        "incidents",
        minijinja::context! {
            title => "Incidents",
            incidents => list["items"].clone(),
            next => list["next_cursor"].clone(),
            filters => filters.clone(),
            base => format!("/ui/incidents?{}", query_string(&filters)),
            by_state => by_state,
            by_kind => by_kind,
            kinds => correlate::IncidentKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            site_names => app.site_names.all(),
        },
    )
}

/// `GET /ui/incidents/{id}`: timeline, events, devices, the incident that suppressed it,
/// and the actions (acknowledge, resolve, silence like this).
pub async fn one(signed: Signed, State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Html {
    let Json(detail) = correlation::get_incident(State(app.clone()), Path(id)).await?;
    let detail = serde_json::to_value(&detail).map_err(internal)?;
    app.site_names.learn_from_views(&detail["events"]);
    if let Some(site) = detail["site_id"].as_str() {
        app.site_names
            .resolve(app.store.as_ref(), &[site.to_string()])
            .await?;
    }
    let cause = match detail["caused_by"].as_i64() {
        Some(c) => app.store.incident(c).await?.map(|row| {
            let summary = serde_json::from_str::<Value>(&row.record)
                .map(|r| r["summary"].clone())
                .unwrap_or(Value::Null);
            serde_json::json!({"id": row.id, "kind": row.kind, "state": row.state, "summary": summary})
        }),
        None => None,
    };
    // The inventory's name, else what the incident's events named the device (a security
    // alarm's `hostnames`: APs that reported it need not be in the inventory).
    let named = |mac: &str| detail["device_names"][mac].as_str().map(str::to_string);
    let mut devices = Vec::new();
    for mac in detail["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let row = app.store.device(mac).await?;
        devices.push(match row {
            Some(d) => {
                let name = serde_json::from_str::<Value>(&d.record)
                    .ok()
                    .and_then(|v| v["name"].as_str().map(str::to_string))
                    .or_else(|| named(mac));
                serde_json::json!({"mac": mac, "name": name, "kind": d.kind, "state": d.state, "since": rfc3339(d.since)})
            }
            None => serde_json::json!({"mac": mac, "name": named(mac)}),
        });
    }
    let id = detail["id"].as_i64().unwrap_or_default();
    let Json(sent) =
        crate::api::notifications::notifications(State(app.clone()), Path(id.to_string())).await?;
    let notifications: Vec<Value> = serde_json::to_value(&sent).map_err(internal)?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut m| {
            let target = m["webhook_id"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("target:")
                .to_string();
            m["target"] = target.into();
            m
        })
        .collect();
    let silence = serde_json::json!({
        "site_id": detail["site_id"],
        "kind": detail["kind"],
        "alarm_type": detail["alarm_type"],
        "device": detail["devices"].as_array().filter(|d| d.len() == 1).map(|d| d[0].clone()),
        "comment": format!("like incident {}", detail["id"]),
    });
    page(
        &signed,
        "incident.html",
        "incidents",
        minijinja::context! {
            title => format!("Incident {}", detail["id"]),
            i => detail,
            cause => cause,
            devices => devices,
            notifications => notifications,
            silence_query => silence_query(&silence),
            site_names => app.site_names.all(),
        },
    )
}

fn silence_query(template: &Value) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(fields) = template {
        for (k, v) in fields {
            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                out.append_pair(k, s);
            }
        }
    }
    out.finish()
}

/// `GET /ui/silences`: the silences, and the form that creates one (pre-filled from an
/// incident's "silence like this", or to edit one with `?edit=ID`).
pub async fn silences(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let Json(list) = crate::api::silences::list_silences(State(app.clone())).await?;
    let list = serde_json::to_value(&list).map_err(internal)?;
    let now = rfc3339(deliver::clock::now_us());
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let editing = match q.get("edit").and_then(|e| e.parse::<i64>().ok()) {
        Some(id) => Some(
            items
                .iter()
                .find(|s| s["id"].as_i64() == Some(id))
                .cloned()
                .ok_or_else(|| ApiError::NotFound(format!("no silence with id `{id}`")))?,
        ),
        None => None,
    };
    let prefill: BTreeMap<String, String> = ["site_id", "device", "kind", "alarm_type", "comment"]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    page(
        &signed,
        "silences.html",
        "silences",
        minijinja::context! {
            title => "Silences",
            silences => items,
            now => now,
            editing => editing,
            prefill => prefill,
            kinds => correlate::IncidentKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            site_names => app.site_names.all(),
        },
    )
}
