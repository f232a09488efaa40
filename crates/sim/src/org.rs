//! The simulated organisation: sites, floor maps and zones, infrastructure devices,
//! Wi-Fi and SDK clients and BLE assets, each with ids, MACs and names that depend only
//! on the seed and the sizes asked for.

use crate::rng::Rng;

/// How big an org to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgSpec {
    /// The org id; derived from the seed when `None`.
    pub org_id: Option<String>,
    /// Number of sites (at least 1).
    pub sites: usize,
    /// Access points per site (at least 1).
    pub aps_per_site: usize,
    /// Switches per site.
    pub switches_per_site: usize,
    /// WAN edges (gateways) per site.
    pub gateways_per_site: usize,
    /// Floor maps per site (at least 1).
    pub maps_per_site: usize,
    /// Wi-Fi clients per site.
    pub clients_per_site: usize,
    /// Clients running the Mist SDK per site.
    pub sdk_clients_per_site: usize,
    /// BLE assets per site.
    pub assets_per_site: usize,
    /// Mist Edges of the org.
    pub mxedges: usize,
}

impl Default for OrgSpec {
    fn default() -> Self {
        OrgSpec {
            org_id: None,
            sites: 2,
            aps_per_site: 6,
            switches_per_site: 1,
            gateways_per_site: 1,
            maps_per_site: 1,
            clients_per_site: 40,
            sdk_clients_per_site: 4,
            assets_per_site: 8,
            mxedges: 1,
        }
    }
}

/// What kind of infrastructure device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// An access point.
    Ap,
    /// A switch.
    Switch,
    /// A WAN edge.
    Gateway,
    /// A Mist Edge.
    Mxedge,
}

impl DeviceKind {
    /// The name Mist's `device_type` uses (`mxedge` for Mist Edges).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Ap => "ap",
            DeviceKind::Switch => "switch",
            DeviceKind::Gateway => "gateway",
            DeviceKind::Mxedge => "mxedge",
        }
    }

    /// The prefix of this kind's device event types (`AP_`, `SW_`, `GW_`, `ME_`).
    pub fn event_prefix(self) -> &'static str {
        match self {
            DeviceKind::Ap => "AP",
            DeviceKind::Switch => "SW",
            DeviceKind::Gateway => "GW",
            DeviceKind::Mxedge => "ME",
        }
    }
}

/// One infrastructure device.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// Its kind.
    pub kind: DeviceKind,
    /// Lowercase hex, no separators (Mist's form).
    pub mac: String,
    /// The name shown in the Mist portal.
    pub name: String,
    /// The hardware model.
    pub model: String,
    /// The firmware version.
    pub version: String,
    /// Index of its site in [`Org::sites`] (Mist Edges: the site they serve).
    pub site: usize,
    /// Index of its floor map in [`Site::maps`].
    pub map: usize,
    /// Position on the map, metres.
    pub x: f64,
    /// Position on the map, metres.
    pub y: f64,
}

impl Device {
    /// Mist's device id, which embeds the MAC: `00000000-0000-0000-1000-<mac>`.
    pub fn id(&self) -> String {
        format!("00000000-0000-0000-1000-{}", self.mac)
    }
}

/// A floor plan with its zones.
#[derive(Clone, Debug, PartialEq)]
pub struct FloorMap {
    /// The map id.
    pub id: String,
    /// Its name ("Floor 1").
    pub name: String,
    /// Width in metres.
    pub width: f64,
    /// Height in metres.
    pub height: f64,
    /// Location zones drawn on it.
    pub zones: Vec<Zone>,
}

/// A location zone: a rectangle on a map with an occupancy limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// The zone id.
    pub id: String,
    /// Its name ("Lobby").
    pub name: String,
    /// Left edge, metres.
    pub x0: f64,
    /// Top edge, metres.
    pub y0: f64,
    /// Right edge, metres.
    pub x1: f64,
    /// Bottom edge, metres.
    pub y1: f64,
    /// The occupancy limit set for compliance alerts.
    pub occupancy_limit: i64,
}

impl Zone {
    /// Whether the point lies inside the zone.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }
}

/// A WLAN (SSID) broadcast at the sites.
#[derive(Clone, Debug, PartialEq)]
pub struct Wlan {
    /// The WLAN id.
    pub id: String,
    /// The SSID.
    pub ssid: String,
}

/// A Wi-Fi client.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// Its MAC.
    pub mac: String,
    /// Whether the MAC is a randomised (locally administered) one.
    pub random_mac: bool,
    /// Host name learned by the network.
    pub hostname: String,
    /// IP address.
    pub ip: String,
    /// 802.1X user name.
    pub username: String,
    /// Family, manufacturer, model and OS as Mist fingerprints them.
    pub family: &'static str,
    /// Manufacturer.
    pub manufacture: &'static str,
    /// Model.
    pub model: &'static str,
    /// Operating system.
    pub os: &'static str,
    /// Index of its WLAN in [`Org::wlans`].
    pub wlan: usize,
    /// Index of the AP it starts on in [`Site::aps`].
    pub ap: usize,
    /// Index of its map.
    pub map: usize,
}

/// A phone running an app with the Mist SDK.
#[derive(Clone, Debug, PartialEq)]
pub struct SdkClient {
    /// The SDK client id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The phone's Wi-Fi MAC.
    pub mac: String,
    /// Index of its map.
    pub map: usize,
}

/// A BLE asset tag.
#[derive(Clone, Debug, PartialEq)]
pub struct Asset {
    /// The tag's BLE MAC.
    pub mac: String,
    /// The asset id (named assets).
    pub id: String,
    /// Its name ("Infusion pump 3").
    pub name: String,
    /// iBeacon UUID, major and minor.
    pub ibeacon_uuid: String,
    /// iBeacon major.
    pub ibeacon_major: i64,
    /// iBeacon minor.
    pub ibeacon_minor: i64,
    /// Index of its map.
    pub map: usize,
    /// Where it starts, metres.
    pub x: f64,
    /// Where it starts, metres.
    pub y: f64,
}

/// A virtual beacon.
#[derive(Clone, Debug, PartialEq)]
pub struct Vbeacon {
    /// The beacon id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Index of its map.
    pub map: usize,
}

/// One site and everything in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// The site id.
    pub id: String,
    /// Its name ("HQ").
    pub name: String,
    /// Floor maps.
    pub maps: Vec<FloorMap>,
    /// Access points.
    pub aps: Vec<Device>,
    /// Switches.
    pub switches: Vec<Device>,
    /// WAN edges.
    pub gateways: Vec<Device>,
    /// Wi-Fi clients.
    pub clients: Vec<Client>,
    /// SDK clients.
    pub sdk_clients: Vec<SdkClient>,
    /// BLE assets.
    pub assets: Vec<Asset>,
    /// RSSI zones (ids only: Mist sends nothing else about them).
    pub rssizones: Vec<String>,
    /// Virtual beacons.
    pub vbeacons: Vec<Vbeacon>,
}

impl Site {
    /// Every device of `kind` at the site.
    pub fn devices(&self, kind: DeviceKind) -> &[Device] {
        match kind {
            DeviceKind::Ap => &self.aps,
            DeviceKind::Switch => &self.switches,
            DeviceKind::Gateway => &self.gateways,
            DeviceKind::Mxedge => &[],
        }
    }
}

/// An admin who makes configuration changes (audits).
#[derive(Clone, Debug, PartialEq)]
pub struct Admin {
    /// Display name.
    pub name: String,
    /// Where they work from.
    pub src_ip: String,
}

/// The simulated organisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Org {
    /// The org id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The sites.
    pub sites: Vec<Site>,
    /// Mist Edges.
    pub mxedges: Vec<Device>,
    /// WLANs, shared by every site.
    pub wlans: Vec<Wlan>,
    /// Admins.
    pub admins: Vec<Admin>,
}

const SITE_NAMES: &[&str] = &[
    "HQ",
    "Branch-East",
    "Branch-West",
    "Warehouse",
    "Lab",
    "Campus-North",
    "Campus-South",
    "Store-101",
];
const ZONE_NAMES: &[&str] = &[
    "Lobby",
    "Cafe",
    "Auditorium",
    "Open Office",
    "Lab Bench",
    "Loading Dock",
];
const SSIDS: &[&str] = &["Corp", "Guest", "IoT"];
const AP_MODELS: &[&str] = &["AP45", "AP34", "AP43", "AP32"];
const SWITCH_MODELS: &[&str] = &["EX4100-48MP", "EX3400-48P", "EX2300-C-12P"];
const GATEWAY_MODELS: &[&str] = &["SRX345", "SSR130"];
/// Client OUIs seen on real networks (Apple, Intel, Samsung, Dell, Zebra, HP).
const CLIENT_OUIS: &[&str] = &["f0d4e2", "3c22fb", "a4c3f0", "8c8590", "d0c5d3", "b42e99"];
const DEVICE_PROFILES: &[(&str, &str, &str, &str)] = &[
    ("iPhone", "Apple", "iPhone 15", "iOS 18.5"),
    ("Mac", "Apple", "MacBook Pro", "macOS 15.4"),
    ("", "Intel Corporate", "", "Windows 11"),
    ("Android", "Samsung", "Galaxy S24", "Android 15"),
    ("Windows", "Dell", "Latitude 7450", "Windows 11"),
    ("", "Zebra Technologies", "TC52", "Android 13"),
];
const FIRST_NAMES: &[&str] = &["alex", "sam", "kim", "lee", "max", "ana", "noa", "eli"];

fn mac(oui: &str, n: u32) -> String {
    format!("{oui}{:06x}", n & 0x00ff_ffff)
}

impl Org {
    /// Builds the org for `spec` from `seed`. The same seed and spec always give the same
    /// org; growing one size keeps every existing id.
    ///
    /// ```
    /// let spec = sim::OrgSpec::default();
    /// let a = sim::Org::generate(&spec, 1);
    /// assert_eq!(a, sim::Org::generate(&spec, 1));
    /// assert_eq!(a.sites.len(), 2);
    /// assert_ne!(a.id, sim::Org::generate(&spec, 2).id);
    /// ```
    pub fn generate(spec: &OrgSpec, seed: u64) -> Org {
        let root = Rng::new(seed);
        let mut r = root.derive("org");
        let id = spec.org_id.clone().unwrap_or_else(|| r.uuid());
        // Per-org bases keep MACs unique inside the org and different between seeds.
        let ap_base = (r.next_u64() & 0x00ff_f000) as u32;
        let sw_base = (r.next_u64() & 0x00ff_f000) as u32;
        let gw_base = (r.next_u64() & 0x00ff_f000) as u32;
        let wlans = SSIDS
            .iter()
            .map(|ssid| Wlan {
                id: r.uuid(),
                ssid: (*ssid).to_string(),
            })
            .collect::<Vec<_>>();
        let admins = ["Jordan Admin", "Riley NetOps", "Automation API"]
            .iter()
            .map(|n| Admin {
                name: (*n).to_string(),
                src_ip: format!("198.51.100.{}", r.int(2, 250)),
            })
            .collect();
        let sites = (0..spec.sites.max(1))
            .map(|s| {
                let mut r = root.derive(&format!("site{s}"));
                site(spec, s, &mut r, ap_base, sw_base, gw_base)
            })
            .collect();
        let mut mr = root.derive("mxedges");
        let mxedges = (0..spec.mxedges)
            .map(|i| Device {
                kind: DeviceKind::Mxedge,
                mac: mac("020000", (mr.next_u64() as u32 & 0x00ff_ff00) | i as u32),
                name: format!("Edge-{}", i + 1),
                model: "ME-X5".into(),
                version: "0.3.1872".into(),
                site: 0,
                map: 0,
                x: 0.0,
                y: 0.0,
            })
            .collect();
        Org {
            id,
            name: "Simulated Org".into(),
            sites,
            mxedges,
            wlans,
            admins,
        }
    }

    /// Every infrastructure device of the org, site by site (APs, switches, gateways),
    /// then the Mist Edges.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.sites
            .iter()
            .flat_map(|s| s.aps.iter().chain(&s.switches).chain(&s.gateways))
            .chain(&self.mxedges)
    }
}

fn site(spec: &OrgSpec, s: usize, r: &mut Rng, ap_base: u32, sw_base: u32, gw_base: u32) -> Site {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_macs_are_unique_and_stable_when_the_org_grows() {
        let small = Org::generate(&OrgSpec::default(), 5);
        let big = Org::generate(
            &OrgSpec {
                sites: 4,
                aps_per_site: 50,
                ..OrgSpec::default()
            },
            5,
        );
        assert_eq!(small.id, big.id);
        assert_eq!(small.sites[0].id, big.sites[0].id);
        assert_eq!(small.sites[1].aps[3].mac, big.sites[1].aps[3].mac);
        let macs: HashSet<&str> = big.devices().map(|d| d.mac.as_str()).collect();
        assert_eq!(macs.len(), big.devices().count());
        let sites: HashSet<&str> = big.sites.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(sites.len(), 4);
        for d in big.devices() {
            assert_eq!(d.mac.len(), 12);
            assert!(mist::normalize_mac(&d.mac).is_some(), "{}", d.mac);
        }
        for c in &big.sites[0].clients {
            assert_eq!(mist::normalize_mac(&c.mac).as_deref(), Some(c.mac.as_str()));
        }
    }

    #[test]
    fn a_given_org_id_is_kept() {
        let spec = OrgSpec {
            org_id: Some("9747a50a-23f8-4ca5-83c4-102e807874de".into()),
            ..OrgSpec::default()
        };
        assert_eq!(
            Org::generate(&spec, 1).id,
            "9747a50a-23f8-4ca5-83c4-102e807874de"
        );
    }
}
