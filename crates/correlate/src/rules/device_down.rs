//! The device inventory and device-down incidents.
//!
//! A device's record follows its up/down/restart observations in event-time order (see
//! [`crate::device`]). When it goes down an episode starts; the episode joins or opens the
//! incident of its group key at once, or when the flap hold-down expires with the device
//! still down. When it comes back its episode ends, and the incident resolves once no
//! episode of it is left.

use std::collections::BTreeMap;

use mist::Severity;

use crate::device::{Device, DeviceChangeKind, DeviceKind, DeviceRef, DeviceState, Observed};
use crate::incident::{Change, Incident, IncidentKind};
use crate::input::{DeviceSignal, Signal};
use crate::records::DownEpisode;
use crate::rules::inhibition;
use crate::settings::{Grouping, Settings};
use crate::state::{NewIncident, State};
use crate::summary;
use crate::timers::TimerKind;

/// The Mist alarm type of a device-down incident, by kind, so that a silence on
/// `device_down` matches an AP outage whichever topic reported it first. Mist Edges have
/// no down alarm.
fn down_alarm_type(kind: DeviceKind) -> Option<&'static str> {
    match kind {
        DeviceKind::Ap => Some("device_down"),
        DeviceKind::Switch => Some("switch_down"),
        DeviceKind::Gateway => Some("gateway_down"),
        DeviceKind::Mxedge => None,
    }
}

fn org_part(org: &str) -> &str {
    if org.is_empty() { "-" } else { org }
}

/// Applies one device signal: updates the record, then opens, updates or resolves
/// incidents.
pub(crate) fn on_signal(
    state: &mut State,
    settings: &Settings,
    event_id: i64,
    at: i64,
    signal: DeviceSignal,
) {
    let r = signal.device.clone();
    let device = state
        .devices
        .entry(r.clone())
        .or_insert_with(|| Device::new(&r, signal.kind, at));
    let mut changed = device.learn(signal.name.as_deref(), signal.site_id.as_deref(), at);
    let mut went = None;
    let mut restart = None;
    match &signal.what {
        Signal::Down | Signal::Up => {
            let (new_state, kind) = if signal.what == Signal::Down {
                (DeviceState::Down, DeviceChangeKind::Down)
            } else {
                (DeviceState::Up, DeviceChangeKind::Up)
            };
            match device.observe_state(new_state, at) {
                Observed::Ignored => {}
                Observed::Confirmed => changed = true,
                Observed::Changed(from) => {
                    changed = true;
                    went = Some((from, new_state));
                    device.push(at, Some(event_id), kind, signal.source_type.clone());
                }
            }
        }
        Signal::Restarted { reason } => {
            if device.observe_restart(at, reason.as_deref()) {
                changed = true;
                restart = Some(reason.clone().unwrap_or_else(|| "unknown".to_owned()));
                let note = format!(
                    "{}: {}",
                    signal.source_type,
                    reason.as_deref().unwrap_or("no reason given")
                );
                device.push(at, Some(event_id), DeviceChangeKind::Restarted, note);
            }
        }
    }
    if changed {
        device.touch(at, event_id);
    }

    let came_back = went == Some((DeviceState::Down, DeviceState::Up));
    let mut flapped = false;
    if came_back && let Some(down_for) = take_flap(state, &r, at) {
        flapped = true;
        if let Some(device) = state.devices.get_mut(&r) {
            device.flaps += 1;
            let note = format!(
                "down for {} (hold-down {})",
                summary::duration(down_for),
                summary::duration(settings.flap_hold_down_us)
            );
            device.push(at, Some(event_id), DeviceChangeKind::Flap, note);
        }
    }
    if changed {
        state.emit_device(&r);
    }

    match went {
        Some((_, DeviceState::Down)) => start_episode(state, settings, &signal, event_id, at),
        Some((DeviceState::Down, DeviceState::Up)) if !flapped => {
            end_episode(state, settings, &r, event_id, at)
        }
        _ => {}
    }
    if let Some(reason) = restart {
        attach_restart(state, &r, event_id, at, &reason);
    }
}

/// Ends a hold-down episode as a flap if the device is back before the hold-down ends.
/// Returns how long it was down.
fn take_flap(state: &mut State, device: &DeviceRef, at: i64) -> Option<i64> {
    let episode = state.down.get(device)?;
    let until = episode.hold_until?;
    if episode.incident_id.is_some() || at >= until {
        return None;
    }
    let since = episode.since;
    state.down.remove(device);
    state.timers.cancel(&TimerKind::HoldDown {
        device: device.clone(),
    });
    Some(at - since)
}

fn start_episode(
    state: &mut State,
    settings: &Settings,
    signal: &DeviceSignal,
    event_id: i64,
    at: i64,
) {
    let r = &signal.device;
    let org = org_part(&r.org_id);
    let key = match (settings.grouping, &signal.alarm_id) {
        (Grouping::PerAlarm, Some(alarm)) => format!("device_down:{org}:alarm:{alarm}"),
        (Grouping::PerAlarm, None) => format!("device_down:{org}:event:{event_id}"),
        (Grouping::PerDevice, _) => format!("device_down:{org}:{}", r.mac),
    };
    let mut episode = DownEpisode {
        device: r.clone(),
        since: at,
        event_id: Some(event_id),
        key,
        severity: signal.severity.clone().unwrap_or(Severity::Warn),
        incident_id: None,
        hold_until: None,
    };
    let timer = TimerKind::HoldDown { device: r.clone() };
    state.timers.cancel(&timer);
    if settings.flap_hold_down_us > 0 {
        let until = at.saturating_add(settings.flap_hold_down_us);
        episode.hold_until = Some(until);
        state.timers.set(timer, until);
        state.down.insert(r.clone(), episode);
    } else {
        state.down.insert(r.clone(), episode);
        confirm(
            state,
            settings,
            r,
            at,
            Some(event_id),
            signal.source_type.clone(),
        );
    }
}

/// Counts a down episode in its incident, opening the incident if needed. `at` is when
/// that is decided: the down event's time, or the end of the hold-down.
fn confirm(
    state: &mut State,
    settings: &Settings,
    r: &DeviceRef,
    at: i64,
    event_id: Option<i64>,
    note: String,
) {
    let Some(episode) = state.down.get(r).cloned() else {
        return;
    };
    let Some(device) = state.devices.get(r).cloned() else {
        return;
    };
    if episode.incident_id.is_some() {
        return;
    }
    let id = if let Some(id) = state.live_by_key(&episode.key) {
        let mut incident = state.incidents[&id].clone();
        incident.add_device(&r.mac);
        let text = summary_of(state, &incident, None);
        let names = names_of(state, &incident);
        let note = format!("{} offline too", summary::label(&device, &state.names));
        state.change(id, at, Change::Updated, event_id, note, |i| {
            i.add_device(&r.mac);
            i.last_seen_at = i.last_seen_at.max(episode.since);
            i.summary = text;
            i.device_names = names;
        });
        id
    } else {
        let caused_by = if device.kind == DeviceKind::Ap {
            inhibition::upstream_of(
                state,
                settings,
                &r.org_id,
                device.site_id.as_deref(),
                &r.mac,
                episode.since,
            )
        } else {
            None
        };
        let port = inhibition::port_down_under(state, settings, &device, episode.since);
        let restarts = restart_since(&device, episode.since)
            .into_iter()
            .collect::<Vec<_>>();
        let new = NewIncident {
            key: episode.key.clone(),
            kind: IncidentKind::DeviceDown,
            alarm_type: down_alarm_type(device.kind).map(str::to_owned),
            severity: episode.severity.clone(),
            org_id: (!r.org_id.is_empty()).then(|| r.org_id.clone()),
            site_id: device.site_id.clone(),
            devices: vec![r.mac.clone()],
            opened_at: episode.since,
            last_seen_at: episode.since,
            summary: summary::device_down(&[&device], &state.names, &restarts, None)
                + &port_note(state, [&device]),
            caused_by,
            device_names: summary::device_name(&device, &state.names)
                .map(|n| (r.mac.clone(), n.to_owned()))
                .into_iter()
                .collect(),
        };
        let note = match port {
            Some(p) => format!("{note}; {}", inhibition::port_explains(state, &r.org_id, p)),
            None => note,
        };
        let id = state.open(new, at, event_id, note);
        if device.kind.is_upstream() {
            inhibition::suppress_followers(state, settings, id, at, event_id);
        }
        id
    };
    if let Some(episode) = state.down.get_mut(r) {
        episode.incident_id = Some(id);
    }
}

/// The device came back: its episode ends, and its incident resolves if it was the last
/// one down.
fn end_episode(state: &mut State, settings: &Settings, r: &DeviceRef, event_id: i64, at: i64) {
    let Some(episode) = state.down.get(r).cloned() else {
        return;
    };
    if episode.incident_id.is_none() {
        // Back after the hold-down ended in event time, but before its timer fired (the
        // shell was behind): the outage was long enough for an incident.
        state
            .timers
            .cancel(&TimerKind::HoldDown { device: r.clone() });
        let until = episode.hold_until.unwrap_or(episode.since);
        let note = format!(
            "offline longer than the {} hold-down",
            summary::duration(until - episode.since)
        );
        confirm(state, settings, r, until, episode.event_id, note);
    }
    let Some(episode) = state.down.remove(r) else {
        return;
    };
    let Some(id) = episode.incident_id else {
        return;
    };
    let Some(incident) = state.incidents.get(&id).cloned() else {
        return;
    };
    let label = state
        .devices
        .get(r)
        .map_or_else(|| r.mac.clone(), |d| summary::label(d, &state.names));
    let still_down = state
        .down
        .values()
        .filter(|e| e.incident_id == Some(id))
        .count();
    if still_down > 0 {
        let text = summary_of(state, &incident, None);
        let note = format!(
            "{label} back online; {} still offline",
            summary::count(still_down, "device")
        );
        state.change(id, at, Change::Updated, Some(event_id), note, |i| {
            i.last_seen_at = i.last_seen_at.max(at);
            i.summary = text;
        });
    } else {
        let text = summary_of(state, &incident, Some(at - incident.opened_at));
        state.resolve(
            id,
            at,
            Some(event_id),
            format!("{label} back online"),
            |i| {
                i.last_seen_at = i.last_seen_at.max(at);
                i.summary = text;
            },
        );
    }
}

/// A restart reported while the device's incident is open is attached to it: the reason
/// (e.g. `power_cycle`) often explains the outage.
fn attach_restart(state: &mut State, r: &DeviceRef, event_id: i64, at: i64, reason: &str) {
    let Some(episode) = state.down.get(r) else {
        return;
    };
    let (Some(id), since) = (episode.incident_id, episode.since) else {
        return;
    };
    let Some(incident) = state.incidents.get(&id).cloned() else {
        return;
    };
    if at < since {
        return;
    }
    let text = summary_of(state, &incident, None);
    let label = state
        .devices
        .get(r)
        .map_or_else(|| r.mac.clone(), |d| summary::label(d, &state.names));
    state.change(
        id,
        at,
        Change::Updated,
        Some(event_id),
        format!("{label} restarted: {reason}"),
        |i| {
            i.last_seen_at = i.last_seen_at.max(at);
            i.summary = text;
        },
    );
}

/// The hold-down of a device ended: if it is still down, its incident opens now.
pub(crate) fn on_hold_down_expired(
    state: &mut State,
    settings: &Settings,
    r: &DeviceRef,
    deadline: i64,
) {
    let Some(episode) = state.down.get(r) else {
        return;
    };
    if episode.incident_id.is_some() {
        return;
    }
    let (since, event_id) = (episode.since, episode.event_id);
    let note = format!(
        "still offline after the {} hold-down",
        summary::duration(deadline - since)
    );
    confirm(state, settings, r, deadline, event_id, note);
}

/// A person resolved a device-down incident: its devices stay down in the inventory, but
/// no longer count in it; a new incident needs a new outage.
pub(crate) fn on_manual_resolve(state: &mut State, incident: &Incident) {
    state.down.retain(|_, e| e.incident_id != Some(incident.id));
}

/// The reason of a restart at or after `since`.
fn restart_since(device: &Device, since: i64) -> Option<String> {
    match (device.last_restart_at, &device.last_restart_reason) {
        (Some(at), reason) if at >= since => Some(
            reason
                .clone()
                .unwrap_or_else(|| "unknown reason".to_owned()),
        ),
        _ => None,
    }
}

/// The incident's devices as the inventory knows them.
fn devices_of<'a>(state: &'a State, incident: &Incident) -> Vec<&'a Device> {
    let org = incident.org_id.clone().unwrap_or_default();
    incident
        .devices
        .iter()
        .filter_map(|mac| {
            state.devices.get(&DeviceRef {
                org_id: org.clone(),
                mac: mac.clone(),
            })
        })
        .collect()
}

/// The summary of a device-down incident from the inventory as it is now.
pub(crate) fn summary_of(
    state: &State,
    incident: &Incident,
    resolved_after: Option<i64>,
) -> String {
    let devices = devices_of(state, incident);
    let restarts: Vec<String> = devices
        .iter()
        .filter_map(|d| restart_since(d, incident.opened_at))
        .collect();
    let text = summary::device_down(&devices, &state.names, &restarts, resolved_after);
    if resolved_after.is_some() {
        return text;
    }
    text + &port_note(state, devices)
}

/// The names of a device-down incident's devices, as the inventory and the shell know them.
pub(crate) fn names_of(state: &State, incident: &Incident) -> BTreeMap<String, String> {
    let mut names = incident.device_names.clone();
    for device in devices_of(state, incident) {
        if let Some(name) = summary::device_name(device, &state.names) {
            names.insert(device.mac.clone(), name.to_owned());
        }
    }
    names
}

/// `; uplink switch "sw1" (0c8126c7054d) port ge-0/0/2 down` for each AP among `devices`
/// whose switch port is down (see [`crate::Topology`]); empty without topology.
fn port_note<'a>(state: &State, devices: impl IntoIterator<Item = &'a Device>) -> String {
    let mut text = String::new();
    for device in devices {
        let Some(uplink) = state.topology.uplink(&device.mac) else {
            continue;
        };
        if state
            .ports_down
            .contains_key(&(uplink.switch.clone(), uplink.port.clone()))
        {
            let switch = inhibition::switch_label(state, &device.org_id, &uplink.switch);
            text.push_str(&format!("; uplink {switch} port {} down", uplink.port));
        }
    }
    text
}
