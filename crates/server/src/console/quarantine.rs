//! The quarantine: what was refused as not JSON or not a Mist envelope, why, and the body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use store::{Order, PageRequest};

use super::events::internal;
use super::{Html, Signed, page};
use crate::api::log::{QuarantineView, list_quarantine};
use crate::app_state::AppState;
use crate::error::ApiError;

/// `GET /ui/quarantine`.
pub async fn list(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let mut api_q = HashMap::new();
    api_q.insert("limit".to_string(), "100".to_string());
    if let Some(c) = q.get("cursor").filter(|c| !c.is_empty()) {
        api_q.insert("cursor".to_string(), c.clone());
    }
    let Json(list) = list_quarantine(State(app.clone()), Query(api_q)).await?;
    let list = serde_json::to_value(&list).map_err(internal)?;
    let stats = app.store.stats().await?;
    page(
        &signed,
        "quarantine.html",
        "quarantine",
        minijinja::context! {
            title => "Quarantine",
            items => list["items"].clone(),
            next => list["next_cursor"].clone(),
            total => stats.quarantined,
        },
    )
}

/// `GET /ui/quarantine/{id}`: one refused request with its headers and whole body.
pub async fn one(signed: Signed, State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Html {
    let not_found = || ApiError::NotFound(format!("no quarantined request with id `{id}`"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let found = app
        .store
        .quarantined(PageRequest {
            limit: 1,
            after: Some(n.saturating_add(1)),
            order: Order::Desc,
        })
        .await?
        .items
        .into_iter()
        .find(|q| q.id == n)
        .ok_or_else(not_found)?;
    let body_len = found.body.len();
    let pretty = serde_json::from_slice::<serde_json::Value>(&found.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let view = serde_json::to_value(QuarantineView::from(found)).map_err(internal)?;
    page(
        &signed,
        "quarantined.html",
        "quarantine",
        minijinja::context! {
            title => format!("Quarantined request {n}"),
            q => view,
            body_len => body_len,
            pretty => pretty,
        },
    )
}
