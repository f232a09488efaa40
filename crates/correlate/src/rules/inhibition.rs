//! Inhibition: when a site's gateway or switch goes down, its APs lose the cloud too.
//! Their incidents are linked to the upstream one (`caused_by`) and suppressed, so one
//! outage pages once. Their state is still tracked and they still resolve on their own.
//!
//! Mist may report the APs before the gateway (each device's report has its own delay), so
//! the link is made in both directions: an AP incident opening inside the window of an
//! upstream one, and an upstream incident opening after AP incidents that started inside
//! its window.

use crate::device::{DeviceKind, DeviceRef, DeviceState};
use crate::incident::{Change, Incident, IncidentKind};
use crate::settings::Settings;
use crate::state::State;

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

/// The upstream incident an AP outage starting at `since` at `site` falls under: the
/// earliest live incident of a gateway or switch of that site that is still down and went
/// down at most `inhibition_window_us` before.
pub(crate) fn upstream_of(
    state: &State,
    settings: &Settings,
    org: &str,
    site: Option<&str>,
    since: i64,
) -> Option<i64> {
    let window = settings.inhibition_window_us;
    let site = site?;
    if window <= 0 {
        return None;
    }
    state
        .incidents
        .values()
        .filter(|i| same_place(i, org, site))
        .filter(|i| since >= i.opened_at && since - i.opened_at <= window)
        .filter(|i| is_upstream_down(state, i))
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
    let (Some(site), org) = (
        upstream.site_id.clone(),
        upstream.org_id.clone().unwrap_or_default(),
    ) else {
        return;
    };
    if window <= 0 || !is_upstream_down(state, upstream) {
        return;
    }
    let opened_at = upstream.opened_at;
    let summary = upstream.summary.clone();
    let followers: Vec<i64> = state
        .incidents
        .values()
        .filter(|i| i.id != upstream_id && i.caused_by.is_none() && same_place(i, &org, &site))
        .filter(|i| i.opened_at >= opened_at && i.opened_at - opened_at <= window)
        .filter(|i| is_ap_down(state, i))
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
