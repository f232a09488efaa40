//! `device-events` and `device-updowns` events.

use serde_json::Value;

use crate::mac::normalize_mac;
use crate::severity::Severity;

lenient_view! {
    /// One event of the `device-events` topic, from an AP, switch or gateway.
    pub struct DeviceEvent {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The device MAC.
        pub mac: Option<String>,
        /// The AP MAC (deprecated by Mist in favour of `mac`, still sent).
        pub ap: Option<String>,
        /// The AP name (deprecated by Mist in favour of `device_name`, still sent).
        pub ap_name: Option<String>,
        /// The device name.
        pub device_name: Option<String>,
        /// `ap`, `switch` or `gateway`.
        pub device_type: Option<String>,
        /// The advisory level as sent: `notice` or `warn`, in either case.
        pub ev_type: Option<String>,
        /// The event type, e.g. `AP_RESTARTED`, `SW_PORT_DOWN`.
        #[serde(rename = "type")]
        pub event_type: Option<String>,
        /// Why, e.g. `power_cycle`, `radar-detected`.
        pub reason: Option<String>,
        /// A description of the event.
        pub text: Option<String>,
        /// The port concerned (switch and gateway events).
        pub port_id: Option<String>,
        /// The audit entry of the change that caused the event.
        pub audit_id: Option<String>,
        /// The device model.
        pub model: Option<String>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
        /// The radio band, as `"5"`, `"24"`, `"6"` or a number.
        pub band: Option<Value>,
        /// The radio channel after an RRM change.
        pub channel: Option<i64>,
        /// The radio channel before an RRM change.
        pub pre_channel: Option<i64>,
        /// The channel width after an RRM change.
        pub bandwidth: Option<i64>,
        /// The channel width before an RRM change.
        pub pre_bandwidth: Option<i64>,
        /// The transmit power after an RRM change.
        pub power: Option<f64>,
        /// The transmit power before an RRM change.
        pub pre_power: Option<f64>,
    }
}

impl DeviceEvent {
    /// The advisory level parsed from `ev_type` (`NOTICE` and `notice` are the same).
    pub fn severity(&self) -> Option<Severity> {
        self.ev_type.as_deref().map(Severity::parse)
    }

    /// The device MAC, normalised: `mac`, else `ap`.
    pub fn device_mac(&self) -> Option<String> {
        device_mac(&self.mac, &self.ap)
    }
}

lenient_view! {
    /// One event of the `device-updowns` topic: a device went up or down.
    pub struct DeviceUpdown {
        /// The organisation.
        pub org_id: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The AP MAC.
        pub ap: Option<String>,
        /// The AP name.
        pub ap_name: Option<String>,
        /// The device MAC, when Mist sends it.
        pub mac: Option<String>,
        /// The device name, when Mist sends it.
        pub device_name: Option<String>,
        /// `ap`, `switch` or `gateway`, when Mist sends it.
        pub device_type: Option<String>,
        /// The event type, e.g. `AP_DISCONNECTED`.
        #[serde(rename = "type")]
        pub event_type: Option<String>,
        /// Why, when Mist says.
        pub reason: Option<String>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
        /// Set when a site-level webhook sent this message.
        pub for_site: Option<bool>,
    }
}

impl DeviceUpdown {
    /// The device MAC, normalised: `mac`, else `ap`.
    pub fn device_mac(&self) -> Option<String> {
        device_mac(&self.mac, &self.ap)
    }
}

fn device_mac(mac: &Option<String>, ap: &Option<String>) -> Option<String> {
    [mac, ap]
        .into_iter()
        .flatten()
        .find_map(|s| normalize_mac(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn device_event_severity_and_mac() {
        let event = DeviceEvent::from_value(&json!({
            "ap": "xx2316ed6axx", "ev_type": "NOTICE", "type": "AP_RRM_ACTION",
            "band": "6", "channel": 197, "pre_power": 0, "timestamp": 1695170180
        }));
        assert_eq!(event.severity(), Some(Severity::Notice));
        assert_eq!(event.event_type.as_deref(), Some("AP_RRM_ACTION"));
        assert_eq!(event.device_mac().as_deref(), Some("xx2316ed6axx"));
        assert_eq!(event.band, Some(json!("6")));
        assert_eq!(event.channel, Some(197));
        assert_eq!(event.timestamp, Some(1695170180.0));
    }

    #[test]
    fn updown_prefers_mac_then_ap() {
        let updown =
            DeviceUpdown::from_value(&json!({"ap": "5c5b35000001", "mac": "bad", "for_site": 1}));
        assert_eq!(updown.device_mac().as_deref(), Some("5c5b35000001"));
        assert_eq!(updown.for_site, Some(true));
    }
}
