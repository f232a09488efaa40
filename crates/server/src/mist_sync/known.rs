//! What the API said, kept between reads, and what it adds up to (names of sites,
//! devices and maps; the wiring). No IO.

use std::collections::BTreeMap;

use correlate::Topology;
use mist::Names;
use serde_json::Value;

/// The answers kept: per org its sites and inventory, per site its device stats, and the
/// names single lookups found.
#[derive(Debug, Default)]
pub struct Known {
    /// Org id → (sites, inventory).
    pub orgs: BTreeMap<String, (Vec<Value>, Vec<Value>)>,
    /// Site id → device stats.
    pub stats: BTreeMap<String, Vec<Value>>,
    /// Site id → maps (floor plans).
    pub maps: BTreeMap<String, Vec<Value>>,
    /// Names found by looking up one id (below what the reads say).
    pub looked_up: Names,
}

/// What the answers add up to.
#[derive(Debug, Default)]
pub struct Synced {
    pub names: Names,
    pub topology: Topology,
    pub sites: usize,
    pub devices: usize,
    pub uplinks: usize,
}

/// The ids of a list of sites.
pub fn site_ids(sites: &[Value]) -> Vec<String> {
    sites
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect()
}

impl Known {
    /// The org (of those read) that has site `site`.
    pub fn org_of(&self, site: &str) -> Option<String> {
        self.orgs
            .iter()
            .find(|(_, (sites, _))| sites.iter().any(|s| s["id"] == site))
            .map(|(org, _)| org.clone())
    }

    /// Takes a site's name from `GET /sites/{id}`; whether it named one.
    pub fn learn_site(&mut self, site: &Value) -> bool {
        match (site["id"].as_str(), site["name"].as_str()) {
            (Some(id), Some(name)) if !name.is_empty() => {
                self.looked_up.name_site(id, name);
                true
            }
            _ => false,
        }
    }

    /// Takes a device's name from an inventory entry; whether it named one.
    pub fn learn_device(&mut self, device: &Value) -> bool {
        match (device["mac"].as_str(), device["name"].as_str()) {
            (Some(mac), Some(name)) if !name.is_empty() => {
                self.looked_up.name_device(mac, name);
                true
            }
            _ => false,
        }
    }

    /// Names (sites, then inventory, then device stats, then single lookups) and wiring.
    pub fn assemble(&self) -> Synced {
        let mut synced = Synced::default();
        for (sites, inventory) in self.orgs.values() {
            for site in sites {
                if let (Some(id), Some(name)) = (site["id"].as_str(), site["name"].as_str()) {
                    synced.names.name_site(id, name);
                    synced.sites += 1;
                }
            }
            for device in inventory {
                if let (Some(mac), Some(name)) = (device["mac"].as_str(), device["name"].as_str()) {
                    synced.names.name_device(mac, name);
                    synced.devices += 1;
                }
            }
        }
        for stats in self.stats.values() {
            let mut from_stats = Names::default();
            for d in stats {
                if let (Some(mac), Some(name)) = (d["mac"].as_str(), d["name"].as_str()) {
                    from_stats.name_device(mac, name);
                }
            }
            synced.names.fill_from(&from_stats);
            for up in mistapi::uplinks(stats) {
                synced
                    .topology
                    .wire_ap(&up.ap_mac, &up.switch_mac, &up.port_id);
                synced.uplinks += 1;
            }
        }
        for map in self.maps.values().flatten() {
            if let (Some(id), Some(name)) = (map["id"].as_str(), map["name"].as_str()) {
                synced.names.name_map(id, name);
            }
        }
        synced.names.fill_from(&self.looked_up);
        synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_add_up_to_names_and_wiring() {
        let mut known = Known::default();
        known.orgs.insert(
            "o".into(),
            (
                vec![json!({"id": "s1", "name": "HQ"})],
                vec![json!({"mac": "5c5b350e0001", "name": "lobby"})],
            ),
        );
        known.stats.insert(
            "s1".into(),
            vec![
                json!({"mac": "5c5b350e0001", "name": "renamed", "type": "ap",
                "lldp_stat": {"chassis_id": "f4:bf:a8:00:00:01", "port_id": "ge-0/0/3"}}),
            ],
        );
        known
            .maps
            .insert("s1".into(), vec![json!({"id": "m1", "name": "Floor 1"})]);
        known.learn_site(&json!({"id": "s9", "name": "Elsewhere"}));
        let synced = known.assemble();
        assert_eq!(synced.names.site("s1"), Some("HQ"));
        assert_eq!(synced.names.site("s9"), Some("Elsewhere"));
        assert_eq!(
            synced.names.device("5c5b350e0001"),
            Some("lobby"),
            "the inventory's name wins over the stats'"
        );
        assert_eq!(synced.uplinks, 1);
        assert_eq!(synced.names.map("m1"), Some("Floor 1"));
        assert_eq!(known.org_of("s1").as_deref(), Some("o"));
        assert_eq!(known.org_of("s9"), None);
        assert!(!known.learn_device(&json!({"mac": "5c5b350e0002"})));
    }
}
