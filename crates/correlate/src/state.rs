//! The correlator's state and the incident operations every rule shares: open (with ids,
//! silences and the key index), change, resolve, and emitting transitions.

use std::collections::BTreeMap;

use mist::Severity;

use crate::device::{Device, DeviceRef};
use crate::incident::{Change, Incident, IncidentKind, IncidentState};
use crate::marks::Marks;
use crate::records::{DownEpisode, PortDown, SiteName, SourceWatch};
use crate::silence::Silence;
use crate::snapshot::{SNAPSHOT_VERSION, Snapshot};
use crate::timers::Timers;
use crate::topology::Topology;
use crate::transition::Transition;

/// Everything the rules read and write. Maps are ordered, so iteration (and therefore
/// every output) is deterministic.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub devices: BTreeMap<DeviceRef, Device>,
    /// Live (open or acknowledged) incidents by id.
    pub incidents: BTreeMap<i64, Incident>,
    /// Live incident ids by key; derived from `incidents`.
    by_key: BTreeMap<String, i64>,
    pub timers: Timers,
    pub silences: Vec<Silence>,
    pub down: BTreeMap<DeviceRef, DownEpisode>,
    pub marks: Marks,
    pub next_incident_id: i64,
    pub next_silence_id: i64,
    pub last_event_id: Option<i64>,
    /// Watched sources (`silent_after`), by name.
    pub sources: BTreeMap<String, SourceWatch>,
    /// Switch ports down under an AP, by switch MAC and port.
    pub ports_down: BTreeMap<(String, String), PortDown>,
    /// Site names that events carried, by site id, for the events that carry none
    /// (alarms): what earlier events taught.
    pub site_names: BTreeMap<String, SiteName>,
    /// Names the shell knows (configuration, Mist's API): not part of the snapshot, the
    /// shell gives them again after a restore.
    pub names: mist::Names,
    /// The wiring the shell knows: not part of the snapshot either.
    pub topology: Topology,
    /// Transitions produced by the call in progress.
    pub out: Vec<Transition>,
}

/// An incident about to open; [`State::open`] fills in the rest.
#[derive(Clone, Debug)]
pub(crate) struct NewIncident {
    pub key: String,
    pub kind: IncidentKind,
    pub alarm_type: Option<String>,
    pub severity: Severity,
    pub org_id: Option<String>,
    pub site_id: Option<String>,
    pub devices: Vec<String>,
    pub opened_at: i64,
    pub last_seen_at: i64,
    pub summary: String,
    pub caused_by: Option<i64>,
    pub device_names: BTreeMap<String, String>,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            devices: BTreeMap::new(),
            incidents: BTreeMap::new(),
            by_key: BTreeMap::new(),
            timers: Timers::default(),
            silences: Vec::new(),
            down: BTreeMap::new(),
            marks: Marks::default(),
            next_incident_id: 1,
            next_silence_id: 1,
            last_event_id: None,
            sources: BTreeMap::new(),
            ports_down: BTreeMap::new(),
            site_names: BTreeMap::new(),
            names: mist::Names::default(),
            topology: Topology::default(),
            out: Vec::new(),
        }
    }

    pub(crate) fn from_snapshot(snapshot: Snapshot) -> State {
        let incidents: BTreeMap<i64, Incident> = snapshot
            .incidents
            .into_iter()
            .filter(Incident::is_live)
            .map(|i| (i.id, i))
            .collect();
        let by_key = incidents.values().map(|i| (i.key.clone(), i.id)).collect();
        State {
            devices: snapshot
                .devices
                .into_iter()
                .map(|d| (d.reference(), d))
                .collect(),
            incidents,
            by_key,
            timers: Timers::from_list(snapshot.timers),
            silences: snapshot.silences,
            down: snapshot
                .down_episodes
                .into_iter()
                .map(|e| (e.device.clone(), e))
                .collect(),
            marks: Marks::from_list(snapshot.marks),
            next_incident_id: snapshot.next_incident_id,
            next_silence_id: snapshot.next_silence_id,
            last_event_id: snapshot.last_event_id,
            sources: snapshot.sources,
            ports_down: snapshot
                .ports_down
                .into_iter()
                .map(|p| ((p.switch.clone(), p.port.clone()), p))
                .collect(),
            site_names: snapshot.site_names,
            names: mist::Names::default(),
            topology: Topology::default(),
            out: Vec::new(),
        }
    }

    pub(crate) fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            devices: self.devices.values().cloned().collect(),
            incidents: self.incidents.values().cloned().collect(),
            ..self.to_snapshot_without_records()
        }
    }

    pub(crate) fn to_snapshot_without_records(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            devices: Vec::new(),
            incidents: Vec::new(),
            timers: self.timers.to_list(),
            silences: self.silences.clone(),
            down_episodes: self.down.values().cloned().collect(),
            marks: self.marks.to_list(),
            next_incident_id: self.next_incident_id,
            next_silence_id: self.next_silence_id,
            last_event_id: self.last_event_id,
            sources: self.sources.clone(),
            ports_down: self.ports_down.values().cloned().collect(),
            site_names: self.site_names.clone(),
        }
    }

    /// Remembers the site name an event at `at` carries, unless a newer event named the
    /// site already.
    pub(crate) fn learn_site_name(&mut self, site_id: Option<&str>, name: Option<&str>, at: i64) {
        let (Some(site), Some(name)) = (site_id, name.map(str::trim)) else {
            return;
        };
        if name.is_empty() || self.site_names.get(site).is_some_and(|n| n.at >= at) {
            return;
        }
        let name = name.to_owned();
        self.site_names
            .insert(site.to_owned(), SiteName { name, at });
    }

    /// A device's name as the inventory (what its events said) or the shell knows it.
    pub(crate) fn device_name(&self, org: &str, mac: &str) -> Option<&str> {
        let r = DeviceRef {
            org_id: org.to_owned(),
            mac: mac.to_owned(),
        };
        self.devices
            .get(&r)
            .and_then(|d| d.name.as_deref())
            .or_else(|| self.names.device(mac))
    }

    /// A site as a person reads it: the name its event carried, else the shell's (the
    /// operator's `[routing] site_names` win over what events said), else what earlier
    /// events said, else its id.
    pub(crate) fn site_label(&self, carried: Option<&str>, site_id: Option<&str>) -> String {
        carried
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .or_else(|| site_id.and_then(|id| self.names.site(id)))
            .or_else(|| {
                site_id
                    .and_then(|id| self.site_names.get(id))
                    .map(|n| n.name.as_str())
            })
            .or(site_id)
            .unwrap_or("unknown site")
            .to_owned()
    }

    /// The live incident with this key.
    pub(crate) fn live_by_key(&self, key: &str) -> Option<i64> {
        self.by_key.get(key).copied()
    }

    /// Emits the current record of a device.
    pub(crate) fn emit_device(&mut self, device: &DeviceRef) {
        if let Some(record) = self.devices.get(device) {
            self.out.push(Transition::Device(record.clone()));
        }
    }

    fn emit_incident(&mut self, id: i64, change: Change) {
        if let Some(incident) = self.incidents.get(&id) {
            self.out.push(Transition::Incident {
                incident: incident.clone(),
                change,
            });
        }
    }

    /// Opens an incident: assigns the next id, applies silences, records and emits it.
    pub(crate) fn open(
        &mut self,
        new: NewIncident,
        at: i64,
        event_id: Option<i64>,
        note: String,
    ) -> i64 {
        let id = self.next_incident_id;
        self.next_incident_id += 1;
        let mut incident = Incident {
            id,
            key: new.key,
            kind: new.kind,
            alarm_type: new.alarm_type,
            state: IncidentState::Open,
            severity: new.severity,
            org_id: new.org_id,
            site_id: new.site_id,
            devices: new.devices,
            opened_at: new.opened_at,
            last_seen_at: new.last_seen_at,
            resolved_at: None,
            summary: new.summary,
            suppressed: new.caused_by.is_some(),
            silenced: false,
            caused_by: new.caused_by,
            timeline: Vec::new(),
            event_ids: Vec::new(),
            device_names: new.device_names,
        };
        let mut notes = vec![note];
        if let Some(cause) = incident.caused_by {
            notes.push(format!("suppressed: caused by incident {cause}"));
        }
        if let Some(silence) = self.silences.iter().find(|s| s.matches(&incident)) {
            incident.silenced = true;
            notes.push(format!(
                "silenced by silence {} ({})",
                silence.id, silence.comment
            ));
        }
        notes.retain(|n| !n.is_empty());
        incident.record(at, Change::Opened, event_id, notes.join("; "));
        self.by_key.insert(incident.key.clone(), id);
        self.incidents.insert(id, incident);
        self.emit_incident(id, Change::Opened);
        id
    }

    /// Applies `edit` to a live incident, records `change` and emits it.
    pub(crate) fn change(
        &mut self,
        id: i64,
        at: i64,
        change: Change,
        event_id: Option<i64>,
        note: String,
        edit: impl FnOnce(&mut Incident),
    ) {
        let Some(incident) = self.incidents.get_mut(&id) else {
            return;
        };
        edit(incident);
        if change == Change::Acknowledged {
            incident.state = IncidentState::Acknowledged;
        }
        incident.record(at, change, event_id, note);
        self.emit_incident(id, change);
    }

    /// Resolves a live incident at `at` after applying `edit`, emits it, and drops it from
    /// the state (the shell keeps resolved incidents). Returns the final record.
    pub(crate) fn resolve(
        &mut self,
        id: i64,
        at: i64,
        event_id: Option<i64>,
        note: String,
        edit: impl FnOnce(&mut Incident),
    ) -> Option<Incident> {
        let incident = self.incidents.get_mut(&id)?;
        incident.state = IncidentState::Resolved;
        incident.resolved_at = Some(at);
        edit(incident);
        incident.record(at, Change::Resolved, event_id, note);
        self.emit_incident(id, Change::Resolved);
        let incident = self.incidents.remove(&id)?;
        if self.by_key.get(&incident.key) == Some(&id) {
            self.by_key.remove(&incident.key);
        }
        Some(incident)
    }
}
