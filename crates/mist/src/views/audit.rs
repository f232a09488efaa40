//! `audits` events.

use serde_json::Value;

lenient_view! {
    /// One event of the `audits` topic: a configuration change or an admin action.
    pub struct Audit {
        /// The audit entry's id.
        pub id: Option<String>,
        /// The organisation.
        pub org_id: Option<String>,
        /// The site, for site-level changes.
        pub site_id: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The admin's id.
        pub admin_id: Option<String>,
        /// The admin's name and e-mail, e.g. `John Doe john.doe@example.com`.
        pub admin_name: Option<String>,
        /// What was done, e.g. `Update Site Settings`.
        pub message: Option<String>,
        /// Where the admin connected from.
        pub src_ip: Option<String>,
        /// The admin's browser or API client.
        pub user_agent: Option<String>,
        /// The device changed, as a Mist device id.
        pub device_id: Option<String>,
        /// The webhook changed, for webhook changes.
        pub webhook_id: Option<String>,
        /// The configuration before the change: an object, or that object JSON-encoded
        /// in a string (see [`Audit::before_value`]).
        pub before: Option<Value>,
        /// The configuration after the change, in the same forms as `before`.
        pub after: Option<Value>,
        /// Epoch seconds.
        pub timestamp: Option<f64>,
    }
}

impl Audit {
    /// `before` as JSON, decoding it when Mist sent it as a JSON-encoded string.
    pub fn before_value(&self) -> Option<Value> {
        decoded(self.before.as_ref()?)
    }

    /// `after` as JSON, decoding it when Mist sent it as a JSON-encoded string.
    pub fn after_value(&self) -> Option<Value> {
        decoded(self.after.as_ref()?)
    }
}

fn decoded(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) => serde_json::from_str(s).ok(),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn before_and_after_in_both_forms() {
        let audit = Audit::from_value(&json!({
            "before": "{\"power\": 8}", "after": {"power": 10}, "message": "Update Site Settings"
        }));
        assert_eq!(audit.before_value(), Some(json!({"power": 8})));
        assert_eq!(audit.after_value(), Some(json!({"power": 10})));
        assert_eq!(
            Audit::from_value(&json!({"before": "not json"})).before_value(),
            None
        );
    }
}
