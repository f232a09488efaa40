//! Mist webhook topics and their many spellings.
//!
//! Mist is not consistent about topic names: envelopes say `device-events`, the OpenAPI
//! defaults say `device_events`, `sdkclient_scan_data` or `location_asset`, and users type
//! whatever they remember. [`Topic::parse`] accepts all of them; [`Topic::as_str`] always
//! gives the one hyphenated name this project stores and shows.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Mist webhook topic.
///
/// Unknown topics are kept, not rejected: Mist adds topics over time, and an event of a topic
/// this crate does not know yet is still worth storing.
///
/// ```
/// use mist::Topic;
/// assert_eq!(Topic::parse("Device_Events"), Topic::DeviceEvents);
/// assert_eq!(Topic::DeviceEvents.as_str(), "device-events");
/// assert_eq!(Topic::parse("new_topic"), Topic::Other("new-topic".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `alarms`: alerts for devices and infrastructure, Marvis actions and security.
    Alarms,
    /// `audits`: every configuration change made in the Mist portal or API.
    Audits,
    /// `asset-raw`: raw BLE asset advertisements.
    AssetRaw,
    /// `asset-raw-rssi`: raw BLE asset advertisements with the RSSI each AP heard.
    AssetRawRssi,
    /// `client-info`: a client's IP address and hostname as learned by the network.
    ClientInfo,
    /// `client-join`: a Wi-Fi client associated.
    ClientJoin,
    /// `client-latency`: per-site authentication, DHCP and DNS latency summaries.
    ClientLatency,
    /// `client-sessions`: a Wi-Fi client roamed away or disconnected.
    ClientSessions,
    /// `device-events`: events from APs, switches and gateways (`AP_RESTARTED`, ...).
    DeviceEvents,
    /// `device-updowns`: a device went up or down.
    DeviceUpdowns,
    /// `discovered-raw-rssi`: raw BLE advertisements from beacons that are not assets.
    DiscoveredRawRssi,
    /// `guest-authorizations`: a guest authorised on a captive portal.
    GuestAuthorizations,
    /// `location`: location of Wi-Fi clients, SDK clients and assets.
    Location,
    /// `location-asset`: location of BLE assets.
    LocationAsset,
    /// `location-centrak`: location of CenTrak tags.
    LocationCentrak,
    /// `location-client`: location of connected Wi-Fi clients.
    LocationClient,
    /// `location-sdk`: location of SDK clients.
    LocationSdk,
    /// `location-unclient`: location of unconnected Wi-Fi clients.
    LocationUnclient,
    /// `minis-application`: Marvis Minis application probe results.
    MinisApplication,
    /// `minis-reachability`: Marvis Minis reachability probe results.
    MinisReachability,
    /// `mxedge-events`: events from Mist Edge appliances.
    MxedgeEvents,
    /// `nac-accounting`: RADIUS accounting from Mist Access Assurance.
    NacAccounting,
    /// `nac-events`: authentication events from Mist Access Assurance.
    NacEvents,
    /// `occupancy-alerts`: a zone went over or back under its occupancy limit.
    OccupancyAlerts,
    /// `ping`: the test event Mist sends when a webhook is pinged.
    Ping,
    /// `rssizone`: a client entered or left an RSSI zone.
    Rssizone,
    /// `sdkclient-scan-data`: Wi-Fi scan results reported by SDK clients.
    SdkclientScanData,
    /// `site-sle`: periodic site service-level metrics.
    SiteSle,
    /// `vbeacon`: a client entered or left a virtual beacon's range.
    Vbeacon,
    /// `wifi-conn-raw`: raw frames from connected Wi-Fi clients.
    WifiConnRaw,
    /// `wifi-unconn-raw`: raw frames from unconnected Wi-Fi clients.
    WifiUnconnRaw,
    /// `zone`: a client entered or left a location zone.
    Zone,
    /// Any other topic, spelled lowercase with `-` for `_` (see [`Topic::parse`]).
    Other(String),
}

impl Topic {
    /// Every topic this crate knows, in alphabetical order of [`Topic::as_str`].
    pub const KNOWN: &'static [Topic] = &[
        Topic::Alarms,
        Topic::AssetRaw,
        Topic::AssetRawRssi,
        Topic::Audits,
        Topic::ClientInfo,
        Topic::ClientJoin,
        Topic::ClientLatency,
        Topic::ClientSessions,
        Topic::DeviceEvents,
        Topic::DeviceUpdowns,
        Topic::DiscoveredRawRssi,
        Topic::GuestAuthorizations,
        Topic::Location,
        Topic::LocationAsset,
        Topic::LocationCentrak,
        Topic::LocationClient,
        Topic::LocationSdk,
        Topic::LocationUnclient,
        Topic::MinisApplication,
        Topic::MinisReachability,
        Topic::MxedgeEvents,
        Topic::NacAccounting,
        Topic::NacEvents,
        Topic::OccupancyAlerts,
        Topic::Ping,
        Topic::Rssizone,
        Topic::SdkclientScanData,
        Topic::SiteSle,
        Topic::Vbeacon,
        Topic::WifiConnRaw,
        Topic::WifiUnconnRaw,
        Topic::Zone,
    ];

    /// Reads a topic name in any spelling. Never fails.
    ///
    /// Surrounding whitespace is ignored, case is ignored, and `_` and `-` are the same
    /// character, so `device_events`, `Device-Events` and `device-events` are one topic.
    /// A few other spellings seen in the wild are accepted too (`rssi-zone`,
    /// `sdk-client-scan-data`). Anything else becomes [`Topic::Other`] holding the name in
    /// that same normal form, so two spellings of one unknown topic still compare equal.
    pub fn parse(s: &str) -> Topic {
        let name = s.trim().to_ascii_lowercase().replace('_', "-");
        match name.as_str() {
            "alarms" => Topic::Alarms,
            "audits" => Topic::Audits,
            "asset-raw" => Topic::AssetRaw,
            "asset-raw-rssi" => Topic::AssetRawRssi,
            "client-info" => Topic::ClientInfo,
            "client-join" => Topic::ClientJoin,
            "client-latency" => Topic::ClientLatency,
            "client-sessions" => Topic::ClientSessions,
            "device-events" => Topic::DeviceEvents,
            "device-updowns" => Topic::DeviceUpdowns,
            "discovered-raw-rssi" => Topic::DiscoveredRawRssi,
            "guest-authorizations" => Topic::GuestAuthorizations,
            "location" => Topic::Location,
            "location-asset" => Topic::LocationAsset,
            "location-centrak" => Topic::LocationCentrak,
            "location-client" => Topic::LocationClient,
            "location-sdk" => Topic::LocationSdk,
            "location-unclient" => Topic::LocationUnclient,
            "minis-application" => Topic::MinisApplication,
            "minis-reachability" => Topic::MinisReachability,
            "mxedge-events" => Topic::MxedgeEvents,
            "nac-accounting" => Topic::NacAccounting,
            "nac-events" => Topic::NacEvents,
            "occupancy-alerts" => Topic::OccupancyAlerts,
            "ping" => Topic::Ping,
            "rssizone" | "rssi-zone" => Topic::Rssizone,
            "sdkclient-scan-data" | "sdk-client-scan-data" => Topic::SdkclientScanData,
            "site-sle" => Topic::SiteSle,
            "vbeacon" => Topic::Vbeacon,
            "wifi-conn-raw" => Topic::WifiConnRaw,
            "wifi-unconn-raw" => Topic::WifiUnconnRaw,
            "zone" => Topic::Zone,
            _ => Topic::Other(name),
        }
    }

    /// The canonical name: lowercase and hyphenated, as Mist writes it in envelopes.
    ///
    /// For [`Topic::Other`] this is the stored normal form.
    pub fn as_str(&self) -> &str {
        match self {
            Topic::Alarms => "alarms",
            Topic::Audits => "audits",
            Topic::AssetRaw => "asset-raw",
            Topic::AssetRawRssi => "asset-raw-rssi",
            Topic::ClientInfo => "client-info",
            Topic::ClientJoin => "client-join",
            Topic::ClientLatency => "client-latency",
            Topic::ClientSessions => "client-sessions",
            Topic::DeviceEvents => "device-events",
            Topic::DeviceUpdowns => "device-updowns",
            Topic::DiscoveredRawRssi => "discovered-raw-rssi",
            Topic::GuestAuthorizations => "guest-authorizations",
            Topic::Location => "location",
            Topic::LocationAsset => "location-asset",
            Topic::LocationCentrak => "location-centrak",
            Topic::LocationClient => "location-client",
            Topic::LocationSdk => "location-sdk",
            Topic::LocationUnclient => "location-unclient",
            Topic::MinisApplication => "minis-application",
            Topic::MinisReachability => "minis-reachability",
            Topic::MxedgeEvents => "mxedge-events",
            Topic::NacAccounting => "nac-accounting",
            Topic::NacEvents => "nac-events",
            Topic::OccupancyAlerts => "occupancy-alerts",
            Topic::Ping => "ping",
            Topic::Rssizone => "rssizone",
            Topic::SdkclientScanData => "sdkclient-scan-data",
            Topic::SiteSle => "site-sle",
            Topic::Vbeacon => "vbeacon",
            Topic::WifiConnRaw => "wifi-conn-raw",
            Topic::WifiUnconnRaw => "wifi-unconn-raw",
            Topic::Zone => "zone",
            Topic::Other(name) => name,
        }
    }

    /// Whether this is one of the topics in [`Topic::KNOWN`].
    pub fn is_known(&self) -> bool {
        !matches!(self, Topic::Other(_))
    }

    /// Whether Mist offers this topic on site webhooks only (never on org webhooks).
    ///
    /// Source: Mist's OpenAPI, `createOrgWebhook`: "For org webhooks, only
    /// alarms/audits/client-info/client-join/client-sessions/device_events/device-updowns/
    /// mxedge_events Infrastructure topics are supported"; `nac-events` (Access Assurance,
    /// an org service) is offered on org webhooks too, and `ping` is sent on both. Every
    /// other known topic (the
    /// location engine's streams, raw BLE and Wi-Fi frames, SDK scans, `nac-accounting`,
    /// `occupancy-alerts`, `client-latency`, `site-sle`, Marvis Minis, guest
    /// authorisations) is site-only. Unknown topics answer `false`: nothing is known about
    /// them.
    pub fn is_site_only(&self) -> bool {
        self.is_known()
            && !matches!(
                self,
                Topic::Alarms
                    | Topic::Audits
                    | Topic::ClientInfo
                    | Topic::ClientJoin
                    | Topic::ClientSessions
                    | Topic::DeviceEvents
                    | Topic::DeviceUpdowns
                    | Topic::MxedgeEvents
                    | Topic::NacEvents
                    | Topic::Ping
            )
    }

    /// Whether Mist keeps delivery results for this topic (its webhooks'
    /// `events/search`): the topics of `webhook_delivery.topic` in Mist's OpenAPI.
    pub fn has_delivery_results(&self) -> bool {
        matches!(
            self,
            Topic::Alarms
                | Topic::Audits
                | Topic::DeviceUpdowns
                | Topic::OccupancyAlerts
                | Topic::Ping
        )
    }

    /// The name Mist writes in a message's `topic` on the wire.
    ///
    /// Mostly the canonical name, but a few topics are written with underscores. Sources,
    /// in order of trust: captured traffic (`device-events`, `nac-events` arrive
    /// hyphenated although the schemas' defaults say `device_events`, `nac_events`); the
    /// `enum` of the topic in Mist's webhook schemas (`sdkclient_scan_data`); the schema's
    /// default or example (`location_asset`, `location_client`, `location_sdk`,
    /// `location_unclient`, `site_sle`). Unknown topics are written in their normal form.
    ///
    /// ```
    /// use mist::Topic;
    /// assert_eq!(Topic::SdkclientScanData.wire_name(), "sdkclient_scan_data");
    /// assert_eq!(Topic::DeviceEvents.wire_name(), "device-events");
    /// ```
    pub fn wire_name(&self) -> &str {
        match self {
            Topic::LocationAsset => "location_asset",
            Topic::LocationClient => "location_client",
            Topic::LocationSdk => "location_sdk",
            Topic::LocationUnclient => "location_unclient",
            Topic::SdkclientScanData => "sdkclient_scan_data",
            Topic::SiteSle => "site_sle",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Topic {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Topic::parse(s))
    }
}

impl From<&str> for Topic {
    fn from(s: &str) -> Self {
        Topic::parse(s)
    }
}

impl Serialize for Topic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Topic {
    /// Accepts any spelling [`Topic::parse`] accepts.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopicVisitor;

        impl serde::de::Visitor<'_> for TopicVisitor {
            type Value = Topic;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Mist topic name")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Topic, E> {
                Ok(Topic::parse(v))
            }
        }

        deserializer.deserialize_str(TopicVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_topic_round_trips_through_its_canonical_name() {
        for topic in Topic::KNOWN {
            assert_eq!(&Topic::parse(topic.as_str()), topic);
            assert_eq!(&Topic::parse(&topic.as_str().replace('-', "_")), topic);
            assert_eq!(&Topic::parse(&topic.as_str().to_uppercase()), topic);
            assert!(topic.is_known());
        }
    }

    #[test]
    fn known_list_is_sorted_and_complete() {
        let names: Vec<&str> = Topic::KNOWN.iter().map(Topic::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 32);
    }

    #[test]
    fn aliases_seen_in_mist_schemas_and_in_the_wild() {
        assert_eq!(Topic::parse("device_events"), Topic::DeviceEvents);
        assert_eq!(Topic::parse(" device-events \n"), Topic::DeviceEvents);
        assert_eq!(Topic::parse("rssi-zone"), Topic::Rssizone);
        assert_eq!(Topic::parse("rssi_zone"), Topic::Rssizone);
        assert_eq!(Topic::parse("RSSIZONE"), Topic::Rssizone);
        assert_eq!(
            Topic::parse("sdkclient_scan_data"),
            Topic::SdkclientScanData
        );
        assert_eq!(Topic::SdkclientScanData.as_str(), "sdkclient-scan-data");
        assert_eq!(Topic::parse("asset_raw_rssi"), Topic::AssetRawRssi);
        assert_eq!(Topic::parse("location_asset"), Topic::LocationAsset);
        assert_eq!(Topic::parse("nac_events"), Topic::NacEvents);
        assert_eq!(Topic::parse("mxedge_events"), Topic::MxedgeEvents);
        assert_eq!(Topic::parse("site_sle"), Topic::SiteSle);
    }

    #[test]
    fn unknown_topics_are_kept_in_normal_form() {
        let topic = Topic::parse(" Future_Topic ");
        assert_eq!(topic, Topic::Other("future-topic".into()));
        assert_eq!(topic.as_str(), "future-topic");
        assert_eq!(topic, Topic::parse("future-topic"));
        assert!(!topic.is_known());
        assert!(!topic.is_site_only());
    }

    #[test]
    fn site_only_topics() {
        for site_only in [
            Topic::Zone,
            Topic::LocationAsset,
            Topic::SdkclientScanData,
            Topic::NacAccounting,
            Topic::OccupancyAlerts,
            Topic::ClientLatency,
            Topic::AssetRawRssi,
            Topic::Location,
            Topic::WifiConnRaw,
            Topic::SiteSle,
        ] {
            assert!(site_only.is_site_only(), "{site_only}");
        }
        let org: Vec<&str> = Topic::KNOWN
            .iter()
            .filter(|t| !t.is_site_only())
            .map(Topic::as_str)
            .collect();
        assert_eq!(
            org,
            [
                "alarms",
                "audits",
                "client-info",
                "client-join",
                "client-sessions",
                "device-events",
                "device-updowns",
                "mxedge-events",
                "nac-events",
                "ping"
            ]
        );
    }

    #[test]
    fn wire_names_read_back_and_delivery_results() {
        for topic in Topic::KNOWN {
            assert_eq!(&Topic::parse(topic.wire_name()), topic);
        }
        assert_eq!(Topic::LocationAsset.wire_name(), "location_asset");
        assert_eq!(Topic::Alarms.wire_name(), "alarms");
        assert_eq!(Topic::parse("new_one").wire_name(), "new-one");
        let with_results: Vec<&str> = Topic::KNOWN
            .iter()
            .filter(|t| t.has_delivery_results())
            .map(Topic::as_str)
            .collect();
        assert_eq!(
            with_results,
            [
                "alarms",
                "audits",
                "device-updowns",
                "occupancy-alerts",
                "ping"
            ]
        );
    }

    proptest::proptest! {
        /// Mirrors the `normalize` fuzz target: any name's canonical form reads back as the
        /// same topic, and case, `_`/`-` and surrounding spaces never matter.
        #[test]
        fn any_spelling_round_trips_through_its_canonical_name(s in "\\PC{0,24}|[a-zA-Z_ -]{0,24}") {
            let topic = Topic::parse(&s);
            proptest::prop_assert_eq!(&Topic::parse(topic.as_str()), &topic);
            proptest::prop_assert_eq!(&Topic::parse(&s.to_ascii_uppercase()), &topic);
            proptest::prop_assert_eq!(&Topic::parse(&s.replace('-', "_")), &topic);
            proptest::prop_assert_eq!(&Topic::parse(&format!(" {s}\t")), &topic);
            proptest::prop_assert_eq!(topic.is_known(), Topic::KNOWN.contains(&topic));
        }
    }
}
