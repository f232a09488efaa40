//! What the correlation stage keeps: its cursor and snapshot, and the device and
//! incident records it produces, as rows the API can filter.
//!
//! The store does not know the correlator's types: records arrive as JSON next to the
//! columns that queries filter on. The stage writes everything of one batch, and its new
//! cursor, in one transaction (see [`crate::Store::stage_commit`]).

/// A device as the stage last wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRow {
    pub org_id: String,
    /// Normalised MAC.
    pub mac: String,
    /// `ap`, `switch`, `gateway`, `mxedge`.
    pub kind: String,
    pub site_id: Option<String>,
    /// `up`, `down`, `unknown`.
    pub state: String,
    /// Since when (unix µs) the device is in `state`.
    pub since: i64,
    /// The whole record, JSON.
    pub record: String,
}

/// An incident as the stage last wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: i64,
    pub key: String,
    /// `device_down`, `marvis`, `security`, `occupancy`, ...
    pub kind: String,
    /// `open`, `acknowledged`, `resolved`.
    pub state: String,
    pub site_id: Option<String>,
    pub opened_at: i64,
    pub last_seen_at: i64,
    pub resolved_at: Option<i64>,
    /// The whole record, JSON.
    pub record: String,
}

/// One batch of a stage: the rows it changed, its snapshot and its new cursor.
#[derive(Clone, Debug, Default)]
pub struct StageCommit {
    pub stage: String,
    /// The last event id the stage has fully handled.
    pub cursor: i64,
    /// Everything the stage needs to resume (opaque to the store).
    pub snapshot: Vec<u8>,
    pub devices: Vec<DeviceRow>,
    pub incidents: Vec<IncidentRow>,
    /// The incident changes of the batch, in the order they happened (for routing).
    pub changes: Vec<IncidentChange>,
    /// The device changes of the batch, each once, in the order they were made: appended
    /// to the device history (a change already there, by device, event and kind, is not
    /// added again).
    pub device_changes: Vec<DeviceHistoryRow>,
    /// When the batch was written (unix µs).
    pub at: i64,
}

/// One change of an incident, as the routing stage reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentChange {
    /// Assigned by the store, in commit order (0 when writing).
    pub id: i64,
    pub incident_id: i64,
    /// `opened`, `updated`, `resolved`, `acknowledged`, `suppressed`.
    pub change: String,
    /// When it happened (unix µs).
    pub at: i64,
    /// The incident after the change, JSON.
    pub record: String,
}

/// Where a stage stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageState {
    pub cursor: i64,
    pub snapshot: Vec<u8>,
}

/// Filters of the device list.
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    pub kind: Option<String>,
    pub state: Option<String>,
}

/// Filters of the incident list. `since`/`until` bound the opening time (unix µs).
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub site_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A webhook subscription as the store keeps it: where it belongs and its whole record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub id: String,
    /// `org` or `site`.
    pub scope: String,
    /// The org or site id the subscription belongs to.
    pub scope_id: String,
    /// The whole object, JSON, secrets included.
    pub record: String,
    pub modified_at: i64,
}

/// One change of a device's state (or a restart), as the append-only device history keeps
/// it. The history is kept whatever the retention: a few rows per device and outage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceHistoryRow {
    /// Assigned by the store, in commit order (0 when writing).
    pub id: i64,
    pub org_id: String,
    /// Normalised MAC (a Mist Edge's id).
    pub mac: String,
    /// `ap`, `switch`, `gateway`, `mxedge`.
    pub kind: String,
    pub site_id: Option<String>,
    /// Event time of the change (unix µs).
    pub at: i64,
    /// `down`, `up`, `restarted`, `flap`.
    pub change: String,
    /// The state after the change: `up`, `down`, `unknown` (a restart leaves it as it was).
    pub state: String,
    /// Since when (unix µs) the device was in `state`, as of the change.
    pub since: i64,
    /// The event that caused it.
    pub event_id: Option<i64>,
    /// Details for a person (the event type, a restart reason).
    pub note: String,
}

/// Where a device stood at a given time: its newest history row at or before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAt {
    /// The device's row id in the device list (the key its pages go by).
    pub device_id: i64,
    pub org_id: String,
    /// Normalised MAC.
    pub mac: String,
    pub kind: String,
    /// Its site as of that change.
    pub site_id: Option<String>,
    /// `up`, `down`, `unknown`.
    pub state: String,
    /// Since when (unix µs) it was in `state`.
    pub since: i64,
    /// The history row this comes from: the device's newest change at or before the time.
    pub change_id: i64,
}
