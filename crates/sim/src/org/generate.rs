//! Site generation: the name tables and the per-site draws of maps, zones, devices,
//! clients and assets.

use super::*;

pub(super) const SITE_NAMES: &[&str] = &[
    "HQ",
    "Branch-East",
    "Branch-West",
    "Warehouse",
    "Lab",
    "Campus-North",
    "Campus-South",
    "Store-101",
];
pub(super) const ZONE_NAMES: &[&str] = &[
    "Lobby",
    "Cafe",
    "Auditorium",
    "Open Office",
    "Lab Bench",
    "Loading Dock",
];
pub(super) const SSIDS: &[&str] = &["Corp", "Guest", "IoT"];
pub(super) const AP_MODELS: &[&str] = &["AP45", "AP34", "AP43", "AP32"];
pub(super) const SWITCH_MODELS: &[&str] = &["EX4100-48MP", "EX3400-48P", "EX2300-C-12P"];
pub(super) const GATEWAY_MODELS: &[&str] = &["SRX345", "SSR130"];
/// Client OUIs seen on real networks (Apple, Intel, Samsung, Dell, Zebra, HP).
pub(super) const CLIENT_OUIS: &[&str] =
    &["f0d4e2", "3c22fb", "a4c3f0", "8c8590", "d0c5d3", "b42e99"];
pub(super) const DEVICE_PROFILES: &[(&str, &str, &str, &str)] = &[
    ("iPhone", "Apple", "iPhone 15", "iOS 18.5"),
    ("Mac", "Apple", "MacBook Pro", "macOS 15.4"),
    ("", "Intel Corporate", "", "Windows 11"),
    ("Android", "Samsung", "Galaxy S24", "Android 15"),
    ("Windows", "Dell", "Latitude 7450", "Windows 11"),
    ("", "Zebra Technologies", "TC52", "Android 13"),
];
pub(super) const FIRST_NAMES: &[&str] = &["alex", "sam", "kim", "lee", "max", "ana", "noa", "eli"];

pub(super) fn mac(oui: &str, n: u32) -> String {
    format!("{oui}{:06x}", n & 0x00ff_ffff)
}

pub(super) fn site(
    spec: &OrgSpec,
    s: usize,
    r: &mut Rng,
    ap_base: u32,
    sw_base: u32,
    gw_base: u32,
) -> Site {
    // Each collection draws from its own stream: growing one leaves the others as they were.
    let id = r.uuid();
    let mut maps_r = r.derive("maps");
    let mut aps_r = r.derive("aps");
    let mut devices_r = r.derive("devices");
    let mut clients_r = r.derive("clients");
    let mut sdk_r = r.derive("sdk");
    let mut assets_r = r.derive("assets");
    let mut misc_r = r.derive("misc");
    let name = SITE_NAMES
        .get(s)
        .map_or_else(|| format!("Site-{}", s + 1), |n| (*n).to_string());
    let maps: Vec<FloorMap> = (0..spec.maps_per_site.max(1))
        .map(|m| {
            let (width, height) = (60.0, 40.0);
            let zones = (0..2)
                .map(|z| {
                    let x0 = 5.0 + 30.0 * z as f64;
                    Zone {
                        id: maps_r.uuid(),
                        name: if m == 0 {
                            ZONE_NAMES[(s * 2 + z) % ZONE_NAMES.len()].to_string()
                        } else {
                            format!("{} F{}", ZONE_NAMES[z], m + 1)
                        },
                        x0,
                        y0: 5.0,
                        x1: x0 + 20.0,
                        y1: 25.0,
                        occupancy_limit: [10, 30][z],
                    }
                })
                .collect();
            FloorMap {
                id: maps_r.uuid(),
                name: format!("Floor {}", m + 1),
                width,
                height,
                zones,
            }
        })
        .collect();
    let nmaps = maps.len();
    let place = |r: &mut Rng, i: usize, n: usize| {
        // Spread devices over a grid so that distances (and RSSI) vary.
        let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
        let x = 8.0 + 44.0 * ((i % cols) as f64 + 0.5) / cols as f64 + r.float(-2.0, 2.0);
        let y = 6.0 + 28.0 * ((i / cols) as f64 + 0.5) / (n.div_ceil(cols)) as f64;
        ((x * 100.0).round() / 100.0, (y * 100.0).round() / 100.0)
    };
    let offset = (s as u32) << 12;
    let aps = (0..spec.aps_per_site.max(1))
        .map(|i| {
            let (x, y) = place(&mut aps_r, i, spec.aps_per_site.max(1));
            Device {
                kind: DeviceKind::Ap,
                mac: mac("5c5b35", ap_base + offset + i as u32),
                name: format!("{name}-AP-{:02}", i + 1),
                model: aps_r.pick(AP_MODELS).to_string(),
                version: "0.14.29543".into(),
                site: s,
                map: i % nmaps,
                x,
                y,
            }
        })
        .collect();
    let switches = (0..spec.switches_per_site)
        .map(|i| Device {
            kind: DeviceKind::Switch,
            mac: mac("f4bfa8", sw_base + offset + i as u32),
            name: format!("{name}-SW-{:02}", i + 1),
            model: devices_r.pick(SWITCH_MODELS).to_string(),
            version: "22.4R3-S6.5".into(),
            site: s,
            map: 0,
            x: 2.0,
            y: 2.0,
        })
        .collect();
    let gateways = (0..spec.gateways_per_site)
        .map(|i| Device {
            kind: DeviceKind::Gateway,
            mac: mac("94f7ad", gw_base + offset + i as u32),
            name: format!("{name}-GW-{:02}", i + 1),
            model: devices_r.pick(GATEWAY_MODELS).to_string(),
            version: "23.4R2-S3.9".into(),
            site: s,
            map: 0,
            x: 1.0,
            y: 1.0,
        })
        .collect();
    let clients = (0..spec.clients_per_site)
        .map(|i| {
            let random_mac = clients_r.chance(0.3);
            let mac = if random_mac {
                // Locally administered: the second hex digit is 2, 6, a or e.
                let mut m = clients_r.hex(6).into_bytes();
                m[1] = *clients_r.pick(b"26ae");
                String::from_utf8(m).unwrap_or_default()
            } else {
                format!("{}{}", clients_r.pick(CLIENT_OUIS), clients_r.hex(3))
            };
            let (family, manufacture, model, os) = *clients_r.pick(DEVICE_PROFILES);
            let user = format!("{}{}", clients_r.pick(FIRST_NAMES), i + 1);
            Client {
                mac,
                random_mac,
                hostname: format!("{user}-{}", model.to_ascii_lowercase().replace(' ', "-"))
                    .trim_end_matches('-')
                    .to_string(),
                ip: format!("10.{}.{}.{}", 10 + s, 1 + i / 250, 2 + i % 250),
                username: format!("{user}@corp.example.com"),
                family,
                manufacture,
                model,
                os,
                wlan: if i % 5 == 4 { 1 } else { 0 },
                ap: clients_r.index(spec.aps_per_site.max(1)),
                map: clients_r.index(nmaps),
            }
        })
        .collect();
    let sdk_clients = (0..spec.sdk_clients_per_site)
        .map(|i| SdkClient {
            id: sdk_r.uuid(),
            name: format!("Visitor app {}", i + 1),
            mac: format!("{}{}", sdk_r.pick(CLIENT_OUIS), sdk_r.hex(3)),
            map: sdk_r.index(nmaps),
        })
        .collect();
    let assets = (0..spec.assets_per_site)
        .map(|i| Asset {
            // BLE static random addresses start with the two top bits set.
            mac: format!(
                "{:02x}{}",
                0xc0 | (assets_r.next_u64() & 0x3f),
                assets_r.hex(5)
            ),
            id: assets_r.uuid(),
            name: format!(
                "{} {}",
                ["Infusion pump", "Wheelchair", "Forklift", "Pallet jack"][i % 4],
                i / 4 + 1
            ),
            ibeacon_uuid: assets_r.uuid(),
            ibeacon_major: assets_r.int(1, 200),
            ibeacon_minor: assets_r.int(1, 4000),
            map: i % nmaps,
            x: (assets_r.float(5.0, 55.0) * 100.0).round() / 100.0,
            y: (assets_r.float(5.0, 35.0) * 100.0).round() / 100.0,
        })
        .collect();
    let rssizones = (0..2).map(|_| misc_r.uuid()).collect();
    let vbeacons = (0..2)
        .map(|i| Vbeacon {
            id: misc_r.uuid(),
            name: format!("{} welcome beacon {}", name, i + 1),
            map: 0,
        })
        .collect();
    Site {
        id,
        name,
        maps,
        aps,
        switches,
        gateways,
        clients,
        sdk_clients,
        assets,
        rssizones,
        vbeacons,
    }
}
