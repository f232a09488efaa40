//! What the rules remember between events, kept in the state and its snapshot: devices
//! that are down (for `device_down`), switch ports that are down under an AP (for
//! inhibition with a [`crate::Topology`]) and watched sources (for `source_silent`). Plain
//! data: the rules change them, the state holds them, the snapshot saves them.

use mist::Severity;
use serde::{Deserialize, Serialize};

use crate::device::DeviceRef;

/// A device that is down, and the incident it counts in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownEpisode {
    /// The device.
    pub device: DeviceRef,
    /// When it went down (event time), unix µs.
    pub since: i64,
    /// The event that said so.
    pub event_id: Option<i64>,
    /// The incident key it groups under (per device or per alarm).
    pub key: String,
    /// The severity of the alarm that said so (`warn` for events without one).
    pub severity: Severity,
    /// The incident it counts in; `None` while the hold-down runs.
    pub incident_id: Option<i64>,
    /// The end of its hold-down, when one runs.
    pub hold_until: Option<i64>,
}

/// What the correlator knows of one watched source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceWatch {
    /// When its newest request arrived (or watching began), unix µs.
    pub last_request_at: i64,
    /// How long it may stay quiet, µs.
    pub silent_after: i64,
    /// The `last_request_at` an incident was already opened for: a person resolving that
    /// incident by hand does not make it open again until traffic has come and gone.
    pub reported_for: Option<i64>,
}

/// A site's name as an event carried it (`site_name`), and that event's time: a newer
/// event renames, an older or replayed one does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteName {
    /// The name.
    pub name: String,
    /// The event time it was carried at, unix µs.
    pub at: i64,
}

/// A switch port that went down (`SW_PORT_DOWN`) with an AP wired to it, until it comes
/// up again (`SW_PORT_UP`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDown {
    /// The switch's normalised MAC.
    pub switch: String,
    /// The port, as Mist names it (`ge-0/0/2`).
    pub port: String,
    /// When it went down (event time), unix µs.
    pub since: i64,
    /// The event that said so.
    pub event_id: Option<i64>,
}
