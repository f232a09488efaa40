//! Scenarios: timelines of happenings, read from TOML files (`scenarios/*.toml`).
//!
//! A scenario says what happens in the network and when (`at`, from the scenario's
//! start); [`expand`](Scenario::expand) turns each happening into the webhook events a
//! real Mist org sends for it, in the order and with the delays Mist has. Devices,
//! clients, assets and zones are named by their place in the simulated org
//! (`site0.switch0`, `site1.ap*`, `site0.map0.zone1`), so one scenario runs on an org of
//! any size that has them.
//!
//! ```toml
//! name = "flapping-ap"
//! description = "An AP loses and regains its cloud connection every 40 s."
//!
//! [[steps]]
//! at = "0s"
//! do = "down"
//! devices = ["site0.ap1"]
//!
//! [[steps]]
//! at = "40s"
//! do = "up"
//! devices = ["site0.ap1"]
//! ```

mod expand;
mod select;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub use select::Selector;

use crate::org::OrgSpec;

/// A scenario: a name, what it shows, and its steps.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name (`site-power-outage`).
    pub name: String,
    /// What happens, for people.
    #[serde(default)]
    pub description: String,
    /// The steps, in any order (they are sorted by `at`).
    pub steps: Vec<Step>,
}

/// One happening at one time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Step {
    /// When, from the start of the scenario (`"90s"`, `"5m"`), before time compression.
    #[serde(with = "humantime_serde_compat")]
    pub at: Duration,
    /// What happens.
    #[serde(flatten)]
    pub what: Happening,
    /// A remark for people reading the file.
    #[serde(default)]
    pub note: Option<String>,
}

/// Something that happens in the network.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Happening {
    /// The devices lose their connection to the Mist cloud (power, uplink, crash).
    Down {
        /// Which devices.
        devices: Vec<Selector>,
    },
    /// The devices are connected again; `restarted` gives the reboot's reason when they
    /// rebooted meanwhile (`power_cycle`).
    Up {
        /// Which devices.
        devices: Vec<Selector>,
        /// The restart reason, when they rebooted.
        #[serde(default)]
        restarted: Option<String>,
    },
    /// A rogue AP broadcasting `ssid` is heard by the listed APs, each reporting it.
    RogueAp {
        /// The APs that hear it.
        seen_by: Vec<Selector>,
        /// Its SSID.
        ssid: String,
    },
    /// Marvis raises (`state = "open"`) or validates the fix of (`"validated"`) an action.
    Marvis {
        /// The symptom, which Mist sends as the alarm type (`bad_cable`).
        symptom: String,
        /// The suggested action (`test_replace_cable`).
        action: String,
        /// The category (`switch`, `ap`).
        category: String,
        /// The impacted device.
        device: Selector,
        /// The impacted port, if any.
        #[serde(default)]
        port: Option<String>,
        /// `open` or `validated`.
        state: String,
    },
    /// A zone's head count changes; over its limit is a violation, under it compliance.
    Occupancy {
        /// The zone (`site0.map0.zone0`).
        zone: Selector,
        /// How many people are in it now.
        occupancy: i64,
    },
    /// A Wi-Fi client roams from the AP it is on to another.
    Roam {
        /// The client (`site0.client3`).
        client: Selector,
        /// The AP it roams to.
        to: Selector,
    },
    /// A BLE asset is carried along a path across its floor, reporting its position.
    Walk {
        /// The asset (`site0.asset0`).
        asset: Selector,
        /// Points in metres, visited in order.
        path: Vec<[f64; 2]>,
        /// How long the walk takes.
        #[serde(with = "humantime_serde_compat")]
        duration: Duration,
        /// How often the location engine reports a position.
        #[serde(with = "humantime_serde_compat", default = "default_fix_interval")]
        every: Duration,
    },
}

fn default_fix_interval() -> Duration {
    Duration::from_secs(5)
}

/// `"5m"`-style durations through `humantime`, without another dependency.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

/// What makes a scenario unusable, for a person to read: a selector that does not parse
/// or names something the org does not have, a happening the org cannot act out, or a
/// time past the bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unfit(pub String);

impl From<String> for Unfit {
    fn from(message: String) -> Unfit {
        Unfit(message)
    }
}

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is not a scenario.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or built-in name).
        path: String,
        /// What is wrong and where.
        message: String,
    },
}

/// The longest a step's `at`, a walk's `duration` or its `every` may be: a year.
pub const MAX_OFFSET: Duration = Duration::from_secs(366 * 86_400);

/// The most positions one walk may report.
pub const MAX_WALK_FIXES: u128 = 10_000;

/// The scenarios that ship with mistgate, in the order the demo plays them.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "flapping-ap",
        include_str!("../../../../scenarios/flapping-ap.toml"),
    ),
    (
        "site-power-outage",
        include_str!("../../../../scenarios/site-power-outage.toml"),
    ),
    (
        "marvis-bad-cable",
        include_str!("../../../../scenarios/marvis-bad-cable.toml"),
    ),
    (
        "occupancy",
        include_str!("../../../../scenarios/occupancy.toml"),
    ),
    (
        "gateway-wan-outage",
        include_str!("../../../../scenarios/gateway-wan-outage.toml"),
    ),
    (
        "rogue-ap-storm",
        include_str!("../../../../scenarios/rogue-ap-storm.toml"),
    ),
    (
        "client-roaming",
        include_str!("../../../../scenarios/client-roaming.toml"),
    ),
    (
        "asset-walk",
        include_str!("../../../../scenarios/asset-walk.toml"),
    ),
];

impl Scenario {
    /// Parses a scenario from TOML text; `origin` names it in errors.
    ///
    /// Times past [`MAX_OFFSET`] and walks of more than [`MAX_WALK_FIXES`] positions are
    /// refused, so that expanding a parsed scenario always ends.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        s.steps.sort_by_key(|step| step.at);
        s.check().map_err(|unfit| ScenarioError::Parse {
            path: origin.to_string(),
            message: unfit.0,
        })?;
        Ok(s)
    }

    /// Bounds that keep expansion finite: times within [`MAX_OFFSET`] (so that adding the
    /// delays Mist has never overflows) and walks of at most [`MAX_WALK_FIXES`] positions
    /// (a walk of `"1000h"` every `"100ms"` would otherwise fill the memory).
    fn check(&self) -> Result<(), Unfit> {
        let days = MAX_OFFSET.as_secs() / 86_400;
        for (i, step) in self.steps.iter().enumerate() {
            let place = format!("steps[{i}] (at {})", humantime::format_duration(step.at));
            let mut times = vec![("at", step.at)];
            if let Happening::Walk {
                duration, every, ..
            } = &step.what
            {
                times.extend([("duration", *duration), ("every", *every)]);
                let fixes = expand::walk_fixes(*duration, *every);
                if fixes > MAX_WALK_FIXES {
                    return Err(Unfit(format!(
                        "{place}: a walk of {} every {} reports {fixes} positions; at most \
                         {MAX_WALK_FIXES} (walk for less time or report less often)",
                        humantime::format_duration(*duration),
                        humantime::format_duration(*every),
                    )));
                }
            }
            if let Some((field, _)) = times.iter().find(|(_, t)| *t > MAX_OFFSET) {
                return Err(Unfit(format!(
                    "{place}: `{field}` is longer than {days} days"
                )));
            }
        }
        Ok(())
    }

    /// Reads a scenario file, or a built-in scenario by name (`site-power-outage`).
    pub fn load(path_or_name: &str) -> Result<Scenario, ScenarioError> {
        let path = Path::new(path_or_name);
        if !path.exists()
            && let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == path_or_name)
        {
            return Scenario::parse(text, name);
        }
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path_or_name.to_string(),
            source,
        })?;
        Scenario::parse(&text, path_or_name)
    }

    /// Every built-in scenario.
    pub fn built_in() -> Vec<Scenario> {
        BUILT_IN
            .iter()
            .map(|(name, text)| Scenario::parse(text, name).expect("built-in scenarios parse"))
            .collect()
    }

    /// The scenario's length before compression: the time of its last step, plus the
    /// walk or the delayed alarms that step starts.
    pub fn length(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| {
                s.at.saturating_add(match &s.what {
                    Happening::Walk { duration, .. } => *duration,
                    _ => expand::TAIL,
                })
            })
            .max()
            .unwrap_or_default()
    }

    /// Grows `spec` so that every device, client, asset and zone the scenario names exists.
    pub fn fit(&self, spec: &mut OrgSpec) {
        for step in &self.steps {
            for sel in step.what.selectors() {
                sel.fit(spec);
            }
        }
    }
}

impl Happening {
    fn selectors(&self) -> Vec<&Selector> {
        match self {
            Happening::Down { devices } | Happening::Up { devices, .. } => devices.iter().collect(),
            Happening::RogueAp { seen_by, .. } => seen_by.iter().collect(),
            Happening::Marvis { device, .. } => vec![device],
            Happening::Occupancy { zone, .. } => vec![zone],
            Happening::Roam { client, to } => vec![client, to],
            Happening::Walk { asset, .. } => vec![asset],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenarios_parse_and_are_sorted() {
        let all = Scenario::built_in();
        assert_eq!(all.len(), BUILT_IN.len());
        for s in &all {
            assert!(!s.steps.is_empty(), "{}", s.name);
            assert!(s.steps.windows(2).all(|w| w[0].at <= w[1].at), "{}", s.name);
            assert!(!s.description.is_empty(), "{}", s.name);
            assert!(s.length() > Duration::ZERO);
        }
        assert!(Scenario::load("site-power-outage").is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let err = Scenario::parse(
            "name = \"x\"\n[[steps]]\nat = \"1s\"\ndo = \"explode\"\n",
            "x.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.toml") && err.contains("explode"), "{err}");
        let err = Scenario::parse(
            "name = \"x\"\n[[steps]]\nat = \"soon\"\ndo = \"down\"\ndevices = [\"site0.ap0\"]\n",
            "y.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("soon"), "{err}");
        let err = Scenario::parse(
            "name = \"x\"\n[[steps]]\nat = \"1s\"\ndo = \"down\"\ndevices = [\"siteX.ap0\"]\n",
            "z.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("siteX.ap0"), "{err}");
        assert!(matches!(
            Scenario::load("/nonexistent/file.toml"),
            Err(ScenarioError::Read { .. })
        ));
    }

    /// Inputs found by the `scenario` fuzz target: the first two panicked (a sum of
    /// durations, the simulated clock), the third filled the memory.
    #[test]
    fn times_and_walks_without_bounds_are_refused() {
        let down = |at: &str| {
            format!(
                "name = \"x\"\n[[steps]]\nat = \"{at}\"\ndo = \"down\"\ndevices = [\"site0.ap1\"]\n"
            )
        };
        for at in ["18446744073709551615s", "300000y", "367d"] {
            let err = Scenario::parse(&down(at), "f.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("f.toml") && err.contains("longer than 366 days"),
                "{err}"
            );
        }
        assert!(Scenario::parse(&down("366d"), "f.toml").is_ok());

        let walk = |duration: &str, every: &str| {
            format!(
                "name = \"w\"\n[[steps]]\nat = \"0s\"\ndo = \"walk\"\nasset = \"site0.asset0\"\n\
                 path = [[1.0, 1.0], [5.0, 5.0]]\nduration = \"{duration}\"\nevery = \"{every}\"\n"
            )
        };
        let err = Scenario::parse(&walk("1000000h", "100ms"), "w.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("positions; at most 10000"), "{err}");
        // `every` below 100 ms counts as 100 ms, as in the expansion.
        assert!(Scenario::parse(&walk("1000s", "1ns"), "w.toml").is_ok());
        assert!(Scenario::parse(&walk("1s", "400d"), "w.toml").is_err());

        // Built by hand, past the checks: expansion refuses, length saturates.
        let mut s = Scenario::parse(&down("1s"), "f.toml").unwrap();
        s.steps[0].at = Duration::MAX;
        assert_eq!(s.length(), Duration::MAX);
        let org = crate::Org::generate(&crate::OrgSpec::default(), 1);
        assert!(s.expand(&org, &crate::Rng::new(1), 0, 1.0).is_err());
    }
}
