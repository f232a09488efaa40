//! Everything the correlator needs to carry on after a restart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::incident::Incident;
use crate::marks::Mark;
use crate::records::{DownEpisode, PortDown, SiteName, SourceWatch};
use crate::silence::Silence;
use crate::timers::Timer;

/// The current format of [`Snapshot`].
pub const SNAPSHOT_VERSION: u32 = 1;

/// The correlator's whole state, as plain data, for the shell to persist next to its
/// cursor in one transaction. [`crate::Correlator::restore`] continues from it exactly as
/// if the process had never stopped. Lists are in a fixed order, so two snapshots of the
/// same state serialise to the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`] when written.
    pub version: u32,
    /// The device inventory, by organisation and MAC.
    pub devices: Vec<Device>,
    /// Open and acknowledged incidents, by id. Resolved ones are the shell's to keep.
    pub incidents: Vec<Incident>,
    /// Pending deadlines, earliest first.
    pub timers: Vec<Timer>,
    /// Silences, in the order they were added.
    pub silences: Vec<Silence>,
    /// Devices currently down, with the incident (or hold-down) each belongs to.
    pub down_episodes: Vec<DownEpisode>,
    /// Newest event time per Marvis, security and occupancy key.
    pub marks: Vec<Mark>,
    /// The id the next incident gets.
    pub next_incident_id: i64,
    /// The id the next silence gets.
    pub next_silence_id: i64,
    /// The id of the last event handled; inputs up to it are replays.
    pub last_event_id: Option<i64>,
    /// Watched sources: their newest request and quiet period (absent in snapshots of
    /// builds that had none).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceWatch>,
    /// Switch ports down under an AP, by switch and port (absent in older snapshots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports_down: Vec<PortDown>,
    /// Site names that events carried, by site id (absent in older snapshots).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub site_names: BTreeMap<String, SiteName>,
}
