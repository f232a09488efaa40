//! Event counts over time: how many events the log stored per receive minute, topic and
//! source, summed into buckets for charts (see [`crate::Store::series`]).
//!
//! The counts are kept as the events are appended (in the same transaction), so a chart
//! over a day reads a day of minutes, never the events themselves.

/// One minute in unix µs.
pub const MINUTE_US: i64 = 60_000_000;

/// The unix minute a time (unix µs) falls in (floor, so negative times too).
pub fn minute_of(us: i64) -> i64 {
    us.div_euclid(MINUTE_US)
}

/// Which counts to sum, and into what buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesQuery {
    /// The bucket holding this time (unix µs) is the first one.
    pub since: i64,
    /// The bucket holding this time (unix µs) is the last one.
    pub until: i64,
    /// Bucket width in minutes (at least 1). Buckets start at multiples of the width from
    /// the unix epoch, so the same width always gives the same bucket boundaries.
    pub step_minutes: u32,
    /// Only this canonical topic.
    pub topic: Option<String>,
    /// Only this source (`/ingest/{source}`).
    pub source: Option<String>,
}

/// The events of one topic received in one bucket (every source that matched, summed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesPoint {
    /// The bucket's start, unix µs.
    pub bucket: i64,
    /// Canonical topic name.
    pub topic: String,
    /// Events stored (duplicates are not stored, so not counted).
    pub events: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_floor_on_both_sides_of_the_epoch() {
        assert_eq!(minute_of(0), 0);
        assert_eq!(minute_of(MINUTE_US - 1), 0);
        assert_eq!(minute_of(MINUTE_US), 1);
        assert_eq!(minute_of(-1), -1);
        assert_eq!(minute_of(-MINUTE_US), -1);
        assert_eq!(minute_of(-MINUTE_US - 1), -2);
    }
}
