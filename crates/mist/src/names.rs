//! Names people read for the ids Mist events carry: sites by id, devices by MAC.
//!
//! Mist names things in some events and not in others (`site_name` on device events and
//! audits but not on alarms; `hostnames` beside an alarm's `aps`, `device_name` on device
//! events). A receiver gathers names from several sources (configuration, what earlier
//! events said, Mist's REST API) into one [`Names`] value, highest priority first with
//! [`Names::fill_from`], and hands that value to whatever writes text for people. Adding a
//! source is one more `fill_from`, not a change in every consumer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Site names by site id and device names by normalised MAC. Pure data: looking up never
/// does IO.
///
/// ```
/// let mut names = mist::Names::default();
/// names.name_site("8d2e354a", "HQ");
/// names.name_device("5C:5B:35:0E:1D:1F", "lobby-ap");
/// let mut learned = mist::Names::default();
/// learned.name_site("8d2e354a", "Old HQ");
/// learned.name_site("819b44b2", "Branch");
/// names.fill_from(&learned);
/// assert_eq!(names.site("8d2e354a"), Some("HQ"));
/// assert_eq!(names.site("819b44b2"), Some("Branch"));
/// assert_eq!(names.device("5c5b350e1d1f"), Some("lobby-ap"));
/// assert_eq!(names.device("5c5b350e0000"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    #[serde(default)]
    sites: BTreeMap<String, String>,
    #[serde(default)]
    devices: BTreeMap<String, String>,
    /// Floor plans by map id (`map_id` on location and zone events).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    maps: BTreeMap<String, String>,
}

impl Names {
    /// Names with these site names (e.g. `[routing] site_names`) and no device names.
    pub fn with_sites(sites: BTreeMap<String, String>) -> Names {
        let mut names = Names::default();
        for (id, name) in sites {
            names.name_site(&id, &name);
        }
        names
    }

    /// The name of site `id`, if known.
    pub fn site(&self, id: &str) -> Option<&str> {
        self.sites.get(id).map(String::as_str)
    }

    /// The name of the device with this MAC (any spelling [`crate::normalize_mac`]
    /// reads), if known.
    pub fn device(&self, mac: &str) -> Option<&str> {
        match self.devices.get(mac) {
            Some(name) => Some(name),
            None => self.devices.get(&device_key(mac)).map(String::as_str),
        }
    }

    /// The name of map (floor plan) `id`, if known.
    pub fn map(&self, id: &str) -> Option<&str> {
        self.maps.get(id).map(String::as_str)
    }

    /// Names map `id`, replacing a name it had; blank ids and names are ignored.
    pub fn name_map(&mut self, id: &str, name: &str) {
        let (id, name) = (id.trim(), name.trim());
        if !id.is_empty() && !name.is_empty() {
            self.maps.insert(id.to_owned(), name.to_owned());
        }
    }

    /// Names site `id`, replacing a name it had. Blank ids and names are ignored: Mist
    /// sends empty `site_name`s for org-level events.
    pub fn name_site(&mut self, id: &str, name: &str) {
        let (id, name) = (id.trim(), name.trim());
        if !id.is_empty() && !name.is_empty() {
            self.sites.insert(id.to_owned(), name.to_owned());
        }
    }

    /// Names the device with this MAC, replacing a name it had. An id that does not read
    /// as a MAC (a Mist Edge's) is kept in lowercase; a blank id or name is ignored.
    pub fn name_device(&mut self, mac: &str, name: &str) {
        let (id, name) = (device_key(mac), name.trim());
        if !id.is_empty() && !name.is_empty() {
            self.devices.insert(id, name.to_owned());
        }
    }

    /// Adds what `lower` names and `self` does not: `self` keeps priority.
    pub fn fill_from(&mut self, lower: &Names) {
        for (id, name) in &lower.sites {
            self.sites.entry(id.clone()).or_insert_with(|| name.clone());
        }
        for (mac, name) in &lower.devices {
            self.devices
                .entry(mac.clone())
                .or_insert_with(|| name.clone());
        }
        for (id, name) in &lower.maps {
            self.maps.entry(id.clone()).or_insert_with(|| name.clone());
        }
    }

    /// Whether nothing is named.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.devices.is_empty() && self.maps.is_empty()
    }

    /// Every site name, by id.
    pub fn sites(&self) -> &BTreeMap<String, String> {
        &self.sites
    }

    /// Every map name, by map id.
    pub fn maps(&self) -> &BTreeMap<String, String> {
        &self.maps
    }

    /// Every device name, by normalised MAC.
    pub fn devices(&self) -> &BTreeMap<String, String> {
        &self.devices
    }
}

/// A device's key: its normalised MAC, else its id in lowercase.
fn device_key(id: &str) -> String {
    crate::normalize_mac(id).unwrap_or_else(|| id.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_name_nothing_and_other_ids_are_kept_in_lowercase() {
        let mut names = Names::default();
        names.name_site(" ", "HQ");
        names.name_site("s", "  ");
        names.name_device(" ", "ap");
        names.name_device("5c5b350e1d1f", "");
        assert!(names.is_empty());
        names.name_device("5c5b350e1d1f", " ap-1 ");
        assert_eq!(names.device("5C-5B-35-0E-1D-1F"), Some("ap-1"));
        assert_eq!(names.device("nonsense"), None);
        names.name_device("387804A7-3474-85ce-15a2-f9a9684c9c90", "edge-1");
        assert_eq!(
            names.device("387804a7-3474-85ce-15a2-f9a9684c9c90"),
            Some("edge-1")
        );
    }

    #[test]
    fn configured_site_names_are_taken_as_given() {
        let names = Names::with_sites([("s".to_owned(), "HQ".to_owned())].into());
        assert_eq!(names.site("s"), Some("HQ"));
        assert_eq!(names.sites().len(), 1);
        assert!(names.devices().is_empty());
    }
}
