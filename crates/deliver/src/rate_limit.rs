//! Per-destination rate limits: `rate_limit = "30/min"` on a routing target or a
//! Mist-format webhook.
//!
//! The limit is **smooth**: a destination limited to N per period sends at most one
//! request every period / N (`30/min` is one every 2 s, `5/s` one every 200 ms), never
//! a burst. That is what makes the guarantee hold for *every* window, not only for
//! windows aligned to the clock: any half-open window of one period, wherever it
//! starts, holds at most N sends (N + 1 sends spaced at least period / N apart span at
//! least a whole period). A bucket that let N go at once would put up to 2N - 1 in some
//! window. A destination that was quiet sends its next request at once.
//!
//! The limit counts requests as the lane sends them (one batch is one request; a retry
//! is another request and counts too). What waits for the limit is not an attempt: it
//! is not recorded, not retried and uses no backoff; it is sent when its turn comes.
//!
//! [`Limiter`] is the pure core: time comes in as unix microseconds, it reads no clock.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// The largest count a limit may name (nine digits, so it always fits in a `u32`).
pub const MAX_COUNT: u32 = 999_999_999;

/// The period a [`RateLimit`] counts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Per {
    Second,
    Minute,
    Hour,
}

impl Per {
    /// The period in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            Per::Second => 1_000_000,
            Per::Minute => 60_000_000,
            Per::Hour => 3_600_000_000,
        }
    }

    /// The unit as [`RateLimit`]'s `Display` writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Per::Second => "s",
            Per::Minute => "min",
            Per::Hour => "h",
        }
    }

    fn parse(unit: &str) -> Option<Per> {
        match unit {
            "s" | "sec" | "second" => Some(Per::Second),
            "min" | "minute" => Some(Per::Minute),
            "h" | "hour" => Some(Per::Hour),
            _ => None,
        }
    }
}

/// At most `count` requests per period: written `"<count>/<unit>"`, unit `s`, `min` or
/// `h` (also `sec`, `second`, `minute`, `hour`); shown with the short unit.
///
/// ```
/// use deliver::rate_limit::RateLimit;
/// let limit: RateLimit = "30/minute".parse().unwrap();
/// assert_eq!(limit.to_string(), "30/min");
/// assert_eq!(limit.interval_us(), 2_000_000);
/// assert!("0/s".parse::<RateLimit>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    count: NonZeroU32,
    per: Per,
}

impl RateLimit {
    /// `count` per second (a constant's default; `count` must not be 0).
    pub const fn per_second(count: u32) -> RateLimit {
        match NonZeroU32::new(count) {
            Some(count) => RateLimit {
                count,
                per: Per::Second,
            },
            None => panic!("a rate limit counts at least 1"),
        }
    }

    /// How many requests per period.
    pub fn count(self) -> u32 {
        self.count.get()
    }

    /// The period.
    pub fn per(self) -> Per {
        self.per
    }

    /// The least time between two sends, in µs: the period divided by the count,
    /// rounded up (so N sends never fit in less than a period), at least 1 µs.
    pub fn interval_us(self) -> i64 {
        let count = i64::from(self.count.get());
        ((self.per.micros() + count - 1) / count).max(1)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.as_str())
    }
}

/// Why a rate limit does not parse; the message quotes it and says what is expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limit {given:?}: {why}")]
pub struct ParseError {
    given: String,
    why: &'static str,
}

impl FromStr for RateLimit {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<RateLimit, ParseError> {
        let fail = |why| ParseError {
            given: s.to_string(),
            why,
        };
        let shape = "write it as <count>/<unit> without spaces, e.g. \"30/min\" (units: s, min, h)";
        let (count, unit) = s.split_once('/').ok_or_else(|| fail(shape))?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(shape));
        }
        let per = Per::parse(unit).ok_or_else(|| {
            fail(if unit.is_empty() || unit.contains(char::is_whitespace) {
                shape
            } else {
                "unknown unit; use s, min or h (or sec, second, minute, hour)"
            })
        })?;
        if count.bytes().all(|b| b == b'0') {
            return Err(fail(
                "the count must be at least 1 (leave rate_limit out for no limit)",
            ));
        }
        if count.starts_with('0') {
            return Err(fail("the count has a leading zero"));
        }
        let count = count
            .parse::<u32>()
            .ok()
            .filter(|c| *c <= MAX_COUNT)
            .and_then(NonZeroU32::new)
            .ok_or_else(|| fail("the count is above 999999999"))?;
        Ok(RateLimit { count, per })
    }
}

impl serde::Serialize for RateLimit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RateLimit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The grammar [`RateLimit`]'s `FromStr` accepts, as a pattern for API documents.
pub const PATTERN: &str = "^[1-9][0-9]{0,8}/(s|sec|second|min|minute|h|hour)$";

/// The sending side of one [`RateLimit`]: when the next request may go.
///
/// ```
/// use deliver::rate_limit::{Limiter, RateLimit};
/// let mut limiter = Limiter::new("5/s".parse().unwrap());
/// assert_eq!(limiter.admit(0), Ok(()));
/// assert_eq!(limiter.admit(1), Err(200_000)); // one every 200 ms
/// assert_eq!(limiter.admit(200_000), Ok(()));
/// ```
#[derive(Clone, Debug)]
pub struct Limiter {
    limit: RateLimit,
    /// The last send, unix µs.
    last_us: Option<i64>,
}

impl Limiter {
    /// A limiter that has sent nothing yet.
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            last_us: None,
        }
    }

    /// The limit it keeps.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Keeps a new limit from now on; the last send still counts, so changing the limit
    /// never lets a request go sooner than the new limit allows.
    pub fn set_limit(&mut self, limit: RateLimit) {
        self.limit = limit;
    }

    /// `None` when a request may go at `now`, else the time it may (unix µs). It does not
    /// take the turn: call [`Limiter::sent`] when the request goes.
    pub fn next_send(&mut self, now: i64) -> Option<i64> {
        let last = self.last_us?;
        // A wall clock stepped back: count the last send as made now, so the wait is at
        // most one interval instead of the size of the step.
        let last = if last > now {
            self.last_us = Some(now);
            now
        } else {
            last
        };
        let at = last.saturating_add(self.limit.interval_us());
        (at > now).then_some(at)
    }

    /// Records a request sent at `now`.
    pub fn sent(&mut self, now: i64) {
        self.last_us = Some(now);
    }

    /// Takes the turn if a request may go at `now` (`Ok`), else says when it may.
    pub fn admit(&mut self, now: i64) -> Result<(), i64> {
        match self.next_send(now) {
            Some(at) => Err(at),
            None => {
                self.sent(now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    fn limit(s: &str) -> RateLimit {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_unit_and_shows_the_short_one() {
        for (given, shown, interval) in [
            ("5/s", "5/s", 200_000),
            ("5/sec", "5/s", 200_000),
            ("1/second", "1/s", 1_000_000),
            ("30/min", "30/min", 2_000_000),
            ("30/minute", "30/min", 2_000_000),
            ("3600/h", "3600/h", 1_000_000),
            ("1/hour", "1/h", 3_600_000_000),
            // Rounded up: 7 sends never fit in less than a second.
            ("7/s", "7/s", 142_858),
            ("999999999/s", "999999999/s", 1),
        ] {
            let parsed = limit(given);
            assert_eq!(parsed.to_string(), shown, "{given}");
            assert_eq!(parsed.interval_us(), interval, "{given}");
            assert_eq!(limit(shown), parsed, "Display parses back: {given}");
        }
        assert_eq!(RateLimit::per_second(1), limit("1/s"));
    }

    #[test]
    fn a_bad_limit_says_what_is_expected() {
        for (given, says) in [
            ("30 per min", "write it as <count>/<unit>"),
            ("abc", "write it as <count>/<unit>"),
            ("", "write it as <count>/<unit>"),
            ("/s", "write it as <count>/<unit>"),
            ("30 /min", "without spaces"),
            ("30/ min", "without spaces"),
            (" 30/min", "without spaces"),
            ("-1/s", "write it as <count>/<unit>"),
            ("+1/s", "write it as <count>/<unit>"),
            ("1.5/s", "write it as <count>/<unit>"),
            ("30/day", "unknown unit"),
            ("30/S", "unknown unit"),
            ("30/min/", "unknown unit"),
            ("0/s", "at least 1"),
            ("000/min", "at least 1"),
            ("05/s", "leading zero"),
            ("1000000000/s", "above 999999999"),
            ("99999999999999999999/s", "above 999999999"),
        ] {
            let err = given.parse::<RateLimit>().unwrap_err().to_string();
            assert!(err.starts_with(&format!("rate limit {given:?}: ")), "{err}");
            assert!(err.contains(says), "{given}: {err}");
        }
    }

    #[test]
    fn the_pattern_is_the_grammar() {
        // The API document states the grammar as a pattern: a few strings on each side,
        // and the pattern's pieces spelled out (no regex crate here).
        assert_eq!(
            PATTERN,
            "^[1-9][0-9]{0,8}/(s|sec|second|min|minute|h|hour)$"
        );
        for unit in ["s", "sec", "second", "min", "minute", "h", "hour"] {
            assert!(format!("1/{unit}").parse::<RateLimit>().is_ok());
            assert!(format!("123456789/{unit}").parse::<RateLimit>().is_ok());
        }
    }

    #[test]
    fn serde_reads_and_writes_the_text() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Holder {
            rate_limit: RateLimit,
        }
        let held: Holder = serde_json::from_str(r#"{"rate_limit": "30/minute"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&held).unwrap(),
            r#"{"rate_limit":"30/min"}"#
        );
        let err = serde_json::from_str::<Holder>(r#"{"rate_limit": "0/s"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("rate limit \"0/s\": the count must be at least 1"),
            "{err}"
        );
        assert!(serde_json::from_str::<Holder>(r#"{"rate_limit": 5}"#).is_err());
    }

    #[test]
    fn sends_are_one_interval_apart() {
        let mut limiter = Limiter::new(limit("5/s"));
        assert_eq!(limiter.admit(1_000), Ok(()));
        assert_eq!(limiter.admit(1_000), Err(201_000));
        assert_eq!(limiter.next_send(150_000), Some(201_000));
        assert_eq!(limiter.admit(201_000), Ok(()));
        // Quiet for a while: the next goes at once.
        assert_eq!(limiter.admit(10_000_000), Ok(()));
        // A lower limit applies to the wait after the last send.
        limiter.set_limit(limit("1/s"));
        assert_eq!(limiter.next_send(10_500_000), Some(11_000_000));
    }

    #[test]
    fn a_clock_stepped_back_waits_one_interval_not_the_step() {
        let mut limiter = Limiter::new(limit("1/s"));
        limiter.sent(3_600_000_000);
        assert_eq!(limiter.next_send(1_000_000), Some(2_000_000));
        assert_eq!(limiter.admit(2_000_000), Ok(()));
    }

    /// A lane over a limiter: items arrive at `arrivals` (sorted), wait in a queue, and
    /// go when the limiter admits them. Each wait ends early (the lane woken by something
    /// else) or late (a timer fires after its time), as `wakes` says in turn.
    fn run_lane(limit: RateLimit, arrivals: &[i64], wakes: &[(bool, i64)]) -> Vec<(i64, i64)> {
        let mut limiter = Limiter::new(limit);
        let mut queue = VecDeque::new();
        let mut next_arrival = 0;
        let mut sent = Vec::new();
        let mut now = 0;
        let mut wake = wakes.iter().cycle();
        loop {
            while next_arrival < arrivals.len() && arrivals[next_arrival] <= now {
                queue.push_back(arrivals[next_arrival]);
                next_arrival += 1;
            }
            let Some(&item) = queue.front() else {
                match arrivals.get(next_arrival) {
                    Some(&t) => {
                        now = t;
                        continue;
                    }
                    None => return sent,
                }
            };
            match limiter.admit(now) {
                Ok(()) => {
                    queue.pop_front();
                    sent.push((item, now));
                }
                Err(at) => {
                    assert!(at > now, "a wait is in the future");
                    let &(early, by) = wake.next().unwrap();
                    // Woken early (halfway, by something else) or late (`by` µs).
                    now = if early {
                        now + (at - now + 1) / 2
                    } else {
                        at + by
                    };
                }
            }
        }
    }

    fn limits() -> impl Strategy<Value = RateLimit> {
        (1u32..=20, prop_oneof![Just("s"), Just("min"), Just("h")])
            .prop_map(|(count, unit)| format!("{count}/{unit}").parse().unwrap())
    }

    proptest! {
        /// Over any arrivals: nothing is lost or reordered, every window of one period
        /// (wherever it starts) holds at most the limit, and nothing waits longer than
        /// the limit and the lane's wake-up make it.
        #[test]
        fn no_window_of_one_period_holds_more_than_the_limit(
            limit in limits(),
            mut fractions in proptest::collection::vec(0u32..=1_000_000, 0..150),
            wakes in proptest::collection::vec((any::<bool>(), 0i64..2_000), 1..20),
        ) {
            let period = limit.per().micros();
            // Arrivals over three periods, in µs.
            fractions.sort_unstable();
            let arrivals: Vec<i64> = fractions
                .iter()
                .map(|f| i64::from(*f) * 3 * period / 1_000_000)
                .collect();
            let sent = run_lane(limit, &arrivals, &wakes);
            prop_assert_eq!(
                sent.iter().map(|s| s.0).collect::<Vec<_>>(),
                arrivals.clone()
            );
            let n = limit.count() as usize;
            for (i, (_, at)) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().take_while(|s| s.1 < at + period).count();
                prop_assert!(in_window <= n, "{} sends in [{}, {})", in_window, at, at + period);
            }
            let late = wakes.iter().filter(|w| !w.0).map(|w| w.1).max().unwrap_or(0);
            for k in 0..sent.len() {
                let (arrived, at) = sent[k];
                let ready = match k {
                    0 => arrived,
                    _ => arrived.max(sent[k - 1].1 + limit.interval_us()),
                };
                prop_assert!(at >= arrived && at <= ready + late, "item {k}: ready {ready}, sent {at}");
            }
        }
    }
}
