//! Names of things in the simulated org, as scenarios write them.

use std::fmt;

use serde::Deserialize;

use super::Unfit;
use crate::org::{Asset, Client, Device, DeviceKind, FloorMap, Org, OrgSpec, Zone};

/// A device, client, asset or zone of the simulated org, by position:
/// `site0.ap2`, `site0.ap*` (every AP of the site), `site1.switch0`, `site0.gateway0`,
/// `mxedge0`, `site0.client3`, `site0.asset0`, `site0.map0.zone1`.
///
/// ```
/// let s: sim::scenario::Selector = "site1.ap*".parse().unwrap();
/// assert_eq!(s.to_string(), "site1.ap*");
/// assert!("site1.toaster0".parse::<sim::scenario::Selector>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Selector {
    site: usize,
    target: Target,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Devices(DeviceKind, Option<usize>),
    Client(usize),
    Asset(usize),
    Zone { map: usize, zone: usize },
}

/// Zones drawn on each simulated map.
const ZONES_PER_MAP: usize = 2;

fn split_index(s: &str) -> Option<(&str, Option<usize>)> {
    if let Some(kind) = s.strip_suffix('*') {
        return Some((kind, None));
    }
    let digits = s.find(|c: char| c.is_ascii_digit())?;
    let (kind, n) = s.split_at(digits);
    Some((kind, Some(n.parse().ok()?)))
}

impl std::str::FromStr for Selector {
    type Err = Unfit;

    fn from_str(s: &str) -> Result<Selector, Unfit> {
        let bad = || {
            format!(
                "`{s}` names nothing: write e.g. site0.ap2, site0.ap*, site0.switch0, \
                 site0.gateway0, mxedge0, site0.client3, site0.asset0, site0.map0.zone1"
            )
        };
        let parts: Vec<&str> = s.split('.').collect();
        if let [edge] = parts[..] {
            return match split_index(edge) {
                Some(("mxedge", i)) => Ok(Selector {
                    site: 0,
                    target: Target::Devices(DeviceKind::Mxedge, i),
                }),
                _ => Err(Unfit(bad())),
            };
        }
        let site = parts[0]
            .strip_prefix("site")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        let target = match parts[1..] {
            [thing] => match split_index(thing).ok_or_else(bad)? {
                ("ap", i) => Target::Devices(DeviceKind::Ap, i),
                ("switch", i) => Target::Devices(DeviceKind::Switch, i),
                ("gateway", i) => Target::Devices(DeviceKind::Gateway, i),
                ("client", Some(i)) => Target::Client(i),
                ("asset", Some(i)) => Target::Asset(i),
                _ => return Err(Unfit(bad())),
            },
            [map, zone] => match (split_index(map), split_index(zone)) {
                (Some(("map", Some(map))), Some(("zone", Some(zone)))) if zone < ZONES_PER_MAP => {
                    Target::Zone { map, zone }
                }
                _ => return Err(Unfit(bad())),
            },
            _ => return Err(Unfit(bad())),
        };
        Ok(Selector { site, target })
    }
}

impl TryFrom<String> for Selector {
    type Error = Unfit;

    fn try_from(s: String) -> Result<Selector, Unfit> {
        s.parse()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = |i: Option<usize>| i.map_or_else(|| "*".to_string(), |i| i.to_string());
        match self.target {
            Target::Devices(DeviceKind::Mxedge, i) => write!(f, "mxedge{}", index(i)),
            Target::Devices(kind, i) => {
                let name = match kind {
                    DeviceKind::Ap => "ap",
                    DeviceKind::Switch => "switch",
                    _ => "gateway",
                };
                write!(f, "site{}.{name}{}", self.site, index(i))
            }
            Target::Client(i) => write!(f, "site{}.client{i}", self.site),
            Target::Asset(i) => write!(f, "site{}.asset{i}", self.site),
            Target::Zone { map, zone } => write!(f, "site{}.map{map}.zone{zone}", self.site),
        }
    }
}

impl Selector {
    /// The site index.
    pub fn site(&self) -> usize {
        self.site
    }

    /// Grows `spec` so that what this names exists.
    pub fn fit(&self, spec: &mut OrgSpec) {
        spec.sites = spec.sites.max(self.site + 1);
        let need = |i: Option<usize>| i.map_or(1, |i| i + 1);
        match self.target {
            Target::Devices(DeviceKind::Ap, i) => {
                spec.aps_per_site = spec.aps_per_site.max(need(i))
            }
            Target::Devices(DeviceKind::Switch, i) => {
                spec.switches_per_site = spec.switches_per_site.max(need(i))
            }
            Target::Devices(DeviceKind::Gateway, i) => {
                spec.gateways_per_site = spec.gateways_per_site.max(need(i))
            }
            Target::Devices(DeviceKind::Mxedge, i) => spec.mxedges = spec.mxedges.max(need(i)),
            Target::Client(i) => spec.clients_per_site = spec.clients_per_site.max(i + 1),
            Target::Asset(i) => spec.assets_per_site = spec.assets_per_site.max(i + 1),
            Target::Zone { map, .. } => spec.maps_per_site = spec.maps_per_site.max(map + 1),
        }
    }

    fn missing(&self) -> String {
        format!("`{self}` is not in the simulated org (too few sites or devices?)")
    }

    /// The devices this names, in order.
    pub fn devices<'a>(&self, org: &'a Org) -> Result<Vec<&'a Device>, Unfit> {
        let Target::Devices(kind, index) = self.target else {
            return Err(Unfit(format!("`{self}` is not a device")));
        };
        let list: &[Device] = if kind == DeviceKind::Mxedge {
            &org.mxedges
        } else {
            org.sites
                .get(self.site)
                .ok_or_else(|| self.missing())?
                .devices(kind)
        };
        match index {
            None if !list.is_empty() => Ok(list.iter().collect()),
            Some(i) if i < list.len() => Ok(vec![&list[i]]),
            _ => Err(Unfit(self.missing())),
        }
    }

    /// The one device this names.
    pub fn device<'a>(&self, org: &'a Org) -> Result<&'a Device, Unfit> {
        match self.devices(org)?[..] {
            [one] => Ok(one),
            _ => Err(Unfit(format!(
                "`{self}` names several devices where one is needed"
            ))),
        }
    }

    /// The client this names.
    pub fn client<'a>(&self, org: &'a Org) -> Result<&'a Client, Unfit> {
        match self.target {
            Target::Client(i) => org
                .sites
                .get(self.site)
                .and_then(|s| s.clients.get(i))
                .ok_or_else(|| Unfit(self.missing())),
            _ => Err(Unfit(format!("`{self}` is not a client"))),
        }
    }

    /// The asset this names.
    pub fn asset<'a>(&self, org: &'a Org) -> Result<&'a Asset, Unfit> {
        match self.target {
            Target::Asset(i) => org
                .sites
                .get(self.site)
                .and_then(|s| s.assets.get(i))
                .ok_or_else(|| Unfit(self.missing())),
            _ => Err(Unfit(format!("`{self}` is not an asset"))),
        }
    }

    /// The zone this names, with its map.
    pub fn zone<'a>(&self, org: &'a Org) -> Result<(&'a FloorMap, &'a Zone), Unfit> {
        match self.target {
            Target::Zone { map, zone } => org
                .sites
                .get(self.site)
                .and_then(|s| s.maps.get(map))
                .and_then(|m| m.zones.get(zone).map(|z| (m, z)))
                .ok_or_else(|| Unfit(self.missing())),
            _ => Err(Unfit(format!("`{self}` is not a zone"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_round_trip_and_fit_the_org() {
        for s in [
            "site0.ap2",
            "site3.ap*",
            "site0.switch0",
            "site1.gateway0",
            "mxedge0",
            "site0.client12",
            "site0.asset4",
            "site0.map1.zone1",
        ] {
            let sel: Selector = s.parse().unwrap();
            assert_eq!(sel.to_string(), s);
            let mut spec = OrgSpec {
                sites: 1,
                aps_per_site: 1,
                switches_per_site: 0,
                gateways_per_site: 0,
                maps_per_site: 1,
                clients_per_site: 0,
                sdk_clients_per_site: 0,
                assets_per_site: 0,
                mxedges: 0,
                org_id: None,
            };
            sel.fit(&mut spec);
            let org = Org::generate(&spec, 1);
            match sel.target {
                Target::Devices(..) => assert!(!sel.devices(&org).unwrap().is_empty(), "{s}"),
                Target::Client(_) => assert!(sel.client(&org).is_ok(), "{s}"),
                Target::Asset(_) => assert!(sel.asset(&org).is_ok(), "{s}"),
                Target::Zone { .. } => assert!(sel.zone(&org).is_ok(), "{s}"),
            }
        }
        for bad in [
            "ap0",
            "site.ap0",
            "site0.ap",
            "site0.toaster1",
            "site0.map0.zone9",
            "site0.client*",
        ] {
            assert!(bad.parse::<Selector>().is_err(), "{bad}");
        }
        let org = Org::generate(&OrgSpec::default(), 1);
        let all: Selector = "site1.ap*".parse().unwrap();
        assert_eq!(all.devices(&org).unwrap().len(), 6);
        assert!(
            "site9.ap0"
                .parse::<Selector>()
                .unwrap()
                .devices(&org)
                .is_err()
        );
        assert!(
            "site0.ap0"
                .parse::<Selector>()
                .unwrap()
                .client(&org)
                .is_err()
        );
    }
}
