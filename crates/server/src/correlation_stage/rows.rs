//! The store's rows for the correlator's records.

use store::{DeviceRow, IncidentRow};

/// The API's row for a device: filterable columns plus the whole record.
pub fn device_row(d: &correlate::Device) -> DeviceRow {
    let record = serde_json::to_value(d).expect("a device serialises");
    DeviceRow {
        org_id: d.org_id.clone(),
        mac: d.mac.clone(),
        kind: text(&record["kind"]),
        site_id: d.site_id.clone(),
        state: text(&record["state"]),
        since: d.since,
        record: record.to_string(),
    }
}

/// The API's row for an incident: filterable columns plus the whole record.
pub fn incident_row(i: &correlate::Incident) -> IncidentRow {
    let record = serde_json::to_value(i).expect("an incident serialises");
    IncidentRow {
        id: i.id,
        key: i.key.clone(),
        kind: text(&record["kind"]),
        state: text(&record["state"]),
        site_id: i.site_id.clone(),
        opened_at: i.opened_at,
        last_seen_at: i.last_seen_at,
        resolved_at: i.resolved_at,
        record: record.to_string(),
    }
}

/// Enums serialise as their snake_case names.
pub(super) fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
