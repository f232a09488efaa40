//! The kinds of infrastructure device a Mist org has, named as Mist names them.

use serde::{Deserialize, Serialize};

/// What kind of infrastructure device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// An access point (`aps` in alarms, `AP_*` events).
    Ap,
    /// A switch (`switches`, `SW_*`).
    Switch,
    /// A WAN edge gateway (`gateways`, `GW_*`).
    Gateway,
    /// A Mist Edge appliance (`mxedges`, `ME_*`).
    Mxedge,
}

impl DeviceKind {
    /// Every kind, in the order above.
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Ap,
        DeviceKind::Switch,
        DeviceKind::Gateway,
        DeviceKind::Mxedge,
    ];

    /// The name Mist's `device_type` uses, which is also the serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Ap => "ap",
            DeviceKind::Switch => "switch",
            DeviceKind::Gateway => "gateway",
            DeviceKind::Mxedge => "mxedge",
        }
    }

    /// The name a person reads in a summary.
    pub fn label(self) -> &'static str {
        match self {
            DeviceKind::Ap => "AP",
            DeviceKind::Switch => "switch",
            DeviceKind::Gateway => "gateway",
            DeviceKind::Mxedge => "Mist Edge",
        }
    }

    /// The prefix of this kind's device event types (`AP`, `SW`, `GW`, `ME`, before `_`).
    pub fn event_prefix(self) -> &'static str {
        match self {
            DeviceKind::Ap => "AP",
            DeviceKind::Switch => "SW",
            DeviceKind::Gateway => "GW",
            DeviceKind::Mxedge => "ME",
        }
    }

    /// The kind a device event type names by its prefix (`AP_RESTARTED` is an AP's).
    ///
    /// The prefix is reliable where an event's `device_type` is not (a captured
    /// `GW_RESTARTED` says `switch`).
    ///
    /// ```
    /// use mist::DeviceKind;
    /// assert_eq!(DeviceKind::of_event_type("SW_CONFIGURED"), Some(DeviceKind::Switch));
    /// assert_eq!(DeviceKind::of_event_type("CLIENT_JOINED"), None);
    /// ```
    pub fn of_event_type(event_type: &str) -> Option<DeviceKind> {
        let prefix = event_type.split('_').next()?;
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.event_prefix() == prefix)
    }

    /// Whether the APs of a site sit behind this kind of device, so that its outage
    /// explains theirs.
    pub fn is_upstream(self) -> bool {
        matches!(self, DeviceKind::Gateway | DeviceKind::Switch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_prefixes() {
        for kind in DeviceKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<DeviceKind>(&json).unwrap(), kind);
            let event = format!("{}_DISCONNECTED", kind.event_prefix());
            assert_eq!(DeviceKind::of_event_type(&event), Some(kind));
        }
    }
}
