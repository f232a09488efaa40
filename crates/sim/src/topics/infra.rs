//! Infrastructure topics: `alarms`, `audits`, `device-events`, `device-updowns`,
//! `mxedge-events`.

use serde_json::{Value, json};

use super::{Built, Gen, TimeForm};
use crate::org::{Device, DeviceKind};
use crate::rng::Rng;

/// The fields every site-scoped infrastructure event has.
fn scoped(g: &Gen, b: &mut Built) {
    b.set("org_id", g.org.id.clone())
        .set("site_id", g.site.id.clone())
        .set("site_name", g.site.name.clone());
}

/// An alarm about `devices` (all of one kind, or none), as Mist aggregates them: one
/// event listing the devices in `aps`/`switches`/`gateways` with their names in the
/// parallel `hostnames`.
pub(crate) fn alarm(
    g: &Gen,
    r: &mut Rng,
    alarm_type: &str,
    group: &str,
    severity: &str,
    devices: &[&Device],
) -> Built {
    let mut b = Built::new(None);
    scoped(g, &mut b);
    b.set("id", r.uuid())
        .set("type", alarm_type)
        .set("group", group)
        .set("severity", severity)
        .set("count", devices.len().max(1) as i64)
        .time("timestamp", TimeForm::Float, g.at);
    b.set("last_seen", TimeForm::Int.write(g.at - g.at % 1_000_000).0);
    if let Some(first) = devices.first() {
        let list = match first.kind {
            DeviceKind::Ap => "aps",
            DeviceKind::Switch => "switches",
            DeviceKind::Gateway => "gateways",
            DeviceKind::Mxedge => "mxedges",
        };
        b.set(
            list,
            devices.iter().map(|d| d.mac.clone()).collect::<Vec<_>>(),
        )
        .set(
            "hostnames",
            devices.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        );
    }
    b
}

/// A `device-events` event of `device`, in the captured shape: `mac`, `device_name`,
/// `device_type`, upper-case `ev_type`, and for APs the older `ap`/`ap_name` as well.
pub(crate) fn device_event(g: &Gen, device: &Device, event_type: &str, ev_type: &str) -> Built {
    let mut b = Built::new(None);
    scoped(g, &mut b);
    b.set("type", event_type)
        .set("mac", device.mac.clone())
        .set("device_name", device.name.clone())
        .set("device_type", device.kind.as_str())
        .set("ev_type", ev_type)
        .set("model", device.model.clone())
        .time("timestamp", TimeForm::Int, g.at);
    if device.kind == DeviceKind::Ap {
        b.set("ap", device.mac.clone())
            .set("ap_name", device.name.clone());
    }
    b
}

/// A `device-updowns` event of an AP (the topic names the device in `ap`).
pub(crate) fn device_updown(g: &Gen, device: &Device, event_type: &str) -> Built {
    let mut b = Built::new(None);
    scoped(g, &mut b);
    b.set("type", event_type)
        .set("ap", device.mac.clone())
        .set("ap_name", device.name.clone())
        .set("for_site", false)
        .time("timestamp", TimeForm::Int, g.at);
    b
}

/// A `mxedge-events` event: org-level, named by `mxedge_id`, time as a string.
pub(crate) fn mxedge_event(g: &Gen, r: &mut Rng, edge: &Device, event_type: &str) -> Built {
    let mut b = Built::new(None);
    b.set("org_id", g.org.id.clone())
        .set("type", event_type)
        .set("mxedge_id", edge.id())
        .set("mxedge_name", edge.name.clone())
        .set("mxcluster_id", cluster_id(&g.org.id))
        .time("timestamp", TimeForm::Text, g.at);
    if event_type.contains("BY_USER") {
        b.set("audit_id", r.uuid());
    }
    b
}

/// One Mist Edge cluster per org, with an id that depends on the org only.
fn cluster_id(org_id: &str) -> String {
    let mut r = Rng::new(
        org_id
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)),
    );
    r.uuid()
}

/// What a Marvis action is about.
#[derive(Clone, Copy)]
pub(crate) struct MarvisAction<'a> {
    /// The action's id, the same while it is open and once validated.
    pub id: &'a str,
    /// The symptom, which Mist sends as the alarm type (`bad_cable`).
    pub symptom: &'a str,
    /// The suggested action (`test_replace_cable`).
    pub action: &'a str,
    /// The category (`switch`, `ap`, `layer_1`).
    pub category: &'a str,
    /// The impacted device.
    pub device: &'a Device,
    /// The impacted port, for cable and port actions.
    pub port: Option<&'a str>,
}

/// A Marvis action about `device` (and, for cable and port actions, one of its ports):
/// `details.state` is `open` when Marvis raises it and `validated` once it sees the fix.
pub(crate) fn marvis_action(g: &Gen, m: &MarvisAction, state: &str) -> Built {
    let MarvisAction {
        id,
        symptom,
        action,
        category,
        device,
        port,
    } = *m;
    let mut b = Built::new(None);
    scoped(g, &mut b);
    let mut entity = json!({
        "entity_mac": device.mac,
        "entity_name": device.name,
        "entity_type": device.kind.as_str(),
    });
    if let Some(port) = port {
        entity["port_id"] = Value::from(port);
    }
    let status = if state == "open" { "open" } else { "resolved" };
    b.set("id", id)
        .set("alert_id", id)
        .set("type", symptom)
        .set("group", "marvis")
        .set("severity", "critical")
        .set("category", category)
        .set("status", status)
        .set("suggestion", action)
        .set("org_name", g.org.name.clone())
        .set("count", 1)
        .set(
            "details",
            json!({"action": action, "category": category, "state": state, "symptom": symptom}),
        )
        .set("impacted_entities", json!([entity]))
        .time("timestamp", TimeForm::Float, g.at);
    b.set("last_seen", TimeForm::Int.write(g.at - g.at % 1_000_000).0);
    if let Some(port) = port {
        b.set("port_ids", json!([port]));
    }
    b
}

/// Alarms of an ordinary day: infrastructure findings that change no device's state.
pub(crate) fn background_alarm(g: &Gen, r: &mut Rng) -> Built {
    let switch = g.site.switches.first();
    let gateway = g.site.gateways.first();
    match (r.index(4), switch, gateway) {
        (0, Some(sw), _) => {
            let port = format!("xe-0/0/{}", r.int(0, 3));
            let mut b = alarm(g, r, "sw_bad_optics", "infrastructure", "warn", &[sw]);
            b.set("port_ids", json!([port]))
                .set(
                    "reasons",
                    json!([format!(
                        "{port}: RX power of optical interface is low ({:.2} dBm)",
                        r.float(-18.0, -12.0)
                    )]),
                )
                .set("model", sw.model.clone())
                .set("fw_version", sw.version.clone());
            b
        }
        (1, Some(sw), _) => {
            let mut b = alarm(
                g,
                r,
                "sw_alarm_chassis_poe",
                "infrastructure",
                "warn",
                &[sw],
            );
            b.set("reasons", json!(["PoE budget above 90 %"]));
            b
        }
        (2, _, Some(gw)) => {
            let mut b = alarm(g, r, "vpn_peer_down", "infrastructure", "warn", &[gw]);
            b.set(
                "reasons",
                json!([format!("peer 203.0.113.{} unreachable", r.int(1, 254))]),
            );
            b
        }
        _ => {
            let ap = r.pick(&g.site.aps);
            alarm(g, r, "loop_detected_by_ap", "infrastructure", "warn", &[ap])
        }
    }
}

/// Device events of an ordinary day: configuration, RRM, port flaps at the edge.
pub(crate) fn background_device_event(g: &Gen, r: &mut Rng) -> Built {
    let all: Vec<&Device> = g
        .site
        .aps
        .iter()
        .chain(&g.site.switches)
        .chain(&g.site.gateways)
        .collect();
    let device = *r.pick(&all);
    match device.kind {
        DeviceKind::Ap => match r.index(3) {
            0 => {
                let band = *r.pick(&["24", "5", "6"]);
                let channels: &[i64] = match band {
                    "24" => &[1, 6, 11],
                    "5" => &[36, 44, 52, 100, 149],
                    _ => &[5, 37, 69, 197],
                };
                let mut b = device_event(g, device, "AP_RRM_ACTION", "NOTICE");
                b.set("band", band)
                    .set("channel", *r.pick(channels))
                    .set("pre_channel", *r.pick(channels))
                    .set("bandwidth", *r.pick(&[20, 40, 80]))
                    .set("pre_bandwidth", 40)
                    .set("power", r.int(8, 17))
                    .set("pre_power", r.int(8, 17))
                    .set("usage", r.int(1, 60))
                    .set("pre_usage", r.int(1, 60))
                    .set(
                        "reason",
                        *r.pick(&["auto-triggered-ACS", "interference", "radar-detected"]),
                    );
                b
            }
            1 => {
                let mut b = device_event(g, device, "AP_CONFIG_CHANGED_BY_USER", "NOTICE");
                b.set("audit_id", r.uuid());
                b
            }
            _ => device_event(g, device, "AP_CONFIGURED", "NOTICE"),
        },
        DeviceKind::Switch => {
            let port = format!("ge-0/0/{}", r.int(0, 47));
            let up = r.chance(0.5);
            let (t, ev, state) = if up {
                ("SW_PORT_UP", "NOTICE", "up(1)")
            } else {
                ("SW_PORT_DOWN", "WARN", "down(2)")
            };
            let mut b = device_event(g, device, t, ev);
            b.set("port_id", port.clone()).set("version", device.version.clone()).set(
                "text",
                format!("SNMP_TRAP_LINK_{}: ifIndex {}, ifAdminStatus up(1), ifOperStatus {state}, ifName {port}", if up { "UP" } else { "DOWN" }, r.int(500, 560)),
            );
            b
        }
        _ => {
            let mut b = device_event(g, device, "GW_CONFIG_CHANGED_BY_USER", "NOTICE");
            b.set("audit_id", r.uuid());
            b
        }
    }
}

/// `device-updowns` carries only connections and restarts; an ordinary day has
/// restarts for upgrades, which change no device's up/down state.
pub(crate) fn background_updown(g: &Gen, r: &mut Rng) -> Built {
    let ap = r.pick(&g.site.aps);
    let mut b = device_updown(g, ap, "AP_RESTARTED");
    b.set("reason", "upgrade");
    b
}

pub(crate) fn background_mxedge_event(g: &Gen, r: &mut Rng) -> Built {
    let Some(edge) = g.org.mxedges.first() else {
        // An org without Mist Edges still gets the topic's shape.
        let edge = Device {
            kind: DeviceKind::Mxedge,
            mac: "020000000001".into(),
            name: "Edge-1".into(),
            model: "ME-X5".into(),
            version: String::new(),
            site: 0,
            map: 0,
            x: 0.0,
            y: 0.0,
        };
        return mxedge_event(g, r, &edge, "ME_CONFIG_CHANGED_BY_USER");
    };
    let t = *r.pick(&[
        "ME_CONFIG_CHANGED_BY_USER",
        "ME_CONFIGURED",
        "ME_SERVICE_RESTARTED",
        "ME_RESOURCE_USAGE",
    ]);
    let mut b = mxedge_event(g, r, edge, t);
    match t {
        "ME_SERVICE_RESTARTED" => {
            b.set("service", "tunterm");
        }
        "ME_RESOURCE_USAGE" => {
            b.set("component", "cpu").set("usage", r.int(60, 95));
        }
        _ => {}
    }
    b
}

/// An audit: an admin changed a device's configuration.
pub(crate) fn audit(g: &Gen, r: &mut Rng) -> Built {
    let admin = r.pick(&g.org.admins);
    let device = r.pick(&g.site.aps);
    let what = *r.pick(&[
        "Update Device Config",
        "Update Site Settings",
        "Update WLAN \"Corp\"",
        "Restart Device",
    ]);
    let mut b = Built::new(None);
    scoped(g, &mut b);
    b.set("id", r.uuid())
        .set("admin_name", admin.name.clone())
        .set("src_ip", admin.src_ip.clone())
        .set("device_id", device.id())
        .set("message", format!("{what} {}", device.name))
        .set(
            "user_agent",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .time("timestamp", TimeForm::Float, g.at);
    b
}
