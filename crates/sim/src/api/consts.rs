//! Mist's constants the subset serves: the webhook topics (which an org webhook may
//! take, which keep delivery results) and the definitions of the alarms the simulator
//! raises.

use axum::Json;
use mist::Topic;
use serde_json::{Value, json};

use crate::topics::wire_name;

/// The topics an org-level webhook may take; every other one is site-level only.
pub const ORG_TOPICS: &[Topic] = &[
    Topic::Alarms,
    Topic::Audits,
    Topic::ClientInfo,
    Topic::ClientJoin,
    Topic::ClientSessions,
    Topic::DeviceEvents,
    Topic::DeviceUpdowns,
    Topic::MxedgeEvents,
];

/// The topics whose deliveries Mist records (the `webhook_delivery_topic` enum).
pub const DELIVERY_RESULT_TOPICS: &[Topic] = &[
    Topic::Alarms,
    Topic::Audits,
    Topic::DeviceUpdowns,
    Topic::OccupancyAlerts,
    Topic::Ping,
];

/// Topics that come one event per message whatever the webhook says (raw and location
/// streams are batched by nature).
fn allows_single_event(topic: &Topic) -> bool {
    !matches!(
        topic,
        Topic::AssetRaw
            | Topic::AssetRawRssi
            | Topic::DiscoveredRawRssi
            | Topic::WifiConnRaw
            | Topic::WifiUnconnRaw
            | Topic::SdkclientScanData
    )
}

pub(super) async fn webhook_topics() -> Json<Value> {
    let topics: Vec<Value> = Topic::KNOWN
        .iter()
        .filter(|t| **t != Topic::Ping)
        .map(|t| {
            json!({
                "key": wire_name(t),
                "for_org": ORG_TOPICS.contains(t),
                "allows_single_event_per_message": allows_single_event(t),
                "has_delivery_results": DELIVERY_RESULT_TOPICS.contains(t),
                "internal": false,
            })
        })
        .collect();
    Json(Value::Array(topics))
}

/// key, display, group, severity, fields: the alarms the simulator's topics raise.
const ALARM_DEFS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "device_down",
        "Device offline",
        "infrastructure",
        "warn",
        &["aps", "hostnames"],
    ),
    (
        "switch_down",
        "Switch offline",
        "infrastructure",
        "critical",
        &["switches", "hostnames"],
    ),
    (
        "gateway_down",
        "Gateway offline",
        "infrastructure",
        "critical",
        &["gateways", "hostnames"],
    ),
    (
        "sw_bad_optics",
        "Bad optics",
        "infrastructure",
        "warn",
        &["switches", "port_ids", "reasons"],
    ),
    (
        "sw_alarm_chassis_poe",
        "PoE controller failure",
        "infrastructure",
        "warn",
        &["switches"],
    ),
    (
        "gw_alarm_chassis_warm",
        "Chassis temperature warm",
        "infrastructure",
        "warn",
        &["gateways"],
    ),
    (
        "rogue_ap",
        "Rogue AP",
        "security",
        "warn",
        &["aps", "bssids", "ssids"],
    ),
    (
        "bad_cable",
        "Bad cable",
        "marvis",
        "critical",
        &["port_ids"],
    ),
];

pub(super) async fn alarm_defs() -> Json<Value> {
    Json(Value::Array(
        ALARM_DEFS
            .iter()
            .map(|(key, display, group, severity, fields)| {
                json!({
                    "key": key,
                    "display": display,
                    "group": group,
                    "severity": severity,
                    "fields": fields,
                    "example": {"type": key, "group": group, "severity": severity},
                })
            })
            .collect(),
    ))
}
