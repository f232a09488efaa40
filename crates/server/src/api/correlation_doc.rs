//! The shapes of the devices, incidents and silences API, for the OpenAPI document only.
//!
//! The handlers (see `correlation.rs`) answer `serde_json::Value`s built from the
//! correlate crate's records (`correlate::Device`, `Incident`, `Silence`) with every time
//! field rewritten from unix µs to RFC 3339 UTC with microseconds; these types mirror that
//! JSON field for field. Their query parameters are read as strings, so that every mistake
//! gets the JSON error body; the closed sets among them (kinds, states) are parsed with the
//! enums below, so that the document and the server accept the same values.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use super::log::EventView;
use super::params::{EPOCH_SECONDS_PATTERN, MAX_EPOCH_SECONDS, TimeParam, time_text};

/// What kind of device.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKindDoc {
    /// An access point (`aps` in alarms, `AP_*` events).
    Ap,
    /// A switch (`switches`, `SW_*`).
    Switch,
    /// A WAN edge gateway (`gateways`, `GW_*`).
    Gateway,
    /// A Mist Edge appliance (`mxedges`, `ME_*`).
    Mxedge,
}

/// Whether a device is connected to the Mist cloud: `up`, `down`, or `unknown` (only
/// seen restarting so far).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStateDoc {
    Up,
    Down,
    Unknown,
}

/// What happened to a device: `down`, `up`, `restarted`, or `flap` (down and back up
/// within the flap hold-down).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeviceChangeKindDoc {
    Down,
    Up,
    Restarted,
    Flap,
}

/// One line of a device's history.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeviceChangeDoc {
    /// Event time of the change.
    #[schema(format = DateTime)]
    at: String,
    /// The event that caused it.
    #[schema(required = true)]
    event_id: Option<i64>,
    /// What happened.
    change: DeviceChangeKindDoc,
    /// Details for a person, e.g. the restart reason; may be empty.
    note: String,
}

/// A device of the inventory, as the correlation stage last stored it. A device is
/// identified by organisation and MAC.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeviceDoc {
    /// The organisation; empty when no event named it.
    org_id: String,
    /// The MAC, 12 lowercase hex digits (a Mist Edge's lowercase id for Mist Edges).
    mac: String,
    /// What kind of device, from the alarm list or event prefix that first named it.
    kind: DeviceKindDoc,
    /// Its name or hostname, as Mist last sent it.
    #[schema(required = true)]
    name: Option<String>,
    /// Its site, as Mist last sent it.
    #[schema(required = true)]
    site_id: Option<String>,
    /// Whether it is connected.
    state: DeviceStateDoc,
    /// Event time since which `state` holds.
    #[schema(format = DateTime)]
    since: String,
    /// Event time of its newest restart.
    #[schema(required = true, format = DateTime)]
    last_restart_at: Option<String>,
    /// Why it last restarted, e.g. `power_cycle`.
    #[schema(required = true)]
    last_restart_reason: Option<String>,
    /// The newest event (by event time) that told something about it.
    #[schema(required = true)]
    last_event_id: Option<i64>,
    /// That event's time.
    #[schema(required = true, format = DateTime)]
    last_event_time: Option<String>,
    /// How many times it flapped (went down and came back within the hold-down).
    flaps: u32,
    /// Its newest changes, oldest first, at most 50.
    timeline: Vec<DeviceChangeDoc>,
    /// Event time of the newest up/down observation: later than `since` when the same
    /// state was reported again.
    #[schema(required = true, format = DateTime)]
    state_observed_at: Option<String>,
}

/// Which rule an incident comes from.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKindDoc {
    /// One or more devices offline.
    DeviceDown,
    /// A Marvis action.
    Marvis,
    /// A security detection at a site.
    Security,
    /// A zone over its occupancy limit.
    Occupancy,
    /// A source that has received no webhook request for its `silent_after`.
    SourceSilent,
}

/// Where an incident is in its life: `open`, `acknowledged` (a person is on it; it still
/// resolves by itself) or `resolved` (over, by a rule or by a person).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStateDoc {
    Open,
    Acknowledged,
    Resolved,
}

/// What one transition did to an incident: `opened`, `updated` (a device joined or came
/// back, a restart reason, a repeat), `resolved`, `acknowledged`, or `suppressed` (found to
/// be caused by another incident).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ChangeDoc {
    Opened,
    Updated,
    Resolved,
    Acknowledged,
    Suppressed,
}

/// One line of an incident's history.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TimelineEntryDoc {
    /// When: the event's time for changes caused by events, the deadline for changes made
    /// by timers, the time of the request for manual actions.
    #[schema(format = DateTime)]
    at: String,
    /// What changed.
    change: ChangeDoc,
    /// The event that caused it, if an event did.
    #[schema(required = true)]
    event_id: Option<i64>,
    /// Details for a person (who acknowledged, which device came back, ...).
    note: String,
}

/// An incident, as the correlation stage last stored it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncidentDoc {
    /// The incident's id.
    id: i64,
    /// What makes two events part of one incident, e.g. `device_down:<org>:<mac>` or
    /// `security:<org>:<site>:rogue_ap`. At most one live incident has a given key.
    key: String,
    /// Which rule it comes from.
    kind: IncidentKindDoc,
    /// The Mist type it is about (`device_down`, `switch_down`, `bad_cable`, `rogue_ap`,
    /// `COMPLIANCE-VIOLATION`).
    #[schema(required = true)]
    alarm_type: Option<String>,
    /// Where it is in its life.
    state: IncidentStateDoc,
    /// The severity as Mist rates it (`critical`, `warn`, ...).
    severity: String,
    /// The organisation.
    #[schema(required = true)]
    org_id: Option<String>,
    /// The site.
    #[schema(required = true)]
    site_id: Option<String>,
    /// MACs of the devices involved (12 lowercase hex digits).
    devices: Vec<String>,
    /// When it started (event time).
    #[schema(format = DateTime)]
    opened_at: String,
    /// Event time of the newest event that touched it.
    #[schema(format = DateTime)]
    last_seen_at: String,
    /// When it resolved; `null` while it is open or acknowledged.
    #[schema(required = true, format = DateTime)]
    resolved_at: Option<String>,
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
    timeline: Vec<TimelineEntryDoc>,
    /// The events that changed it, in the order they did: at most 500, the first always
    /// kept.
    event_ids: Vec<i64>,
}

/// An incident with the events behind it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncidentDetailDoc {
    #[serde(flatten)]
    incident: IncidentDoc,
    /// The last (at most) 100 events of `event_ids` that are still in the log, in the
    /// same order.
    events: Vec<EventView>,
}

/// A silence (maintenance window): incidents that open inside it, and match every
/// matcher that is set, open with `silenced: true`. Unset matchers match anything.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SilenceDoc {
    /// The silence's id.
    id: i64,
    /// Only incidents at this site.
    #[schema(required = true)]
    site_id: Option<String>,
    /// Only incidents involving this device: the MAC normalised to 12 lowercase hex
    /// digits, or the value as given when it is not a MAC.
    #[schema(required = true)]
    device: Option<String>,
    /// Only incidents of this kind.
    #[schema(required = true)]
    kind: Option<IncidentKindDoc>,
    /// Only incidents of this Mist type (case and `-`/`_` ignored).
    #[schema(required = true)]
    alarm_type: Option<String>,
    /// Start of the window, inclusive (checked against the incident's opening time).
    #[schema(format = DateTime)]
    starts_at: String,
    /// End of the window, inclusive.
    #[schema(format = DateTime)]
    ends_at: String,
    /// Why, for people; may be empty.
    comment: String,
    /// Who added it (`api` unless the request said).
    created_by: String,
}

/// A time in a request body: an RFC 3339 string, or epoch seconds as a number or a
/// string (fractions allowed).
pub struct TimeInputDoc;

impl utoipa::PartialSchema for TimeInputDoc {
    fn schema() -> RefOr<Schema> {
        let mut any = time_text();
        // The number form has the bounds that the string form's pattern has.
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .exclusive_maximum(Some(MAX_EPOCH_SECONDS));
        any.items.push(seconds.into());
        any.description = Some(format!(
            "RFC 3339 (`2025-06-15T14:25:19Z`) within the years 0000 to 9999 in UTC, or epoch \
             seconds from 0 to below 1e11: a number, or a string matching \
             `{EPOCH_SECONDS_PATTERN}`."
        ));
        RefOr::T(Schema::AnyOf(any))
    }
}

impl ToSchema for TimeInputDoc {}

/// The body of `POST /api/v1/silences`. Absent and `null` fields are unset; matchers that
/// are set must be non-empty strings.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SilenceRequestDoc {
    /// Only incidents at this site.
    #[schema(min_length = 1)]
    site_id: Option<String>,
    /// Only incidents involving this device: a MAC in any notation (stored normalised;
    /// a value that is not a MAC is kept as given).
    #[schema(min_length = 1)]
    device: Option<String>,
    /// Only incidents of this kind.
    kind: Option<IncidentKindDoc>,
    /// Only incidents of this Mist type (case and `-`/`_` ignored).
    #[schema(min_length = 1)]
    alarm_type: Option<String>,
    /// Start of the window; now when left out.
    starts_at: Option<TimeInputDoc>,
    /// End of the window; must be after `starts_at`.
    ends_at: TimeInputDoc,
    /// Why, for people.
    comment: Option<String>,
    /// Who adds it; `api` when left out.
    created_by: Option<String>,
}

/// The optional body of `POST /api/v1/incidents/{id}/ack` and `/resolve`: an object (or
/// `null`, as no body).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ActorDoc {
    /// Who did it, for the timeline note; `api` when left out or `null`.
    by: Option<String>,
}

/// A page of devices: `{"items": [...], "next_cursor": ...}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeviceListDoc {
    /// At most `limit` devices, in the requested order.
    items: Vec<DeviceDoc>,
    /// Pass as `cursor` to get the next page; `null` when this page is the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A page of incidents: `{"items": [...], "next_cursor": ...}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncidentListDoc {
    /// At most `limit` incidents, in the requested order.
    items: Vec<IncidentDoc>,
    /// Pass as `cursor` to get the next page; `null` when this page is the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Every silence: `{"items": [...], "next_cursor": null}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SilenceListDoc {
    /// Every silence, expired ones included, in the order they were added.
    items: Vec<SilenceDoc>,
    /// Always `null`: the list is not paged.
    #[schema(required = true)]
    next_cursor: Option<String>,
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
    kind: Option<DeviceKindDoc>,
    /// Connection state.
    #[param(inline)]
    state: Option<DeviceStateDoc>,
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
    state: Option<IncidentStateDoc>,
    /// Which rule it comes from.
    #[param(inline)]
    kind: Option<IncidentKindDoc>,
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

    use super::*;
    use crate::api::params::enum_values;

    /// Every value the document names is one the core reads (the API parses with these
    /// enums, so a value missing here is refused: add the core's new ones here).
    fn core_reads<Doc: utoipa::PartialSchema, Core: DeserializeOwned>() -> usize {
        let values = enum_values::<Doc>();
        for v in &values {
            assert!(
                serde_json::from_value::<Core>(v.clone()).is_ok(),
                "{v} is documented but not a {}",
                std::any::type_name::<Core>()
            );
        }
        values.len()
    }

    #[test]
    fn the_documented_values_are_the_cores() {
        assert_eq!(core_reads::<DeviceKindDoc, correlate::DeviceKind>(), 4);
        assert_eq!(core_reads::<DeviceStateDoc, correlate::DeviceState>(), 3);
        assert_eq!(
            core_reads::<DeviceChangeKindDoc, correlate::DeviceChangeKind>(),
            4
        );
        assert_eq!(core_reads::<IncidentKindDoc, correlate::IncidentKind>(), 5);
        assert_eq!(
            core_reads::<IncidentStateDoc, correlate::IncidentState>(),
            3
        );
        assert_eq!(core_reads::<ChangeDoc, correlate::Change>(), 5);
    }
}
