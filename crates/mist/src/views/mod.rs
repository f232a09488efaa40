//! Typed but lenient views of the topics later stages read field by field.
//!
//! Every field is optional and read through [`crate::lenient`], so a view can be built from
//! any event: a missing field or one of the wrong type is `None`, never an error. Fields a
//! view does not name are kept in `extra`, so serialising a view gives back every unknown
//! field as sent (Mist adds fields every month). A known field whose value could not be
//! understood is not kept; the stored raw event remains the full record.
//!
//! ```
//! use mist::views::ClientSession;
//! let v = serde_json::json!({"duration": 17.53, "rssi": {}, "new_field": [1]});
//! let session = ClientSession::from_value(&v);
//! assert_eq!(session.duration, Some(17.53));
//! assert_eq!(session.rssi, None);
//! assert_eq!(session.extra["new_field"], serde_json::json!([1]));
//! ```

/// Declares a view: adds the serde attributes that make each `Option` field lenient, the
/// `extra` map for unknown fields, `from_value`, and a [`crate::lenient::FromLenient`] impl
/// so that views can nest.
macro_rules! lenient_view {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : Option<$ty:ty>,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(
                    default,
                    deserialize_with = "crate::lenient::deserialize",
                    skip_serializing_if = "Option::is_none"
                )]
                pub $field: Option<$ty>,
            )*
            /// Every field this view does not name, exactly as sent.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl $name {
            /// Reads the view from one event. Never fails: a value that is not a JSON
            /// object gives an empty view.
            pub fn from_value(value: &serde_json::Value) -> Self {
                <Self as serde::Deserialize>::deserialize(value).unwrap_or_default()
            }
        }

        impl crate::lenient::FromLenient for $name {
            fn from_lenient(value: &serde_json::Value) -> Option<Self> {
                value.is_object().then(|| Self::from_value(value))
            }
        }
    };
}

mod alarm;
mod audit;
mod client;
mod device;
mod location;
mod nac;
mod occupancy;

pub use alarm::Alarm;
pub use audit::Audit;
pub use client::{ClientJoin, ClientSession};
pub use device::{DeviceEvent, DeviceUpdown};
pub use location::{Location, Zone};
pub use nac::{NacAccounting, NacEvent};
pub use occupancy::{AlertEvent, OccupancyAlert};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_from_text_become_none_and_unknown_fields_round_trip() {
        let text =
            r#"{"duration": "abc", "rssi": {}, "mac": "aabbccddeeff", "new": {"y": [1, "z"]}}"#;
        let session: ClientSession = serde_json::from_str(text).unwrap();
        assert_eq!(session.duration, None);
        assert_eq!(session.rssi, None);
        assert_eq!(session.mac.as_deref(), Some("aabbccddeeff"));
        assert_eq!(
            serde_json::to_value(&session).unwrap(),
            json!({"mac": "aabbccddeeff", "new": {"y": [1, "z"]}})
        );
    }

    #[test]
    fn non_objects_give_empty_views() {
        assert_eq!(Alarm::from_value(&json!([1, 2])), Alarm::default());
        assert_eq!(NacEvent::from_value(&json!("x")), NacEvent::default());
        assert!(serde_json::from_str::<Zone>("[1]").is_err());
    }
}
