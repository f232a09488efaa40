//! The simulated organisation: sites, floor maps and zones, infrastructure devices,
//! Wi-Fi and SDK clients and BLE assets, each with ids, MACs and names that depend only
//! on the seed and the sizes asked for.

mod generate;
#[cfg(test)]
mod tests;
mod types;

pub use types::{
    Admin, Asset, Client, Device, DeviceKind, FloorMap, SdkClient, Site, Vbeacon, Wlan, Zone,
};

use crate::rng::Rng;
use generate::{SSIDS, mac, site};

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
