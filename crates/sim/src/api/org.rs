//! The org's configuration as Mist's API shows it: self, org, sites, inventory, site
//! devices and maps, all from the simulated [`Org`](crate::Org), so the ids, MACs and
//! names are those its webhooks carry.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::query::{Page, Params};
use super::{ApiError, Cloud};
use crate::org::{Device, DeviceKind, Site};

/// Where the simulated sites are: address, country, time zone, UTC offset (minutes),
/// latitude, longitude. Sites beyond the table reuse it in turn.
const PLACES: &[(&str, &str, &str, i64, f64, f64)] = &[
    (
        "1133 Innovation Way, Sunnyvale, CA 94089, USA",
        "US",
        "America/Los_Angeles",
        -480,
        37.4117,
        -122.0263,
    ),
    (
        "10 Hudson Yards, New York, NY 10001, USA",
        "US",
        "America/New_York",
        -300,
        40.7532,
        -74.0010,
    ),
    (
        "2 Rue de Rivoli, 75004 Paris, France",
        "FR",
        "Europe/Paris",
        60,
        48.8553,
        2.3601,
    ),
    (
        "1 Industrial Rd, Singapore 609917",
        "SG",
        "Asia/Singapore",
        480,
        1.3343,
        103.7364,
    ),
    (
        "Karlsplatz 1, 80335 Munich, Germany",
        "DE",
        "Europe/Berlin",
        60,
        48.1392,
        11.5660,
    ),
];

/// The serial number of a device: derived from its MAC, per kind, as stable as the MAC.
pub(super) fn serial(d: &Device) -> String {
    let prefix = match d.kind {
        DeviceKind::Ap => "A07",
        DeviceKind::Switch => "FJ",
        DeviceKind::Gateway => "CW",
        DeviceKind::Mxedge => "ME",
    };
    format!("{prefix}{}", d.mac[6..].to_ascii_uppercase())
}

/// A device's management address: one /24 per site, APs from .20, switches from .2,
/// gateways at .1.
pub(super) fn ip(d: &Device, index: usize) -> String {
    let host = match d.kind {
        DeviceKind::Gateway => 1 + index,
        DeviceKind::Switch => 2 + index,
        _ => 20 + index,
    };
    format!("10.{}.0.{host}", 10 + d.site)
}

pub(super) async fn get_self(State(cloud): State<Cloud>) -> Json<Value> {
    let org = cloud.org();
    Json(json!({
        "name": "mistgate simulate",
        "email": "api-token@simulated.example.com",
        "first_name": "Org",
        "last_name": "API Token",
        "two_factor_verified": false,
        "via_sso": false,
        "session_expiry": 1440,
        "privileges": [{
            "scope": "org",
            "role": "admin",
            "org_id": org.id,
            "name": org.name,
            "org_name": org.name,
        }],
    }))
}

pub(super) async fn get_org(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    cloud.check_org(&org_id)?;
    let org = cloud.org();
    Ok(Json(json!({
        "id": org.id,
        "name": org.name,
        "allow_mist": true,
        "session_expiry": 1440,
        "orggroup_ids": [],
        "created_time": cloud.inner.created_s,
        "modified_time": cloud.inner.created_s,
    })))
}

fn site_view(cloud: &Cloud, index: usize, site: &Site) -> Value {
    let (address, country, tz, offset, lat, lng) = PLACES[index % PLACES.len()];
    json!({
        "id": site.id,
        "org_id": cloud.org().id,
        "name": site.name,
        "address": address,
        "country_code": country,
        "timezone": tz,
        "tzoffset": offset,
        "latlng": {"lat": lat, "lng": lng},
        "notes": "",
        "sitegroup_ids": [],
        "created_time": cloud.inner.created_s,
        "modified_time": cloud.inner.created_s,
    })
}

pub(super) async fn list_sites(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    cloud.check_org(&org_id)?;
    let page = Page::from(&Params::parse(q.as_deref()))?;
    let sites = cloud.org().sites.iter().enumerate();
    Ok(page.answer(sites.map(|(i, s)| site_view(&cloud, i, s)).collect()))
}

pub(super) async fn get_site(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (i, site) = cloud.site(&site_id)?;
    Ok(Json(site_view(&cloud, i, site)))
}

/// Every infrastructure device of a site with its index among those of its kind.
pub(super) fn site_devices_of(site: &Site) -> impl Iterator<Item = (usize, &Device)> {
    site.aps
        .iter()
        .enumerate()
        .chain(site.switches.iter().enumerate())
        .chain(site.gateways.iter().enumerate())
}

fn inventory_view(cloud: &Cloud, d: &Device) -> Value {
    let org = cloud.org();
    json!({
        "id": d.id(),
        "mac": d.mac,
        "serial": serial(d),
        "model": d.model,
        "sku": d.model,
        "type": d.kind.as_str(),
        "name": d.name,
        "hostname": d.name,
        "org_id": org.id,
        "site_id": org.sites[d.site].id,
        "connected": cloud.connected(&d.mac),
        "adopted": d.kind != DeviceKind::Ap,
        "created_time": cloud.inner.created_s,
        "modified_time": cloud.inner.created_s,
    })
}

pub(super) async fn inventory(
    State(cloud): State<Cloud>,
    Path(org_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    cloud.check_org(&org_id)?;
    let params = Params::parse(q.as_deref());
    let page = Page::from(&params)?;
    let kind = params.text("type");
    if let Some(k) = kind.filter(|k| !matches!(*k, "ap" | "switch" | "gateway")) {
        return Err(ApiError::BadRequest(format!(
            "type: `{k}` is not ap, switch or gateway"
        )));
    }
    let wanted = |field: &str, value: &str| params.text(field).is_none_or(|w| w == value);
    let items: Vec<Value> = cloud
        .org()
        .sites
        .iter()
        .flat_map(site_devices_of)
        .map(|(_, d)| d)
        .filter(|d| {
            kind.is_none_or(|k| k == d.kind.as_str())
                && wanted("mac", &d.mac)
                && wanted("model", &d.model)
                && wanted("serial", &serial(d))
                && wanted("site_id", &cloud.org().sites[d.site].id)
        })
        .map(|d| inventory_view(&cloud, d))
        .collect();
    Ok(page.answer(items))
}

/// `type` of the device lists: `ap` (the default), `switch`, `gateway` or `all`.
pub(super) fn kinds(params: &Params) -> Result<Vec<DeviceKind>, ApiError> {
    match params.text("type").unwrap_or("ap") {
        "ap" => Ok(vec![DeviceKind::Ap]),
        "switch" => Ok(vec![DeviceKind::Switch]),
        "gateway" => Ok(vec![DeviceKind::Gateway]),
        "all" => Ok(vec![
            DeviceKind::Ap,
            DeviceKind::Switch,
            DeviceKind::Gateway,
        ]),
        other => Err(ApiError::BadRequest(format!(
            "type: `{other}` is not ap, switch, gateway or all"
        ))),
    }
}

/// What every device object (configuration and stats) starts with.
pub(super) fn device_base(cloud: &Cloud, site: &Site, d: &Device) -> Map<String, Value> {
    let map_id = site.maps.get(d.map).map(|m| m.id.clone());
    let mut v = json!({
        "id": d.id(),
        "mac": d.mac,
        "serial": serial(d),
        "model": d.model,
        "name": d.name,
        "type": d.kind.as_str(),
        "site_id": site.id,
        "org_id": cloud.org().id,
        "created_time": cloud.inner.created_s,
        "modified_time": cloud.inner.created_s,
    });
    if d.kind == DeviceKind::Ap {
        v["x"] = Value::from(d.x * 20.0);
        v["y"] = Value::from(d.y * 20.0);
        if let Some(map_id) = map_id {
            v["map_id"] = Value::from(map_id);
        }
    }
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) async fn site_devices(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (_, site) = cloud.site(&site_id)?;
    let params = Params::parse(q.as_deref());
    let page = Page::from(&params)?;
    let kinds = kinds(&params)?;
    let items: Vec<Value> = site_devices_of(site)
        .map(|(_, d)| d)
        .filter(|d| kinds.contains(&d.kind))
        .filter(|d| params.text("name").is_none_or(|n| n == d.name))
        .map(|d| {
            let mut v = device_base(&cloud, site, d);
            v.insert("notes".into(), "".into());
            v.insert("vars".into(), json!({}));
            Value::Object(v)
        })
        .collect();
    Ok(page.answer(items))
}

pub(super) async fn maps(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (_, site) = cloud.site(&site_id)?;
    let page = Page::from(&Params::parse(q.as_deref()))?;
    // 20 pixels per metre: the floor plan images Mist scales.
    let ppm = 20.0;
    let items: Vec<Value> = site
        .maps
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "name": m.name,
                "type": "image",
                "site_id": site.id,
                "org_id": cloud.org().id,
                "width": (m.width * ppm) as i64,
                "height": (m.height * ppm) as i64,
                "width_m": m.width,
                "height_m": m.height,
                "ppm": ppm,
                "orientation": 0,
                "origin_x": 0,
                "origin_y": 0,
                "locked": false,
                "url": format!("https://simulated.example.com/maps/{}.png", m.id),
                "thumbnail_url": format!("https://simulated.example.com/maps/{}-thumb.png", m.id),
                "created_time": cloud.inner.created_s,
                "modified_time": cloud.inner.created_s,
            })
        })
        .collect();
    Ok(page.answer(items))
}
