//! Deliveries: Mist-format webhooks and routing targets; per destination its attempts
//! (request and response), a success-rate chart, dead letters and replays. Changes go
//! through the JSON API from the page's script.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use deliver::subscription::{Scope, Subscription};
use serde_json::Value;

use super::chart;
use super::events::internal;
use super::{Html, Signed, page};
use crate::api::deliveries::{self, Owner};
use crate::api::webhooks::views::WebhookView;
use crate::app_state::AppState;
use crate::error::ApiError;

/// `GET /ui/deliveries`: every webhook and target, with what is waiting and dead.
pub async fn list(signed: Signed, State(app): State<Arc<AppState>>) -> Html {
    let pending: HashMap<String, (i64, i64)> = app
        .store
        .pending_by_destination()
        .await?
        .into_iter()
        .map(|(d, n, oldest)| (d, (n, oldest)))
        .collect();
    let mut webhooks = Vec::new();
    for row in app.store.subscriptions(None).await? {
        let Ok(sub) = serde_json::from_str::<Subscription>(&row.record) else {
            continue;
        };
        let mut view = serde_json::to_value(WebhookView::from(&sub)).map_err(internal)?;
        let (n, oldest) = pending.get(&sub.id).copied().unwrap_or((0, 0));
        view["pending"] = n.into();
        view["oldest"] = (n > 0).then(|| crate::api::params::rfc3339(oldest)).into();
        webhooks.push(view);
    }
    let targets: Vec<Value> = app
        .targets
        .iter()
        .map(|(name, kind)| {
            let (n, _) = pending
                .get(&format!("target:{name}"))
                .copied()
                .unwrap_or((0, 0));
            serde_json::json!({"name": name, "type": kind, "pending": n})
        })
        .collect();
    page(
        &signed,
        "deliveries.html",
        "deliveries",
        minijinja::context! {
            title => "Deliveries",
            webhooks => webhooks,
            targets => targets,
            topics => super::events::mist_topics(),
            delivery_on => app.delivery.is_some(),
        },
    )
}

/// `GET /ui/deliveries/webhooks/{id}`.
pub async fn webhook(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let row = app
        .store
        .subscription(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook with id `{id}`")))?;
    let sub: Subscription =
        serde_json::from_str(&row.record).map_err(|e| ApiError::InvalidBody {
            detail: format!("webhook `{id}` is unreadable: {e}"),
        })?;
    let scope = match row.scope.as_str() {
        "site" => Scope::Site(row.scope_id.clone()),
        _ => Scope::Org(row.scope_id.clone()),
    };
    let api_base = format!("/api/v1/{}s/{}/webhooks/{}", row.scope, row.scope_id, id);
    let view = serde_json::to_value(WebhookView::from(&sub)).map_err(internal)?;
    let owner = || Owner::Webhook(scope.clone(), id.clone());
    destination(
        signed,
        &app,
        owner,
        &q,
        view,
        api_base,
        sub.name.clone().unwrap_or_default(),
    )
    .await
}

/// `GET /ui/deliveries/targets/{name}`.
pub async fn target(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let kind = app
        .targets
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| ApiError::NotFound(format!("no target named `{name}` is configured")))?;
    let view = serde_json::json!({"name": name, "type": kind, "target": true});
    let api_base = format!("/api/v1/targets/{name}");
    let owner = || Owner::Target(name.clone());
    destination(signed, &app, owner, &q, view, api_base, name.clone()).await
}

/// The page of one destination: attempts, success rate per hour over the last day, dead
/// and pending messages.
async fn destination(
    signed: Signed,
    app: &AppState,
    owner: impl Fn() -> Owner,
    q: &HashMap<String, String>,
    view: Value,
    api_base: String,
    label: String,
) -> Html {
    let mut aq = HashMap::new();
    aq.insert("limit".to_string(), "50".to_string());
    if let Some(c) = q.get("cursor").filter(|c| !c.is_empty()) {
        aq.insert("cursor".to_string(), c.clone());
    }
    let Json(attempts) = deliveries::search(app, owner(), Query(aq)).await?;
    let attempts = serde_json::to_value(&attempts).map_err(internal)?;

    // Success per hour, last 24 h, from the attempts of that period (at most 1,000).
    const HOUR: i64 = 3_600_000_000;
    let now = deliver::clock::now_us();
    let end = (now / HOUR + 1) * HOUR;
    let start = end - 24 * HOUR;
    let mut rq = HashMap::new();
    rq.insert("limit".to_string(), "1000".to_string());
    rq.insert("start".to_string(), (start / 1_000_000).to_string());
    let Json(recent) = deliveries::search(app, owner(), Query(rq)).await?;
    let recent = serde_json::to_value(&recent).map_err(internal)?;
    let mut tallies = [(0u32, 0u32); 24];
    for a in recent["results"].as_array().into_iter().flatten() {
        let at = (a["timestamp"].as_f64().unwrap_or(0.0) * 1e6) as i64;
        if at < start || at >= end {
            continue;
        }
        let slot = &mut tallies[((at - start) / HOUR) as usize];
        slot.1 += 1;
        if a["status"].as_str() == Some("success") {
            slot.0 += 1;
        }
    }
    let ratios: Vec<Option<f64>> = tallies
        .iter()
        .map(|(ok, all)| (*all > 0).then(|| f64::from(*ok) / f64::from(*all)))
        .collect();
    let (ok, all) = tallies.iter().fold((0, 0), |(o, a), (x, y)| (o + x, a + y));
    let rate_svg = chart::ratio_bars(
        &ratios,
        "Share of attempts that succeeded, per hour, last 24 hours",
        "24 h ago",
    );

    let mut dq = HashMap::new();
    dq.insert("state".to_string(), "dead".to_string());
    dq.insert("limit".to_string(), "100".to_string());
    let Json(dead) = deliveries::batches(app, owner(), Query(dq)).await?;
    let mut pq = HashMap::new();
    pq.insert("state".to_string(), "pending".to_string());
    pq.insert("limit".to_string(), "50".to_string());
    let Json(pending) = deliveries::batches(app, owner(), Query(pq)).await?;
    let dead = serde_json::to_value(&dead).map_err(internal)?;
    let pending = serde_json::to_value(&pending).map_err(internal)?;
    page(
        &signed,
        "destination.html",
        "deliveries",
        minijinja::context! {
            title => if label.is_empty() { "Webhook".to_string() } else { label },
            w => view,
            api_base => api_base,
            attempts => attempts["results"].clone(),
            next => attempts["next_cursor"].clone(),
            rate_svg => minijinja::Value::from_safe_string(rate_svg),
            ok => ok,
            all => all,
            dead => dead["items"].clone(),
            dead_more => dead["next_cursor"].clone(),
            pending => pending["items"].clone(),
        },
    )
}
