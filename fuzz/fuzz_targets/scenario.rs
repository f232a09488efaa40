//! Scenario TOML: any text as a `scenarios/*.toml` file, expanded on a small org.
//!
//! Asserts: `Scenario::parse` never panics and an error names the origin; a parsed
//! scenario has its steps in time order and a length no shorter than its last step; its
//! expansion on the default simulated org (2 sites) never panics, is in time order, starts
//! no earlier than the scenario, and is the same twice.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sim::{Org, OrgSpec, Rng, Scenario};

const ORIGIN: &str = "fuzz.toml";
const START_US: i64 = 1_750_000_000_000_000;

fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| Org::generate(&OrgSpec::default(), 7))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scenario = match Scenario::parse(text, ORIGIN) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                e.to_string().starts_with(ORIGIN),
                "error without its origin: {e}"
            );
            return;
        }
    };
    assert!(
        scenario.steps.windows(2).all(|w| w[0].at <= w[1].at),
        "steps not sorted"
    );
    let length = scenario.length();
    assert!(
        scenario.steps.last().is_none_or(|s| length >= s.at),
        "length before the last step"
    );

    let rng = Rng::new(1);
    for speed in [1.0, 60.0] {
        let events = match scenario.expand(org(), &rng, START_US, speed) {
            Ok(events) => events,
            Err(e) => {
                assert!(!e.0.is_empty());
                continue;
            }
        };
        assert!(
            events.windows(2).all(|w| w[0].at_us <= w[1].at_us),
            "events not in time order"
        );
        assert!(
            events.iter().all(|e| e.at_us >= START_US),
            "an event before the start"
        );
        let again = scenario
            .expand(org(), &rng, START_US, speed)
            .expect("expansion failed the second time");
        assert!(again == events, "expansion is not a function of its inputs");
    }
});
