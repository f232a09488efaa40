//! The correlation rules, one per incident kind, plus inhibition between device-down
//! incidents. Each works on the shared [`crate::state::State`].

pub(crate) mod device_down;
pub(crate) mod inhibition;
pub(crate) mod marvis;
pub(crate) mod occupancy;
pub(crate) mod ports;
pub(crate) mod security;
pub(crate) mod source_silent;
