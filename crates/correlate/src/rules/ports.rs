//! Switch ports going down and up (`SW_PORT_DOWN`, `SW_PORT_UP` device events: `mac` the
//! switch, `port_id` the port) under APs the [`crate::Topology`] knows. A port down is
//! remembered until it comes up, so that an AP outage within the inhibition window of it,
//! before or after, says that its uplink went down (see [`super::inhibition`]). Ports with
//! no AP on them are not remembered: they go down whenever something is unplugged.

use mist::views::DeviceEvent;

use crate::catalog::{PORT_DOWN, PORT_UP};
use crate::device::{DeviceKind, DeviceRef, DeviceState};
use crate::incident::{Change, IncidentKind};
use crate::input::Input;
use crate::records::PortDown;
use crate::rules::{device_down, inhibition};
use crate::settings::Settings;
use crate::state::State;

/// Handles a device event if it is about a switch port.
pub(crate) fn on_event(state: &mut State, settings: &Settings, input: &Input<'_>) {
    let Some(event_type) = input.event_type else {
        return;
    };
    let (down, up) = (
        PORT_DOWN.contains(&event_type),
        PORT_UP.contains(&event_type),
    );
    if !down && !up {
        return;
    }
    let event = DeviceEvent::from_value(input.raw);
    let (Some(switch), Some(port)) = (
        event.device_mac(),
        event.port_id.map(|p| p.trim().to_owned()),
    ) else {
        return;
    };
    if port.is_empty() {
        return;
    }
    let key = (switch.clone(), port.clone());
    let at = input.time;
    // The port's newest report, kept after it comes up: a late or replayed down older than
    // that changes nothing.
    let mark = format!("port:{switch}:{port}");
    if !state.marks.admits(&mark, at, up)
        || !(state.ports_down.contains_key(&key) || state.topology.has_ap_on(&switch, &port))
    {
        return;
    }
    state.marks.record(&mark, at, up);
    if up {
        state.ports_down.remove(&key);
        return;
    }
    if state.ports_down.contains_key(&key) {
        return;
    }
    let record = PortDown {
        switch,
        port,
        since: at,
        event_id: Some(input.event_id),
    };
    state.ports_down.insert(key, record.clone());
    explain_open_outages(state, settings, input.org_id.unwrap_or_default(), &record);
}

/// AP incidents on this port that opened within the window around the port going down
/// (Mist reports the two with their own delays) learn why.
fn explain_open_outages(state: &mut State, settings: &Settings, org: &str, port: &PortDown) {
    let window = settings.inhibition_window_us;
    if window <= 0 {
        return;
    }
    let on_port = |mac: &String| {
        state
            .topology
            .uplink(mac)
            .is_some_and(|u| u.switch == port.switch && u.port == port.port)
            && state
                .devices
                .get(&DeviceRef {
                    org_id: org.to_owned(),
                    mac: mac.clone(),
                })
                .is_some_and(|d| d.kind == DeviceKind::Ap && d.state == DeviceState::Down)
    };
    let ids: Vec<i64> = state
        .incidents
        .values()
        .filter(|i| i.kind == IncidentKind::DeviceDown && i.caused_by.is_none())
        .filter(|i| i.org_id.as_deref().unwrap_or_default() == org)
        .filter(|i| (i.opened_at - port.since).abs() <= window)
        .filter(|i| i.devices.iter().any(on_port))
        .map(|i| i.id)
        .collect();
    for id in ids {
        let incident = &state.incidents[&id];
        let text = device_down::summary_of(state, incident, None);
        // The port's report may come after the AP's: the timeline stays in order.
        let at = port.since.max(incident.opened_at);
        let note = inhibition::port_explains(state, org, port);
        state.change(id, at, Change::Updated, port.event_id, note, |i| {
            i.summary = text;
        });
    }
}
