//! `alarms` events.

use serde_json::Value;

use crate::mac::normalize_mac;
use crate::severity::Severity;

lenient_view! {
    /// One event of the `alarms` topic: an infrastructure, Marvis or security alert.
    ///
    /// Alarms are aggregated by Mist: `count` events of `alarm_type` since the last message,
    /// on the devices listed in `aps`, `switches`, `gateways` or `mxedges`. Marvis alarms
    /// (`group` = `marvis`) describe their progress in `details` and `status`.
    pub struct Alarm {
        /// The alarm's id; an update to an alarm repeats it with `update` set.
        pub id: Option<String>,
        /// The organisation.
        pub org_id: Option<String>,
        /// The organisation's name (Marvis alarms).
        pub org_name: Option<String>,
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The alarm type, e.g. `device_down`, `sw_bad_optics`, `rogue-ap-detected`.
        #[serde(rename = "type")]
        pub alarm_type: Option<String>,
        /// The severity as sent (`critical`, `major`, `minor`, `warn`, `info`).
        pub severity: Option<String>,
        /// `infrastructure`, `marvis` or `security`.
        pub group: Option<String>,
        /// The Marvis category, e.g. `layer_1`, `connectivity`.
        pub category: Option<String>,
        /// How many events of this type occurred in the aggregation interval.
        pub count: Option<i64>,
        /// MACs of the APs concerned.
        pub aps: Option<Vec<String>>,
        /// MACs of the switches concerned.
        pub switches: Option<Vec<String>>,
        /// MACs of the gateways concerned.
        pub gateways: Option<Vec<String>>,
        /// Ids of the Mist Edges concerned.
        pub mxedges: Option<Vec<String>>,
        /// Hostnames of the devices concerned.
        pub hostnames: Option<Vec<String>>,
        /// One hostname, as some alarm types send it.
        pub hostname: Option<String>,
        /// BSSIDs concerned (security alarms).
        pub bssids: Option<Vec<String>>,
        /// SSIDs concerned (security alarms).
        pub ssids: Option<Vec<String>>,
        /// Ports concerned.
        pub port_ids: Option<Vec<String>>,
        /// Why the alarm fired, e.g. `power_cycle`.
        pub reasons: Option<Vec<String>>,
        /// Marvis details (`action`, `symptom`, `status`, `state`, ...).
        pub details: Option<Value>,
        /// Entities a Marvis action affects.
        pub impacted_entities: Option<Value>,
        /// The fields Mist puts in its alert e-mail.
        pub email_content: Option<Value>,
        /// `open` or `resolved` for Marvis alarms.
        pub status: Option<String>,
        /// The Marvis root cause.
        pub root_cause: Option<String>,
        /// The Marvis suggested action.
        pub suggestion: Option<String>,
        /// The Marvis alert id.
        pub alert_id: Option<String>,
        /// The id of the event that raised the alarm.
        pub event_id: Option<String>,
        /// The device model (some infrastructure alarms).
        pub model: Option<String>,
        /// The device firmware (some infrastructure alarms).
        pub fw_version: Option<String>,
        /// `node0` or `node1` for alarms about a gateway HA cluster.
        pub node: Option<String>,
        /// Last time seen: epoch seconds per the schema, ISO strings in some captures.
        pub last_seen: Option<Value>,
        /// When a Marvis alarm was resolved, in the same forms as `last_seen`.
        pub resolved_time: Option<Value>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
        /// Set when this message updates an alarm already sent with the same `id`.
        pub update: Option<bool>,
        /// Set when a site-level webhook sent this message.
        pub for_site: Option<bool>,
    }
}

impl Alarm {
    /// The severity, parsed.
    pub fn severity(&self) -> Option<Severity> {
        self.severity.as_deref().map(Severity::parse)
    }

    /// Normalised MACs of every AP, switch and gateway listed, in that order. Entries that
    /// are not MACs are skipped.
    pub fn device_macs(&self) -> Vec<String> {
        [&self.aps, &self.switches, &self.gateways]
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|mac| normalize_mac(mac))
            .collect()
    }

    /// Whether this is a Marvis action (`group` = `marvis`).
    pub fn is_marvis(&self) -> bool {
        self.group.as_deref() == Some("marvis")
    }

    /// The alarm's progress as Mist reports it: `details.state` (Marvis: `open`,
    /// `validated`), else `details.status`, else `status` (`resolved`).
    pub fn state(&self) -> Option<&str> {
        let details = self.details.as_ref().and_then(Value::as_object);
        details
            .and_then(|d| d.get("state").and_then(Value::as_str))
            .or_else(|| details.and_then(|d| d.get("status").and_then(Value::as_str)))
            .or(self.status.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_infrastructure_alarm() {
        let alarm = Alarm::from_value(&json!({
            "aps": ["5C5B35000001", "string"], "switches": ["60c78d000002"], "count": 4,
            "id": "i", "last_seen": "2025-06-15T14:25:19", "reasons": ["power_cycle"],
            "severity": "INFO", "type": "device_restarted", "update": "true",
            "timestamp": 1749998077.6217253, "group": "infrastructure"
        }));
        assert_eq!(alarm.alarm_type.as_deref(), Some("device_restarted"));
        assert_eq!(alarm.severity(), Some(Severity::Info));
        assert_eq!(alarm.count, Some(4));
        assert_eq!(alarm.update, Some(true));
        assert_eq!(alarm.last_seen, Some(json!("2025-06-15T14:25:19")));
        assert_eq!(alarm.device_macs(), vec!["5c5b35000001", "60c78d000002"]);
        assert!(!alarm.is_marvis());
        assert!(alarm.extra.is_empty());
    }

    #[test]
    fn marvis_state() {
        let alarm = Alarm::from_value(&json!({
            "group": "marvis", "status": "resolved", "details": {"state": "validated"}
        }));
        assert!(alarm.is_marvis());
        assert_eq!(alarm.state(), Some("validated"));
        let alarm = Alarm::from_value(&json!({"details": {"status": "open"}, "status": "x"}));
        assert_eq!(alarm.state(), Some("open"));
        let alarm = Alarm::from_value(&json!({"details": "odd", "status": "resolved"}));
        assert_eq!(alarm.state(), Some("resolved"));
    }

    #[test]
    fn type_serialises_back_under_its_mist_name() {
        let value = json!({"type": "device_down", "new": {"a": 1}});
        let alarm = Alarm::from_value(&value);
        assert_eq!(serde_json::to_value(&alarm).unwrap(), value);
    }
}
