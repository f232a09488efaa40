//! How devices are wired: each AP's uplink (its LLDP neighbour: a switch and a port) and
//! each switch's gateway. Given to the correlator by the shell (from Mist's device stats,
//! `lldp_stat` of APs), so that inhibition follows the wiring instead of the site.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an AP is plugged in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uplink {
    /// The switch's normalised MAC.
    pub switch: String,
    /// The switch port, as Mist names it in `port_id` (`ge-0/0/2`).
    pub port: String,
}

/// The wiring the correlator knows: AP → switch and port, switch → gateway. Plain data,
/// by normalised MAC (MACs are unique across organisations).
///
/// An AP it does not list is linked to upstream outages by site, as without topology; an
/// AP it lists is linked only to its own switch, the port it is on, and the gateway that
/// switch hangs off (any gateway of the site when the switch's is not known).
///
/// ```
/// let mut topology = correlate::Topology::default();
/// topology.wire_ap("5C:5B:35:0E:1D:1F", "0c8126c7054d", "ge-0/0/2");
/// topology.wire_switch("0c8126c7054d", "94f7adf72ea0");
/// let uplink = topology.uplink("5c5b350e1d1f").unwrap();
/// assert_eq!((uplink.switch.as_str(), uplink.port.as_str()), ("0c8126c7054d", "ge-0/0/2"));
/// assert_eq!(topology.gateway_of("0c8126c7054d"), Some("94f7adf72ea0"));
/// assert!(topology.has_ap_on("0c8126c7054d", "ge-0/0/2"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// AP MAC → its uplink.
    #[serde(default)]
    pub uplinks: BTreeMap<String, Uplink>,
    /// Switch MAC → the gateway it hangs off.
    #[serde(default)]
    pub gateways: BTreeMap<String, String>,
}

impl Topology {
    /// Says AP `ap` is plugged into `port` of switch `switch`. MACs that do not read as
    /// MACs, or a blank port, are ignored.
    pub fn wire_ap(&mut self, ap: &str, switch: &str, port: &str) {
        let port = port.trim();
        if let (Some(ap), Some(switch)) = (mist::normalize_mac(ap), mist::normalize_mac(switch))
            && !port.is_empty()
        {
            let port = port.to_owned();
            self.uplinks.insert(ap, Uplink { switch, port });
        }
    }

    /// Says switch `switch` hangs off gateway `gateway`.
    pub fn wire_switch(&mut self, switch: &str, gateway: &str) {
        if let (Some(switch), Some(gateway)) =
            (mist::normalize_mac(switch), mist::normalize_mac(gateway))
        {
            self.gateways.insert(switch, gateway);
        }
    }

    /// The AP's uplink, if known.
    pub fn uplink(&self, ap: &str) -> Option<&Uplink> {
        self.uplinks.get(ap)
    }

    /// The gateway a switch hangs off, if known.
    pub fn gateway_of(&self, switch: &str) -> Option<&str> {
        self.gateways.get(switch).map(String::as_str)
    }

    /// Whether some AP is plugged into this port.
    pub fn has_ap_on(&self, switch: &str, port: &str) -> bool {
        self.uplinks
            .values()
            .any(|u| u.switch == switch && u.port == port)
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.uplinks.is_empty() && self.gateways.is_empty()
    }
}
