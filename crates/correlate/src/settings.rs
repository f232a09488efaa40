//! The knobs of the correlation rules.

use serde::{Deserialize, Serialize};

use crate::error::CorrelateError;

/// One minute in microseconds.
const MINUTE_US: i64 = 60 * 1_000_000;
/// One hour in microseconds.
const HOUR_US: i64 = 60 * MINUTE_US;

/// How device-down incidents are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// One incident per device (the default): two APs named in one `device_down` alarm give
    /// two incidents, each resolved by its own AP's reconnect.
    #[default]
    PerDevice,
    /// One incident per down alarm (Mist's alarm `id`): every device the alarm names joins
    /// it, and it resolves when the last of them is back. Events that are not alarms
    /// (`device-updowns`, `device-events`) name one device, so they give one incident each.
    PerAlarm,
}

/// Settings of the correlator. Every field has a default, so a partial TOML or JSON table
/// deserialises.
///
/// ```
/// let settings: correlate::Settings =
///     serde_json::from_str(r#"{"flap_hold_down_us": 120000000}"#).unwrap();
/// assert_eq!(settings.flap_hold_down_us, 120_000_000);
/// assert_eq!(settings.security_quiet_us, 24 * 3600 * 1_000_000);
/// assert_eq!(settings.grouping, correlate::Grouping::PerDevice);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// How device-down incidents are grouped.
    pub grouping: Grouping,
    /// A device that goes down and comes back within this many microseconds (event time)
    /// has flapped: the flap is counted on the device and no incident opens. With 0 (the
    /// default) every down opens an incident at once.
    pub flap_hold_down_us: i64,
    /// A security incident resolves after this long without a new alarm of its type at its
    /// site. Default 24 h: Mist repeats rogue-AP alarms only every 10 h, so a shorter quiet
    /// period would close and reopen an ongoing attack.
    pub security_quiet_us: i64,
    /// A security incident never lives longer than this, however often alarms keep coming;
    /// the next alarm then opens a new incident. Default 7 days.
    pub security_max_lifetime_us: i64,
    /// An AP-down incident that starts this long or less after a gateway or switch of the
    /// same site went down (and while it is still down) is linked to it and suppressed.
    /// Default 10 minutes; 0 or less turns inhibition off.
    pub inhibition_window_us: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            grouping: Grouping::PerDevice,
            flap_hold_down_us: 0,
            security_quiet_us: 24 * HOUR_US,
            security_max_lifetime_us: 7 * 24 * HOUR_US,
            inhibition_window_us: 10 * MINUTE_US,
        }
    }
}

impl Settings {
    /// Checks that durations make sense: none negative, and the security quiet period and
    /// maximum lifetime positive (a zero would resolve every incident the moment it opens).
    pub fn validate(&self) -> Result<(), CorrelateError> {
        let non_negative = [
            ("flap_hold_down_us", self.flap_hold_down_us),
            ("inhibition_window_us", self.inhibition_window_us),
        ];
        for (name, value) in non_negative {
            if value < 0 {
                return Err(CorrelateError::InvalidSetting {
                    name,
                    reason: format!("{value} is negative"),
                });
            }
        }
        let positive = [
            ("security_quiet_us", self.security_quiet_us),
            ("security_max_lifetime_us", self.security_max_lifetime_us),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(CorrelateError::InvalidSetting {
                    name,
                    reason: format!("{value} is not positive"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = Settings::default();
        assert_eq!(settings.flap_hold_down_us, 0);
        assert_eq!(settings.security_quiet_us, 86_400_000_000);
        assert_eq!(settings.security_max_lifetime_us, 604_800_000_000);
        assert_eq!(settings.inhibition_window_us, 600_000_000);
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn grouping_is_snake_case() {
        let settings: Settings = serde_json::from_str(r#"{"grouping": "per_alarm"}"#).unwrap();
        assert_eq!(settings.grouping, Grouping::PerAlarm);
    }

    #[test]
    fn rejects_negative_and_zero_durations() {
        let settings = Settings {
            flap_hold_down_us: -1,
            ..Settings::default()
        };
        assert!(matches!(
            settings.validate(),
            Err(CorrelateError::InvalidSetting {
                name: "flap_hold_down_us",
                ..
            })
        ));
        let settings = Settings {
            security_quiet_us: 0,
            ..Settings::default()
        };
        assert!(settings.validate().is_err());
    }
}
