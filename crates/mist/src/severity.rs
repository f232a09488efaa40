//! Severities as Mist writes them, in any case.
//!
//! Alarms carry `severity` (`critical`, `major`, `minor`, `warn`, `info`), device events carry
//! `ev_type` (`notice`, `warn`), and both have been captured in upper case (`NOTICE`).

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How serious an event is.
///
/// ```
/// use mist::Severity;
/// assert_eq!(Severity::parse("WARNING"), Severity::Warn);
/// assert_eq!(Severity::parse("Notice").as_str(), "notice");
/// assert!(Severity::Critical.rank() > Severity::Warn.rank());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `critical`.
    Critical,
    /// `major`; also what `error` means here.
    Major,
    /// `minor`.
    Minor,
    /// `warn`, also spelled `warning`.
    Warn,
    /// `info`, also spelled `information` or `informational`.
    Info,
    /// `notice`: the usual `ev_type` of device events.
    Notice,
    /// Anything else, lowercased and trimmed.
    Other(String),
}

impl Severity {
    /// Reads a severity in any case. Never fails.
    ///
    /// `error` is not a Mist value, but tools that feed or mimic Mist use it for what Mist
    /// calls `major`, so it maps there.
    pub fn parse(s: &str) -> Severity {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "critical" | "crit" => Severity::Critical,
            "major" | "error" | "err" => Severity::Major,
            "minor" => Severity::Minor,
            "warn" | "warning" => Severity::Warn,
            "info" | "information" | "informational" => Severity::Info,
            "notice" => Severity::Notice,
            _ => Severity::Other(lower),
        }
    }

    /// The lowercase name (`critical`, `major`, `minor`, `warn`, `info`, `notice`, or the
    /// stored name of [`Severity::Other`]).
    pub fn as_str(&self) -> &str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warn => "warn",
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Other(s) => s,
        }
    }

    /// An order for thresholds ("warn or worse"): critical 5, major 4, minor 3, warn 2,
    /// notice 1, info and unknown 0. Notice ranks above info as in syslog.
    pub fn rank(&self) -> u8 {
        match self {
            Severity::Critical => 5,
            Severity::Major => 4,
            Severity::Minor => 3,
            Severity::Warn => 2,
            Severity::Notice => 1,
            Severity::Info | Severity::Other(_) => 0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Severity::parse(s))
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Severity::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mist_spellings_in_any_case() {
        assert_eq!(Severity::parse("critical"), Severity::Critical);
        assert_eq!(Severity::parse("MAJOR"), Severity::Major);
        assert_eq!(Severity::parse("error"), Severity::Major);
        assert_eq!(Severity::parse("minor"), Severity::Minor);
        assert_eq!(Severity::parse("warn"), Severity::Warn);
        assert_eq!(Severity::parse("WARN"), Severity::Warn);
        assert_eq!(Severity::parse("warning"), Severity::Warn);
        assert_eq!(Severity::parse("info"), Severity::Info);
        assert_eq!(Severity::parse("NOTICE"), Severity::Notice);
        assert_eq!(Severity::parse(" notice "), Severity::Notice);
        assert_eq!(Severity::parse("Debug"), Severity::Other("debug".into()));
    }

    #[test]
    fn names_round_trip() {
        for s in [
            Severity::Critical,
            Severity::Major,
            Severity::Minor,
            Severity::Warn,
            Severity::Info,
            Severity::Notice,
            Severity::Other("debug".into()),
        ] {
            assert_eq!(Severity::parse(s.as_str()), s);
            assert_eq!(s.to_string().parse::<Severity>(), Ok(s.clone()));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), s);
        }
    }
}
