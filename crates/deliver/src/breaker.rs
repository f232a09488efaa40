//! A per-subscription circuit breaker.
//!
//! A receiver that keeps failing is left alone for a pause instead of being hammered with
//! every batch's retries; after the pause one probe is let through. A failed probe doubles
//! the pause (up to a maximum); a successful one closes the breaker, so a subscription
//! resumes by itself once its receiver is back. Time is an argument: the breaker never
//! reads the clock.

/// When to open the breaker and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures (while closed) that open the breaker. `0` behaves as `1`.
    pub failures_to_open: u32,
    /// The first pause after opening, in microseconds.
    pub open_for_us: i64,
    /// The longest pause, in microseconds; doubling stops here.
    pub max_open_for_us: i64,
}

impl Default for BreakerPolicy {
    /// Five consecutive failures open it for 30 s, doubling up to 1 h.
    fn default() -> Self {
        BreakerPolicy {
            failures_to_open: 5,
            open_for_us: 30 * 1_000_000,
            max_open_for_us: 3600 * 1_000_000,
        }
    }
}

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Deliveries flow; counting consecutive failures.
    Closed,
    /// Deliveries are held until `until` (unix microseconds).
    Open {
        /// When the next probe may go.
        until: i64,
    },
    /// The pause is over; one probe is allowed, then nothing until its result is reported.
    HalfOpen {
        /// Whether the probe has been let through and its result is awaited.
        probe_in_flight: bool,
    },
}

/// The circuit breaker of one subscription.
///
/// ```
/// use deliver::breaker::{Breaker, BreakerPolicy};
/// let policy = BreakerPolicy { failures_to_open: 2, open_for_us: 10, max_open_for_us: 100 };
/// let mut b = Breaker::new(policy);
/// b.on_failure(0);
/// b.on_failure(1);
/// assert!(!b.allow(5));   // open until 11
/// assert!(b.allow(11));   // the probe
/// b.on_success(12);
/// assert!(b.allow(12));   // closed again
/// ```
#[derive(Clone, Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
    consecutive_failures: u32,
    /// The pause the next opening uses.
    pause_us: i64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        let pause_us = first_pause(&policy);
        Breaker {
            policy,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            pause_us,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Consecutive failures counted since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Whether a delivery may be attempted at `now`.
    ///
    /// Closed: yes. Open: no until the pause ends; then the breaker goes half-open and this
    /// call is the one probe (`true`). Half-open: no, until the probe's result is reported
    /// with [`on_success`](Self::on_success) or [`on_failure`](Self::on_failure).
    pub fn allow(&mut self, now: i64) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probe_in_flight } => {
                if probe_in_flight {
                    false
                } else {
                    self.state = BreakerState::HalfOpen {
                        probe_in_flight: true,
                    };
                    true
                }
            }
        }
    }

    /// When [`allow`](Self::allow) will next change its answer on its own: the end of the
    /// pause while open, `None` otherwise.
    pub fn poll_timeout(&self) -> Option<i64> {
        match self.state {
            BreakerState::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Reports a successful delivery: the breaker closes and forgets past failures.
    ///
    /// A success that arrives while open (a request sent before the breaker opened) also
    /// closes it: the receiver evidently answers again.
    pub fn on_success(&mut self, _now: i64) {
        self.state = BreakerState::Closed;
        self.consecutive_failures = 0;
        self.pause_us = first_pause(&self.policy);
    }

    /// Reports a failed delivery (one that [`classify`](crate::schedule::classify) would
    /// retry or fail; the caller decides which outcomes count).
    ///
    /// Closed: counts, and opens for the current pause at the threshold. Half-open: the
    /// probe failed, so the pause doubles (up to the maximum) and the breaker reopens.
    /// Open: a late result of an earlier request; counted, but the pause is not extended.
    pub fn on_failure(&mut self, now: i64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            BreakerState::Closed => {
                if self.consecutive_failures >= self.policy.failures_to_open.max(1) {
                    self.open(now);
                }
            }
            BreakerState::HalfOpen { .. } => {
                self.pause_us = self.pause_us.saturating_mul(2).min(self.max_pause());
                self.open(now);
            }
            BreakerState::Open { .. } => {}
        }
    }

    fn open(&mut self, now: i64) {
        self.state = BreakerState::Open {
            until: now.saturating_add(self.pause_us),
        };
    }

    fn max_pause(&self) -> i64 {
        self.policy.max_open_for_us.max(first_pause(&self.policy))
    }
}

fn first_pause(policy: &BreakerPolicy) -> i64 {
    policy.open_for_us.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn breaker() -> Breaker {
        Breaker::new(BreakerPolicy::default())
    }

    fn fail_n(b: &mut Breaker, n: u32, now: i64) {
        for _ in 0..n {
            assert!(b.allow(now));
            b.on_failure(now);
        }
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let mut b = breaker();
        fail_n(&mut b, 4, 0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_failure(0);
        assert_eq!(b.state(), BreakerState::Open { until: 30 * S });
        assert!(!b.allow(29 * S));
        assert_eq!(b.poll_timeout(), Some(30 * S));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = breaker();
        fail_n(&mut b, 4, 0);
        b.on_success(0);
        fail_n(&mut b, 4, 0);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_allows_exactly_one_probe() {
        let mut b = breaker();
        fail_n(&mut b, 5, 0);
        assert!(b.allow(30 * S));
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_in_flight: true
            }
        );
        assert!(!b.allow(30 * S));
        assert!(!b.allow(40 * S));
    }

    #[test]
    fn failed_probes_double_the_pause_up_to_the_maximum() {
        let mut b = breaker();
        fail_n(&mut b, 5, 0);
        let mut now = 0;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let Some(until) = b.poll_timeout() else {
                panic!("should be open")
            };
            pauses.push((until - now) / S);
            now = until;
            assert!(!b.allow(now - 1));
            assert!(b.allow(now));
            b.on_failure(now);
        }
        assert_eq!(pauses, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }

    #[test]
    fn resumes_by_itself_after_a_successful_probe() {
        let mut b = breaker();
        fail_n(&mut b, 5, 0);
        assert!(b.allow(30 * S));
        b.on_failure(30 * S); // pause now 60 s
        assert!(b.allow(90 * S));
        b.on_success(91 * S);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(91 * S));
        assert!(b.allow(91 * S));
        // The next opening starts from the first pause again.
        fail_n(&mut b, 5, 100 * S);
        assert_eq!(b.poll_timeout(), Some(130 * S));
    }

    #[test]
    fn late_failures_while_open_do_not_extend_the_pause() {
        let mut b = breaker();
        fail_n(&mut b, 5, 0);
        b.on_failure(10 * S);
        assert_eq!(b.poll_timeout(), Some(30 * S));
    }

    #[test]
    fn degenerate_policy_still_works() {
        let mut b = Breaker::new(BreakerPolicy {
            failures_to_open: 0,
            open_for_us: 0,
            max_open_for_us: 0,
        });
        b.on_failure(5);
        assert_eq!(b.state(), BreakerState::Open { until: 6 });
        assert!(b.allow(6));
    }
}
