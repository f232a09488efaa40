//! The wall clock, read only at the edges: the pure cores take time as an argument.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in unix microseconds (0 for a clock set before 1970).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
