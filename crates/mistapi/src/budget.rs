//! Mist's rate limit is 5,000 calls an hour per token. [`Window`] counts the calls of the
//! last hour in one-minute buckets, so that mistgate can show how much of the budget it
//! uses (`mistgate_mist_api_calls_last_hour`).

use std::collections::VecDeque;

/// Calls Mist allows one token per hour.
pub const CALLS_PER_HOUR: u64 = 5_000;

/// Calls per minute over the last 60 minutes.
#[derive(Debug, Default)]
pub struct Window {
    /// (minute since the epoch, calls in it), oldest first, at most 60.
    minutes: VecDeque<(u64, u64)>,
}

impl Window {
    /// Counts one call at `minute` (minutes since any fixed start, never decreasing).
    pub fn record(&mut self, minute: u64) {
        match self.minutes.back_mut() {
            Some((m, n)) if *m == minute => *n += 1,
            _ => self.minutes.push_back((minute, 1)),
        }
        self.forget(minute);
    }

    /// Calls in the 60 minutes ending with `minute`.
    pub fn last_hour(&mut self, minute: u64) -> u64 {
        self.forget(minute);
        self.minutes.iter().map(|(_, n)| n).sum()
    }

    fn forget(&mut self, minute: u64) {
        while self.minutes.front().is_some_and(|(m, _)| m + 60 <= minute) {
            self.minutes.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_sixty_minutes() {
        let mut w = Window::default();
        for _ in 0..3 {
            w.record(10);
        }
        w.record(40);
        assert_eq!(w.last_hour(40), 4);
        assert_eq!(w.last_hour(69), 4);
        assert_eq!(w.last_hour(70), 1, "minute 10 is an hour old");
        assert_eq!(w.last_hour(100), 0);
        w.record(100);
        assert_eq!(w.last_hour(100), 1);
    }
}
