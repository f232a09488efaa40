//! Device state and self-resolving incidents from Juniper Mist events, as a pure state
//! machine.
//!
//! [`Correlator::handle`] takes one normalised event and the current time and returns
//! [`Transition`]s: full device and incident records for the shell to persist. It never
//! touches a database, the network or the clock; deadlines (flap hold-downs, security quiet
//! periods) are asked for with [`Correlator::poll_timeout`] and fired with
//! [`Correlator::handle_timeout`], quinn-proto style, so a 24-hour quiet period is tested in
//! microseconds. [`Correlator::snapshot`] and [`Correlator::restore`] carry the state
//! across restarts.
//!
//! The rules:
//! - **Device inventory**: one [`Device`] per organisation and MAC, fed by infrastructure
//!   alarms (`device_down`, `switch_reconnected`, `device_restarted`, ...), Marvis
//!   `ap_offline`, `device-updowns` and `device-events` (`AP_DISCONNECTED`, `SW_CONNECTED`,
//!   `GW_RESTARTED`, `ME_*`), in event-time order.
//! - **Device down**: opens when a device goes down, resolves when it is back; restart
//!   reasons are attached; grouped per device or per alarm ([`Grouping`]); a down and up
//!   within the flap hold-down is counted as a flap instead.
//! - **Marvis**: keyed by action type, site and affected entities; `open` opens,
//!   `validated` resolves.
//! - **Security**: one incident per site and type while alarms keep coming; resolves after
//!   a quiet period and never outlives a maximum lifetime.
//! - **Occupancy**: `COMPLIANCE-VIOLATION` opens per zone, `COMPLIANCE-OK` resolves.
//! - **Inhibition**: AP outages just after their site's gateway or switch went down are
//!   linked to it and suppressed; with a [`Topology`] ([`Correlator::set_topology`]),
//!   only outages behind that switch or gateway are, and a switch port going down
//!   (`SW_PORT_DOWN`) explains the AP wired to it.
//! - **Names**: summaries name sites and devices by what the events say, else by the
//!   [`mist::Names`] the shell gives ([`Correlator::set_names`]), keeping ids and MACs.
//! - **Silences**: matching incidents open silenced; resolutions always pass.
//!
//! The Mist type names each rule acts on are in [`catalog`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
mod correlator;
mod device;
mod error;
mod incident;
mod input;
mod marks;
mod records;
mod rules;
mod settings;
mod silence;
mod snapshot;
mod state;
mod summary;
mod timers;
mod topology;
mod transition;

pub use correlator::Correlator;
pub use device::{
    DEVICE_TIMELINE_LEN, Device, DeviceChange, DeviceChangeKind, DeviceKind, DeviceRef, DeviceState,
};
pub use error::CorrelateError;
pub use incident::{
    Change, INCIDENT_EVENT_IDS_LEN, INCIDENT_TIMELINE_LEN, Incident, IncidentKind, IncidentState,
    TimelineEntry,
};
pub use input::Input;
pub use marks::Mark;
pub use records::{DownEpisode, PortDown, SiteName, SourceWatch};
pub use settings::{Grouping, Settings};
pub use silence::Silence;
pub use snapshot::{SNAPSHOT_VERSION, Snapshot};
pub use timers::{Timer, TimerKind};
pub use topology::{Topology, Uplink};
pub use transition::Transition;
