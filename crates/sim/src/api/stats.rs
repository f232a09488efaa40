//! Device stats with the site's wiring: every AP is cabled to a switch of its site
//! (AP `i` to switch `i mod n`, port `ge-0/0/<i div n>`), which its `lldp_stat` names
//! (`system_name`, `chassis_id` = the switch's MAC, `port_id`) and whose `ports[]` list
//! the AP as neighbour; each switch's last port goes up to the site's first gateway.
//! Connection state follows the connection events the simulator sent.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::org::{device_base, ip, kinds, site_devices_of};
use super::query::{Page, Params};
use super::{ApiError, Cloud};
use crate::org::{Device, DeviceKind, Site};

/// The switch port an AP is cabled to, and that switch's index.
pub fn ap_uplink(site: &Site, ap_index: usize) -> Option<(usize, String)> {
    let n = site.switches.len();
    (n > 0).then(|| (ap_index % n, format!("ge-0/0/{}", ap_index / n)))
}

/// The port a switch goes up to the gateway with, and the gateway's port.
fn switch_uplink(index: usize) -> (&'static str, String) {
    ("xe-0/2/0", format!("ge-0/0/{}", 1 + index))
}

pub(super) async fn device_stats(
    State(cloud): State<Cloud>,
    Path(site_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (_, site) = cloud.site(&site_id)?;
    let params = Params::parse(q.as_deref());
    let page = Page::from(&params)?;
    let kinds = kinds(&params)?;
    let status = params.text("status").unwrap_or("all");
    if !matches!(status, "all" | "connected" | "disconnected") {
        return Err(ApiError::BadRequest(format!(
            "status: `{status}` is not all, connected or disconnected"
        )));
    }
    let items: Vec<Value> = site_devices_of(site)
        .filter(|(_, d)| kinds.contains(&d.kind))
        .filter(|(_, d)| match status {
            "connected" => cloud.connected(&d.mac),
            "disconnected" => !cloud.connected(&d.mac),
            _ => true,
        })
        .map(|(i, d)| stats(&cloud, site, i, d))
        .collect();
    Ok(page.answer(items))
}

fn stats(cloud: &Cloud, site: &Site, index: usize, d: &Device) -> Value {
    let mut v = device_base(cloud, site, d);
    let connected = cloud.connected(&d.mac);
    let now_s = crate::send::now_us() as f64 / 1e6;
    let last_seen = cloud.last_seen_s(&d.mac).unwrap_or(now_s);
    let common = json!({
        "status": if connected { "connected" } else { "disconnected" },
        "ip": ip(d, index),
        "version": d.version,
        "uptime": if connected { (now_s - cloud.inner.created_s).round() } else { 0.0 },
        "last_seen": last_seen,
    });
    if let Value::Object(c) = common {
        v.extend(c);
    }
    let extra = match d.kind {
        DeviceKind::Ap => ap_stats(site, index, d, connected),
        DeviceKind::Switch => switch_stats(cloud, site, index, d),
        DeviceKind::Gateway => gateway_stats(cloud, site, d),
        DeviceKind::Mxedge => json!({}),
    };
    if let Value::Object(e) = extra {
        v.extend(e);
    }
    Value::Object(v)
}

fn ap_stats(site: &Site, index: usize, d: &Device, connected: bool) -> Value {
    let clients = site.clients.iter().filter(|c| c.ap == index).count();
    let mut v = json!({
        "num_clients": if connected { clients as i64 } else { 0 },
        "ext_ip": format!("203.0.113.{}", 10 + d.site),
        "port_stat": {"eth0": {"up": connected, "speed": 1000, "full_duplex": true,
                               "rx_bytes": 0, "tx_bytes": 0, "rx_pkts": 0, "tx_pkts": 0}},
    });
    if let Some((sw, port)) = ap_uplink(site, index) {
        let sw = &site.switches[sw];
        v["lldp_stat"] = json!({
            "system_name": sw.name,
            "system_desc": format!("Juniper Networks, Inc. {} Ethernet Switch, JUNOS {}", sw.model, sw.version),
            "chassis_id": sw.mac,
            "port_id": port,
            "port_desc": port,
            "mgmt_addr": ip(sw, site.switches.iter().position(|s| s.mac == sw.mac).unwrap_or(0)),
            "lldp_med_supported": true,
            "power_draw": 12.5,
            "power_allocated": 25.5,
        });
    }
    v
}

fn port(
    cloud: &Cloud,
    site: &Site,
    owner: &Device,
    port_id: &str,
    peer: &Device,
    peer_port: &str,
) -> Value {
    json!({
        "port_id": port_id,
        "port_mac": owner.mac,
        "mac": owner.mac,
        "site_id": site.id,
        "org_id": cloud.org().id,
        "up": cloud.connected(&peer.mac) && cloud.connected(&owner.mac),
        "speed": 1000,
        "full_duplex": true,
        "neighbor_mac": peer.mac,
        "neighbor_system_name": peer.name,
        "neighbor_port_desc": peer_port,
        "poe_on": peer.kind == DeviceKind::Ap,
        "port_usage": "lan",
    })
}

fn switch_stats(cloud: &Cloud, site: &Site, index: usize, sw: &Device) -> Value {
    let mut ports: Vec<Value> = site
        .aps
        .iter()
        .enumerate()
        .filter_map(|(i, ap)| {
            let (to, port_id) = ap_uplink(site, i)?;
            (to == index).then(|| port(cloud, site, sw, &port_id, ap, "eth0"))
        })
        .collect();
    if let Some(gw) = site.gateways.first() {
        let (up, gw_port) = switch_uplink(index);
        ports.push(port(cloud, site, sw, up, gw, &gw_port));
    }
    let clients: Vec<Value> = ports
        .iter()
        .map(|p| {
            json!({"mac": p["neighbor_mac"], "port_id": p["port_id"], "device_mac": sw.mac,
                   "hostname": p["neighbor_system_name"]})
        })
        .collect();
    json!({"hostname": sw.name, "ports": ports, "clients": clients})
}

fn gateway_stats(cloud: &Cloud, site: &Site, gw: &Device) -> Value {
    let ports: Vec<Value> = site
        .switches
        .iter()
        .enumerate()
        .map(|(i, sw)| {
            let (sw_port, gw_port) = switch_uplink(i);
            let mut p = port(cloud, site, gw, &gw_port, sw, sw_port);
            // A gateway's port objects are the ports search's without these.
            if let Some(p) = p.as_object_mut() {
                for k in ["mac", "org_id", "site_id"] {
                    p.remove(k);
                }
            }
            p
        })
        .collect();
    json!({
        "hostname": gw.name,
        "ext_ip": format!("203.0.113.{}", 10 + gw.site),
        "ports": ports,
        "if_stat": {
            "ge-0/0/0.0": {"port_id": "ge-0/0/0", "up": cloud.connected(&gw.mac),
                           "wan_name": "wan", "wan_type": "broadband",
                           "ips": [format!("203.0.113.{}/24", 10 + gw.site)]},
        },
    })
}
