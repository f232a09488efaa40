//! The data types of the simulated organisation: devices, maps and zones, WLANs,
//! clients, assets, sites and admins.

pub use mist::DeviceKind;

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
