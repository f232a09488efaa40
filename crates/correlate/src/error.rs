//! The one error type of this crate.

/// Why a correlator call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrelateError {
    /// No open or acknowledged incident has this id. Resolved incidents leave the
    /// correlator's state (the shell has stored them), so acknowledging or resolving one
    /// again lands here too.
    #[error("no open or acknowledged incident with id {0}")]
    UnknownIncident(i64),
    /// A setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's field name.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}
