//! What the devices and incidents API answers, and the filters its lists take: typed
//! views of the correlate crate's records (`correlate::Device`, `Incident`), with every
//! time as RFC 3339. The handlers return these, and the OpenAPI document is generated
//! from them.

use std::collections::BTreeMap;

use correlate::{
    Change, Device, DeviceChange, DeviceChangeKind, DeviceKind, DeviceState, Incident,
    IncidentKind, IncidentState, TimelineEntry,
};
use serde::Serialize;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::super::answer::{List, Time, time};
use super::super::log::EventView;
use super::super::params::TimeParam;

/// A device of the inventory, as the correlation stage last stored it. A device is
/// identified by organisation and MAC.
#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    /// The organisation; empty when no event named it.
    org_id: String,
    /// The MAC, 12 lowercase hex digits (a Mist Edge's lowercase id for Mist Edges).
    mac: String,
    /// What kind of device, from the alarm list or event prefix that first named it.
    kind: DeviceKind,
    /// Its name or hostname, as Mist last sent it.
    #[schema(required = true)]
    name: Option<String>,
    /// Its site, as Mist last sent it.
    #[schema(required = true)]
    site_id: Option<String>,
    /// Whether it is connected: `up`, `down`, or `unknown` (only seen restarting so far).
    state: DeviceState,
    /// Event time since which `state` holds.
    since: Time,
    /// Event time of its newest restart.
    #[schema(required = true)]
    last_restart_at: Option<Time>,
    /// Why it last restarted, e.g. `power_cycle`.
    #[schema(required = true)]
    last_restart_reason: Option<String>,
    /// The newest event (by event time) that told something about it.
    #[schema(required = true)]
    last_event_id: Option<i64>,
    /// That event's time.
    #[schema(required = true)]
    last_event_time: Option<Time>,
    /// How many times it flapped (went down and came back within the hold-down).
    flaps: u32,
    /// Its newest changes, oldest first.
    timeline: Vec<DeviceChangeView>,
    /// Event time of the newest up/down observation: later than `since` when the same
    /// state was reported again.
    #[schema(required = true)]
    state_observed_at: Option<Time>,
}

/// One line of a device's history.
#[derive(Serialize, ToSchema)]
pub struct DeviceChangeView {
    /// Event time of the change.
    at: Time,
    /// The event that caused it.
    #[schema(required = true)]
    event_id: Option<i64>,
    /// What happened: `down`, `up`, `restarted`, or `flap` (down and back up within the
    /// flap hold-down).
    change: DeviceChangeKind,
    /// Details for a person, e.g. the restart reason; may be empty.
    note: String,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> DeviceView {
        DeviceView {
            org_id: d.org_id,
            mac: d.mac,
            kind: d.kind,
            name: d.name,
            site_id: d.site_id,
            state: d.state,
            since: Time(d.since),
            last_restart_at: time(d.last_restart_at),
            last_restart_reason: d.last_restart_reason,
            last_event_id: d.last_event_id,
            last_event_time: time(d.last_event_time),
            flaps: d.flaps,
            timeline: d.timeline.into_iter().map(DeviceChangeView::from).collect(),
            state_observed_at: time(d.state_observed_at),
        }
    }
}

/// One change of a device as its history keeps it (`GET /api/v1/devices/{mac}/history`):
/// the timeline entry, with the state it left the device in.
#[derive(Serialize, ToSchema)]
pub struct DeviceHistoryView {
    /// The change's id in the history; ids grow in the order changes were recorded.
    pub(super) id: i64,
    #[serde(flatten)]
    pub(super) change: DeviceChangeView,
    /// The state after the change (a restart leaves it as it was).
    pub(super) state: DeviceState,
    /// Since when the device was in `state`, as of the change (event time).
    pub(super) since: Time,
    /// Its site as of the change.
    #[schema(required = true)]
    pub(super) site_id: Option<String>,
}

/// A device as it stood at a past time (`GET /api/v1/devices?at=`), from the device
/// history: its newest change at or before that time.
#[derive(Serialize, ToSchema)]
pub struct DeviceAtView {
    /// The organisation; empty when no event named it.
    pub(super) org_id: String,
    /// The MAC, 12 lowercase hex digits (a Mist Edge's lowercase id for Mist Edges).
    pub(super) mac: String,
    /// What kind of device.
    pub(super) kind: DeviceKind,
    /// Its site as of that time.
    #[schema(required = true)]
    pub(super) site_id: Option<String>,
    /// Whether it was connected then: `up`, `down`, or `unknown` (only seen restarting).
    pub(super) state: DeviceState,
    /// Event time since which it was in `state`.
    pub(super) since: Time,
}

/// The answer of `GET /api/v1/devices`: the records as they are (without `at`), or the
/// board as of `at`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum DeviceListView {
    /// Without `at`: the device records.
    Now(List<DeviceView>),
    /// With `at`: each device as it stood then.
    At(List<DeviceAtView>),
}

/// The component names of the two lists (utoipa's names for `List<T>`).
const LIST_NOW: &str = "List_DeviceView";
const LIST_AT: &str = "List_DeviceAtView";

// Either list. `anyOf`, not the `oneOf` of a derived untagged enum: an empty page is both.
impl PartialSchema for DeviceListView {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(LIST_NOW))
            .item(Ref::from_schema_name(LIST_AT))
            .description(Some(
                "Without `at`: a page of `DeviceView`; with `at`: a page of `DeviceAtView`.",
            ))
            .into()
    }
}

impl ToSchema for DeviceListView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((LIST_NOW.to_string(), List::<DeviceView>::schema()));
        schemas.push((DeviceView::name().into(), DeviceView::schema()));
        <List<DeviceView> as ToSchema>::schemas(schemas);
        <DeviceView as ToSchema>::schemas(schemas);
        schemas.push((LIST_AT.to_string(), List::<DeviceAtView>::schema()));
        schemas.push((DeviceAtView::name().into(), DeviceAtView::schema()));
        <List<DeviceAtView> as ToSchema>::schemas(schemas);
        <DeviceAtView as ToSchema>::schemas(schemas);
    }
}

impl From<DeviceChange> for DeviceChangeView {
    fn from(c: DeviceChange) -> DeviceChangeView {
        DeviceChangeView {
            at: Time(c.at),
            event_id: c.event_id,
            change: c.change,
            note: c.note,
        }
    }
}

/// An incident, as the correlation stage last stored it.
#[derive(Serialize, ToSchema)]
pub struct IncidentView {
    /// The incident's id.
    id: i64,
    /// What makes two events part of one incident, e.g. `device_down:<org>:<mac>` or
    /// `security:<org>:<site>:rogue_ap`. At most one live incident has a given key.
    key: String,
    /// Which rule it comes from.
    kind: IncidentKind,
    /// The Mist type it is about (`device_down`, `switch_down`, `bad_cable`, `rogue_ap`,
    /// `COMPLIANCE-VIOLATION`).
    #[schema(required = true)]
    alarm_type: Option<String>,
    /// Where it is in its life: `open`, `acknowledged` (a person is on it; it still
    /// resolves by itself) or `resolved` (over, by a rule or by a person).
    state: IncidentState,
    /// The severity as Mist rates it (`critical`, `warn`, ...), lowercase.
    #[schema(value_type = String)]
    severity: mist::Severity,
    /// The organisation.
    #[schema(required = true)]
    org_id: Option<String>,
    /// The site.
    #[schema(required = true)]
    site_id: Option<String>,
    /// MACs of the devices involved (12 lowercase hex digits).
    devices: Vec<String>,
    /// When it started (event time).
    opened_at: Time,
    /// Event time of the newest event that touched it.
    last_seen_at: Time,
    /// When it resolved; `null` while it is open or acknowledged.
    #[schema(required = true)]
    resolved_at: Option<Time>,
    /// One line a person can read.
    summary: String,
    /// Caused by another incident (see `caused_by`): kept and tracked, but not worth a
    /// separate page.
    suppressed: bool,
    /// Opened inside a silence (maintenance window). Its resolution is still reported.
    silenced: bool,
    /// The incident that explains this one (an AP down behind a gateway that is down).
    #[schema(required = true)]
    caused_by: Option<i64>,
    /// Every change, oldest first: at most 200, the opening entry always kept.
    timeline: Vec<TimelineEntryView>,
    /// The events that changed it, in the order they did: at most 500, the first always
    /// kept.
    event_ids: Vec<i64>,
    /// Names of its devices by MAC, as its events named them (a security alarm's
    /// `hostnames` name the APs that reported it); absent when none did.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    device_names: BTreeMap<String, String>,
}

/// One line of an incident's history.
#[derive(Serialize, ToSchema)]
pub struct TimelineEntryView {
    /// When: the event's time for changes caused by events, the deadline for changes made
    /// by timers, the time of the request for manual actions.
    at: Time,
    /// What changed: `opened`, `updated` (a device joined or came back, a restart reason,
    /// a repeat), `resolved`, `acknowledged`, or `suppressed` (found to be caused by
    /// another incident).
    change: Change,
    /// The event that caused it, if an event did.
    #[schema(required = true)]
    event_id: Option<i64>,
    /// Details for a person (who acknowledged, which device came back, ...).
    note: String,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> IncidentView {
        IncidentView {
            id: i.id,
            key: i.key,
            kind: i.kind,
            alarm_type: i.alarm_type,
            state: i.state,
            severity: i.severity,
            org_id: i.org_id,
            site_id: i.site_id,
            devices: i.devices,
            opened_at: Time(i.opened_at),
            last_seen_at: Time(i.last_seen_at),
            resolved_at: time(i.resolved_at),
            summary: i.summary,
            suppressed: i.suppressed,
            silenced: i.silenced,
            caused_by: i.caused_by,
            timeline: i
                .timeline
                .into_iter()
                .map(TimelineEntryView::from)
                .collect(),
            event_ids: i.event_ids,
            device_names: i.device_names,
        }
    }
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(t: TimelineEntry) -> TimelineEntryView {
        TimelineEntryView {
            at: Time(t.at),
            change: t.change,
            event_id: t.event_id,
            note: t.note,
        }
    }
}

/// An incident with the events behind it.
#[derive(Serialize, ToSchema)]
pub struct IncidentDetailView {
    #[serde(flatten)]
    pub(super) incident: IncidentView,
    /// The last (at most) 100 events of `event_ids` that are still in the log, in the
    /// same order.
    pub(super) events: Vec<EventView>,
}

/// The optional body of `POST /api/v1/incidents/{id}/ack` and `/resolve`: an object (or
/// `null`, as no body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ActorBody {
    /// Who did it, for the timeline note; the token's name when left out or `null`.
    by: Option<String>,
}

/// The filters of `GET /api/v1/devices`. Each is an exact match; `kind` and `state` take
/// only the documented values (anything else is 400 `invalid_query`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeviceQuery {
    /// Exact organisation id.
    org_id: Option<String>,
    /// Exact site id.
    site_id: Option<String>,
    /// Kind of device.
    #[param(inline)]
    kind: Option<DeviceKind>,
    /// Connection state.
    #[param(inline)]
    state: Option<DeviceState>,
    /// The board as of this time (event time): each device's state from its history
    /// (devices with no change by then left out), as `DeviceAtView`; the filters apply
    /// to the site and state of then. RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    at: Option<String>,
}

/// The filters of `GET /api/v1/incidents`. `state`, `kind` and `site_id` are exact
/// matches; `state` and `kind` take only the documented values (anything else is 400
/// `invalid_query`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IncidentQuery {
    /// Where the incident is in its life.
    #[param(inline)]
    state: Option<IncidentState>,
    /// Which rule it comes from.
    #[param(inline)]
    kind: Option<IncidentKind>,
    /// Exact site id.
    site_id: Option<String>,
    /// Incidents opened (event time) at or after this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    since: Option<String>,
    /// Incidents opened (event time) at or before this: RFC 3339 or epoch seconds.
    #[param(value_type = Option<TimeParam>, inline)]
    until: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::*;
    use crate::api::correlation::with_times;

    /// The view answers what the API answered before views: the core record as JSON with
    /// its unix-µs times as RFC 3339, field for field (a field the core gains and the view
    /// lacks fails here).
    fn answers_the_record<Core, View>(record: Value)
    where
        Core: DeserializeOwned + Serialize,
        View: From<Core> + Serialize,
    {
        let core: Core = serde_json::from_value(record).unwrap();
        let before = with_times(serde_json::to_value(&core).unwrap());
        let view = serde_json::to_value(View::from(core)).unwrap();
        assert_eq!(view, before);
    }

    #[test]
    fn views_answer_the_core_records() {
        let change =
            json!({"at": 1_749_998_000_000_001i64, "event_id": 7, "change": "down", "note": ""});
        answers_the_record::<Device, DeviceView>(json!({
            "org_id": "o", "mac": "5c5b350e0001", "kind": "ap", "name": "ap-1",
            "site_id": null, "state": "down", "since": 1_749_998_000_000_001i64,
            "last_restart_at": null, "last_restart_reason": "power_cycle",
            "last_event_id": 7, "last_event_time": 1_749_998_000_000_001i64, "flaps": 2,
            "timeline": [change], "state_observed_at": 1_749_998_000_500_000i64,
        }));
        let entry = json!({"at": 1_749_998_000_000_001i64, "change": "opened", "event_id": null, "note": "n"});
        answers_the_record::<Incident, IncidentView>(json!({
            "id": 3, "key": "device_down:o:5c5b350e0001", "kind": "device_down",
            "alarm_type": "device_down", "state": "resolved", "severity": "warn",
            "org_id": "o", "site_id": "s", "devices": ["5c5b350e0001"],
            "opened_at": 1_749_998_000_000_001i64, "last_seen_at": 1_749_998_000_000_002i64,
            "resolved_at": 1_749_998_000_000_003i64, "summary": "AP ap-1 is down",
            "suppressed": false, "silenced": true, "caused_by": null,
            "timeline": [entry], "event_ids": [7, 8], "device_names": {"5c5b350e0001": "ap-1"},
        }));
        answers_the_record::<correlate::Silence, crate::api::silences::SilenceView>(json!({
            "id": 1, "site_id": "s", "device": null, "kind": "security", "alarm_type": null,
            "starts_at": 0, "ends_at": 4_102_444_800_000_000i64, "comment": "", "created_by": "api",
        }));
    }
}
