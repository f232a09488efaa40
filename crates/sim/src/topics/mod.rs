//! One generator per Mist webhook topic, shaped like what Mist sends.
//!
//! Field names, JSON types and value ranges follow the samples in `shared/mist/samples`
//! and the Mist webhook schemas, quirks included: each topic writes its times the way
//! Mist does ([`TimeForm`]), `ev_type` is upper case, NAC booleans are strings, the
//! raw Wi-Fi topics spell MACs with dashes and carry no time at all.
//!
//! Every generator also says what a receiver should make of the event ([`Truth`]): its
//! time, org, site and type, so that tests can check a receiver's normalisation against
//! what was meant rather than against another reading of the same JSON.

mod clients;
mod infra;
mod location;
mod site;

use mist::Topic;
use serde_json::{Map, Value};

use crate::org::{Org, Site};
use crate::rng::Rng;

pub(crate) use infra::{
    MarvisAction, alarm, device_event, device_updown, marvis_action, mxedge_event,
};
pub(crate) use location::{ZoneVisitor, asset_fix, zone_event};
pub(crate) use site::occupancy_alert;

/// Where a client is associated, for scenarios that move it.
pub(crate) fn clients_association<'a>(
    client: &'a crate::org::Client,
    ap: &'a crate::org::Device,
    band: &'static str,
    rssi: i64,
) -> clients::Association<'a> {
    clients::Association {
        client,
        ap,
        band,
        rssi,
    }
}

/// A client leaves `a.ap` for `next` (`client-sessions`, termination reason 3).
pub(crate) fn client_session_roam(
    g: &Gen,
    r: &mut Rng,
    a: clients::Association,
    next: &crate::org::Device,
) -> Built {
    clients::client_session(g, r, Some((a, next)))
}

/// A client joins `a.ap` (`client-join`).
pub(crate) fn client_join_at(g: &Gen, r: &mut Rng, a: clients::Association) -> Built {
    clients::client_join(g, r, Some(a))
}

/// One simulated event of one topic.
#[derive(Clone, Debug, PartialEq)]
pub struct SimEvent {
    /// Its topic.
    pub topic: Topic,
    /// When Mist would send it (unix µs on the simulated clock).
    pub at_us: i64,
    /// The event object as Mist sends it.
    pub value: Value,
    /// What a receiver should read from it.
    pub truth: Truth,
}

/// What a receiver should normalise an event to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Truth {
    /// The event's own time, unix µs, exactly as written; `None` when the topic carries
    /// no time (the receiver then uses its receive time).
    pub time_us: Option<i64>,
    /// The org, when the event names one.
    pub org_id: Option<String>,
    /// The site, when the event names one.
    pub site_id: Option<String>,
    /// The event type, when the topic has one.
    pub event_type: Option<String>,
}

/// How a topic writes its times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeForm {
    /// Integer epoch seconds (`1749101162`); seconds with a fraction when the simulated
    /// time is not a whole second (time-compressed scenarios).
    Int,
    /// Epoch seconds with a fraction (`1749998077.621725`).
    Float,
    /// Integer epoch milliseconds (`nac-events`, `nac-accounting`).
    Millis,
    /// Epoch seconds with a fraction, as a JSON string (`mxedge-events`).
    Text,
}

impl TimeForm {
    /// The JSON value for `us` in this form, and the time a reader gets back from it.
    pub(crate) fn write(self, us: i64) -> (Value, i64) {
        match self {
            TimeForm::Int if us % 1_000_000 == 0 => (Value::from(us / 1_000_000), us),
            TimeForm::Int | TimeForm::Float => (Value::from(us as f64 / 1e6), us),
            TimeForm::Millis => {
                let ms = us.div_euclid(1000);
                (Value::from(ms), ms * 1000)
            }
            TimeForm::Text => (
                Value::from(format!(
                    "{}.{:06}",
                    us.div_euclid(1_000_000),
                    us.rem_euclid(1_000_000)
                )),
                us,
            ),
        }
    }
}

/// The topic name on the wire: hyphenated as in Mist's envelopes, except where the Mist
/// schema fixes another spelling with an `enum` (`sdkclient_scan_data`).
pub fn wire_name(topic: &Topic) -> &str {
    match topic {
        Topic::SdkclientScanData => "sdkclient_scan_data",
        other => other.as_str(),
    }
}

/// Relative event rates per topic for one ordinary site: location and raw RSSI streams
/// are chatty, client and device events steady, alarms and audits rare.
pub const RATES: &[(Topic, f64)] = &[
    (Topic::Alarms, 0.02),
    (Topic::AssetRaw, 6.0),
    (Topic::AssetRawRssi, 12.0),
    (Topic::Audits, 0.03),
    (Topic::ClientInfo, 0.6),
    (Topic::ClientJoin, 0.8),
    (Topic::ClientLatency, 0.05),
    (Topic::ClientSessions, 0.8),
    (Topic::DeviceEvents, 0.4),
    (Topic::DeviceUpdowns, 0.01),
    (Topic::DiscoveredRawRssi, 8.0),
    (Topic::GuestAuthorizations, 0.05),
    (Topic::Location, 4.0),
    (Topic::LocationAsset, 5.0),
    (Topic::LocationCentrak, 0.5),
    (Topic::LocationClient, 15.0),
    (Topic::LocationSdk, 1.5),
    (Topic::LocationUnclient, 10.0),
    (Topic::MinisApplication, 0.1),
    (Topic::MinisReachability, 0.1),
    (Topic::MxedgeEvents, 0.02),
    (Topic::NacAccounting, 0.4),
    (Topic::NacEvents, 0.6),
    (Topic::OccupancyAlerts, 0.005),
    (Topic::Ping, 0.0005),
    (Topic::Rssizone, 0.5),
    (Topic::SdkclientScanData, 1.0),
    (Topic::SiteSle, 0.01),
    (Topic::Vbeacon, 0.3),
    (Topic::WifiConnRaw, 12.0),
    (Topic::WifiUnconnRaw, 10.0),
    (Topic::Zone, 1.0),
];

/// Builds one ordinary (background) event of `topic` at `at_us`: a device, client or
/// asset of a random site doing what it does every day. Events that would change a
/// device's state (outages) come from scenarios, never from here.
///
/// Returns `None` for a topic this simulator does not know ([`Topic::Other`]).
pub fn generate(topic: &Topic, org: &Org, r: &mut Rng, at_us: i64) -> Option<SimEvent> {
    let site = r.pick(&org.sites);
    let g = Gen {
        org,
        site,
        at: at_us,
    };
    let value = match topic {
        Topic::Alarms => infra::background_alarm(&g, r),
        Topic::Audits => infra::audit(&g, r),
        Topic::DeviceEvents => infra::background_device_event(&g, r),
        Topic::DeviceUpdowns => infra::background_updown(&g, r),
        Topic::MxedgeEvents => infra::background_mxedge_event(&g, r),
        Topic::ClientInfo => clients::client_info(&g, r),
        Topic::ClientJoin => clients::client_join(&g, r, None),
        Topic::ClientLatency => clients::client_latency(&g, r),
        Topic::ClientSessions => clients::client_session(&g, r, None),
        Topic::GuestAuthorizations => clients::guest_authorization(&g, r),
        Topic::NacAccounting => clients::nac_accounting(&g, r),
        Topic::NacEvents => clients::nac_event(&g, r),
        Topic::AssetRaw => location::asset_raw(&g, r),
        Topic::AssetRawRssi => location::asset_raw_rssi(&g, r),
        Topic::DiscoveredRawRssi => location::discovered_raw_rssi(&g, r),
        Topic::Location => location::location(&g, r),
        Topic::LocationAsset => location::location_asset(&g, r),
        Topic::LocationCentrak => location::location_centrak(&g, r),
        Topic::LocationClient => location::location_client(&g, r),
        Topic::LocationSdk => location::location_sdk(&g, r),
        Topic::LocationUnclient => location::location_unclient(&g, r),
        Topic::Rssizone => location::rssizone(&g, r),
        Topic::SdkclientScanData => location::sdkclient_scan_data(&g, r),
        Topic::Vbeacon => location::vbeacon(&g, r),
        Topic::WifiConnRaw => location::wifi_raw(&g, r, true),
        Topic::WifiUnconnRaw => location::wifi_raw(&g, r, false),
        Topic::Zone => location::background_zone(&g, r),
        Topic::MinisApplication => site::minis_application(&g, r),
        Topic::MinisReachability => site::minis_reachability(&g, r),
        Topic::OccupancyAlerts => site::background_occupancy(&g, r),
        Topic::Ping => site::ping(&g, r),
        Topic::SiteSle => site::site_sle(&g, r),
        Topic::Other(_) => return None,
    };
    Some(finish(topic.clone(), at_us, value))
}

/// What every generator needs: the org, the site the event happens at, the time.
pub(crate) struct Gen<'a> {
    pub org: &'a Org,
    pub site: &'a Site,
    pub at: i64,
}

/// An event under construction, with the time it says it happened.
pub(crate) struct Built {
    pub value: Map<String, Value>,
    /// The time the event carries, as a reader gets it back; `None` for topics without.
    pub time_us: Option<i64>,
    /// The type, when it is not the top-level `type` (occupancy alerts).
    pub event_type: Option<String>,
    /// The org, when it is not the top-level `org_id` (occupancy alerts).
    pub org_id: Option<String>,
}

impl Built {
    pub(crate) fn new(time_us: Option<i64>) -> Built {
        Built {
            value: Map::new(),
            time_us,
            event_type: None,
            org_id: None,
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Built {
        self.value.insert(key.to_string(), value.into());
        self
    }

    /// Writes the event's time under `key` in `form` and remembers it as the truth.
    pub(crate) fn time(&mut self, key: &str, form: TimeForm, us: i64) -> &mut Built {
        let (v, back) = form.write(us);
        self.value.insert(key.to_string(), v);
        self.time_us = Some(back);
        self
    }
}

pub(crate) fn finish(topic: Topic, at_us: i64, built: Built) -> SimEvent {
    let text = |k: &str| {
        built
            .value
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let truth = Truth {
        time_us: built.time_us,
        org_id: built.org_id.clone().or_else(|| text("org_id")),
        site_id: text("site_id"),
        event_type: built.event_type.clone().or_else(|| text("type")),
    };
    SimEvent {
        topic,
        at_us,
        value: Value::Object(built.value),
        truth,
    }
}

/// A MAC with dashes (`ac-23-16-ec-a7-0b`), as the raw Wi-Fi topics write them.
pub(crate) fn dashed(mac: &str) -> String {
    mac.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The BSSID an AP uses for a WLAN on a band: Mist derives them from the AP's MAC.
pub(crate) fn bssid(ap_mac: &str, wlan: usize, band: &str) -> String {
    let base = u64::from_str_radix(ap_mac, 16).unwrap_or(0);
    let band_offset = match band {
        "5" => 8,
        "6" => 16,
        _ => 0,
    };
    let last = ((base & 0xff) & !0x1f) | (band_offset + wlan as u64 % 8);
    format!("{:012x}", (base & !0xff) | last)
}

/// Received signal strength at `d` metres (log-distance path loss), dBm.
pub(crate) fn rssi_at(d: f64, r: &mut Rng) -> i64 {
    let loss = 40.0 + 30.0 * d.max(1.0).log10() + r.float(-4.0, 4.0);
    (-loss).round().clamp(-95.0, -30.0) as i64
}

/// Rounds to `digits` decimals (positions, latencies).
pub(crate) fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_forms_write_what_mist_writes_and_read_back_exactly() {
        let whole = 1_750_000_000_000_000;
        assert_eq!(TimeForm::Int.write(whole).0, serde_json::json!(1750000000));
        let (v, back) = TimeForm::Int.write(whole + 250_000);
        assert_eq!(
            (v.to_string().as_str(), back),
            ("1750000000.25", whole + 250_000)
        );
        let (v, back) = TimeForm::Millis.write(whole + 123_456);
        assert_eq!(
            (v, back),
            (serde_json::json!(1750000000123_i64), whole + 123_000)
        );
        let (v, _) = TimeForm::Text.write(whole + 635_342);
        assert_eq!(v, serde_json::json!("1750000000.635342"));
        for us in [whole + 1, whole + 621_725, whole + 999_999] {
            let (v, back) = TimeForm::Float.write(us);
            assert_eq!(mist::parse_time_value(&v).map(|t| t.0), Some(back), "{v}");
            let (v, back) = TimeForm::Text.write(us);
            assert_eq!(mist::parse_time_value(&v).map(|t| t.0), Some(back), "{v}");
        }
    }

    #[test]
    fn every_known_topic_has_a_rate_and_a_generator() {
        let org = Org::generate(&crate::OrgSpec::default(), 3);
        let mut r = Rng::new(3);
        for topic in Topic::KNOWN {
            assert!(RATES.iter().any(|(t, w)| t == topic && *w > 0.0), "{topic}");
            let e = generate(topic, &org, &mut r, 1_750_000_000_000_000).expect("generated");
            assert_eq!(&e.topic, topic);
            assert!(e.value.is_object());
        }
        assert!(generate(&Topic::Other("x".into()), &org, &mut r, 0).is_none());
    }

    #[test]
    fn bssids_stay_inside_the_ap_block() {
        let b = bssid("5c5b35000123", 1, "5");
        assert_eq!(b.len(), 12);
        assert!(b.starts_with("5c5b350001"));
        assert_ne!(
            bssid("5c5b35000123", 0, "24"),
            bssid("5c5b35000123", 0, "5")
        );
        assert_eq!(dashed("ac2316eca70b"), "ac-23-16-ec-a7-0b");
    }
}
