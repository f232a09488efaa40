//! `occupancy-alerts` events.

lenient_view! {
    /// One event of the `occupancy-alerts` topic: the zones of a site whose occupancy
    /// crossed their limit.
    pub struct OccupancyAlert {
        /// The site.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// Set when a site-level webhook sent this message.
        pub for_site: Option<bool>,
        /// One entry per zone; entries that are not objects are dropped.
        pub alert_events: Option<Vec<AlertEvent>>,
    }
}

lenient_view! {
    /// One zone's occupancy change inside an [`OccupancyAlert`].
    pub struct AlertEvent {
        /// `COMPLIANCE-VIOLATION` or `COMPLIANCE-OK`.
        #[serde(rename = "type")]
        pub alert_type: Option<String>,
        /// The organisation.
        pub org_id: Option<String>,
        /// The map.
        pub map_id: Option<String>,
        /// The zone.
        pub zone_id: Option<String>,
        /// The zone's name.
        pub zone_name: Option<String>,
        /// How many are in the zone.
        pub current_occupancy: Option<i64>,
        /// How many the zone allows.
        pub occupancy_limit: Option<i64>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
    }
}

impl AlertEvent {
    /// Whether the zone is over its limit (`COMPLIANCE-VIOLATION`).
    pub fn is_violation(&self) -> bool {
        self.alert_type.as_deref() == Some("COMPLIANCE-VIOLATION")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_alert_events_are_lenient_too() {
        let alert = OccupancyAlert::from_value(&json!({
            "site_id": "s",
            "alert_events": [
                {"type": "COMPLIANCE-VIOLATION", "current_occupancy": "12", "occupancy_limit": 10, "x": 1},
                "junk",
                {"type": "COMPLIANCE-OK", "timestamp": {}}
            ]
        }));
        let events = alert.alert_events.unwrap();
        assert_eq!(events.len(), 2);
        assert!(events[0].is_violation());
        assert_eq!(events[0].current_occupancy, Some(12));
        assert_eq!(events[0].extra["x"], json!(1));
        assert!(!events[1].is_violation());
        assert_eq!(events[1].timestamp, None);
    }
}
