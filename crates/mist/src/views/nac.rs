//! `nac-events` and `nac-accounting` events (Mist Access Assurance).
//!
//! Captured NAC events differ from the schema in three ways this view absorbs:
//! `timestamp` is in milliseconds, `random_mac` and `nacrule_matched` are the strings
//! `"true"`/`"false"`, and `port_id` is a string where the schema says array.

use serde_json::Value;

lenient_view! {
    /// One event of the `nac-events` topic: an authentication step or decision.
    pub struct NacEvent {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The event type, e.g. `NAC_CLIENT_PERMIT`, `NAC_CLIENT_DENY`.
        #[serde(rename = "type")]
        pub event_type: Option<String>,
        /// The client MAC.
        pub mac: Option<String>,
        /// The user name.
        pub username: Option<String>,
        /// `wireless` or `wired`.
        pub client_type: Option<String>,
        /// The client's IP address.
        pub client_ip: Option<String>,
        /// The AP, for wireless clients.
        pub ap: Option<String>,
        /// The BSSID, for wireless clients.
        pub bssid: Option<String>,
        /// The SSID, for wireless clients.
        pub ssid: Option<String>,
        /// The switch or AP the client is connected to.
        pub device_mac: Option<String>,
        /// The port(s): a string in captures, an array in the schema.
        pub port_id: Option<Value>,
        /// `eap-tls`, `eap-peap`, `eap-teap`, `mab`, ...
        pub auth_type: Option<String>,
        /// The NAS (RADIUS client) address.
        pub nas_ip: Option<String>,
        /// The NAS vendor.
        pub nas_vendor: Option<String>,
        /// Whether the client uses a randomised MAC.
        pub random_mac: Option<bool>,
        /// The NAC rule that matched.
        pub nacrule_id: Option<String>,
        /// The NAC rule's name.
        pub nacrule_name: Option<String>,
        /// Whether a NAC rule matched.
        pub nacrule_matched: Option<bool>,
        /// The dry-run rule that matched.
        pub dryrun_nacrule_id: Option<String>,
        /// Whether a dry-run rule matched.
        pub dryrun_nacrule_matched: Option<bool>,
        /// The identity provider used.
        pub idp_id: Option<String>,
        /// The user name presented to the identity provider.
        pub idp_username: Option<String>,
        /// Roles or groups returned by the identity provider.
        pub idp_role: Option<Vec<String>>,
        /// RADIUS attributes returned to the NAS.
        pub resp_attrs: Option<Vec<String>>,
        /// The VLAN assigned.
        pub vlan: Option<String>,
        /// Where the VLAN came from, e.g. `nactag`.
        pub vlan_source: Option<String>,
        /// The client certificate's common name.
        pub cert_cn: Option<String>,
        /// The client certificate's issuer.
        pub cert_issuer: Option<String>,
        /// The client certificate's subject.
        pub cert_subject: Option<String>,
        /// The client certificate's serial number.
        pub cert_serial: Option<String>,
        /// The client certificate's expiry, RFC 3339.
        pub cert_expiry: Option<String>,
        /// A description, e.g. why access was denied.
        pub text: Option<String>,
        /// Epoch time; milliseconds in captures (see [`crate::parse_time_value`]).
        pub timestamp: Option<f64>,
    }
}

lenient_view! {
    /// One event of the `nac-accounting` topic: RADIUS accounting start, update or stop.
    pub struct NacAccounting {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// `NAC_ACCOUNTING_START`, `NAC_ACCOUNTING_UPDATE` or `NAC_ACCOUNTING_STOP`.
        #[serde(rename = "type")]
        pub event_type: Option<String>,
        /// The client MAC.
        pub mac: Option<String>,
        /// The user name.
        pub username: Option<String>,
        /// `wireless` or `wired`.
        pub client_type: Option<String>,
        /// The client's IP address.
        pub client_ip: Option<String>,
        /// The AP, for wireless clients.
        pub ap: Option<String>,
        /// The BSSID, for wireless clients.
        pub bssid: Option<String>,
        /// The SSID, for wireless clients.
        pub ssid: Option<String>,
        /// The switch or AP the client is connected to.
        pub device_mac: Option<String>,
        /// The port(s): a string in captures, an array in the schema.
        pub port_id: Option<Value>,
        /// The authentication method.
        pub auth_type: Option<String>,
        /// The NAS (RADIUS client) address.
        pub nas_ip: Option<String>,
        /// The NAS vendor.
        pub nas_vendor: Option<String>,
        /// Whether the client uses a randomised MAC.
        pub random_mac: Option<bool>,
        /// Whether a NAC rule matched.
        pub nacrule_matched: Option<bool>,
        /// Roles or groups returned by the identity provider.
        pub idp_role: Option<Vec<String>>,
        /// Packets received during the session.
        pub rx_pkts: Option<i64>,
        /// Packets sent during the session.
        pub tx_pkts: Option<i64>,
        /// Bytes received during the session.
        pub rx_bytes: Option<i64>,
        /// Bytes sent during the session.
        pub tx_bytes: Option<i64>,
        /// Session length in minutes.
        pub session_duration_in_mins: Option<f64>,
        /// A description.
        pub text: Option<String>,
        /// Epoch time; milliseconds in captures (see [`crate::parse_time_value`]).
        pub timestamp: Option<f64>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_booleans_and_millisecond_timestamps() {
        let event = NacEvent::from_value(&json!({
            "type": "NAC_CLIENT_PERMIT", "random_mac": "true", "nacrule_matched": "false",
            "dryrun_nacrule_matched": true, "timestamp": 1749083623737_u64, "vlan": 750,
            "port_id": "ge-0/0/19", "idp_role": ["Group-1", "Group-n"]
        }));
        assert_eq!(event.random_mac, Some(true));
        assert_eq!(event.nacrule_matched, Some(false));
        assert_eq!(event.dryrun_nacrule_matched, Some(true));
        assert_eq!(event.timestamp, Some(1749083623737.0));
        assert_eq!(event.vlan.as_deref(), Some("750"));
        assert_eq!(event.port_id, Some(json!("ge-0/0/19")));
        assert_eq!(event.idp_role.map(|r| r.len()), Some(2));
    }

    #[test]
    fn accounting_counters() {
        let acct = NacAccounting::from_value(
            &json!({"rx_bytes": 28828, "tx_pkts": "79", "session_duration_in_mins": 0}),
        );
        assert_eq!(acct.rx_bytes, Some(28828));
        assert_eq!(acct.tx_pkts, Some(79));
        assert_eq!(acct.session_duration_in_mins, Some(0.0));
    }
}
