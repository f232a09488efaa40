//! Location topics (`location`, `location-*`) and zone topics (`zone`, `rssizone`).

use serde_json::Value;

lenient_view! {
    /// One event of `location` or any `location-*` topic: where a client, SDK client or
    /// BLE asset is on a map.
    pub struct Location {
        /// The SDK client or asset id.
        pub id: Option<String>,
        /// The client or asset name; may be empty.
        pub name: Option<String>,
        /// The Wi-Fi client or asset MAC.
        pub mac: Option<String>,
        /// The organisation, when sent.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The map the coordinates are on.
        pub map_id: Option<String>,
        /// What is located: `wifi`, `sdk` or `asset`.
        #[serde(rename = "type")]
        pub client_type: Option<String>,
        /// X on the map, metres.
        pub x: Option<f64>,
        /// Y on the map, metres.
        pub y: Option<f64>,
        /// Signal strength, dBm, when sent.
        pub rssi: Option<f64>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
        /// BLE tag battery voltage, millivolts.
        pub battery_voltage: Option<i64>,
        /// iBeacon UUID.
        pub ibeacon_uuid: Option<String>,
        /// iBeacon major.
        pub ibeacon_major: Option<i64>,
        /// iBeacon minor.
        pub ibeacon_minor: Option<i64>,
        /// Eddystone-UID namespace.
        pub eddystone_uid_namespace: Option<String>,
        /// Eddystone-UID instance.
        pub eddystone_uid_instance: Option<String>,
        /// Eddystone-URL URL.
        pub eddystone_url_url: Option<String>,
        /// BLE manufacturer id: a number in location topics, a string in raw ones.
        pub mfg_company_id: Option<Value>,
        /// BLE manufacturer data, hex.
        pub mfg_data: Option<String>,
        /// Extended beacon frames heard from the client.
        pub wifi_beacon_extended_info: Option<Value>,
    }
}

lenient_view! {
    /// One event of the `zone` or `rssizone` topic: something entered or left a zone.
    pub struct Zone {
        /// The SDK client id (`type` = `sdk`).
        pub id: Option<String>,
        /// The client name; may be empty.
        pub name: Option<String>,
        /// The Wi-Fi client, SDK client or asset MAC.
        pub mac: Option<String>,
        /// The named asset's id (`type` = `asset`).
        pub asset_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The map.
        pub map_id: Option<String>,
        /// The zone (`zone` topic).
        pub zone_id: Option<String>,
        /// The RSSI zone (`rssizone` topic).
        pub rssizone_id: Option<String>,
        /// `enter` or `exit`.
        pub trigger: Option<String>,
        /// What moved: `wifi`, `sdk` or `asset`.
        #[serde(rename = "type")]
        pub client_type: Option<String>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
    }
}

impl Zone {
    /// Whether this is an entry (`trigger` = `enter`).
    pub fn is_enter(&self) -> bool {
        self.trigger.as_deref() == Some("enter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn location_reads_coordinates() {
        let loc = Location::from_value(&json!({
            "mac": "5684dae9ac8b", "type": "wifi", "x": 13.5, "y": "3.2", "rssi": -89.00001,
            "wifi_beacon_extended_info": [{"frame_ctrl": 776}]
        }));
        assert_eq!(loc.client_type.as_deref(), Some("wifi"));
        assert_eq!((loc.x, loc.y), (Some(13.5), Some(3.2)));
        assert_eq!(loc.rssi, Some(-89.00001));
        assert!(loc.wifi_beacon_extended_info.is_some());
    }

    #[test]
    fn zone_trigger() {
        assert!(Zone::from_value(&json!({"trigger": "enter"})).is_enter());
        assert!(!Zone::from_value(&json!({"trigger": "exit"})).is_enter());
        assert!(!Zone::from_value(&json!({"trigger": 1})).is_enter());
    }
}
