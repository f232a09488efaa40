//! The Mist alarm and event type names the rules act on, and how an alarm is classified.
//!
//! The lists come from Mist's own catalogs: alarm types from `GET /api/v1/const/alarm_defs`
//! (a test checks them against the saved copy), event types from `/const/device_events` and
//! `/const/mxedge_events`. Names Mist uses elsewhere but not in those catalogs are kept in
//! separate `*_ALIASES` lists, or marked, each with where it comes from.

use mist::views::Alarm;

/// Infrastructure alarms that say the listed devices went offline. Mist names APs
/// "device" here for compatibility (`device_down` is about APs).
pub const DEVICE_DOWN: &[&str] = &["device_down", "switch_down", "gateway_down"];

/// Names of the offline alarms as the Mist UI and the operators' guide spell them
/// ("device_offline, switch_offline and gateway_offline ... each encompass two alarms:
/// _down and _reconnected"); accepted in case a template or a replayed capture uses them.
pub const DEVICE_DOWN_ALIASES: &[&str] = &["device_offline", "switch_offline", "gateway_offline"];

/// Infrastructure alarms that say the listed devices are connected again.
pub const DEVICE_UP: &[&str] = &[
    "device_reconnected",
    "switch_reconnected",
    "gateway_reconnected",
];

/// Infrastructure alarms that say the listed devices rebooted (uptime reset to 0), with
/// the why in `reasons` (e.g. `power_cycle`). They have no recovery counterpart.
pub const DEVICE_RESTARTED: &[&str] = &["device_restarted", "switch_restarted"];

/// The gateway counterpart of [`DEVICE_RESTARTED`]: not in the 2022 catalog, but WAN edges
/// send `GW_RESTARTED` device events, so the alarm is accepted when it comes.
pub const DEVICE_RESTARTED_ALIASES: &[&str] = &["gateway_restarted"];

/// Every Marvis action type (`group` = `marvis`). Marvis actions are stateful: `details`
/// says `open` or `validated`.
pub const MARVIS: &[&str] = &[
    "missing_vlan",
    "bad_cable",
    "port_flap",
    "gw_bad_cable",
    "authentication_failure",
    "dhcp_failure",
    "arp_failure",
    "dns_failure",
    "negotiation_mismatch",
    "gw_negotiation_mismatch",
    "ap_offline",
    "non_compliant",
    "ap_bad_cable",
    "health_check_failed",
    "bad_wan_uplink",
    "switch_stp_loop",
    "insufficient_coverage",
    "insufficient_capacity",
];

/// Marvis actions that also say whether their impacted devices are online: `open` means
/// offline, `validated` back online. They feed the device inventory as well.
pub const MARVIS_DEVICE_OFFLINE: &[&str] = &["ap_offline"];

/// Every security alarm type (`group` = `security`): one-off detections with no recovery
/// event, reported by whichever APs saw them.
pub const SECURITY: &[&str] = &[
    "secpolicy_violation",
    "bssid_spoofing",
    "honeypot_ssid",
    "adhoc_network",
    "rogue_ap",
    "rogue_client",
    "watched_station",
    "eap_handshake_flood",
    "air_magnet_scan",
    "excessive_eapol_start",
    "eapol_logoff_attack",
    "eap_dictionary_attack",
    "disassociation_flood",
    "beacon_flood",
    "essid_jack",
    "krack_attack",
    "vendor_ie_missing",
    "tkip_icv_attack",
    "repeated_auth_failures",
    "eap_failure_injection",
    "eap_spoofed_success",
    "out_of_sequence",
    "zero_ssid_association",
    "monkey_jack",
    "excessive_client",
    "ssid_injection",
];

/// Other spellings of security types, with the catalog name they mean. Juniper's webhook
/// documentation shows a rogue AP as `rogue-ap-detected` with no `group`.
pub const SECURITY_ALIASES: &[(&str, &str)] = &[("rogue_ap_detected", "rogue_ap")];

/// `device-events` / `device-updowns` / `mxedge-events` types meaning "lost connection to
/// the cloud". The `_LONG` variants (sent when the disconnection lasts) are not in the 2022
/// catalog but are handled by receivers written against live traffic.
pub const EVENT_DOWN: &[&str] = &[
    "AP_DISCONNECTED",
    "AP_DISCONNECTED_LONG",
    "SW_DISCONNECTED",
    "GW_DISCONNECTED",
    "GW_DISCONNECTED_LONG",
    "ME_DISCONNECTED",
];

/// Event types meaning "(re-)established to cloud". The `_RECONNECTED` spellings are not
/// in the catalog, but Mist describes device-updowns as carrying "the _disconnected,
/// _reconnected and _restarted events", so they are taken as what they say.
pub const EVENT_UP: &[&str] = &[
    "AP_CONNECTED",
    "SW_CONNECTED",
    "GW_CONNECTED",
    "ME_CONNECTED",
    "AP_RECONNECTED",
    "SW_RECONNECTED",
    "GW_RECONNECTED",
    "ME_RECONNECTED",
];

/// Event types meaning the device rebooted, with the why in `reason` when Mist knows.
/// `SW_RESTARTED_BY_USER` and `GW_RESTARTED_BY_USER` are the newer spellings seen by
/// receivers of live traffic.
pub const EVENT_RESTARTED: &[&str] = &[
    "AP_RESTARTED",
    "AP_RESTART_BY_USER",
    "SW_RESTARTED",
    "SW_RESTART_BY_USER",
    "SW_RESTARTED_BY_USER",
    "GW_RESTARTED",
    "GW_RESTART_BY_USER",
    "GW_RESTARTED_BY_USER",
    "ME_RESTARTED",
    "ME_RESTART_BY_USER",
];

/// Device events that say a switch port went down (`mac` the switch, `port_id` the port,
/// e.g. `ge-0/0/2`): an AP wired to that port (see [`crate::Topology`]) loses its uplink.
pub const PORT_DOWN: &[&str] = &["SW_PORT_DOWN"];

/// Device events that say a switch port came up again.
pub const PORT_UP: &[&str] = &["SW_PORT_UP"];

/// What an alarm means to the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmClass {
    /// The listed devices went offline.
    DeviceDown,
    /// The listed devices are back.
    DeviceUp,
    /// The listed devices rebooted.
    DeviceRestarted,
    /// A Marvis action.
    Marvis,
    /// A security detection.
    Security,
    /// Anything else (bad optics, DHCP pool exhausted, ...): not correlated here.
    Other,
}

/// An alarm type in the one form the lists use: lowercase, `-` read as `_`
/// (`AP_OFFLINE` and `rogue-ap-detected` are how some captures spell `ap_offline` and
/// `rogue_ap_detected`).
pub fn normalize_type(alarm_type: &str) -> String {
    alarm_type.trim().to_ascii_lowercase().replace('-', "_")
}

/// The catalog name of a security type: aliases map to their catalog name, anything else
/// is only normalised.
pub fn security_type(alarm_type: &str) -> String {
    let name = normalize_type(alarm_type);
    SECURITY_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| (*canonical).to_owned())
}

/// Classifies an alarm. `group` decides when Mist sent it (Marvis types are sent in upper
/// case, and Marvis sends types missing from the catalog such as `psk_failure`); the type
/// lists decide when it is absent.
///
/// ```
/// use correlate::catalog::{classify, AlarmClass};
/// use mist::views::Alarm;
/// let alarm = Alarm::from_value(&serde_json::json!({"type": "AP_OFFLINE", "group": "marvis"}));
/// assert_eq!(classify(&alarm), AlarmClass::Marvis);
/// let alarm = Alarm::from_value(&serde_json::json!({"type": "rogue-ap-detected"}));
/// assert_eq!(classify(&alarm), AlarmClass::Security);
/// ```
pub fn classify(alarm: &Alarm) -> AlarmClass {
    let name = alarm.alarm_type.as_deref().map(normalize_type);
    let name = name.as_deref().unwrap_or("");
    match alarm
        .group
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("marvis") => return AlarmClass::Marvis,
        Some("security") => return AlarmClass::Security,
        _ => {}
    }
    if DEVICE_DOWN.contains(&name) || DEVICE_DOWN_ALIASES.contains(&name) {
        AlarmClass::DeviceDown
    } else if DEVICE_UP.contains(&name) {
        AlarmClass::DeviceUp
    } else if DEVICE_RESTARTED.contains(&name) || DEVICE_RESTARTED_ALIASES.contains(&name) {
        AlarmClass::DeviceRestarted
    } else if MARVIS.contains(&name) {
        AlarmClass::Marvis
    } else if SECURITY.contains(&name) || SECURITY_ALIASES.iter().any(|(a, _)| *a == name) {
        AlarmClass::Security
    } else {
        AlarmClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The one test that reads Mist's saved catalog: every list above against
    /// `alarm_defs.json`, and every catalog example classified as its group.
    #[test]
    fn lists_match_mist_alarm_defs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/mist/alarm_defs.json"
        );
        let text = std::fs::read_to_string(path).expect("alarm_defs.json");
        let defs: Vec<Value> = serde_json::from_str(&text).unwrap();
        let keys_of = |group: &str| -> Vec<String> {
            let mut keys: Vec<String> = defs
                .iter()
                .filter(|d| d["group"] == group)
                .map(|d| d["key"].as_str().unwrap().to_owned())
                .collect();
            keys.sort();
            keys
        };
        let sorted = |list: &[&str]| -> Vec<String> {
            let mut list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
            list.sort();
            list
        };

        let infrastructure = keys_of("infrastructure");
        for name in DEVICE_DOWN.iter().chain(DEVICE_UP).chain(DEVICE_RESTARTED) {
            assert!(infrastructure.contains(&(*name).to_owned()), "{name}");
        }
        for name in DEVICE_DOWN_ALIASES.iter().chain(DEVICE_RESTARTED_ALIASES) {
            assert!(defs.iter().all(|d| d["key"] != *name), "{name} is no alias");
        }
        assert_eq!(sorted(MARVIS), keys_of("marvis"));
        assert_eq!(sorted(SECURITY), keys_of("security"));
        for name in MARVIS_DEVICE_OFFLINE {
            assert!(MARVIS.contains(name), "{name}");
        }
        for (alias, canonical) in SECURITY_ALIASES {
            assert!(SECURITY.contains(canonical), "{alias}");
        }

        // Some catalog examples are empty; those that are whole must classify by their
        // own `group` (Marvis examples send types such as `AP_OFFLINE`, `psk_failure`).
        for def in &defs {
            let key = def["key"].as_str().unwrap();
            let example = &def["example"];
            let by_type = classify(&Alarm::from_value(&json!({"type": key})));
            let expected = match def["group"].as_str().unwrap() {
                "marvis" => Some(AlarmClass::Marvis),
                "security" => Some(AlarmClass::Security),
                _ => None,
            };
            match expected {
                Some(class) => assert_eq!(by_type, class, "{key}"),
                None => assert!(
                    !matches!(by_type, AlarmClass::Marvis | AlarmClass::Security),
                    "{key}"
                ),
            }
            if example.get("group").is_some() {
                let by_example = classify(&Alarm::from_value(example));
                if let Some(class) = expected {
                    assert_eq!(by_example, class, "{key} example");
                }
            }
        }
    }

    #[test]
    fn aliases_and_case() {
        assert_eq!(security_type("rogue-ap-detected"), "rogue_ap");
        assert_eq!(security_type("Honeypot_SSID"), "honeypot_ssid");
        let alarm = Alarm::from_value(&json!({"type": "switch_offline"}));
        assert_eq!(classify(&alarm), AlarmClass::DeviceDown);
        let alarm = Alarm::from_value(&json!({"type": "SW_BAD_OPTICS", "group": "infrastructure"}));
        assert_eq!(classify(&alarm), AlarmClass::Other);
        let alarm = Alarm::from_value(&json!({"type": "psk_failure", "group": "MARVIS"}));
        assert_eq!(classify(&alarm), AlarmClass::Marvis);
    }
}
