//! `source_silent` on a fake clock: a watched source that goes quiet opens an incident at
//! its deadline, traffic resolves it, a person's resolve is not undone, restarts change
//! nothing.

use correlate::{Change, Correlator, IncidentKind, Settings, Transition};

const MIN: i64 = 60_000_000;
const QUIET: i64 = 15 * MIN;
const T0: i64 = 1_750_000_000_000_000;

fn changes(transitions: &[Transition]) -> Vec<(Change, IncidentKind, i64)> {
    transitions
        .iter()
        .filter_map(|t| match t {
            Transition::Incident { incident, change } => Some((
                *change,
                incident.kind,
                incident.resolved_at.unwrap_or(incident.opened_at),
            )),
            Transition::Device(_) => None,
        })
        .collect()
}

#[test]
fn a_quiet_source_opens_an_incident_and_traffic_resolves_it() {
    let mut c = Correlator::new(Settings::default());
    assert!(c.source_seen("hq", QUIET, Some(T0), T0).is_empty());
    assert_eq!(c.poll_timeout(), Some(T0 + QUIET));
    assert!(c.handle_timeout(T0 + QUIET - 1).is_empty(), "not yet");

    let opened = c.handle_timeout(T0 + QUIET + 5 * MIN);
    assert_eq!(
        changes(&opened),
        [(Change::Opened, IncidentKind::SourceSilent, T0 + QUIET)],
        "opens at the deadline, not when the timer was noticed"
    );
    let Transition::Incident { incident, .. } = &opened[0] else {
        unreachable!()
    };
    assert_eq!(incident.key, "source_silent:hq");
    assert_eq!(incident.severity, mist::Severity::Critical);
    assert!(
        incident.summary.contains("`hq` for 15m"),
        "{}",
        incident.summary
    );
    assert_eq!(c.poll_timeout(), None, "one incident per silence");

    // The same last request said again (the shell polls) changes nothing.
    assert!(c.source_seen("hq", QUIET, Some(T0), T0).is_empty());
    assert!(c.handle_timeout(T0 + 10 * QUIET).is_empty());

    // A request arrives: resolved at its time, and the watch starts over.
    let back = T0 + QUIET + 7 * MIN;
    assert_eq!(
        changes(&c.source_seen("hq", QUIET, Some(back), back)),
        [(Change::Resolved, IncidentKind::SourceSilent, back)]
    );
    assert_eq!(c.poll_timeout(), Some(back + QUIET));
    assert_eq!(c.open_incidents().count(), 0);
}

#[test]
fn a_source_that_never_sent_anything_is_quiet_from_when_watching_began() {
    let mut c = Correlator::new(Settings::default());
    assert!(c.source_seen("new", QUIET, None, T0).is_empty());
    assert_eq!(c.poll_timeout(), Some(T0 + QUIET));
    // Said again later (a restart): watching still began at T0, and nothing resolves.
    assert!(c.source_seen("new", QUIET, None, T0 + 5 * MIN).is_empty());
    assert_eq!(
        changes(&c.handle_timeout(T0 + QUIET)),
        [(Change::Opened, IncidentKind::SourceSilent, T0 + QUIET)]
    );
    assert!(c.source_seen("new", QUIET, None, T0 + 2 * QUIET).is_empty());
    assert_eq!(
        c.open_incidents().count(),
        1,
        "no request yet: still silent"
    );
}

#[test]
fn steady_traffic_never_opens_anything() {
    let mut c = Correlator::new(Settings::default());
    for minute in 0..120 {
        let now = T0 + minute * MIN;
        assert!(c.source_seen("hq", QUIET, Some(now), now).is_empty());
        assert!(c.handle_timeout(now).is_empty());
    }
}

#[test]
fn a_person_resolving_it_is_not_undone_until_traffic_comes_and_goes_again() {
    let mut c = Correlator::new(Settings::default());
    c.source_seen("hq", QUIET, Some(T0), T0);
    let opened = c.handle_timeout(T0 + QUIET);
    let Transition::Incident { incident, .. } = &opened[0] else {
        panic!("{opened:?}")
    };
    c.resolve(incident.id, "noc", T0 + QUIET + MIN).unwrap();
    for later in 1..10 {
        let now = T0 + QUIET + later * QUIET;
        assert!(c.source_seen("hq", QUIET, Some(T0), T0).is_empty());
        assert!(c.handle_timeout(now).is_empty(), "reopened at {later}");
    }
    // Traffic, then quiet again: a new incident.
    let back = T0 + 20 * QUIET;
    assert!(c.source_seen("hq", QUIET, Some(back), back).is_empty());
    assert_eq!(
        changes(&c.handle_timeout(back + QUIET)),
        [(Change::Opened, IncidentKind::SourceSilent, back + QUIET)]
    );
}

#[test]
fn sources_are_watched_each_on_its_own_and_survive_a_restart() {
    let mut c = Correlator::new(Settings::default());
    c.source_seen("hq", QUIET, Some(T0), T0);
    c.source_seen("branch", 2 * QUIET, Some(T0), T0);
    assert_eq!(
        changes(&c.handle_timeout(T0 + QUIET)),
        [(Change::Opened, IncidentKind::SourceSilent, T0 + QUIET)]
    );
    let mut restored = Correlator::restore(Settings::default(), c.snapshot());
    assert_eq!(restored.poll_timeout(), Some(T0 + 2 * QUIET));
    let opened = restored.handle_timeout(T0 + 2 * QUIET);
    let keys: Vec<String> = opened
        .iter()
        .filter_map(|t| match t {
            Transition::Incident { incident, .. } => Some(incident.key.clone()),
            Transition::Device(_) => None,
        })
        .collect();
    assert_eq!(keys, ["source_silent:branch"]);
    // hq's incident came through the restart and still resolves.
    assert_eq!(
        changes(&restored.source_seen("hq", QUIET, Some(T0 + 3 * QUIET), T0 + 3 * QUIET)),
        [(Change::Resolved, IncidentKind::SourceSilent, T0 + 3 * QUIET)]
    );
}

#[test]
fn a_source_no_longer_watched_resolves_and_stays_quiet() {
    let mut c = Correlator::new(Settings::default());
    c.source_seen("hq", QUIET, Some(T0), T0);
    c.source_seen("branch", QUIET, Some(T0), T0);
    assert_eq!(changes(&c.handle_timeout(T0 + QUIET)).len(), 2);
    let later = T0 + 2 * QUIET;
    assert_eq!(
        changes(&c.watch_only_sources(&["hq"], later)),
        [(Change::Resolved, IncidentKind::SourceSilent, later)]
    );
    assert_eq!(c.open_incidents().count(), 1);
    assert!(c.handle_timeout(T0 + 100 * QUIET).is_empty());
}
