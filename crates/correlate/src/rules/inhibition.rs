//! Inhibition: when a site's gateway or switch goes down, its APs lose the cloud too.
//! Their incidents are linked to the upstream one (`caused_by`) and suppressed, so one
//! outage pages once. Their state is still tracked and they still resolve on their own.
//!
//! Mist may report the APs before the gateway (each device's report has its own delay), so
//! the link is made in both directions: an AP incident opening inside the window of an
//! upstream one, and an upstream incident opening after AP incidents that started inside
//! its window.
//!
//! With a [`crate::Topology`] that lists an AP, the wiring decides instead of the site:
//! only its own switch explains it, or the gateway that switch hangs off (any gateway of
//! the site while the switch's gateway is not known: a site reaches the cloud through its
//! gateway); another switch of the site going down does not. A switch port going down
//! under it (`SW_PORT_DOWN`) explains it too, but opens no incident of its own (ports go
//! down whenever something is unplugged), so the AP's incident stays unsuppressed and says
//! why in its summary and timeline: otherwise nothing would page for a real outage.

use crate::device::{Device, DeviceKind, DeviceRef, DeviceState};
use crate::incident::{Change, Incident, IncidentKind};
use crate::records::PortDown;
use crate::settings::Settings;
use crate::state::State;
use crate::summary;

/// Whether `incident` is about a gateway or switch that is still down.
fn is_upstream_down(state: &State, incident: &Incident) -> bool {
    incident.kind == IncidentKind::DeviceDown
        && incident.devices.iter().any(|mac| {
            state
                .devices
                .get(&device_ref(incident, mac))
                .is_some_and(|d| d.kind.is_upstream() && d.state == DeviceState::Down)
        })
}

/// Whether `incident` is about APs only.
fn is_ap_down(state: &State, incident: &Incident) -> bool {
    incident.kind == IncidentKind::DeviceDown
        && !incident.devices.is_empty()
        && incident.devices.iter().all(|mac| {
            state
                .devices
                .get(&device_ref(incident, mac))
                .is_some_and(|d| d.kind == DeviceKind::Ap)
        })
}

fn device_ref(incident: &Incident, mac: &str) -> DeviceRef {
    DeviceRef {
        org_id: incident.org_id.clone().unwrap_or_default(),
        mac: mac.to_owned(),
    }
}

fn same_place(incident: &Incident, org: &str, site: &str) -> bool {
    incident.org_id.as_deref().unwrap_or_default() == org
        && incident.site_id.as_deref() == Some(site)
}

/// Whether the upstream incident `upstream` lies on the path of AP `ap` to the cloud: by
/// its wiring when the topology lists it, else by site (`site`, the AP's).
fn on_path(state: &State, upstream: &Incident, org: &str, site: Option<&str>, ap: &str) -> bool {
    let site_wide = |i: &Incident| site.is_some_and(|s| same_place(i, org, s));
    let Some(uplink) = state.topology.uplink(ap) else {
        return site_wide(upstream);
    };
    if upstream.org_id.as_deref().unwrap_or_default() != org {
        return false;
    }
    upstream.devices.iter().any(|mac| {
        let Some(device) = state.devices.get(&device_ref(upstream, mac)) else {
            return false;
        };
        if device.state != DeviceState::Down {
            return false;
        }
        match device.kind {
            DeviceKind::Switch => *mac == uplink.switch,
            DeviceKind::Gateway => match state.topology.gateway_of(&uplink.switch) {
                Some(gateway) => mac == gateway,
                None => site_wide(upstream),
            },
            DeviceKind::Ap | DeviceKind::Mxedge => false,
        }
    })
}

/// A switch as a person reads it, by its inventory record when there is one.
pub(crate) fn switch_label(state: &State, org: &str, mac: &str) -> String {
    let r = DeviceRef {
        org_id: org.to_owned(),
        mac: mac.to_owned(),
    };
    match state.devices.get(&r) {
        Some(device) => summary::label(device, &state.names),
        None => match state.names.device(mac) {
            Some(name) => format!("switch \"{name}\" ({mac})"),
            None => format!("switch {mac}"),
        },
    }
}

/// The switch port under AP `device` that went down at most `inhibition_window_us` before
/// `since` and is still down, if its topology knows its port.
pub(crate) fn port_down_under<'a>(
    state: &'a State,
    settings: &Settings,
    device: &Device,
    since: i64,
) -> Option<&'a PortDown> {
    let window = settings.inhibition_window_us;
    let uplink = state.topology.uplink(&device.mac)?;
    let port = state
        .ports_down
        .get(&(uplink.switch.clone(), uplink.port.clone()))?;
    (window > 0 && since >= port.since && since - port.since <= window).then_some(port)
}

/// The timeline note of an AP outage that a port going down explains.
pub(crate) fn port_explains(state: &State, org: &str, port: &PortDown) -> String {
    format!(
        "explained by {} port {} down (event {})",
        switch_label(state, org, &port.switch),
        port.port,
        port.event_id
            .map_or_else(|| "-".to_owned(), |id| id.to_string())
    )
}

/// The upstream incident an outage of AP `ap` starting at `since` at `site` falls under:
/// the earliest live incident of a gateway or switch on its path (see [`on_path`]) that is
/// still down and went down at most `inhibition_window_us` before.
pub(crate) fn upstream_of(
    state: &State,
    settings: &Settings,
    org: &str,
    site: Option<&str>,
    ap: &str,
    since: i64,
) -> Option<i64> {
    let window = settings.inhibition_window_us;
    if window <= 0 {
        return None;
    }
    state
        .incidents
        .values()
        .filter(|i| since >= i.opened_at && since - i.opened_at <= window)
        .filter(|i| is_upstream_down(state, i))
        .filter(|i| on_path(state, i, org, site, ap))
        .min_by_key(|i| (i.opened_at, i.id))
        .map(|i| i.id)
}

/// An upstream incident just opened: AP incidents of its site that started inside its
/// window, and that nothing explains yet, become suppressed and caused by it.
pub(crate) fn suppress_followers(
    state: &mut State,
    settings: &Settings,
    upstream_id: i64,
    at: i64,
    event_id: Option<i64>,
) {
    let window = settings.inhibition_window_us;
    let Some(upstream) = state.incidents.get(&upstream_id) else {
        return;
    };
    let org = upstream.org_id.clone().unwrap_or_default();
    if window <= 0 || !is_upstream_down(state, upstream) {
        return;
    }
    let opened_at = upstream.opened_at;
    let summary = upstream.summary.clone();
    let followers: Vec<i64> = state
        .incidents
        .values()
        .filter(|i| i.id != upstream_id && i.caused_by.is_none())
        .filter(|i| i.opened_at >= opened_at && i.opened_at - opened_at <= window)
        .filter(|i| is_ap_down(state, i))
        .filter(|i| {
            let site = i.site_id.as_deref();
            i.devices
                .iter()
                .all(|ap| on_path(state, upstream, &org, site, ap))
        })
        .map(|i| i.id)
        .collect();
    for id in followers {
        let note = format!("caused by incident {upstream_id} ({summary})");
        state.change(id, at, Change::Suppressed, event_id, note, |i| {
            i.suppressed = true;
            i.caused_by = Some(upstream_id);
        });
    }
}
