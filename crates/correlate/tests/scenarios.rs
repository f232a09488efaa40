//! Plays every scenario in `tests/scenarios/` and checks its expectations.

mod support;

#[test]
fn every_scenario_plays_as_written() {
    let all = support::load_all();
    assert!(!all.is_empty(), "no scenario files");
    for (name, scenario) in &all {
        assert!(!scenario.description.is_empty(), "{name}: no description");
        support::play(name, scenario);
    }
}

#[test]
fn the_same_inputs_give_the_same_transitions_and_ids() {
    for (name, scenario) in support::load_all() {
        let first = support::play(&name, &scenario);
        let second = support::play(&name, &scenario);
        assert_eq!(first.transitions, second.transitions, "{name}");
        assert_eq!(
            first.correlator.snapshot(),
            second.correlator.snapshot(),
            "{name}"
        );
    }
}

#[test]
fn transitions_and_snapshots_round_trip_through_json() {
    for (name, scenario) in support::load_all() {
        let driver = support::play(&name, &scenario);
        for transition in &driver.transitions {
            let json = serde_json::to_string(transition).unwrap();
            let back: correlate::Transition = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, transition, "{name}");
        }
        let snapshot = driver.correlator.snapshot();
        let json = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(
            serde_json::from_str::<correlate::Snapshot>(&json).unwrap(),
            snapshot,
            "{name}"
        );
    }
}
