//! `client-join` and `client-sessions` events.

use serde_json::Value;

lenient_view! {
    /// One event of the `client-join` topic: a Wi-Fi client associated with an AP.
    pub struct ClientJoin {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The client MAC.
        pub mac: Option<String>,
        /// The AP MAC.
        pub ap: Option<String>,
        /// The AP name.
        pub ap_name: Option<String>,
        /// The band: `"5"`, `"24"`, `"6"`, sometimes a number.
        pub band: Option<Value>,
        /// The BSSID joined.
        pub bssid: Option<String>,
        /// The SSID joined.
        pub ssid: Option<String>,
        /// The WLAN id.
        pub wlan_id: Option<String>,
        /// RSSI at association, dBm.
        pub rssi: Option<f64>,
        /// Connect time, epoch seconds.
        pub connect: Option<f64>,
        /// Connect time, epoch seconds with a fraction.
        pub connect_float: Option<f64>,
        /// Whether the client uses a randomised MAC.
        pub random_mac: Option<bool>,
        /// The message schema version.
        pub version: Option<f64>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
    }
}

lenient_view! {
    /// One event of the `client-sessions` topic: a Wi-Fi client roamed away or disconnected.
    pub struct ClientSession {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The client MAC.
        pub mac: Option<String>,
        /// The AP the client left.
        pub ap: Option<String>,
        /// The name of the AP the client left.
        pub ap_name: Option<String>,
        /// The AP the client roamed to; `000000000000` when it did not roam.
        pub next_ap: Option<String>,
        /// The band: `"5"`, `"24"`, `"6"`, sometimes a number.
        pub band: Option<Value>,
        /// The BSSID left.
        pub bssid: Option<String>,
        /// The SSID left.
        pub ssid: Option<String>,
        /// The WLAN id.
        pub wlan_id: Option<String>,
        /// Device family, e.g. `iPhone`.
        pub client_family: Option<String>,
        /// Device manufacturer, e.g. `Apple`.
        pub client_manufacture: Option<String>,
        /// Device model.
        pub client_model: Option<String>,
        /// Device operating system.
        pub client_os: Option<String>,
        /// Last average RSSI, dBm.
        pub rssi: Option<f64>,
        /// Connect time, epoch seconds.
        pub connect: Option<f64>,
        /// Connect time, epoch seconds with a fraction.
        pub connect_float: Option<f64>,
        /// Disconnect time, epoch seconds.
        pub disconnect: Option<f64>,
        /// Disconnect time, epoch seconds with a fraction.
        pub disconnect_float: Option<f64>,
        /// Session length in seconds; the schema says integer, Mist sends floats.
        pub duration: Option<f64>,
        /// 1 disassociate, 2 inactive, 3 roamed, 4 de-authenticated, 5 unknown.
        pub termination_reason: Option<i64>,
        /// Whether the client uses a randomised MAC.
        pub random_mac: Option<bool>,
        /// The message schema version.
        pub version: Option<f64>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_accepts_band_as_string_or_number() {
        assert_eq!(
            ClientJoin::from_value(&json!({"band": "24"})).band,
            Some(json!("24"))
        );
        assert_eq!(
            ClientJoin::from_value(&json!({"band": 5})).band,
            Some(json!(5))
        );
    }

    #[test]
    fn session_wrong_types_become_none() {
        let session = ClientSession::from_value(&json!({
            "duration": "abc", "rssi": {}, "termination_reason": "3", "random_mac": "false",
            "connect_float": "1695172665.083"
        }));
        assert_eq!(session.duration, None);
        assert_eq!(session.rssi, None);
        assert_eq!(session.termination_reason, Some(3));
        assert_eq!(session.random_mac, Some(false));
        assert_eq!(session.connect_float, Some(1695172665.083));
    }
}
