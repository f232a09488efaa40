//! The device history through the API: one device's changes (`GET
//! /api/v1/devices/{mac}/history`) and the board as of a past time (`GET
//! /api/v1/devices?at=`), both read from the store's append-only history.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use correlate::DeviceChange;
use serde::de::DeserializeOwned;
use store::{DeviceAt, DeviceFilter, Order, PageRequest};

use super::views::{DeviceAtView, DeviceHistoryView};
use crate::api::answer::{List, Time};
use crate::api::params::{PageQuery, Params, page_of};
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};

/// A name the store keeps (`down`, `ap`, ...) as its core enum.
fn named<T: DeserializeOwned>(what: &str, name: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|e| {
        ApiError::Store(store::StoreError::Task(format!(
            "a stored {what} `{name}` is unreadable: {e}"
        )))
    })
}

/// Device history
///
/// Every change the correlation stage made to a device (down, up, restarted, flap), with
/// the state each left it in, newest first unless `order=asc`. Unlike the record's
/// `timeline` (its last 20 changes), the history keeps them all, whatever the retention.
/// The device is found by MAC as `GET /api/v1/devices/{mac}` finds it.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{mac}/history",
    tag = "correlation",
    params(
        ("mac" = String, Path, description = "The device's MAC in any notation (`5c:5b:35:0e:55:c8`, `5C5B-350E-55C8`, `5c5b.350e.55c8`), or a Mist Edge's id (case ignored)."),
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of the device's changes.", body = List<DeviceHistoryView>),
        (status = 400, description = "`invalid_query`: a parameter has a wrong value.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 404, description = "`not_found`: no device with that MAC.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn device_history(
    State(app): State<Arc<AppState>>,
    Path(mac): Path<String>,
    q: Params,
) -> Result<Json<List<DeviceHistoryView>>, ApiError> {
    let page = page_of(&q)?;
    let normalised = mist::normalize_mac(&mac).unwrap_or_else(|| mac.to_ascii_lowercase());
    let device = app
        .store
        .device(&normalised)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no device with MAC `{mac}`")))?;
    let rows = app
        .store
        .device_history(&device.org_id, &device.mac, page)
        .await?;
    let items = rows
        .items
        .into_iter()
        .map(|r| {
            let change = DeviceChange {
                at: r.at,
                event_id: r.event_id,
                change: named("device change", &r.change)?,
                note: r.note,
            };
            Ok(DeviceHistoryView {
                id: r.id,
                change: change.into(),
                state: named("device state", &r.state)?,
                since: Time(r.since),
                site_id: r.site_id,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(List::new(items, rows.next)))
}

/// The board as of `at`, paged like the device list (by device row id).
pub(super) async fn board(
    app: &AppState,
    at: i64,
    filter: DeviceFilter,
    page: PageRequest,
) -> Result<List<DeviceAtView>, ApiError> {
    let all = app.store.devices_at(at, filter).await?;
    let (items, next) = page_of_board(all, page);
    let items = items
        .into_iter()
        .map(|d| {
            Ok(DeviceAtView {
                org_id: d.org_id,
                mac: d.mac,
                kind: named("device kind", &d.kind)?,
                site_id: d.site_id,
                state: named("device state", &d.state)?,
                since: Time(d.since),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(List::new(items, next))
}

/// One page of the board (ordered by device row id, oldest first), keyset by device row
/// id as the device list pages: the page's devices and the cursor of the next page.
fn page_of_board(mut all: Vec<DeviceAt>, page: PageRequest) -> (Vec<DeviceAt>, Option<i64>) {
    if page.order == Order::Desc {
        all.reverse();
    }
    let after = |d: &DeviceAt| match (page.after, page.order) {
        (None, _) => true,
        (Some(a), Order::Desc) => d.device_id < a,
        (Some(a), Order::Asc) => d.device_id > a,
    };
    let limit = page.limit.max(1) as usize;
    let mut items: Vec<DeviceAt> = all.into_iter().filter(after).take(limit + 1).collect();
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|d| d.device_id)
    } else {
        None
    };
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: i64) -> DeviceAt {
        DeviceAt {
            device_id: id,
            org_id: "o".into(),
            mac: format!("m{id}"),
            kind: "ap".into(),
            site_id: None,
            state: "up".into(),
            since: 0,
            change_id: id,
        }
    }

    fn ids(page: &(Vec<DeviceAt>, Option<i64>)) -> (Vec<i64>, Option<i64>) {
        (page.0.iter().map(|d| d.device_id).collect(), page.1)
    }

    #[test]
    fn the_board_pages_by_device_id_both_ways() {
        let all: Vec<DeviceAt> = [1, 2, 4, 7, 9].into_iter().map(device).collect();
        let p = |limit, after, order| PageRequest {
            limit,
            after,
            order,
        };
        let first = page_of_board(all.clone(), p(2, None, Order::Desc));
        assert_eq!(ids(&first), (vec![9, 7], Some(7)));
        let second = page_of_board(all.clone(), p(2, Some(7), Order::Desc));
        assert_eq!(ids(&second), (vec![4, 2], Some(2)));
        let last = page_of_board(all.clone(), p(2, Some(2), Order::Desc));
        assert_eq!(ids(&last), (vec![1], None));
        let asc = page_of_board(all.clone(), p(3, Some(2), Order::Asc));
        assert_eq!(ids(&asc), (vec![4, 7, 9], None));
        let exact = page_of_board(all, p(5, None, Order::Asc));
        assert_eq!(ids(&exact), (vec![1, 2, 4, 7, 9], None));
    }
}
