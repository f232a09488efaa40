//! Security detections (rogue AP, honeypot SSID, KRACK, ...): one incident per site and
//! type while alarms keep coming.
//!
//! Mist has no recovery event for these ("we cannot tell you if an attack is no longer
//! happening"), and an attack is seen and reported by several APs at once. So alarms are
//! grouped by site, not by reporting AP, and the incident resolves after a quiet period
//! without alarms (default 24 h: Mist repeats rogue-AP alarms only every 10 h). It never
//! lives beyond a maximum lifetime; the next alarm after that opens a new incident.

use std::collections::BTreeMap;

use mist::Severity;
use mist::views::Alarm;

use crate::catalog::security_type;
use crate::incident::{Change, Incident, IncidentKind};
use crate::input::Input;
use crate::settings::Settings;
use crate::state::{NewIncident, State};
use crate::summary;
use crate::timers::TimerKind;

/// Why a security incident ends.
enum Expiry {
    Quiet,
    MaxLifetime,
}

/// When and why a security incident ends if no alarm comes: the quiet period after its
/// last alarm or its maximum lifetime, whichever is first.
fn expiry(incident: &Incident, settings: &Settings) -> (i64, Expiry) {
    let quiet = incident
        .last_seen_at
        .saturating_add(settings.security_quiet_us);
    let max = incident
        .opened_at
        .saturating_add(settings.security_max_lifetime_us);
    if quiet <= max {
        (quiet, Expiry::Quiet)
    } else {
        (max, Expiry::MaxLifetime)
    }
}

fn text(alarm_type: &str, site: &str, aps: usize) -> String {
    format!(
        "Security: {alarm_type} at {site}, reported by {}",
        summary::count(aps, "AP")
    )
}

/// Handles one security alarm.
pub(crate) fn on_alarm(state: &mut State, settings: &Settings, input: &Input<'_>, alarm: &Alarm) {
    let at = input.time;
    let alarm_type = security_type(alarm.alarm_type.as_deref().unwrap_or("unknown"));
    let key = format!(
        "security:{}:{}:{alarm_type}",
        input.org_id.unwrap_or("-"),
        input.site_id.unwrap_or("-")
    );
    // Covered by an incident that already ended: a late or replayed alarm.
    if state.marks.get(&key).is_some_and(|(seen, _)| at <= seen) {
        return;
    }
    let mut aps: Vec<String> = Vec::new();
    // `hostnames` runs parallel to `aps` (alarm_defs: `"aps": [...], "hostnames": [...]`).
    let hostnames = alarm.hostnames.as_deref().unwrap_or_default();
    let mut names = BTreeMap::new();
    for (position, entry) in alarm.aps.iter().flatten().enumerate() {
        let Some(mac) = mist::normalize_mac(entry) else {
            continue;
        };
        let name = hostnames
            .get(position)
            .map(String::as_str)
            .filter(|h| !h.trim().is_empty())
            .or_else(|| state.device_name(input.org_id.unwrap_or_default(), &mac));
        if let Some(name) = name {
            names.insert(mac.clone(), name.to_owned());
        }
        if !aps.contains(&mac) {
            aps.push(mac);
        }
    }
    let site = state.site_label(input.site_name(), input.site_id);
    let event_id = Some(input.event_id);

    if let Some(id) = state.live_by_key(&key) {
        let incident = &state.incidents[&id];
        let (deadline, _) = expiry(incident, settings);
        if at < deadline {
            let new_aps: Vec<String> = aps
                .iter()
                .filter(|m| !incident.devices.contains(m))
                .cloned()
                .collect();
            if at <= incident.last_seen_at && new_aps.is_empty() {
                return;
            }
            let total = incident.devices.len() + new_aps.len();
            let summary = text(&alarm_type, &site, total);
            let note = format!(
                "seen again (count {}) by {}",
                alarm.count.unwrap_or(1),
                summary::count(aps.len(), "AP")
            );
            state.change(id, at, Change::Updated, event_id, note, |i| {
                i.last_seen_at = i.last_seen_at.max(at);
                for mac in &new_aps {
                    i.add_device(mac);
                }
                i.summary = summary;
                i.device_names.extend(names);
            });
            let (deadline, _) = expiry(&state.incidents[&id], settings);
            state
                .timers
                .set(TimerKind::SecurityExpiry { incident_id: id }, deadline);
            return;
        }
        // The incident ended in event time before its timer fired: end it, then start anew.
        expire(state, settings, id);
    }

    let new = NewIncident {
        key,
        kind: IncidentKind::Security,
        alarm_type: Some(alarm_type.clone()),
        severity: alarm
            .severity
            .as_deref()
            .map_or(Severity::Warn, Severity::parse),
        org_id: input.org_id.map(str::to_owned),
        site_id: input.site_id.map(str::to_owned),
        summary: text(&alarm_type, &site, aps.len()),
        devices: aps,
        opened_at: at,
        last_seen_at: at,
        caused_by: None,
        device_names: names,
    };
    let note = format!("{} (count {})", alarm_type, alarm.count.unwrap_or(1));
    let id = state.open(new, at, event_id, note);
    let (deadline, _) = expiry(&state.incidents[&id], settings);
    state
        .timers
        .set(TimerKind::SecurityExpiry { incident_id: id }, deadline);
}

/// Resolves a live security incident at its expiry and remembers its last alarm, so that
/// older alarms arriving later do not reopen it.
fn expire(state: &mut State, settings: &Settings, id: i64) {
    let Some(incident) = state.incidents.get(&id) else {
        return;
    };
    let (at, why) = expiry(incident, settings);
    let note = match why {
        Expiry::Quiet => format!(
            "no alarm for {}",
            summary::duration(settings.security_quiet_us)
        ),
        Expiry::MaxLifetime => format!(
            "maximum lifetime of {} reached; the next alarm opens a new incident",
            summary::duration(settings.security_max_lifetime_us)
        ),
    };
    let suffix = format!("; {note}");
    state
        .timers
        .cancel(&TimerKind::SecurityExpiry { incident_id: id });
    if let Some(incident) = state.resolve(id, at, None, note, |i| i.summary.push_str(&suffix)) {
        state
            .marks
            .record(&incident.key, incident.last_seen_at, true);
    }
}

/// The expiry timer of incident `id` fired at `now`.
pub(crate) fn on_timer(state: &mut State, settings: &Settings, id: i64, now: i64) {
    let Some(incident) = state.incidents.get(&id) else {
        return;
    };
    let (deadline, _) = expiry(incident, settings);
    if deadline > now {
        // Settings changed across a restart and moved the deadline later.
        state
            .timers
            .set(TimerKind::SecurityExpiry { incident_id: id }, deadline);
        return;
    }
    expire(state, settings, id);
}

/// A person resolved a security incident: its timer stops, and alarms up to its last one
/// stay covered by it.
pub(crate) fn on_manual_resolve(state: &mut State, incident: &Incident) {
    state.timers.cancel(&TimerKind::SecurityExpiry {
        incident_id: incident.id,
    });
    state
        .marks
        .record(&incident.key, incident.last_seen_at, true);
}
