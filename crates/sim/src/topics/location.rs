//! The location engine's topics (site-level only): `location*`, `zone`, `rssizone`,
//! `vbeacon`, `sdkclient-scan-data`, and the raw BLE and Wi-Fi streams.

use serde_json::json;

use super::{Built, Gen, TimeForm, bssid, dashed, round, rssi_at};
use crate::org::{Asset, Device, FloorMap, Zone};
use crate::rng::Rng;

fn map<'a>(g: &Gen<'a>, index: usize) -> &'a FloorMap {
    &g.site.maps[index % g.site.maps.len()]
}

/// A random point on a map.
fn point(m: &FloorMap, r: &mut Rng) -> (f64, f64) {
    (
        round(r.float(0.5, m.width - 0.5), 5),
        round(r.float(0.5, m.height - 0.5), 5),
    )
}

fn located(g: &Gen, b: &mut Built, m: &FloorMap, x: f64, y: f64) {
    b.set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("x", x)
        .set("y", y);
}

/// The APs of a map nearest to a point, nearest first.
fn nearest<'a>(g: &Gen<'a>, map: usize, x: f64, y: f64, n: usize) -> Vec<(&'a Device, f64)> {
    let mut aps: Vec<(&Device, f64)> = g
        .site
        .aps
        .iter()
        .filter(|a| a.map == map % g.site.maps.len())
        .map(|a| (a, ((a.x - x).powi(2) + (a.y - y).powi(2)).sqrt()))
        .collect();
    if aps.is_empty() {
        aps = g.site.aps.iter().map(|a| (a, 20.0)).collect();
    }
    aps.sort_by(|a, b| a.1.total_cmp(&b.1));
    aps.truncate(n.max(1));
    aps
}

fn ibeacon(b: &mut Built, asset: &Asset) {
    b.set("ibeacon_uuid", asset.ibeacon_uuid.clone())
        .set("ibeacon_major", asset.ibeacon_major)
        .set("ibeacon_minor", asset.ibeacon_minor);
}

fn pick_asset<'a>(g: &Gen<'a>, r: &mut Rng) -> Option<&'a Asset> {
    (!g.site.assets.is_empty()).then(|| r.pick(&g.site.assets))
}

/// A stand-in asset for sites configured with none.
fn lone_asset() -> Asset {
    Asset {
        mac: "c1b2c3d4e5f6".into(),
        id: "00000000-0000-4000-8000-000000000001".into(),
        name: "Tag".into(),
        ibeacon_uuid: "f3f17139-704a-f03a-2786-0400279e37c3".into(),
        ibeacon_major: 1,
        ibeacon_minor: 1,
        map: 0,
        x: 10.0,
        y: 10.0,
    }
}

/// A BLE asset's position fix (`location-asset`), at an explicit point.
pub(crate) fn asset_fix(g: &Gen, r: &mut Rng, asset: &Asset, x: f64, y: f64) -> Built {
    let mut b = Built::new(None);
    located(g, &mut b, map(g, asset.map), x, y);
    ibeacon(&mut b, asset);
    b.set("mac", asset.mac.clone())
        .set("type", "asset")
        .set("battery_voltage", r.int(2900, 3300))
        .set("mfg_company_id", 935)
        .set("mfg_data", format!("6485{}", r.hex(5)))
        .time("timestamp", TimeForm::Int, g.at);
    b
}

/// Something entered or left a zone (`zone`). `who` is the asset, or a Wi-Fi client's MAC.
pub(crate) fn zone_event(
    g: &Gen,
    m: &FloorMap,
    zone: &Zone,
    who: ZoneVisitor,
    trigger: &str,
) -> Built {
    let mut b = Built::new(None);
    b.set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("zone_id", zone.id.clone())
        .set("trigger", trigger)
        .time("timestamp", TimeForm::Float, g.at);
    match who {
        ZoneVisitor::Asset(a) => {
            b.set("type", "asset")
                .set("mac", a.mac.clone())
                .set("asset_id", a.id.clone())
                .set("name", a.name.clone());
        }
        ZoneVisitor::Wifi(mac) => {
            b.set("type", "wifi").set("mac", mac.to_string());
        }
        ZoneVisitor::Sdk(id, name) => {
            b.set("type", "sdk")
                .set("id", id.to_string())
                .set("name", name.to_string());
        }
    }
    b
}

/// Who entered or left a zone.
pub(crate) enum ZoneVisitor<'a> {
    Asset(&'a Asset),
    Wifi(&'a str),
    Sdk(&'a str, &'a str),
}

pub(crate) fn background_zone(g: &Gen, r: &mut Rng) -> Built {
    let m = map(g, r.index(g.site.maps.len()));
    let zone = r.pick(&m.zones);
    let trigger = *r.pick(&["enter", "exit"]);
    match (r.index(3), g.site.clients.first()) {
        (0, Some(_)) => {
            let c = r.pick(&g.site.clients);
            zone_event(g, m, zone, ZoneVisitor::Wifi(&c.mac), trigger)
        }
        (1, _) if !g.site.sdk_clients.is_empty() => {
            let s = r.pick(&g.site.sdk_clients);
            zone_event(g, m, zone, ZoneVisitor::Sdk(&s.id, &s.name), trigger)
        }
        _ => {
            let lone = lone_asset();
            let a = pick_asset(g, r).unwrap_or(&lone);
            zone_event(g, m, zone, ZoneVisitor::Asset(a), trigger)
        }
    }
}

/// The combined `location` topic: Wi-Fi clients, SDK clients and assets, each with an
/// `id` (the schema requires one).
pub(crate) fn location(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let kind = r.index(3);
    if kind == 0 && !g.site.clients.is_empty() {
        let c = r.pick(&g.site.clients);
        let m = map(g, c.map);
        let (x, y) = point(m, r);
        located(g, &mut b, m, x, y);
        b.set("type", "wifi")
            .set("mac", c.mac.clone())
            .set("id", format!("00000000-0000-0000-1000-{}", c.mac))
            .set("name", c.hostname.clone());
    } else if kind == 1 && !g.site.sdk_clients.is_empty() {
        let s = r.pick(&g.site.sdk_clients);
        let m = map(g, s.map);
        let (x, y) = point(m, r);
        located(g, &mut b, m, x, y);
        b.set("type", "sdk")
            .set("id", s.id.clone())
            .set("name", s.name.clone());
    } else {
        let lone = lone_asset();
        let a = pick_asset(g, r).unwrap_or(&lone);
        let m = map(g, a.map);
        let (x, y) = point(m, r);
        located(g, &mut b, m, x, y);
        ibeacon(&mut b, a);
        b.set("type", "asset")
            .set("mac", a.mac.clone())
            .set("id", a.id.clone())
            .set("name", a.name.clone())
            .set("battery_voltage", r.int(2900, 3300));
    }
    b.time(
        "timestamp",
        TimeForm::Int,
        g.at - g.at.rem_euclid(1_000_000),
    );
    b
}

pub(crate) fn location_asset(g: &Gen, r: &mut Rng) -> Built {
    let lone = lone_asset();
    let a = pick_asset(g, r).unwrap_or(&lone);
    let m = map(g, a.map);
    let x = round((a.x + r.float(-3.0, 3.0)).clamp(0.5, m.width - 0.5), 5);
    let y = round((a.y + r.float(-3.0, 3.0)).clamp(0.5, m.height - 0.5), 5);
    let at = g.at - g.at.rem_euclid(1_000_000);
    asset_fix(&Gen { at, ..*g }, r, a, x, y)
}

pub(crate) fn location_centrak(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let m = map(g, 0);
    let (x, y) = point(m, r);
    located(g, &mut b, m, x, y);
    b.set("mac", format!("00d0fe{}", r.hex(3)))
        .set("type", "wifi")
        .set("mfg_company_id", 234)
        .set("mfg_data", r.hex(8))
        .set(
            "wifi_beacon_extended_info",
            json!([{"frame_ctrl": 776, "payload": r.hex(12), "seq_ctrl": r.int(0, 4095)}]),
        )
        .time(
            "timestamp",
            TimeForm::Int,
            g.at - g.at.rem_euclid(1_000_000),
        );
    b
}

pub(crate) fn location_client(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let (mac, map_index) = g
        .site
        .clients
        .first()
        .map(|_| {
            let c = r.pick(&g.site.clients);
            (c.mac.clone(), c.map)
        })
        .unwrap_or_else(|| ("f0d4e2000001".into(), 0));
    let m = map(g, map_index);
    let (x, y) = point(m, r);
    located(g, &mut b, m, x, y);
    b.set("mac", mac).set("type", "wifi").time(
        "timestamp",
        TimeForm::Float,
        g.at - g.at.rem_euclid(1_000_000),
    );
    b
}

pub(crate) fn location_sdk(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let (id, name, map_index) = g
        .site
        .sdk_clients
        .first()
        .map(|_| {
            let s = r.pick(&g.site.sdk_clients);
            (s.id.clone(), s.name.clone(), s.map)
        })
        .unwrap_or_else(|| (r.uuid(), "Visitor app".into(), 0));
    let m = map(g, map_index);
    let (x, y) = point(m, r);
    located(g, &mut b, m, x, y);
    b.set("id", id).set("name", name).set("type", "sdk").time(
        "timestamp",
        TimeForm::Float,
        g.at - g.at.rem_euclid(1_000_000),
    );
    b
}

/// Devices nobody has connected (passers-by): random MACs, locally administered.
fn stranger(r: &mut Rng) -> String {
    let mut m = r.hex(6).into_bytes();
    m[1] = *r.pick(b"26ae");
    String::from_utf8(m).unwrap_or_default()
}

pub(crate) fn location_unclient(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let m = map(g, r.index(g.site.maps.len()));
    let (x, y) = point(m, r);
    located(g, &mut b, m, x, y);
    b.set("mac", stranger(r)).set("type", "wifi").time(
        "timestamp",
        TimeForm::Float,
        g.at - g.at.rem_euclid(1_000_000),
    );
    b
}

pub(crate) fn rssizone(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let m = map(g, 0);
    let mac = if g.site.clients.is_empty() {
        stranger(r)
    } else {
        r.pick(&g.site.clients).mac.clone()
    };
    let zone = g
        .site
        .rssizones
        .get(r.index(g.site.rssizones.len()))
        .cloned();
    b.set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("mac", mac)
        .set("rssizone_id", zone.unwrap_or_else(|| r.uuid()))
        .set("trigger", *r.pick(&["enter", "exit"]))
        .set("type", "wifi")
        .time("timestamp", TimeForm::Float, g.at);
    b
}

/// A client came into or went out of a virtual beacon's range. No Mist sample shows
/// this topic; the shape follows `zone`, with the beacon's id and name.
pub(crate) fn vbeacon(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let m = map(g, 0);
    b.set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("trigger", *r.pick(&["enter", "exit"]))
        .time("timestamp", TimeForm::Float, g.at);
    if let Some(v) = g.site.vbeacons.get(r.index(g.site.vbeacons.len())) {
        b.set("vbeacon_id", v.id.clone())
            .set("vbeacon_name", v.name.clone());
    }
    if let Some(s) = g
        .site
        .sdk_clients
        .first()
        .map(|_| r.pick(&g.site.sdk_clients))
    {
        b.set("type", "sdk")
            .set("id", s.id.clone())
            .set("name", s.name.clone());
    } else {
        b.set("type", "wifi").set("mac", stranger(r));
    }
    b
}

/// Wi-Fi scans reported by an SDK client. The topic has no `timestamp`: its time is
/// `last_seen`; bands are `"2.4"`/`"5"` here (not `24`).
pub(crate) fn sdkclient_scan_data(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let (mac, map_index) = g.site.sdk_clients.first().map_or_else(
        || ("f0d4e2000002".to_string(), 0),
        |_| {
            let s = r.pick(&g.site.sdk_clients);
            (s.mac.clone(), s.map)
        },
    );
    let m = map(g, map_index);
    let (x, y) = point(m, r);
    let heard = nearest(g, map_index, x, y, 3);
    let at = g.at - g.at.rem_euclid(1000);
    let (ts, _) = TimeForm::Float.write(at);
    let scans: Vec<_> = heard
        .iter()
        .flat_map(|(ap, d)| {
            let rssi24 = rssi_at(*d, r) as f64;
            let rssi5 = rssi_at(*d * 1.4, r) as f64;
            [
                json!({"ap": ap.mac, "band": "2.4", "bssid": bssid(&ap.mac, 0, "24"), "channel": 6, "rssi": rssi24, "ssid": "Corp", "timestamp": ts}),
                json!({"ap": ap.mac, "band": "5", "bssid": bssid(&ap.mac, 0, "5"), "channel": 36, "rssi": rssi5, "ssid": "Corp", "timestamp": ts}),
            ]
        })
        .collect();
    let (ap, d) = heard[0];
    b.set("site_id", g.site.id.clone())
        .set("mac", mac)
        .set("connection_ap", ap.mac.clone())
        .set("connection_band", "5")
        .set("connection_bssid", bssid(&ap.mac, 0, "5"))
        .set("connection_channel", 36)
        .set("connection_rssi", rssi_at(d * 1.4, r) as f64)
        .set("scan_data", scans)
        .time("last_seen", TimeForm::Float, at);
    b
}

/// One AP's hearing of a BLE advertisement: the fields of the raw RSSI topics.
fn heard_by(g: &Gen, b: &mut Built, r: &mut Rng, map_index: usize, x: f64, y: f64) {
    let (ap, d) = nearest(g, map_index, x, y, 1)[0];
    let m = map(g, ap.map);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("device_id", ap.id())
        .set("ap_loc", json!([ap.x, ap.y, 2.75]))
        .set("beam", r.int(1, 8))
        .set("rssi", rssi_at(d, r));
}

/// Raw advertisements of BLE assets, each as heard by one AP (`asset-raw-rssi`).
pub(crate) fn asset_raw_rssi(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let lone = lone_asset();
    let a = pick_asset(g, r).unwrap_or(&lone);
    heard_by(g, &mut b, r, a.map, a.x, a.y);
    ibeacon(&mut b, a);
    b.set("mac", a.mac.clone())
        .set("is_asset", true)
        .set(
            "service_packets",
            json!([{"service_data": r.hex(21), "service_uuid": "feaa"}]),
        )
        .time(
            "timestamp",
            TimeForm::Int,
            g.at - g.at.rem_euclid(1_000_000),
        );
    b
}

/// Raw advertisements of BLE assets without per-AP detail (`asset-raw`). No Mist sample
/// shows this topic; the shape is `asset-raw-rssi`'s without the hearing AP.
pub(crate) fn asset_raw(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let lone = lone_asset();
    let a = pick_asset(g, r).unwrap_or(&lone);
    let m = map(g, a.map);
    ibeacon(&mut b, a);
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("mac", a.mac.clone())
        .set("is_asset", true)
        .set("mfg_company_id", 935)
        .set("mfg_data", format!("6485{}", r.hex(5)))
        .time(
            "timestamp",
            TimeForm::Int,
            g.at - g.at.rem_euclid(1_000_000),
        );
    b
}

/// BLE beacons that are not assets (`discovered-raw-rssi`); `mfg_company_id` is a
/// string here, as the schema says (it is a number in the other BLE topics).
pub(crate) fn discovered_raw_rssi(g: &Gen, r: &mut Rng) -> Built {
    let mut b = Built::new(None);
    let map_index = r.index(g.site.maps.len());
    let m = map(g, map_index);
    let (x, y) = point(m, r);
    heard_by(g, &mut b, r, map_index, x, y);
    b.set(
        "mac",
        format!("{:02x}{}", 0xc0 | (r.next_u64() & 0x3f), r.hex(5)),
    )
    .set("is_asset", false)
    .set("mfg_company_id", r.int(1, 1200).to_string())
    .set("mfg_data", r.hex(10))
    .time(
        "timestamp",
        TimeForm::Int,
        g.at - g.at.rem_euclid(1_000_000),
    );
    b
}

/// Raw Wi-Fi frames heard by an AP (`wifi-conn-raw`, `wifi-unconn-raw`). MACs have
/// dashes and the events carry no time of their own.
pub(crate) fn wifi_raw(g: &Gen, r: &mut Rng, connected: bool) -> Built {
    let mut b = Built::new(None);
    let (mac, map_index) = if connected && !g.site.clients.is_empty() {
        let c = r.pick(&g.site.clients);
        (c.mac.clone(), c.map)
    } else {
        (stranger(r), 0)
    };
    let m = map(g, map_index);
    let (x, y) = point(m, r);
    let (ap, d) = nearest(g, map_index, x, y, 1)[0];
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("map_id", m.id.clone())
        .set("ap_id", dashed(&ap.mac))
        .set("ap_loc", json!([ap.x, ap.y, 2.75]))
        .set("client_id", dashed(&mac))
        .set("connected_site", connected)
        .set(
            "packets",
            json!([{"band": *r.pick(&["2.4GHz", "5GHz"]), "rssi": rssi_at(d, r)}]),
        );
    if connected {
        b.set(
            "extended_info_list",
            json!([{"frame_ctrl": 248, "payload": r.hex(20), "sequence_ctrl": r.int(0, 4095)}]),
        );
    }
    b
}
