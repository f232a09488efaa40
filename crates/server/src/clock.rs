//! The wall clock, read only at the edges (the pure cores take time as an argument).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in unix microseconds.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
