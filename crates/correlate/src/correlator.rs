//! The correlator: a sans-IO state machine fed events, deadlines and manual actions.

use mist::Topic;
use mist::views::Alarm;

use crate::catalog::{self, AlarmClass};
use crate::device::Device;
use crate::error::CorrelateError;
use crate::incident::{Change, Incident, IncidentKind, IncidentState};
use crate::input::{self, Input};
use crate::rules::{device_down, marvis, occupancy, ports, security, source_silent};
use crate::settings::Settings;
use crate::silence::Silence;
use crate::snapshot::Snapshot;
use crate::state::State;
use crate::timers::TimerKind;
use crate::topology::Topology;
use crate::transition::Transition;

/// Device state and incidents from Mist events.
///
/// It performs no IO and reads no clock: events come in through [`Correlator::handle`],
/// time through the `now` arguments, and every change comes back as [`Transition`]s for the
/// shell to persist. The same inputs always give the same outputs, ids included.
///
/// ```
/// use correlate::{Change, Correlator, Input, Settings, Transition};
/// let mut correlator = Correlator::new(Settings::default());
/// let topic = mist::Topic::Alarms;
/// let raw = serde_json::json!({
///     "type": "device_down", "group": "infrastructure", "severity": "warn",
///     "aps": ["d420b02000fa"], "hostnames": ["Vendor_AP2"],
///     "org_id": "o", "site_id": "s", "timestamp": 1629753888
/// });
/// let normalized = mist::normalize(&topic, &raw);
/// let input = Input::from_normalized(1, &topic, &normalized, &raw, 0);
/// let transitions = correlator.handle(&input, 1_629_753_890_000_000);
/// assert!(matches!(&transitions[0], Transition::Device(d) if d.mac == "d420b02000fa"));
/// assert!(matches!(&transitions[1], Transition::Incident { change: Change::Opened, .. }));
/// assert_eq!(correlator.open_incidents().count(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Correlator {
    settings: Settings,
    state: State,
}

impl Correlator {
    /// A correlator with no devices, incidents or silences.
    pub fn new(settings: Settings) -> Self {
        Correlator {
            settings,
            state: State::new(),
        }
    }

    /// A correlator that carries on from a [`Snapshot`] (see [`Correlator::snapshot`]).
    /// Settings may differ from the run that wrote it; pending deadlines keep their times.
    pub fn restore(settings: Settings, snapshot: Snapshot) -> Self {
        Correlator {
            settings,
            state: State::from_snapshot(snapshot),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Names for sites and devices that events do not name themselves (`[routing]
    /// site_names`, later Mist's API), used in summaries and notes of what happens from now
    /// on; what an event says itself comes first. Not part of the [`Snapshot`]: the shell
    /// gives them again after [`Correlator::restore`], as it gives the settings.
    pub fn set_names(&mut self, names: mist::Names) {
        self.state.names = names;
    }

    /// The names in force.
    pub fn names(&self) -> &mist::Names {
        &self.state.names
    }

    /// How devices are wired (from Mist's device stats), for inhibition from now on: see
    /// [`Topology`]. An empty topology (the default) links AP outages to upstream outages
    /// by site. Not part of the [`Snapshot`] (it can be large, and the snapshot is written
    /// with every batch): the shell gives it again after [`Correlator::restore`], and
    /// until it does, the site decides.
    pub fn set_topology(&mut self, topology: Topology) {
        self.state.topology = topology;
    }

    /// The topology in force.
    pub fn topology(&self) -> &Topology {
        &self.state.topology
    }

    /// The topics whose events can change anything here. A shell may skip the others
    /// without reading them: [`Correlator::handle`] ignores them anyway.
    pub const TOPICS: &'static [Topic] = &[
        Topic::Alarms,
        Topic::DeviceEvents,
        Topic::DeviceUpdowns,
        Topic::MxedgeEvents,
        Topic::OccupancyAlerts,
    ];

    /// Whether events of `topic` can change anything here.
    pub fn reads(topic: &Topic) -> bool {
        Self::TOPICS.contains(topic)
    }

    /// Handles one event and returns what changed.
    ///
    /// Ordering uses `input.time` (the event's own time), never arrival: a reconnect older
    /// than the down it would close does not close it. An input whose `event_id` is not
    /// greater than the last one handled is a replay and changes nothing, and so does the
    /// same content under a new id. `now` is not used by the rules; deadlines only pass
    /// through [`Correlator::handle_timeout`].
    pub fn handle(&mut self, input: &Input<'_>, now: i64) -> Vec<Transition> {
        let _ = now;
        if self
            .state
            .last_event_id
            .is_some_and(|last| input.event_id <= last)
        {
            return Vec::new();
        }
        self.state.last_event_id = Some(input.event_id);
        let settings = &self.settings;
        let state = &mut self.state;
        state.learn_site_name(input.site_id, input.site_name(), input.time);
        match input.topic {
            Topic::Alarms => {
                let alarm = Alarm::from_value(input.raw);
                let class = catalog::classify(&alarm);
                for signal in input::alarm_signals(input, &alarm, class) {
                    device_down::on_signal(state, settings, input.event_id, input.time, signal);
                }
                match class {
                    AlarmClass::Marvis => marvis::on_alarm(state, input, &alarm),
                    AlarmClass::Security => security::on_alarm(state, settings, input, &alarm),
                    _ => {}
                }
            }
            Topic::DeviceEvents | Topic::DeviceUpdowns | Topic::MxedgeEvents => {
                if let Some(signal) = input::event_signal(input) {
                    device_down::on_signal(state, settings, input.event_id, input.time, signal);
                } else if *input.topic == Topic::DeviceEvents {
                    ports::on_event(state, settings, input);
                }
            }
            Topic::OccupancyAlerts => occupancy::on_alert(state, input),
            _ => {}
        }
        std::mem::take(&mut state.out)
    }

    /// The earliest pending deadline (flap hold-downs, security quiet periods and maximum
    /// lifetimes), unix µs. Deadlines are event times plus a duration; the shell should
    /// handle the events it already has before firing one, so that a reconnect waiting in
    /// its queue is not mistaken for an outage.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.state.timers.next()
    }

    /// Fires every deadline at or before `now`, earliest first.
    pub fn handle_timeout(&mut self, now: i64) -> Vec<Transition> {
        while let Some((at, kind)) = self.state.timers.pop_due(now) {
            match kind {
                TimerKind::HoldDown { device } => {
                    device_down::on_hold_down_expired(&mut self.state, &self.settings, &device, at);
                }
                TimerKind::SecurityExpiry { incident_id } => {
                    security::on_timer(&mut self.state, &self.settings, incident_id, now);
                }
                TimerKind::SourceSilent { source } => {
                    source_silent::on_timer(&mut self.state, &source, at);
                }
            }
        }
        std::mem::take(&mut self.state.out)
    }

    /// Says that `source`, watched with a quiet period of `silent_after` µs, received its
    /// newest request at `last_request_at` (unix µs), or none yet (`None`: watching
    /// begins at `now` the first time it is said). A newer time than last said resolves
    /// its live `source_silent` incident; either way its deadline becomes the newest
    /// request's time plus `silent_after`, and [`Correlator::handle_timeout`] opens the
    /// incident when that passes. Saying the same again changes nothing, so a shell may
    /// say it as often as it likes.
    pub fn source_seen(
        &mut self,
        source: &str,
        silent_after: i64,
        last_request_at: Option<i64>,
        now: i64,
    ) -> Vec<Transition> {
        source_silent::on_seen(&mut self.state, source, silent_after, last_request_at, now);
        std::mem::take(&mut self.state.out)
    }

    /// Watches only the sources in `watched` from now on: the others' deadlines go, and
    /// their live `source_silent` incidents resolve at `now`.
    pub fn watch_only_sources(&mut self, watched: &[&str], now: i64) -> Vec<Transition> {
        source_silent::retain(&mut self.state, watched, now);
        std::mem::take(&mut self.state.out)
    }

    /// A person acknowledges an incident. Acknowledging twice changes nothing.
    pub fn acknowledge(
        &mut self,
        incident_id: i64,
        by: &str,
        now: i64,
    ) -> Result<Vec<Transition>, CorrelateError> {
        let incident = self
            .state
            .incidents
            .get(&incident_id)
            .ok_or(CorrelateError::UnknownIncident(incident_id))?;
        if incident.state == IncidentState::Acknowledged {
            return Ok(Vec::new());
        }
        let note = format!("acknowledged by {by}");
        self.state
            .change(incident_id, now, Change::Acknowledged, None, note, |_| {});
        Ok(std::mem::take(&mut self.state.out))
    }

    /// A person resolves an incident. The devices it is about keep their state; the next
    /// event that would open it opens a new incident.
    pub fn resolve(
        &mut self,
        incident_id: i64,
        by: &str,
        now: i64,
    ) -> Result<Vec<Transition>, CorrelateError> {
        if !self.state.incidents.contains_key(&incident_id) {
            return Err(CorrelateError::UnknownIncident(incident_id));
        }
        let note = format!("resolved by {by}");
        if let Some(incident) = self.state.resolve(incident_id, now, None, note, |_| {}) {
            match incident.kind {
                IncidentKind::DeviceDown => {
                    device_down::on_manual_resolve(&mut self.state, &incident)
                }
                IncidentKind::Security => security::on_manual_resolve(&mut self.state, &incident),
                IncidentKind::Marvis | IncidentKind::Occupancy | IncidentKind::SourceSilent => {}
            }
        }
        Ok(std::mem::take(&mut self.state.out))
    }

    /// Adds a silence and returns it with its assigned id. It applies to incidents that
    /// open from now on.
    pub fn add_silence(&mut self, mut silence: Silence) -> Silence {
        silence.id = self.state.next_silence_id;
        self.state.next_silence_id += 1;
        self.state.silences.push(silence.clone());
        silence
    }

    /// Removes a silence; `false` if there is none with this id.
    pub fn remove_silence(&mut self, id: i64) -> bool {
        let before = self.state.silences.len();
        self.state.silences.retain(|s| s.id != id);
        self.state.silences.len() != before
    }

    /// Replaces the silence with `silence.id` (its matchers, window, comment); `None`
    /// if there is none with this id. Incidents already open keep their flag: a silence
    /// marks incidents when they open.
    pub fn replace_silence(&mut self, silence: Silence) -> Option<Silence> {
        let slot = self
            .state
            .silences
            .iter_mut()
            .find(|s| s.id == silence.id)?;
        *slot = silence.clone();
        Some(silence)
    }

    /// The silences, in the order they were added.
    pub fn silences(&self) -> &[Silence] {
        &self.state.silences
    }

    /// Every known device, by organisation and MAC.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.state.devices.values()
    }

    /// One device, by organisation (empty when unknown) and normalised MAC.
    pub fn device(&self, org_id: &str, mac: &str) -> Option<&Device> {
        self.state.devices.get(&crate::device::DeviceRef {
            org_id: org_id.to_owned(),
            mac: mac.to_owned(),
        })
    }

    /// An open or acknowledged incident. Resolved incidents have left the state.
    pub fn incident(&self, id: i64) -> Option<&Incident> {
        self.state.incidents.get(&id)
    }

    /// Every open or acknowledged incident, by id.
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.state.incidents.values()
    }

    /// Everything needed to [`Correlator::restore`] this correlator.
    pub fn snapshot(&self) -> Snapshot {
        self.state.to_snapshot()
    }

    /// The snapshot without its device and incident records: for a shell that keeps those
    /// records itself (it receives every change as a [`Transition`]) and puts them back
    /// into [`Snapshot::devices`] and [`Snapshot::incidents`] (the open and acknowledged
    /// ones) before [`Correlator::restore`]. What is left is small: timers, silences,
    /// devices currently down, per-key marks and counters, so it can be written with
    /// every batch while the inventory grows to thousands of devices.
    pub fn snapshot_without_records(&self) -> Snapshot {
        self.state.to_snapshot_without_records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const S: i64 = 1_000_000;
    const T: i64 = 1_750_000_000;

    fn feed(c: &mut Correlator, id: i64, topic: Topic, raw: Value) -> Vec<Transition> {
        let n = mist::normalize(&topic, &raw);
        let input = Input::from_normalized(id, &topic, &n, &raw, 0);
        c.handle(&input, input.time)
    }

    fn rogue(at: i64) -> Value {
        json!({"type": "rogue_ap", "group": "security", "aps": ["5c5b35500442"],
               "org_id": "o", "site_id": "s", "timestamp": at})
    }

    #[test]
    fn a_reconnected_spelling_closes_the_outage_too() {
        let mut c = Correlator::new(Settings::default());
        let ev = |t: &str, at: i64| json!({"type": t, "ap": "5c5b35000009", "org_id": "o", "site_id": "s", "timestamp": at});
        feed(&mut c, 1, Topic::DeviceUpdowns, ev("AP_DISCONNECTED", T));
        assert_eq!(c.open_incidents().count(), 1);
        feed(
            &mut c,
            2,
            Topic::DeviceUpdowns,
            ev("AP_RECONNECTED", T + 30),
        );
        assert_eq!(c.open_incidents().count(), 0);
        assert_eq!(
            c.device("o", "5c5b35000009").map(|d| d.state),
            Some(crate::DeviceState::Up)
        );
    }

    #[test]
    fn a_silence_can_be_replaced_in_place() {
        let mut c = Correlator::new(Settings::default());
        let first = c.add_silence(Silence {
            site_id: Some("s".into()),
            starts_at: 0,
            ends_at: 10,
            ..Silence::default()
        });
        let mut changed = first.clone();
        changed.ends_at = 20;
        assert_eq!(c.replace_silence(changed.clone()), Some(changed.clone()));
        assert_eq!(c.silences(), &[changed]);
        let missing = Silence {
            id: 99,
            ..Silence::default()
        };
        assert_eq!(c.replace_silence(missing), None);
    }

    #[test]
    fn the_slim_snapshot_plus_the_records_is_the_whole_snapshot() {
        let mut c = Correlator::new(Settings::default());
        feed(&mut c, 1, Topic::Alarms, rogue(T));
        let down = json!({"type": "device_down", "aps": ["5c5b35000001"], "hostnames": ["ap1"],
                          "org_id": "o", "site_id": "s", "timestamp": T + 5});
        feed(&mut c, 2, Topic::Alarms, down);
        let mut slim = c.snapshot_without_records();
        assert!(slim.devices.is_empty() && slim.incidents.is_empty());
        slim.devices = c.devices().cloned().collect();
        slim.incidents = c.open_incidents().cloned().collect();
        assert_eq!(slim, c.snapshot());
        assert!(!slim.devices.is_empty() && slim.incidents.len() == 2);
    }

    fn incident_changes(out: &[Transition]) -> Vec<(i64, Change)> {
        out.iter()
            .filter_map(|t| match t {
                Transition::Incident { incident, change } => Some((incident.id, *change)),
                Transition::Device(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_security_alarm_after_the_quiet_period_rolls_over_even_before_the_timer_fires() {
        let mut c = Correlator::new(Settings::default());
        feed(&mut c, 1, Topic::Alarms, rogue(T));
        // The shell lags: no timeout was handled when the next alarm, 25 h later, comes.
        let out = feed(&mut c, 2, Topic::Alarms, rogue(T + 25 * 3600));
        assert_eq!(
            incident_changes(&out),
            vec![(1, Change::Resolved), (2, Change::Opened)]
        );
        let Transition::Incident { incident, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(incident.resolved_at, Some((T + 24 * 3600) * S));
        assert_eq!(c.poll_timeout(), Some((T + 49 * 3600) * S));
    }

    #[test]
    fn a_settings_change_across_a_restore_moves_the_security_deadline() {
        let hour = 3600 * S;
        let short = Settings {
            security_quiet_us: hour,
            ..Settings::default()
        };
        let mut c = Correlator::new(short);
        feed(&mut c, 1, Topic::Alarms, rogue(T));
        let long = Settings {
            security_quiet_us: 2 * hour,
            ..Settings::default()
        };
        let mut c = Correlator::restore(long, c.snapshot());
        assert!(c.handle_timeout(T * S + hour).is_empty());
        assert_eq!(c.poll_timeout(), Some(T * S + 2 * hour));
        let out = c.handle_timeout(T * S + 2 * hour);
        assert_eq!(incident_changes(&out), vec![(1, Change::Resolved)]);
    }

    #[test]
    fn event_ids_not_above_the_last_one_are_replays() {
        let mut c = Correlator::new(Settings::default());
        let down = |mac: &str| json!({"type": "AP_DISCONNECTED", "ap": mac, "org_id": "o", "timestamp": T});
        assert_eq!(
            feed(&mut c, 5, Topic::DeviceUpdowns, down("5c5b35000001")).len(),
            2
        );
        assert!(feed(&mut c, 3, Topic::DeviceUpdowns, down("5c5b35000002")).is_empty());
        assert_eq!(c.devices().count(), 1);
        assert_eq!(c.snapshot().last_event_id, Some(5));
    }

    #[test]
    fn manual_actions_need_a_live_incident() {
        let mut c = Correlator::new(Settings::default());
        assert_eq!(
            c.acknowledge(1, "a", T),
            Err(CorrelateError::UnknownIncident(1))
        );
        feed(&mut c, 1, Topic::Alarms, rogue(T));
        assert_eq!(c.acknowledge(1, "a", T * S).unwrap().len(), 1);
        assert!(c.acknowledge(1, "a", T * S).unwrap().is_empty());
        assert_eq!(c.incident(1).unwrap().state, IncidentState::Acknowledged);
        assert_eq!(c.resolve(1, "b", T * S).unwrap().len(), 1);
        assert_eq!(
            c.resolve(1, "b", T * S),
            Err(CorrelateError::UnknownIncident(1))
        );
        assert!(c.incident(1).is_none());
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn silences_get_ids_in_order_and_can_be_removed() {
        let mut c = Correlator::new(Settings::default());
        let a = c.add_silence(Silence {
            id: 99,
            ends_at: 1,
            ..Silence::default()
        });
        let b = c.add_silence(Silence::default());
        assert_eq!((a.id, b.id), (1, 2));
        assert!(c.remove_silence(1));
        assert!(!c.remove_silence(1));
        assert_eq!(c.silences(), &[b]);
        let restored = Correlator::restore(Settings::default(), c.snapshot());
        assert_eq!(restored.snapshot(), c.snapshot());
    }
}
