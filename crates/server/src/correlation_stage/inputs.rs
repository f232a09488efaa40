//! What the shell gives the correlator besides events: names and topology. The correlator
//! does not snapshot them, so the stage keeps them here and gives them again whenever it
//! loads the correlator (at start, after a panic, after a failed commit).

use correlate::Correlator;

#[cfg(doc)]
use super::Command;

/// What the shell gives the correlator besides events, kept across its reloads.
#[derive(Clone, Default)]
pub(super) struct ShellInputs {
    /// `[routing] site_names`.
    pub configured: mist::Names,
    /// Names from [`Command::SetNames`].
    pub learned: mist::Names,
    /// From [`Command::SetTopology`].
    pub topology: correlate::Topology,
}

impl ShellInputs {
    /// Gives the correlator the names (configured first) and the topology.
    pub fn give(&self, correlator: &mut Correlator) {
        let mut names = self.configured.clone();
        names.fill_from(&self.learned);
        correlator.set_names(names);
        correlator.set_topology(self.topology.clone());
    }
}
