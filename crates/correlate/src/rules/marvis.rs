//! Marvis actions: stateful alarms that open and are later `validated` by Marvis itself.
//!
//! An incident is keyed by the action type, the site and the affected entities (devices
//! by MAC, WLANs by id, servers by IP). `open` (or any state that is not a resolution, such
//! as `reoccured`) opens it or refreshes it; `validated`, or a top-level `status` of
//! `resolved`, resolves it; a later `open` for the same key opens a new incident.

use mist::Severity;
use mist::views::Alarm;

use crate::catalog::normalize_type;
use crate::incident::{Change, IncidentKind};
use crate::input::{Entity, Input, impacted_entities, marvis_is_closing};
use crate::state::{NewIncident, State};

/// The incident key: `marvis:<org>:<site>:<type>:<entities>`; `site` stands for the
/// entities when Marvis names none (e.g. `switch_stp_loop`).
fn key(input: &Input<'_>, alarm_type: &str, entities: &[Entity]) -> String {
    let mut ids: Vec<&str> = entities
        .iter()
        .filter_map(|e| e.identity.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let entities = if ids.is_empty() {
        "site".to_owned()
    } else {
        ids.join(",")
    };
    format!(
        "marvis:{}:{}:{alarm_type}:{entities}",
        input.org_id.unwrap_or("-"),
        input.site_id.unwrap_or("-")
    )
}

/// `details.<field>` as a string.
fn detail<'a>(alarm: &'a Alarm, field: &str) -> Option<&'a str> {
    alarm.details.as_ref()?.get(field)?.as_str()
}

/// "Marvis: bad_cable on sw_2300_48mp port ge-0/0/1 at Site; suggested action: test_replace_cable".
fn summary(
    state: &State,
    input: &Input<'_>,
    alarm: &Alarm,
    alarm_type: &str,
    entities: &[Entity],
) -> String {
    let symptom = detail(alarm, "symptom").unwrap_or(alarm_type);
    let mut text = format!("Marvis: {symptom}");
    let mut on: Vec<String> = Vec::new();
    for entity in entities {
        let org = input.org_id.unwrap_or_default();
        let mut name = entity
            .name
            .clone()
            .or_else(|| {
                let mac = entity.mac.as_deref()?;
                Some(format!("{} ({mac})", state.device_name(org, mac)?))
            })
            .or_else(|| entity.identity.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        if let Some(port) = &entity.port_id {
            name.push_str(&format!(" port {port}"));
        }
        if !on.contains(&name) {
            on.push(name);
        }
    }
    if !on.is_empty() {
        text.push_str(&format!(" on {}", on.join(", ")));
    }
    if input.site_name().is_some() || input.site_id.is_some() {
        let site = state.site_label(input.site_name(), input.site_id);
        text.push_str(&format!(" at {site}"));
    }
    if let Some(action) = detail(alarm, "action").or(alarm.suggestion.as_deref()) {
        text.push_str(&format!("; suggested action: {action}"));
    }
    text
}

/// Handles one Marvis alarm.
pub(crate) fn on_alarm(state: &mut State, input: &Input<'_>, alarm: &Alarm) {
    let at = input.time;
    let alarm_type = normalize_type(alarm.alarm_type.as_deref().unwrap_or("unknown"));
    let entities = impacted_entities(alarm);
    let key = key(input, &alarm_type, &entities);
    let closing = marvis_is_closing(alarm);
    if !state.marks.admits(&key, at, closing) {
        return;
    }
    state.marks.record(&key, at, closing);
    let mut devices: Vec<String> = Vec::new();
    for mac in entities
        .iter()
        .filter_map(|e| e.mac.clone())
        .chain(alarm.device_macs())
    {
        if !devices.contains(&mac) {
            devices.push(mac);
        }
    }
    let state_text = alarm
        .state()
        .unwrap_or(if closing { "resolved" } else { "open" })
        .to_owned();
    let event_id = Some(input.event_id);
    match (state.live_by_key(&key), closing) {
        (Some(id), true) => {
            state.resolve(id, at, event_id, format!("Marvis: {state_text}"), |i| {
                i.last_seen_at = i.last_seen_at.max(at);
            });
        }
        (Some(id), false) => {
            let text = summary(state, input, alarm, &alarm_type, &entities);
            state.change(
                id,
                at,
                Change::Updated,
                event_id,
                format!("Marvis: {state_text}"),
                |i| {
                    i.last_seen_at = i.last_seen_at.max(at);
                    for mac in &devices {
                        i.add_device(mac);
                    }
                    i.summary = text;
                },
            );
        }
        (None, false) => {
            let new = NewIncident {
                key,
                kind: IncidentKind::Marvis,
                alarm_type: Some(alarm_type.clone()),
                severity: alarm
                    .severity
                    .as_deref()
                    .map_or(Severity::Critical, Severity::parse),
                org_id: input.org_id.map(str::to_owned),
                site_id: input.site_id.map(str::to_owned),
                devices,
                opened_at: at,
                last_seen_at: at,
                summary: summary(state, input, alarm, &alarm_type, &entities),
                caused_by: None,
                device_names: Default::default(),
            };
            let note = format!(
                "Marvis: {state_text}{}",
                alarm
                    .root_cause
                    .as_deref()
                    .map(|c| format!(", root cause {c}"))
                    .unwrap_or_default()
            );
            state.open(new, at, event_id, note);
        }
        // Resolved before, or never seen open (the webhook was added after it opened).
        (None, true) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_sorts_entities_and_falls_back_to_site() {
        let topic = mist::Topic::Alarms;
        let raw = json!({"org_id": "o", "site_id": "s", "details": {}});
        let n = mist::normalize(&topic, &raw);
        let input = Input::from_normalized(1, &topic, &n, &raw, 1);
        let a = Entity {
            identity: Some("b".into()),
            ..Entity::default()
        };
        let b = Entity {
            identity: Some("a".into()),
            ..Entity::default()
        };
        assert_eq!(
            key(&input, "bad_cable", &[a.clone(), b, a]),
            "marvis:o:s:bad_cable:a,b"
        );
        assert_eq!(
            key(&input, "switch_stp_loop", &[]),
            "marvis:o:s:switch_stp_loop:site"
        );
    }
}
