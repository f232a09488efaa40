//! Scenario files (`tests/scenarios/*.toml`) and the driver that plays them against the
//! correlator with a fake clock, keeping the records it returns as the shell would.
//!
//! A scenario has settings overrides and steps. Each step happens at `at` (unix seconds,
//! plus `offset_us`) on the fake clock: first every deadline due by then fires, then the
//! step does at most one thing (deliver a Mist message, replay an earlier event under its
//! own id, acknowledge or resolve an incident, add or remove a silence, give the wiring
//! (`set_topology`) or names (`set_names`) as the shell would; nothing is a plain clock
//! tick), then its expectations are checked. A restore gives the correlator the topology
//! and names in force again, as the shell does.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use correlate::{
    Correlator, Device, DeviceKind, DeviceState, Incident, IncidentKind, IncidentState, Input,
    Settings, Silence, Snapshot, Topology, Transition,
};
use mist::Topic;
use serde::Deserialize;
use serde_json::Value;

/// One scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What it shows.
    pub description: String,
    /// Overrides of [`Settings::default`].
    #[serde(default)]
    pub settings: Settings,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Fake clock, unix seconds.
    pub at: i64,
    /// Added to `at`, in microseconds (may be negative).
    #[serde(default)]
    pub offset_us: i64,
    /// For people reading the file.
    #[serde(default)]
    pub note: String,
    /// A Mist webhook body: `{topic, events}`.
    pub message: Option<Message>,
    /// Feed the event with this id again, under the same id.
    pub replay_event: Option<i64>,
    /// Acknowledge the latest incident with this key.
    pub ack: Option<Manual>,
    /// Resolve the latest incident with this key.
    pub resolve: Option<Manual>,
    /// Add a silence.
    pub add_silence: Option<SilenceSpec>,
    /// Remove the silence with this id.
    pub remove_silence: Option<i64>,
    /// Replace the topology.
    pub set_topology: Option<TopologySpec>,
    /// Replace the names the shell knows.
    pub set_names: Option<NamesSpec>,
    /// What must hold after the step.
    #[serde(default)]
    pub expect: Expect,
}

/// A Mist webhook body.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub topic: String,
    pub events: Vec<Value>,
}

/// A topology: `aps = [{ap, switch, port}]`, `switches = [{switch, gateway}]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    #[serde(default)]
    pub aps: Vec<ApWiring>,
    #[serde(default)]
    pub switches: Vec<SwitchWiring>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApWiring {
    pub ap: String,
    pub switch: String,
    pub port: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchWiring {
    pub switch: String,
    pub gateway: String,
}

impl TopologySpec {
    pub fn topology(&self) -> Topology {
        let mut topology = Topology::default();
        for a in &self.aps {
            topology.wire_ap(&a.ap, &a.switch, &a.port);
        }
        for s in &self.switches {
            topology.wire_switch(&s.switch, &s.gateway);
        }
        topology
    }
}

/// Names: `sites = {id = name}`, `devices = {mac = name}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamesSpec {
    #[serde(default)]
    pub sites: BTreeMap<String, String>,
    #[serde(default)]
    pub devices: BTreeMap<String, String>,
}

impl NamesSpec {
    pub fn names(&self) -> mist::Names {
        let mut names = mist::Names::with_sites(self.sites.clone());
        for (mac, name) in &self.devices {
            names.name_device(mac, name);
        }
        names
    }
}

/// A manual action on the latest incident with `key`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    pub key: String,
    pub by: String,
}

/// A silence, with times in unix seconds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceSpec {
    pub site_id: Option<String>,
    pub device: Option<String>,
    pub kind: Option<IncidentKind>,
    pub alarm_type: Option<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
}

/// Expectations after a step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How many transitions the step produced (timers included).
    pub changes: Option<usize>,
    /// How many incidents are open or acknowledged.
    pub live: Option<usize>,
    /// How many incidents exist in all.
    pub total: Option<usize>,
    /// When the next deadline is due (unix µs), or `0` for none.
    pub next_timeout_us: Option<i64>,
    #[serde(default)]
    pub incidents: Vec<ExpectIncident>,
    #[serde(default)]
    pub devices: Vec<ExpectDevice>,
}

/// An incident, found by key (the latest with it, or the `nth`, 1-based, in id order).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectIncident {
    pub key: String,
    pub nth: Option<usize>,
    pub kind: Option<IncidentKind>,
    pub state: Option<IncidentState>,
    pub severity: Option<String>,
    pub alarm_type: Option<String>,
    pub suppressed: Option<bool>,
    pub silenced: Option<bool>,
    /// The key of the incident that caused it.
    pub caused_by: Option<String>,
    /// Device MACs, in any order.
    pub devices: Option<Vec<String>>,
    /// Unix seconds.
    pub opened_at: Option<i64>,
    /// Unix seconds.
    pub last_seen_at: Option<i64>,
    /// Unix seconds.
    pub resolved_at: Option<i64>,
    /// Unix µs.
    pub resolved_at_us: Option<i64>,
    pub summary_contains: Option<String>,
    /// A substring the summary must not have.
    pub summary_lacks: Option<String>,
    /// Device names by MAC, exactly.
    pub device_names: Option<BTreeMap<String, String>>,
    /// A substring of some timeline note.
    pub timeline_contains: Option<String>,
    /// How many events it lists.
    pub events: Option<usize>,
}

/// A device, found by MAC.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDevice {
    pub mac: String,
    pub kind: Option<DeviceKind>,
    pub state: Option<DeviceState>,
    pub name: Option<String>,
    pub site_id: Option<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    pub last_restart_reason: Option<String>,
    pub flaps: Option<u32>,
}

/// An event the driver has handed to the correlator.
#[derive(Clone, Debug)]
pub struct Handled {
    pub event_id: i64,
    pub topic: Topic,
    pub raw: Value,
    pub fallback_time: i64,
}

impl Handled {
    /// Feeds this event to `correlator` under `event_id`.
    pub fn feed(&self, correlator: &mut Correlator, event_id: i64, now: i64) -> Vec<Transition> {
        let normalized = mist::normalize(&self.topic, &self.raw);
        let input = Input::from_normalized(
            event_id,
            &self.topic,
            &normalized,
            &self.raw,
            self.fallback_time,
        );
        correlator.handle(&input, now)
    }
}

/// Directory of the scenario files.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// Every scenario, by file name.
pub fn load_all() -> Vec<(String, Scenario)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let scenario: Scenario =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            scenario
                .settings
                .validate()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, scenario)
        })
        .collect()
}

/// The step's fake time, unix µs.
pub fn at_us(step: &Step) -> i64 {
    step.at * 1_000_000 + step.offset_us
}

/// Plays steps and keeps what the correlator returns, as the shell would.
#[derive(Clone, Debug)]
pub struct Driver {
    pub name: String,
    pub correlator: Correlator,
    /// The latest record of every incident ever returned, by id.
    pub incidents: BTreeMap<i64, Incident>,
    /// The latest record of every device, by MAC.
    pub devices: BTreeMap<String, Device>,
    /// Every transition, in order.
    pub transitions: Vec<Transition>,
    /// Every event handed over, in order.
    pub handled: Vec<Handled>,
    pub next_event_id: i64,
}

impl Driver {
    pub fn new(name: &str, settings: Settings) -> Driver {
        Driver {
            name: name.to_owned(),
            correlator: Correlator::new(settings),
            incidents: BTreeMap::new(),
            devices: BTreeMap::new(),
            transitions: Vec::new(),
            handled: Vec::new(),
            next_event_id: 1,
        }
    }

    /// This driver with its correlator restored from a snapshot that went through JSON,
    /// as a crash and restart would do.
    pub fn crash_and_restore(&self) -> Driver {
        let json = serde_json::to_string(&self.correlator.snapshot()).unwrap();
        let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
        let mut driver = self.clone();
        driver.correlator = Correlator::restore(self.correlator.settings().clone(), snapshot);
        driver
            .correlator
            .set_topology(self.correlator.topology().clone());
        driver.correlator.set_names(self.correlator.names().clone());
        driver
    }

    fn keep(&mut self, transitions: &[Transition]) {
        for transition in transitions {
            match transition {
                Transition::Device(device) => {
                    self.devices.insert(device.mac.clone(), device.clone());
                }
                Transition::Incident { incident, .. } => {
                    self.incidents.insert(incident.id, incident.clone());
                }
            }
        }
        self.transitions.extend_from_slice(transitions);
    }

    /// The latest incident with `key` (or the `nth`, 1-based).
    pub fn incident_by_key(&self, key: &str, nth: Option<usize>) -> Option<&Incident> {
        let mut matching = self.incidents.values().filter(|i| i.key == key);
        match nth {
            Some(n) => matching.nth(n.checked_sub(1)?),
            None => matching.next_back(),
        }
    }

    /// Plays step `index`; returns what it produced, timers included.
    pub fn step(&mut self, index: usize, step: &Step) -> Vec<Transition> {
        let now = at_us(step);
        let mut out = Vec::new();
        if self.correlator.poll_timeout().is_some_and(|t| t <= now) {
            out.extend(self.correlator.handle_timeout(now));
        }
        let where_ = format!("{} step {index}", self.name);
        if let Some(message) = &step.message {
            let body =
                serde_json::json!({"topic": message.topic, "events": message.events}).to_string();
            let envelope =
                mist::parse_envelope(body.as_bytes()).unwrap_or_else(|e| panic!("{where_}: {e}"));
            for event in &envelope.events {
                let handled = Handled {
                    event_id: self.next_event_id,
                    topic: envelope.topic.clone(),
                    raw: serde_json::from_str(event.get()).unwrap(),
                    fallback_time: now,
                };
                self.next_event_id += 1;
                out.extend(handled.feed(&mut self.correlator, handled.event_id, now));
                self.handled.push(handled);
            }
        }
        if let Some(id) = step.replay_event {
            let handled = self
                .handled
                .iter()
                .find(|h| h.event_id == id)
                .unwrap_or_else(|| panic!("{where_}: no event {id} to replay"))
                .clone();
            out.extend(handled.feed(&mut self.correlator, id, now));
        }
        for (manual, ack) in [(&step.ack, true), (&step.resolve, false)] {
            let Some(manual) = manual else { continue };
            let id = self
                .incident_by_key(&manual.key, None)
                .unwrap_or_else(|| panic!("{where_}: no incident {}", manual.key))
                .id;
            let result = if ack {
                self.correlator.acknowledge(id, &manual.by, now)
            } else {
                self.correlator.resolve(id, &manual.by, now)
            };
            out.extend(result.unwrap_or_else(|e| panic!("{where_}: {e}")));
        }
        if let Some(spec) = &step.add_silence {
            self.correlator.add_silence(Silence {
                id: 0,
                site_id: spec.site_id.clone(),
                device: spec.device.clone(),
                kind: spec.kind,
                alarm_type: spec.alarm_type.clone(),
                starts_at: spec.starts_at * 1_000_000,
                ends_at: spec.ends_at * 1_000_000,
                comment: spec.comment.clone(),
                created_by: spec.created_by.clone(),
            });
        }
        if let Some(spec) = &step.set_topology {
            self.correlator.set_topology(spec.topology());
        }
        if let Some(spec) = &step.set_names {
            self.correlator.set_names(spec.names());
        }
        if let Some(id) = step.remove_silence {
            assert!(
                self.correlator.remove_silence(id),
                "{where_}: no silence {id}"
            );
        }
        self.keep(&out);
        out
    }

    /// Checks a step's expectations and the invariants between the core and the records.
    pub fn check(&self, index: usize, step: &Step, produced: &[Transition]) {
        let where_ = format!("{} step {index} (at {}{})", self.name, step.at, note(step));
        self.check_invariants(&where_);
        let expect = &step.expect;
        if let Some(n) = expect.changes {
            assert_eq!(produced.len(), n, "{where_}: transitions {produced:#?}");
        }
        if let Some(n) = expect.live {
            let live: Vec<&String> = self.correlator.open_incidents().map(|i| &i.key).collect();
            assert_eq!(live.len(), n, "{where_}: live incidents {live:?}");
        }
        if let Some(n) = expect.total {
            assert_eq!(
                self.incidents.len(),
                n,
                "{where_}: incidents {:#?}",
                self.incidents
            );
        }
        if let Some(t) = expect.next_timeout_us {
            let want = (t != 0).then_some(t);
            assert_eq!(
                self.correlator.poll_timeout(),
                want,
                "{where_}: next timeout"
            );
        }
        for want in &expect.incidents {
            self.check_incident(&where_, want);
        }
        for want in &expect.devices {
            self.check_device(&where_, want);
        }
    }

    /// The correlator's live incidents are exactly the stored ones that are not resolved,
    /// and its devices are the stored ones.
    fn check_invariants(&self, where_: &str) {
        let live: Vec<&Incident> = self.incidents.values().filter(|i| i.is_live()).collect();
        let core: Vec<&Incident> = self.correlator.open_incidents().collect();
        assert_eq!(core, live, "{where_}: core and stored incidents differ");
        for device in self.correlator.devices() {
            assert_eq!(
                self.devices.get(&device.mac),
                Some(device),
                "{where_}: device {}",
                device.mac
            );
        }
        let keys: Vec<&String> = core.iter().map(|i| &i.key).collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            keys.len(),
            "{where_}: two live incidents share a key"
        );
    }

    fn check_incident(&self, where_: &str, want: &ExpectIncident) {
        let got = self
            .incident_by_key(&want.key, want.nth)
            .unwrap_or_else(|| {
                panic!(
                    "{where_}: no incident {} (nth {:?}); have {:#?}",
                    want.key, want.nth, self.incidents
                )
            });
        let what = format!("{where_}: incident {} {}", got.id, got.key);
        let secs = |s: i64| s * 1_000_000;
        if let Some(kind) = want.kind {
            assert_eq!(got.kind, kind, "{what}: kind");
        }
        if let Some(state) = want.state {
            assert_eq!(
                got.state, state,
                "{what}: state; timeline {:#?}",
                got.timeline
            );
        }
        if let Some(severity) = &want.severity {
            assert_eq!(got.severity.as_str(), severity, "{what}: severity");
        }
        if let Some(alarm_type) = &want.alarm_type {
            assert_eq!(
                got.alarm_type.as_ref(),
                Some(alarm_type),
                "{what}: alarm_type"
            );
        }
        if let Some(suppressed) = want.suppressed {
            assert_eq!(got.suppressed, suppressed, "{what}: suppressed");
        }
        if let Some(silenced) = want.silenced {
            assert_eq!(got.silenced, silenced, "{what}: silenced");
        }
        if let Some(cause) = &want.caused_by {
            let cause = self
                .incident_by_key(cause, None)
                .unwrap_or_else(|| panic!("{what}: no cause {cause}"));
            assert_eq!(got.caused_by, Some(cause.id), "{what}: caused_by");
        }
        if let Some(devices) = &want.devices {
            let mut have = got.devices.clone();
            let mut devices = devices.clone();
            have.sort();
            devices.sort();
            assert_eq!(have, devices, "{what}: devices");
        }
        if let Some(t) = want.opened_at {
            assert_eq!(got.opened_at, secs(t), "{what}: opened_at");
        }
        if let Some(t) = want.last_seen_at {
            assert_eq!(got.last_seen_at, secs(t), "{what}: last_seen_at");
        }
        if let Some(t) = want.resolved_at {
            assert_eq!(got.resolved_at, Some(secs(t)), "{what}: resolved_at");
        }
        if let Some(t) = want.resolved_at_us {
            assert_eq!(got.resolved_at, Some(t), "{what}: resolved_at");
        }
        if let Some(text) = &want.summary_contains {
            assert!(
                got.summary.contains(text.as_str()),
                "{what}: summary {:?} lacks {text:?}",
                got.summary
            );
        }
        if let Some(text) = &want.summary_lacks {
            assert!(
                !got.summary.contains(text.as_str()),
                "{what}: summary {:?} has {text:?}",
                got.summary
            );
        }
        if let Some(names) = &want.device_names {
            assert_eq!(&got.device_names, names, "{what}: device_names");
        }
        if let Some(text) = &want.timeline_contains {
            assert!(
                got.timeline.iter().any(|e| e.note.contains(text.as_str())),
                "{what}: no timeline note with {text:?} in {:#?}",
                got.timeline
            );
        }
        if let Some(n) = want.events {
            assert_eq!(
                got.event_ids.len(),
                n,
                "{what}: event ids {:?}",
                got.event_ids
            );
        }
    }

    fn check_device(&self, where_: &str, want: &ExpectDevice) {
        let got = self.devices.get(&want.mac).unwrap_or_else(|| {
            panic!(
                "{where_}: no device {}; have {:?}",
                want.mac,
                self.devices.keys()
            )
        });
        let what = format!("{where_}: device {}", got.mac);
        if let Some(kind) = want.kind {
            assert_eq!(got.kind, kind, "{what}: kind");
        }
        if let Some(state) = want.state {
            assert_eq!(
                got.state, state,
                "{what}: state; timeline {:#?}",
                got.timeline
            );
        }
        if let Some(name) = &want.name {
            assert_eq!(got.name.as_ref(), Some(name), "{what}: name");
        }
        if let Some(site) = &want.site_id {
            assert_eq!(got.site_id.as_ref(), Some(site), "{what}: site_id");
        }
        if let Some(t) = want.since {
            assert_eq!(got.since, t * 1_000_000, "{what}: since");
        }
        if let Some(reason) = &want.last_restart_reason {
            assert_eq!(
                got.last_restart_reason.as_ref(),
                Some(reason),
                "{what}: last_restart_reason"
            );
        }
        if let Some(flaps) = want.flaps {
            assert_eq!(got.flaps, flaps, "{what}: flaps");
        }
    }
}

fn note(step: &Step) -> String {
    if step.note.is_empty() {
        String::new()
    } else {
        format!(": {}", step.note)
    }
}

/// Plays a whole scenario, checking every expectation.
pub fn play(name: &str, scenario: &Scenario) -> Driver {
    let mut driver = Driver::new(name, scenario.settings.clone());
    for (index, step) in scenario.steps.iter().enumerate() {
        let produced = driver.step(index, step);
        driver.check(index, step, &produced);
    }
    driver
}
