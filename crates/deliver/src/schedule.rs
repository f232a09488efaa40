//! The retry schedule: what an attempt's outcome means and when to try again.
//!
//! [`next_attempt`] is a pure function of the policy, the attempt count, the outcome, the
//! time of the first attempt, the current time and a jitter value the caller draws, so a
//! 24-hour retry sequence is tested in microseconds with a fake clock.
//!
//! Delays use exponential backoff with full jitter: attempt `n` waits a uniformly drawn time
//! up to the `n`th base delay, so receivers coming back from an outage are not hit by every
//! sender at the same instant.

use std::time::UNIX_EPOCH;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// How deliveries are retried. All times are in microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Base delay after the 1st, 2nd, … failed attempt; the last entry repeats.
    ///
    /// The delay actually used for attempt `n` is the largest of the first `n` entries, so
    /// the schedule never shrinks even if the list is not sorted.
    pub delays_us: Vec<i64>,
    /// No retry is scheduled later than this long after the first attempt; a batch that
    /// would need one goes to the dead letter state instead.
    pub max_age_us: i64,
    /// The shortest wait a jittered delay may have. Full jitter can draw values near zero,
    /// which would turn a failure into an immediate retry storm; this floor keeps a pause.
    pub min_delay_us: i64,
    /// `Retry-After` values below this are raised to it.
    pub retry_after_min_us: i64,
    /// `Retry-After` values above this are lowered to it, so a receiver cannot park a
    /// batch for days.
    pub retry_after_max_us: i64,
}

impl Default for RetryPolicy {
    /// About 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then hourly, for at most 24 h;
    /// at least 1 s between attempts; `Retry-After` honoured between 1 s and 1 h.
    fn default() -> Self {
        RetryPolicy {
            delays_us: vec![
                5 * SECOND,
                30 * SECOND,
                2 * MINUTE,
                10 * MINUTE,
                30 * MINUTE,
                HOUR,
            ],
            max_age_us: 24 * HOUR,
            min_delay_us: SECOND,
            retry_after_min_us: SECOND,
            retry_after_max_us: HOUR,
        }
    }
}

impl RetryPolicy {
    /// The base (un-jittered) delay after `attempt` attempts; `attempt` 0 is treated as 1.
    ///
    /// Non-decreasing in `attempt`, at least 1 µs, and never more than the largest entry of
    /// [`delays_us`](Self::delays_us) (or [`min_delay_us`](Self::min_delay_us) if that is larger).
    ///
    /// ```
    /// let policy = deliver::RetryPolicy::default();
    /// assert_eq!(policy.base_delay(1), 5_000_000);
    /// assert_eq!(policy.base_delay(6), 3_600_000_000);
    /// assert_eq!(policy.base_delay(60), 3_600_000_000);
    /// ```
    pub fn base_delay(&self, attempt: u32) -> i64 {
        let last = (attempt.max(1) as usize).min(self.delays_us.len());
        let largest = self.delays_us[..last].iter().copied().max().unwrap_or(0);
        largest.max(self.min_delay_us).max(1)
    }

    /// `retry_after_us` forced into the policy's bounds.
    pub fn clamp_retry_after(&self, retry_after_us: i64) -> i64 {
        let low = self.retry_after_min_us.max(0);
        retry_after_us
            .max(low)
            .min(self.retry_after_max_us.max(low))
    }
}

/// What happened to one delivery attempt, as the IO shell observed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx response (kept separate from `Status` for callers that only know "it worked").
    Success,
    /// The receiver answered with an HTTP status.
    Status {
        /// The status code.
        code: u16,
        /// The `Retry-After` header as a delay from now, if present and parseable
        /// (see [`parse_retry_after`]).
        retry_after_us: Option<i64>,
    },
    /// No response within the request timeout.
    Timeout,
    /// The TCP or TLS connection could not be established or broke.
    Connect,
    /// The target host name did not resolve.
    Dns,
    /// Any other transport failure, described for the logs.
    Other(String),
    /// The target may not be reached at all (the SSRF guard refused its address): retrying
    /// cannot help until the subscription or the settings change.
    Refused(String),
}

/// The meaning of an [`Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Delivered.
    Success,
    /// Transient: try again later.
    Retry,
    /// Permanent: retrying would not help.
    Fail,
}

/// Classifies an attempt's outcome.
///
/// - 2xx: success.
/// - 408, 429 and 5xx, timeouts, connection and DNS errors, and [`Outcome::Other`]
///   transport errors: retried (the receiver or the path to it may recover).
/// - Other 4xx: fail at once; the receiver rejected this request and will again.
/// - 1xx and 3xx: fail. Redirects are not followed: a Mist receiver answers at the
///   configured URL, and following a `Location` could lead past the SSRF guard to an
///   address that was never checked. A moved receiver needs its subscription updated.
/// - Codes outside 100–599 are not HTTP and fail.
///
/// ```
/// use deliver::schedule::{classify, Class, Outcome};
/// assert_eq!(classify(&Outcome::Status { code: 503, retry_after_us: None }), Class::Retry);
/// assert_eq!(classify(&Outcome::Status { code: 404, retry_after_us: None }), Class::Fail);
/// ```
pub fn classify(outcome: &Outcome) -> Class {
    match outcome {
        Outcome::Success => Class::Success,
        Outcome::Status { code, .. } => match code {
            200..=299 => Class::Success,
            408 | 429 | 500..=599 => Class::Retry,
            _ => Class::Fail,
        },
        Outcome::Timeout | Outcome::Connect | Outcome::Dns | Outcome::Other(_) => Class::Retry,
        Outcome::Refused(_) => Class::Fail,
    }
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Delivered; nothing more to do.
    Done,
    /// Try again at this time (unix microseconds).
    RetryAt(i64),
    /// Give up and keep the batch in the dead letter state.
    DeadLetter(DeadReason),
}

/// Why a batch went to the dead letter state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeadReason {
    /// The outcome was permanent (see [`classify`]).
    Rejected(Outcome),
    /// The next retry would fall after the maximum age.
    Expired {
        /// Attempts made in all.
        attempts: u32,
        /// The outcome of the last attempt.
        last: Outcome,
    },
}

/// Decides what follows an attempt.
///
/// `attempt` counts the attempts made so far, including the one whose `outcome` this is
/// (so it is at least 1; 0 is treated as 1). `jitter` is a uniform draw from `[0, 1)`
/// supplied by the caller; values outside are clamped and NaN counts as 0.
///
/// For a retryable outcome the delay is drawn uniformly from
/// `[min_delay_us, base_delay(attempt))` (full jitter above a floor). A `Retry-After`,
/// clamped to the policy's bounds, replaces that delay when it is longer. The retry is
/// always strictly after `now`; if it would fall after `first_attempt_at + max_age_us`
/// the batch is dead-lettered instead.
///
/// ```
/// use deliver::schedule::{next_attempt, Decision, Outcome, RetryPolicy};
/// let policy = RetryPolicy::default();
/// let busy = Outcome::Status { code: 429, retry_after_us: Some(120_000_000) };
/// assert_eq!(next_attempt(&policy, 1, &busy, 0, 0, 0.5), Decision::RetryAt(120_000_000));
/// ```
pub fn next_attempt(
    policy: &RetryPolicy,
    attempt: u32,
    outcome: &Outcome,
    first_attempt_at: i64,
    now: i64,
    jitter: f64,
) -> Decision {
    match classify(outcome) {
        Class::Success => Decision::Done,
        Class::Fail => Decision::DeadLetter(DeadReason::Rejected(outcome.clone())),
        Class::Retry => {
            let base = policy.base_delay(attempt);
            let floor = policy.min_delay_us.clamp(1, base);
            let jitter = if jitter.is_nan() {
                0.0
            } else {
                jitter.clamp(0.0, 1.0)
            };
            // `as` saturates for floats, and the product is below `base - floor`.
            let spread = ((base - floor) as f64 * jitter) as i64;
            let mut delay = floor.saturating_add(spread.min(base - floor));
            if let Outcome::Status {
                retry_after_us: Some(after),
                ..
            } = outcome
            {
                delay = delay.max(policy.clamp_retry_after(*after));
            }
            let at = now.saturating_add(delay.max(1));
            let deadline = first_attempt_at.saturating_add(policy.max_age_us);
            if at > deadline {
                Decision::DeadLetter(DeadReason::Expired {
                    attempts: attempt.max(1),
                    last: outcome.clone(),
                })
            } else {
                Decision::RetryAt(at)
            }
        }
    }
}

/// Parses a `Retry-After` header value into a delay from `now`, in microseconds.
///
/// Accepts both RFC 9110 forms: delay-seconds (`120`) and an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850 and asctime forms recipients
/// must accept). A date in the past gives 0. Anything else gives `None`. Bounds are the
/// policy's business ([`RetryPolicy::clamp_retry_after`]), not this function's.
///
/// ```
/// use deliver::schedule::parse_retry_after;
/// assert_eq!(parse_retry_after("120", 0), Some(120_000_000));
/// assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 0), Some(60_000_000));
/// assert_eq!(parse_retry_after("soon", 0), None);
/// ```
pub fn parse_retry_after(value: &str, now: i64) -> Option<i64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        return Some(seconds.saturating_mul(SECOND));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let since_epoch = date.duration_since(UNIX_EPOCH).ok()?;
    let at = i64::try_from(since_epoch.as_micros()).ok()?;
    Some(at.saturating_sub(now).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            code,
            retry_after_us: None,
        }
    }

    #[test]
    fn classification_table() {
        let table = [
            (Outcome::Success, Class::Success),
            (status(200), Class::Success),
            (status(204), Class::Success),
            (status(299), Class::Success),
            (status(100), Class::Fail),
            (status(301), Class::Fail),
            (status(307), Class::Fail),
            (status(400), Class::Fail),
            (status(401), Class::Fail),
            (status(404), Class::Fail),
            (status(408), Class::Retry),
            (status(413), Class::Fail),
            (status(429), Class::Retry),
            (status(500), Class::Retry),
            (status(503), Class::Retry),
            (status(599), Class::Retry),
            (status(600), Class::Fail),
            (status(0), Class::Fail),
            (Outcome::Timeout, Class::Retry),
            (Outcome::Connect, Class::Retry),
            (Outcome::Dns, Class::Retry),
            (Outcome::Other("tls alert".into()), Class::Retry),
        ];
        for (outcome, class) in table {
            assert_eq!(classify(&outcome), class, "{outcome:?}");
        }
    }

    #[test]
    fn success_is_done_and_4xx_dead_letters_at_once() {
        let p = RetryPolicy::default();
        assert_eq!(next_attempt(&p, 1, &status(202), 0, 0, 0.3), Decision::Done);
        assert_eq!(
            next_attempt(&p, 1, &status(410), 0, 0, 0.3),
            Decision::DeadLetter(DeadReason::Rejected(status(410)))
        );
    }

    #[test]
    fn jitter_spans_floor_to_base() {
        let p = RetryPolicy::default();
        let at = |attempt, jitter| next_attempt(&p, attempt, &Outcome::Timeout, 0, 0, jitter);
        assert_eq!(at(1, 0.0), Decision::RetryAt(SECOND));
        assert_eq!(at(1, 0.5), Decision::RetryAt(3 * SECOND));
        assert_eq!(at(2, 0.0), Decision::RetryAt(SECOND));
        assert_eq!(at(6, 0.5), Decision::RetryAt(SECOND + (HOUR - SECOND) / 2));
        // Out-of-range draws are clamped rather than trusted.
        assert_eq!(at(1, f64::NAN), Decision::RetryAt(SECOND));
        assert_eq!(at(1, -3.0), Decision::RetryAt(SECOND));
        assert_eq!(at(1, 7.0), Decision::RetryAt(5 * SECOND));
    }

    #[test]
    fn a_full_day_of_failures_ends_in_the_dead_letter_state() {
        // Fake clock: always retry at the drawn time with the largest jitter.
        let p = RetryPolicy::default();
        let (first, mut now, mut attempt) = (1_000 * SECOND, 1_000 * SECOND, 1);
        loop {
            match next_attempt(&p, attempt, &status(503), first, now, 0.999_999) {
                Decision::RetryAt(at) => {
                    assert!(at > now);
                    now = at;
                    attempt += 1;
                }
                Decision::DeadLetter(DeadReason::Expired { attempts, .. }) => {
                    assert_eq!(attempts, attempt);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(now <= first + p.max_age_us);
        assert!(now > first + p.max_age_us - HOUR);
        // 5 s + 30 s + 2 min + 10 min + 30 min (~43 min), then hourly: 6 + 22 retries.
        assert_eq!(attempt, 29);
    }

    #[test]
    fn retry_after_overrides_a_shorter_delay_and_is_clamped() {
        let p = RetryPolicy::default();
        let with = |after| Outcome::Status {
            code: 503,
            retry_after_us: Some(after),
        };
        assert_eq!(
            next_attempt(&p, 1, &with(60 * SECOND), 0, 0, 0.0),
            Decision::RetryAt(60 * SECOND)
        );
        // Shorter than the jittered delay: the jittered delay stands.
        assert_eq!(
            next_attempt(&p, 6, &with(0), 0, 0, 0.5),
            Decision::RetryAt(SECOND + (HOUR - SECOND) / 2)
        );
        // Longer than the bound: clamped to 1 h.
        assert_eq!(
            next_attempt(&p, 1, &with(9 * HOUR), 0, 0, 0.0),
            Decision::RetryAt(HOUR)
        );
        // A Retry-After on a permanent failure changes nothing.
        let gone = Outcome::Status {
            code: 404,
            retry_after_us: Some(SECOND),
        };
        assert!(matches!(
            next_attempt(&p, 1, &gone, 0, 0, 0.0),
            Decision::DeadLetter(_)
        ));
    }

    #[test]
    fn retry_after_values_parse() {
        let now = 784_111_777 * SECOND;
        assert_eq!(parse_retry_after(" 5 ", now), Some(5 * SECOND));
        assert_eq!(parse_retry_after("0", now), Some(0));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(i64::MAX)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(60 * SECOND)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(60 * SECOND)
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:50:37 1994", now),
            Some(60 * SECOND)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(0)
        );
        for bad in ["", "-5", "1.5", "in a minute", "Sun, 06 Nov 1994"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    fn retryable() -> impl Strategy<Value = Outcome> {
        let after = proptest::option::of(-HOUR..100 * HOUR);
        prop_oneof![
            Just(Outcome::Timeout),
            Just(Outcome::Connect),
            Just(Outcome::Dns),
            (prop_oneof![Just(408u16), Just(429), 500u16..600], after).prop_map(
                |(code, retry_after_us)| Outcome::Status {
                    code,
                    retry_after_us
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn retries_are_after_now_and_within_max_age(
            attempt in 0u32..100,
            outcome in retryable(),
            first in 0i64..1_000 * HOUR,
            elapsed in 0i64..30 * HOUR,
            jitter in 0.0f64..1.0,
        ) {
            let p = RetryPolicy::default();
            let now = first + elapsed;
            match next_attempt(&p, attempt, &outcome, first, now, jitter) {
                Decision::RetryAt(at) => {
                    prop_assert!(at > now);
                    prop_assert!(at <= first + p.max_age_us);
                }
                Decision::DeadLetter(DeadReason::Expired { .. }) => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn retry_after_is_never_undercut(
            attempt in 1u32..20,
            after in -HOUR..100 * HOUR,
            jitter in 0.0f64..1.0,
        ) {
            let p = RetryPolicy::default();
            let outcome = Outcome::Status { code: 503, retry_after_us: Some(after) };
            if let Decision::RetryAt(at) = next_attempt(&p, attempt, &outcome, 0, 0, jitter) {
                prop_assert!(at >= p.clamp_retry_after(after));
            }
        }

        #[test]
        fn base_delays_are_monotone_and_bounded(
            delays in proptest::collection::vec(0i64..10 * HOUR, 0..10),
            attempt in 0u32..50,
        ) {
            let p = RetryPolicy { delays_us: delays.clone(), ..RetryPolicy::default() };
            let bound = delays.iter().copied().max().unwrap_or(0).max(p.min_delay_us);
            prop_assert!(p.base_delay(attempt) <= p.base_delay(attempt + 1));
            prop_assert!(p.base_delay(attempt + 1) <= bound);
            prop_assert!(p.base_delay(attempt) >= 1);
            let d = RetryPolicy::default();
            prop_assert!(d.base_delay(attempt) <= d.base_delay(attempt + 1));
            prop_assert!(d.base_delay(attempt) <= HOUR);
        }
    }
}
