//! Occupancy alerts: a zone over its limit opens an incident, back under resolves it.
//!
//! One `occupancy-alerts` event carries several zones in `alert_events[]`, each with its
//! own `type` (`COMPLIANCE-VIOLATION` or `COMPLIANCE-OK`), zone, map and timestamp; each is
//! handled on its own.

use mist::Severity;
use mist::views::{AlertEvent, OccupancyAlert};
use serde_json::Value;

use crate::incident::{Change, IncidentKind};
use crate::input::Input;
use crate::state::{NewIncident, State};

/// "Zone Lobby over its occupancy limit (12/10)".
fn summary(alert: &AlertEvent, zone: &str, over: bool) -> String {
    let name = alert.zone_name.as_deref().unwrap_or(zone);
    let numbers = match (alert.current_occupancy, alert.occupancy_limit) {
        (Some(current), Some(limit)) => format!(" ({current}/{limit})"),
        _ => String::new(),
    };
    if over {
        format!("Zone {name} over its occupancy limit{numbers}")
    } else {
        format!("Zone {name} back within its occupancy limit{numbers}")
    }
}

/// Handles one `occupancy-alerts` event.
pub(crate) fn on_alert(state: &mut State, input: &Input<'_>) {
    let alert = OccupancyAlert::from_value(input.raw);
    let site = alert
        .site_id
        .as_deref()
        .or(input.site_id)
        .map(str::to_owned);
    for event in alert.alert_events.iter().flatten() {
        let Some(zone) = event.zone_id.as_deref().or(event.zone_name.as_deref()) else {
            continue;
        };
        let closing = match event.alert_type.as_deref() {
            Some("COMPLIANCE-VIOLATION") => false,
            Some("COMPLIANCE-OK") => true,
            _ => continue,
        };
        let at = event
            .timestamp
            .and_then(|t| mist::parse_time_value(&Value::from(t)))
            .map_or(input.time, |(us, _)| us);
        let org = event.org_id.as_deref().or(input.org_id);
        let key = format!(
            "occupancy:{}:{}:{zone}",
            org.unwrap_or("-"),
            site.as_deref().unwrap_or("-")
        );
        if !state.marks.admits(&key, at, closing) {
            continue;
        }
        state.marks.record(&key, at, closing);
        let text = summary(event, zone, !closing);
        let event_id = Some(input.event_id);
        match (state.live_by_key(&key), closing) {
            (Some(id), true) => {
                state.resolve(id, at, event_id, text, |i| {
                    i.last_seen_at = i.last_seen_at.max(at);
                });
            }
            (Some(id), false) => {
                let summary = text.clone();
                state.change(id, at, Change::Updated, event_id, text, |i| {
                    i.last_seen_at = i.last_seen_at.max(at);
                    i.summary = summary;
                });
            }
            (None, false) => {
                let mut note = text.clone();
                if let Some(map) = &event.map_id {
                    note.push_str(&format!(" on map {map}"));
                }
                let new = NewIncident {
                    key,
                    kind: IncidentKind::Occupancy,
                    alarm_type: Some("COMPLIANCE-VIOLATION".to_owned()),
                    severity: Severity::Warn,
                    org_id: org.map(str::to_owned),
                    site_id: site.clone(),
                    devices: Vec::new(),
                    opened_at: at,
                    last_seen_at: at,
                    summary: text,
                    caused_by: None,
                    device_names: Default::default(),
                };
                state.open(new, at, event_id, note);
            }
            (None, true) => {}
        }
    }
}
