//! Event times in whatever form Mist sent them.
//!
//! Mist's schemas say "epoch seconds", but real payloads vary by topic:
//! - most topics send seconds, as an integer (`1749101162`) or a float (`1749998077.6217253`);
//! - `nac-events` and `nac-accounting` send milliseconds (`1749083623737`);
//! - `mxedge-events` has been captured sending seconds as a string (`"1695194041.635342"`);
//! - captured alarms carry `last_seen` as an ISO 8601 string without a zone
//!   (`"2025-06-15T14:25:19"`), which is UTC.
//!
//! [`parse_time_value`] accepts all of these and reduces them to whole microseconds since
//! the Unix epoch.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The form a time value was sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds since the epoch (number or numeric string).
    Seconds,
    /// Milliseconds since the epoch.
    Milliseconds,
    /// Microseconds since the epoch.
    Microseconds,
    /// Nanoseconds since the epoch.
    Nanoseconds,
    /// An ISO 8601 / RFC 3339 date and time string.
    Iso8601,
}

/// An event's own time, with where it came from and what it looked like.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTime {
    /// Microseconds since the Unix epoch, UTC.
    pub unix_micros: i64,
    /// The field the time was read from, e.g. `timestamp` or `alert_events[0].timestamp`.
    pub field: String,
    /// The form the value was sent in.
    pub unit: TimeUnit,
    /// The value exactly as sent.
    pub raw: Value,
}

/// 9999-12-31T23:59:59.999999Z, the last instant `time` can represent by default. Also the
/// upper bound for accepted event times, so converting an accepted time never fails.
const MAX_MICROS: i64 = 253_402_300_799_999_999;
/// -9999-01-01T00:00:00Z, the first instant `time` can represent by default.
const MIN_MICROS: i64 = -377_705_116_800_000_000;

/// Below this many units a number is seconds: 1e11 s is the year 5138, while a time in any
/// finer unit passes 1e11 early in 1973.
const MILLIS_FROM: u128 = 100_000_000_000;
/// From 1e14 on a number is microseconds (1e14 ms would be the year 5138).
const MICROS_FROM: u128 = 100_000_000_000_000;
/// From 1e17 on a number is nanoseconds (1e17 µs would be the year 5138).
const NANOS_FROM: u128 = 100_000_000_000_000_000;

impl EventTime {
    /// Reads `value` as a time (see [`parse_time_value`]), remembering `field` and the raw
    /// value.
    pub fn from_value(field: impl Into<String>, value: &Value) -> Option<EventTime> {
        let (unix_micros, unit) = parse_time_value(value)?;
        Some(EventTime {
            unix_micros,
            field: field.into(),
            unit,
            raw: value.clone(),
        })
    }

    /// This time as an [`OffsetDateTime`] in UTC.
    ///
    /// Times from [`parse_time_value`] always fit; a hand-built `unix_micros` outside
    /// the years -9999..=9999 saturates to the nearest end of that range.
    pub fn to_offset_date_time(&self) -> OffsetDateTime {
        let micros = self.unix_micros.clamp(MIN_MICROS, MAX_MICROS);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Reads one JSON value as an epoch time, returning microseconds and the unit it was in.
///
/// - Numbers and numeric strings: the unit is chosen by magnitude: at least 1e17 is
///   nanoseconds, at least 1e14 microseconds, at least 1e11 milliseconds, anything smaller
///   seconds. Fractions are rounded to the nearest microsecond (halves up), working on the
///   decimal digits so that `1749998077.6217253` gives `…077_621_725` exactly.
/// - Strings that are not numbers: RFC 3339 (`2025-06-05T01:31:18.775967996Z`,
///   `2025-06-05T03:31:18+02:00`) or a date and time without zone, taken as UTC
///   (`2025-06-15T14:25:19`, also with a space instead of `T`).
///
/// Returns `None` for everything else, and for zero, negative and non-finite values, times
/// after the year 9999 and empty strings: Mist uses 0 for "unset" in its examples, and no
/// real event happened at or before the epoch.
///
/// ```
/// use mist::{parse_time_value, TimeUnit};
/// use serde_json::json;
/// assert_eq!(parse_time_value(&json!(1749998077.6217253)), Some((1_749_998_077_621_725, TimeUnit::Seconds)));
/// assert_eq!(parse_time_value(&json!(1749083623737_u64)), Some((1_749_083_623_737_000, TimeUnit::Milliseconds)));
/// assert_eq!(parse_time_value(&json!("1695194041.635342")), Some((1_695_194_041_635_342, TimeUnit::Seconds)));
/// assert_eq!(parse_time_value(&json!("2025-06-15T14:25:19")), Some((1_749_997_519_000_000, TimeUnit::Iso8601)));
/// assert_eq!(parse_time_value(&json!(0)), None);
/// ```
pub fn parse_time_value(v: &Value) -> Option<(i64, TimeUnit)> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                integer_to_micros(u128::from(u))
            } else if n.as_i64().is_some() {
                None
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() || f <= 0.0 {
                    return None;
                }
                // Rust prints the shortest decimal that reads back as the same f64, which is
                // the decimal Mist wrote; rounding those digits avoids binary float error.
                decimal_to_micros(&f.to_string())
            }
        }
        Value::String(s) => parse_time_str(s),
        _ => None,
    }
}

fn parse_time_str(s: &str) -> Option<(i64, TimeUnit)> {
    let s = s.trim();
    let first = *s.as_bytes().first()?;
    let looks_numeric = first.is_ascii_digit() || first == b'+' || first == b'.';
    if looks_numeric
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'+')
    {
        return decimal_to_micros(s);
    }
    if looks_numeric && s.contains(['e', 'E']) {
        let f: f64 = s.parse().ok()?;
        if !f.is_finite() || f <= 0.0 {
            return None;
        }
        return decimal_to_micros(&f.to_string());
    }
    iso_to_micros(s)
}

fn unit_for(integer_part: u128) -> (TimeUnit, i32) {
    if integer_part >= NANOS_FROM {
        (TimeUnit::Nanoseconds, -3)
    } else if integer_part >= MICROS_FROM {
        (TimeUnit::Microseconds, 0)
    } else if integer_part >= MILLIS_FROM {
        (TimeUnit::Milliseconds, 3)
    } else {
        (TimeUnit::Seconds, 6)
    }
}

fn accept(micros: u128, unit: TimeUnit) -> Option<(i64, TimeUnit)> {
    let micros = i64::try_from(micros).ok()?;
    (micros > 0 && micros <= MAX_MICROS).then_some((micros, unit))
}

fn integer_to_micros(value: u128) -> Option<(i64, TimeUnit)> {
    let (unit, shift) = unit_for(value);
    let micros = match shift {
        -3 => (value + 500) / 1000,
        0 => value,
        3 => value.checked_mul(1_000)?,
        _ => value.checked_mul(1_000_000)?,
    };
    accept(micros, unit)
}

/// Converts a plain decimal (`[+]digits[.digits]`) by moving the decimal point, so that the
/// rounding to microseconds is exact.
fn decimal_to_micros(s: &str) -> Option<(i64, TimeUnit)> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int_part, frac_part) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() && frac_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return None;
    }
    let int_part = int_part.trim_start_matches('0');
    // Anything with more integer digits than the largest nanosecond time is out of range.
    if int_part.len() > 21 {
        return None;
    }
    let integer: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let (unit, shift) = unit_for(integer);

    // The microsecond count is the digits up to the point moved `shift` places right,
    // rounded by the first digit after it.
    let digits = int_part.bytes().chain(frac_part.bytes());
    let point = int_part.len() as i64 + i64::from(shift);
    let mut micros: u128 = 0;
    let mut round_up = false;
    for (i, d) in digits.enumerate().take(usize::try_from(point).ok()? + 1) {
        if i as i64 == point {
            round_up = d >= b'5';
        } else {
            micros = micros * 10 + u128::from(d - b'0');
        }
    }
    let taken = (int_part.len() + frac_part.len()) as i64;
    for _ in taken..point {
        micros = micros.checked_mul(10)?;
    }
    accept(micros + u128::from(round_up), unit)
}

fn iso_to_micros(s: &str) -> Option<(i64, TimeUnit)> {
    // RFC 3339 allows a space between date and time; `time` wants the `T`.
    let owned;
    let s = if s.len() > 10 && s.as_bytes()[10] == b' ' && s.is_char_boundary(11) {
        owned = format!("{}T{}", &s[..10], &s[11..]);
        owned.as_str()
    } else {
        s
    };
    let instant = OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        let zoneless = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        PrimitiveDateTime::parse(s, zoneless)
            .ok()
            .map(PrimitiveDateTime::assume_utc)
    })?;
    let nanos = instant.unix_timestamp_nanos();
    if nanos <= 0 {
        return None;
    }
    accept(((nanos + 500) / 1000) as u128, TimeUnit::Iso8601)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::arb_json;
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    fn micros(v: Value) -> Option<(i64, TimeUnit)> {
        parse_time_value(&v)
    }

    #[test]
    fn float_seconds_round_to_whole_microseconds() {
        assert_eq!(
            micros(json!(1749998077.6217253)),
            Some((1_749_998_077_621_725, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(1749826902.034243)),
            Some((1_749_826_902_034_243, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(1695172665.082)),
            Some((1_695_172_665_082_000, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!("1695194041.6353425")),
            Some((1_695_194_041_635_343, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!("1695194041.6353424999")),
            Some((1_695_194_041_635_342, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(1.0000005)),
            Some((1_000_001, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(1461220784.0)),
            Some((1_461_220_784_000_000, TimeUnit::Seconds))
        );
    }

    #[test]
    fn integers_pick_their_unit_by_magnitude() {
        assert_eq!(
            micros(json!(1661300746)),
            Some((1_661_300_746_000_000, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(1749083623737_u64)),
            Some((1_749_083_623_737_000, TimeUnit::Milliseconds))
        );
        assert_eq!(
            micros(json!(1749083623737123_u64)),
            Some((1_749_083_623_737_123, TimeUnit::Microseconds))
        );
        assert_eq!(
            micros(json!(1749083623737123456_u64)),
            Some((1_749_083_623_737_123, TimeUnit::Nanoseconds))
        );
        assert_eq!(
            micros(json!(1749083623737123500_u64)),
            Some((1_749_083_623_737_124, TimeUnit::Nanoseconds))
        );
        assert_eq!(
            micros(json!(99_999_999_999_u64)).map(|t| t.1),
            Some(TimeUnit::Seconds)
        );
        assert_eq!(
            micros(json!(100_000_000_000_u64)).map(|t| t.1),
            Some(TimeUnit::Milliseconds)
        );
        assert_eq!(
            micros(json!(1.7490836237371235e18)).map(|t| t.1),
            Some(TimeUnit::Nanoseconds)
        );
        assert_eq!(
            micros(json!(u64::MAX)),
            Some((18_446_744_073_709_552, TimeUnit::Nanoseconds))
        );
        assert_eq!(
            micros(json!(1547235620.89)),
            Some((1_547_235_620_890_000, TimeUnit::Seconds))
        );
    }

    #[test]
    fn numeric_strings_are_numbers() {
        assert_eq!(
            micros(json!("1695194041.635342")),
            Some((1_695_194_041_635_342, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!(" 1749083623737 ")),
            Some((1_749_083_623_737_000, TimeUnit::Milliseconds))
        );
        assert_eq!(
            micros(json!("+1695194041")),
            Some((1_695_194_041_000_000, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!("1.695194041e9")),
            Some((1_695_194_041_000_000, TimeUnit::Seconds))
        );
        assert_eq!(
            micros(json!("0001695194041")),
            Some((1_695_194_041_000_000, TimeUnit::Seconds))
        );
    }

    #[test]
    fn iso_strings_with_and_without_zone() {
        let utc = |m: Option<(i64, TimeUnit)>| {
            m.map(|(m, _)| {
                EventTime {
                    unix_micros: m,
                    field: String::new(),
                    unit: TimeUnit::Iso8601,
                    raw: Value::Null,
                }
                .to_offset_date_time()
            })
        };
        assert_eq!(
            utc(micros(json!("2025-06-15T14:25:19"))),
            Some(datetime!(2025-06-15 14:25:19 UTC))
        );
        assert_eq!(
            utc(micros(json!("2025-06-15 14:25:19"))),
            Some(datetime!(2025-06-15 14:25:19 UTC))
        );
        assert_eq!(
            utc(micros(json!("2025-06-15T14:25:19.5"))),
            Some(datetime!(2025-06-15 14:25:19.5 UTC))
        );
        assert_eq!(
            utc(micros(json!("2025-06-05T01:31:18.775967996Z"))),
            Some(datetime!(2025-06-05 01:31:18.775968 UTC))
        );
        assert_eq!(
            utc(micros(json!("2025-06-05T03:31:18+02:00"))),
            Some(datetime!(2025-06-05 01:31:18 UTC))
        );
        assert_eq!(
            micros(json!("2025-06-15T14:25:19")).map(|t| t.1),
            Some(TimeUnit::Iso8601)
        );
    }

    #[test]
    fn junk_is_none() {
        for v in [
            json!(null),
            json!(true),
            json!("true"),
            json!(""),
            json!("  "),
            json!("abc"),
            json!("."),
            json!("+"),
            json!("1.2.3"),
            json!("-5"),
            json!("2025-13-45T99:00:00"),
            json!({}),
            json!([1749101162]),
            json!(0),
            json!(0.0),
            json!(-1),
            json!(-1749101162.5),
            json!(1e300),
            json!("1e400"),
            json!("99999999999999999999999999999"),
            json!("1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(micros(v.clone()), None, "{v}");
        }
    }

    #[test]
    fn event_time_keeps_field_and_raw_value() {
        let t = EventTime::from_value("timestamp", &json!(1749083623737_u64)).unwrap();
        assert_eq!(t.field, "timestamp");
        assert_eq!(t.raw, json!(1749083623737_u64));
        assert_eq!(
            t.to_offset_date_time(),
            datetime!(2025-06-05 00:33:43.737 UTC)
        );
        let far = EventTime {
            unix_micros: i64::MAX,
            ..t.clone()
        };
        assert_eq!(far.to_offset_date_time().year(), 9999);
        let early = EventTime {
            unix_micros: i64::MIN,
            ..t
        };
        assert_eq!(early.to_offset_date_time().year(), -9999);
    }

    proptest! {
        #[test]
        fn never_panics(v in arb_json()) {
            if let Some(t) = EventTime::from_value("x", &v) {
                prop_assert!(t.unix_micros > 0);
                let _ = t.to_offset_date_time();
            }
        }

        #[test]
        fn never_panics_on_strings(s in "\\PC{0,40}") {
            let _ = parse_time_value(&Value::String(s));
        }

        /// Mirrors the `normalize` fuzz target: a number reads as its own text does, spaces
        /// around a string do not matter, and nothing later than the year 9999 is accepted.
        #[test]
        fn numbers_read_as_their_text(v in arb_json()) {
            let parsed = parse_time_value(&v);
            if let Some((micros, _)) = parsed {
                prop_assert!(micros > 0 && micros <= MAX_MICROS);
            }
            match &v {
                Value::Number(n) => {
                    prop_assert_eq!(parse_time_value(&Value::String(n.to_string())), parsed);
                }
                Value::String(s) => {
                    prop_assert_eq!(parse_time_value(&Value::String(format!(" {s} "))), parsed);
                }
                _ => {}
            }
        }

        #[test]
        fn whole_seconds_are_exact(s in 1u64..100_000_000_000) {
            prop_assert_eq!(parse_time_value(&json!(s)), Some((s as i64 * 1_000_000, TimeUnit::Seconds)));
            prop_assert_eq!(parse_time_value(&json!(s.to_string())), Some((s as i64 * 1_000_000, TimeUnit::Seconds)));
        }

        #[test]
        fn float_seconds_match_their_decimal(s in 1u64..10_000_000_000, frac in 0u32..1_000_000) {
            let text = format!("{s}.{frac:06}");
            let expected = s as i64 * 1_000_000 + i64::from(frac);
            prop_assert_eq!(parse_time_value(&json!(text)), Some((expected, TimeUnit::Seconds)));
        }
    }
}
