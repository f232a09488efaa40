//! The crash test of the pure core: stopping after any step, persisting the snapshot as
//! JSON and restoring from it gives exactly what an uninterrupted run gives.

mod support;

use support::Driver;

#[test]
fn restoring_a_snapshot_at_any_step_changes_nothing() {
    for (name, scenario) in support::load_all() {
        let whole = support::play(&name, &scenario);
        for split in 0..=scenario.steps.len() {
            let mut driver = Driver::new(
                &format!("{name} (restored after {split} steps)"),
                scenario.settings.clone(),
            );
            for (index, step) in scenario.steps.iter().enumerate().take(split) {
                let produced = driver.step(index, step);
                driver.check(index, step, &produced);
            }
            let mut driver = driver.crash_and_restore();
            for (index, step) in scenario.steps.iter().enumerate().skip(split) {
                let produced = driver.step(index, step);
                driver.check(index, step, &produced);
            }
            assert_eq!(
                driver.transitions, whole.transitions,
                "{name}: split at {split}"
            );
            assert_eq!(
                driver.correlator.snapshot(),
                whole.correlator.snapshot(),
                "{name}: split at {split}"
            );
        }
    }
}
