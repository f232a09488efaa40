//! What the correlator hands back: the records the shell must persist.

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::incident::{Change, Incident};

/// One change for the shell to persist, always as the full record after the change (the
/// shell upserts it; no diffing needed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transition {
    /// A device record changed.
    Device(Device),
    /// An incident changed. The entry that `change` added is the last of
    /// `incident.timeline`, with the event that caused it.
    Incident {
        /// The incident after the change.
        incident: Incident,
        /// What changed.
        change: Change,
    },
}
