//! The org's inventory as Mist's API lists it: sites, devices, device stats (with each
//! AP's LLDP neighbour) and maps. Items are the JSON objects Mist answers, read with
//! the small typed views below where mistgate needs a field.

use reqwest::Method;
use serde_json::Value;

use crate::{Client, MistError};

/// A device's place in the wiring, from `stats/devices`: an AP and the switch port it
/// is plugged into (`lldp_stat.chassis_id`, `lldp_stat.port_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uplink {
    pub ap_mac: String,
    pub switch_mac: String,
    pub port_id: String,
}

impl Client {
    /// `GET /orgs/{org}/sites`, every page.
    pub async fn sites(&self, org: &str) -> Result<Vec<Value>, MistError> {
        self.list(&format!("orgs/{org}/sites"), &[]).await
    }

    /// `GET /orgs/{org}/inventory`, every page (assigned and unassigned devices).
    pub async fn inventory(&self, org: &str) -> Result<Vec<Value>, MistError> {
        self.list(&format!("orgs/{org}/inventory"), &[]).await
    }

    /// `GET /sites/{site}/stats/devices?type=all`, every page.
    pub async fn device_stats(&self, site: &str) -> Result<Vec<Value>, MistError> {
        self.list(
            &format!("sites/{site}/stats/devices"),
            &[("type", "all".to_string())],
        )
        .await
    }

    /// `GET /sites/{site}`: one site (`getSiteInfo`).
    pub async fn site(&self, site: &str) -> Result<Value, MistError> {
        self.call(Method::GET, &format!("sites/{site}"), &[], None)
            .await
    }

    /// The org's inventory entries with `mac` (normalised, 12 hex digits).
    pub async fn inventory_by_mac(&self, org: &str, mac: &str) -> Result<Vec<Value>, MistError> {
        self.call(
            Method::GET,
            &format!("orgs/{org}/inventory"),
            &[("mac", mac.to_string())],
            None,
        )
        .await
    }

    /// `GET /sites/{site}/maps`, every page.
    pub async fn maps(&self, site: &str) -> Result<Vec<Value>, MistError> {
        self.list(&format!("sites/{site}/maps"), &[]).await
    }
}

/// The uplinks of the APs among `stats` (device stats of one site): those whose
/// `lldp_stat` names a neighbour and a port.
pub fn uplinks(stats: &[Value]) -> Vec<Uplink> {
    stats
        .iter()
        .filter(|d| d["type"].as_str().is_none_or(|t| t == "ap"))
        .filter_map(|d| {
            let lldp = d.get("lldp_stat")?;
            let text = |v: &Value| v.as_str().map(str::to_string).filter(|s| !s.is_empty());
            Some(Uplink {
                ap_mac: text(&d["mac"])?,
                switch_mac: text(&lldp["chassis_id"])?,
                port_id: text(&lldp["port_id"])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uplinks_come_from_the_aps_lldp_neighbours() {
        let stats = vec![
            json!({"type": "ap", "mac": "5c5b350e0001",
                   "lldp_stat": {"chassis_id": "d0dd49000001", "port_id": "ge-0/0/3"}}),
            json!({"type": "ap", "mac": "5c5b350e0002", "lldp_stat": {}}),
            json!({"type": "ap", "mac": "5c5b350e0003"}),
            json!({"type": "switch", "mac": "d0dd49000001",
                   "lldp_stat": {"chassis_id": "x", "port_id": "y"}}),
        ];
        assert_eq!(
            uplinks(&stats),
            [Uplink {
                ap_mac: "5c5b350e0001".into(),
                switch_mac: "d0dd49000001".into(),
                port_id: "ge-0/0/3".into(),
            }]
        );
    }
}
