//! The device board (a board per site, tiles coloured by state, now or at any moment of
//! the stored history) and the device page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use serde_json::Value;
use store::{DeviceFilter, Order, PageRequest};

use super::events::{cleaned, internal};
use super::{Html, Signed, page};
use crate::api::correlation;
use crate::api::params::{parse_time, rfc3339};
use crate::app_state::AppState;
use crate::error::ApiError;

/// Most devices shown on one board.
const BOARD_LIMIT: u32 = 20_000;

#[derive(Serialize)]
struct Tile {
    #[serde(skip)]
    device_id: i64,
    mac: String,
    name: Option<String>,
    kind: String,
    state: String,
    since: String,
}

impl From<store::DeviceTile> for Tile {
    fn from(d: store::DeviceTile) -> Tile {
        Tile {
            device_id: d.device_id,
            mac: d.mac,
            name: d.name,
            kind: d.kind,
            state: d.state,
            since: rfc3339(d.since),
        }
    }
}

#[derive(Serialize)]
struct Site {
    id: String,
    name: String,
    counts: BTreeMap<String, usize>,
    kinds: Vec<(String, Vec<Tile>)>,
    /// Devices of the site left off this board (the up ones of a large board).
    hidden: usize,
}

/// Beyond this many devices, a board without a site filter shows each site's counts and
/// its devices that are not up; the site's own board shows them all.
const FULL_BOARD: usize = 1_000;

/// `GET /ui/devices?site_id=&kind=&state=&q=&at=`.
pub async fn board(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Html {
    let filters = cleaned(&q, &["site_id", "kind", "state", "at"]);
    let text = q
        .get("q")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    let at = match filters.get("at") {
        Some(v) => Some(parse_time(v).ok_or_else(|| ApiError::InvalidQuery {
            detail: format!("at `{v}` must be a time (RFC 3339)"),
        })?),
        None => None,
    };
    let filter = DeviceFilter {
        org_id: None,
        site_id: filters.get("site_id").cloned(),
        kind: filters.get("kind").cloned(),
        state: None,
    };
    let wanted_state = filters.get("state").cloned();
    let matches = |t: &Tile| {
        wanted_state.as_ref().is_none_or(|s| &t.state == s)
            && (text.is_empty()
                || t.mac.contains(&text)
                || t.name
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&text))
    };
    // A large board of now, not narrowed to a site or a text, is drawn from the counts and
    // each site's devices that are not up: it never reads every device.
    let large_now = at.is_none() && text.is_empty() && filter.site_id.is_none() && {
        let n: i64 = app
            .store
            .device_tallies()
            .await?
            .iter()
            .filter(|t| filter.kind.as_ref().is_none_or(|k| &t.kind == k))
            .filter(|t| wanted_state.as_ref().is_none_or(|s| &t.state == s))
            .map(|t| t.count)
            .sum();
        n > FULL_BOARD as i64
    };
    let mut sites: BTreeMap<String, Site> = BTreeMap::new();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    let new_site = |id: &str| Site {
        name: if id.is_empty() {
            "No site".into()
        } else {
            app.site_names.get(id).unwrap_or_else(|| id.to_string())
        },
        id: id.to_string(),
        counts: BTreeMap::new(),
        kinds: Vec::new(),
        hidden: 0,
    };
    let collapse;
    if large_now {
        collapse = true;
        let tallies = app.store.device_tallies().await?;
        let mut per_site: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for t in tallies
            .iter()
            .filter(|t| filter.kind.as_ref().is_none_or(|k| &t.kind == k))
            .filter(|t| wanted_state.as_ref().is_none_or(|s| &t.state == s))
        {
            let site = t.site_id.clone().unwrap_or_default();
            *per_site
                .entry(site)
                .or_default()
                .entry(t.state.clone())
                .or_default() += t.count as usize;
            *totals.entry(t.state.clone()).or_default() += t.count as usize;
        }
        let site_ids: Vec<String> = per_site.keys().cloned().collect();
        app.site_names
            .resolve(app.store.as_ref(), &site_ids)
            .await?;
        let room = (FULL_BOARD / per_site.len().max(1)).max(24);
        let states: Vec<String> = match &wanted_state {
            Some(s) => vec![s.clone()],
            None => vec!["down".into(), "unknown".into()],
        };
        for (id, counts) in per_site {
            let mut site = new_site(&id);
            let mut left = room;
            let mut shown = 0;
            for state in &states {
                if left == 0 {
                    break;
                }
                let narrow = DeviceFilter {
                    site_id: (!id.is_empty()).then(|| id.clone()),
                    state: Some(state.clone()),
                    ..filter.clone()
                };
                let found = app.store.device_tiles(narrow, left as u32).await?;
                // Devices with no site: the query cannot say `site_id IS NULL`.
                let found: Vec<Tile> = found
                    .into_iter()
                    .filter(|d| !id.is_empty() || d.site_id.is_none())
                    .map(Tile::from)
                    .collect();
                left -= found.len().min(left);
                shown += found.len();
                for tile in found {
                    push_tile(&mut site, tile);
                }
            }
            site.hidden = counts.values().sum::<usize>().saturating_sub(shown);
            site.counts = counts;
            sites.insert(id, site);
        }
    } else {
        let tiles: Vec<(Option<String>, Tile)> = match at {
            None => app
                .store
                .device_tiles(filter.clone(), BOARD_LIMIT)
                .await?
                .into_iter()
                .map(|d| (d.site_id.clone(), Tile::from(d)))
                .collect(),
            Some(at) => app
                .store
                .devices_at(at, filter.clone())
                .await?
                .into_iter()
                .map(|d| {
                    let tile = Tile {
                        device_id: d.device_id,
                        mac: d.mac,
                        name: None,
                        kind: d.kind,
                        state: d.state,
                        since: rfc3339(d.since),
                    };
                    (d.site_id, tile)
                })
                .collect(),
        };
        let mut site_ids: Vec<String> = tiles.iter().filter_map(|(s, _)| s.clone()).collect();
        site_ids.sort();
        site_ids.dedup();
        app.site_names
            .resolve(app.store.as_ref(), &site_ids)
            .await?;
        // Names of a past board come from the devices as they are now (before the text
        // filter, which matches names too).
        let mut tiles = tiles;
        if at.is_some() && !text.is_empty() {
            let ids: Vec<i64> = tiles.iter().map(|(_, t)| t.device_id).collect();
            let names: HashMap<i64, String> =
                app.store.device_names(ids).await?.into_iter().collect();
            for (_, t) in &mut tiles {
                t.name = names.get(&t.device_id).cloned();
            }
        }
        for (site_id, tile) in tiles {
            if !matches(&tile) {
                continue;
            }
            *totals.entry(tile.state.clone()).or_default() += 1;
            let id = site_id.unwrap_or_default();
            let site = sites.entry(id.clone()).or_insert_with(|| new_site(&id));
            *site.counts.entry(tile.state.clone()).or_default() += 1;
            push_tile(site, tile);
        }
        let shown: usize = totals.values().sum();
        collapse = shown > FULL_BOARD && filter.site_id.is_none();
    }
    let mut sites: Vec<Site> = sites.into_values().collect();
    let per_site = (FULL_BOARD / sites.len().max(1)).max(24);
    for s in &mut sites {
        s.kinds.sort_by_key(|(k, _)| kind_rank(k));
        for (_, list) in &mut s.kinds {
            // Down first, then by name: what needs a look is on top.
            list.sort_by(|a, b| {
                (a.state != "down", &a.name, &a.mac).cmp(&(b.state != "down", &b.name, &b.mac))
            });
        }
        if collapse && !large_now {
            collapse_site(s, per_site);
        }
    }
    // A past board without a text filter is named after collapsing: only its tiles.
    if at.is_some() && text.is_empty() {
        let ids: Vec<i64> = sites
            .iter()
            .flat_map(|s| {
                s.kinds
                    .iter()
                    .flat_map(|(_, l)| l.iter().map(|t| t.device_id))
            })
            .collect();
        let names: HashMap<i64, String> = app.store.device_names(ids).await?.into_iter().collect();
        for s in &mut sites {
            for (_, list) in &mut s.kinds {
                for t in list.iter_mut() {
                    t.name = names.get(&t.device_id).cloned();
                }
                list.sort_by(|a, b| {
                    (a.state != "down", &a.name, &a.mac).cmp(&(b.state != "down", &b.name, &b.mac))
                });
            }
        }
    }
    page(
        &signed,
        "devices.html",
        "devices",
        minijinja::context! {
            title => "Devices",
            sites => sites,
            collapsed => collapse,
            totals => totals,
            filters => filters,
            text => text,
            at => at.map(rfc3339),
            at_local => at.map(|a| rfc3339(a)[..16].to_string()),
        },
    )
}

fn push_tile(site: &mut Site, tile: Tile) {
    match site.kinds.iter_mut().find(|(k, _)| *k == tile.kind) {
        Some((_, list)) => list.push(tile),
        None => site.kinds.push((tile.kind.clone(), vec![tile])),
    }
}

/// Keeps at most `room` of a site's devices that are not up (they are sorted down first)
/// and counts the rest as hidden.
fn collapse_site(site: &mut Site, mut room: usize) {
    for (_, list) in &mut site.kinds {
        let before = list.len();
        list.retain(|t| t.state != "up");
        list.truncate(room);
        room -= list.len();
        site.hidden += before - list.len();
    }
    site.kinds.retain(|(_, list)| !list.is_empty());
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "gateway" => 0,
        "switch" => 1,
        "ap" => 2,
        "mxedge" => 3,
        _ => 4,
    }
}

/// `GET /ui/devices/{mac}`: state, full timeline, restart reasons, last events, incidents.
pub async fn one(
    signed: Signed,
    State(app): State<Arc<AppState>>,
    Path(mac): Path<String>,
) -> Html {
    let Json(device) = correlation::get_device(State(app.clone()), Path(mac)).await?;
    let device = serde_json::to_value(&device).map_err(internal)?;
    let (org, mac) = (
        device["org_id"].as_str().unwrap_or_default().to_string(),
        device["mac"].as_str().unwrap_or_default().to_string(),
    );
    let history = app
        .store
        .device_history(
            &org,
            &mac,
            PageRequest {
                limit: 200,
                after: None,
                order: Order::Desc,
            },
        )
        .await?;
    let history_more = history.next.is_some();
    let history: Vec<Value> = history
        .items
        .into_iter()
        .map(|h| {
            serde_json::json!({
                "at": rfc3339(h.at), "change": h.change, "state": h.state,
                "event_id": h.event_id, "note": h.note,
            })
        })
        .collect();
    let mut q = HashMap::new();
    q.insert("mac".to_string(), mac.clone());
    q.insert("limit".to_string(), "25".to_string());
    let Json(events) = crate::api::log::list_events(State(app.clone()), Query(q)).await?;
    let events = serde_json::to_value(&events).map_err(internal)?["items"].take();
    app.site_names.learn_from_views(&events);
    // The newest 200 incidents naming it (records read for their device lists only).
    #[derive(serde::Deserialize)]
    struct Involved {
        #[serde(default)]
        devices: Vec<String>,
        #[serde(default)]
        summary: String,
    }
    let rows = app
        .store
        .incidents(
            Default::default(),
            PageRequest {
                limit: 200,
                after: None,
                order: Order::Desc,
            },
        )
        .await?;
    let incidents: Vec<Value> = rows
        .items
        .into_iter()
        .filter_map(|row| {
            let record: Involved = serde_json::from_str(&row.record).ok()?;
            record.devices.contains(&mac).then(|| {
                serde_json::json!({
                    "id": row.id, "kind": row.kind, "state": row.state,
                    "summary": record.summary, "opened_at": rfc3339(row.opened_at),
                })
            })
        })
        .take(50)
        .collect();
    page(
        &signed,
        "device.html",
        "devices",
        minijinja::context! {
            title => device["name"].as_str().map(str::to_string).unwrap_or_else(|| mac.clone()),
            d => device,
            history => history,
            history_more => history_more,
            events => events,
            incidents => incidents,
            site_names => app.site_names.all(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(mac: &str, state: &str) -> Tile {
        Tile {
            device_id: 0,
            mac: mac.into(),
            name: None,
            kind: "ap".into(),
            state: state.into(),
            since: String::new(),
        }
    }

    #[test]
    fn a_collapsed_site_keeps_what_is_not_up_within_its_room() {
        let mut site = Site {
            id: "s".into(),
            name: "S".into(),
            counts: BTreeMap::new(),
            kinds: vec![
                ("switch".into(), vec![tile("1", "down"), tile("2", "up")]),
                (
                    "ap".into(),
                    vec![tile("3", "down"), tile("4", "unknown"), tile("5", "up")],
                ),
            ],
            hidden: 0,
        };
        collapse_site(&mut site, 2);
        let kept: Vec<&str> = site
            .kinds
            .iter()
            .flat_map(|(_, l)| l.iter().map(|t| t.mac.as_str()))
            .collect();
        assert_eq!(kept, ["1", "3"]);
        assert_eq!(site.hidden, 3);
    }
}
