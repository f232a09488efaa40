//! The routing stage: from the event log and the incident change log to the targets'
//! outbox.
//!
//! It reads events and incident changes after its two cursors, asks the routes which
//! targets each goes to, builds the target's message (mistgate's JSON, with site and
//! device names where known), and gathers messages per target: one per batch for chat,
//! pages and tickets, several over the aggregation window for Splunk, syslog and NATS.
//! Batches are written with both cursors in one transaction, as in the delivery stage:
//! a crash re-reads, nothing is lost or routed twice.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use correlate::{Change, Incident};
use mist::{Severity, Topic};
use serde::{Deserialize, Serialize};
use store::{IncidentChange, NewBatch, OutboxCommit, Store, StoreError, StoredEvent};

use super::{Dispatcher, Queued, now_us};
use crate::aggregate::{AggregationPolicy, Aggregator, BatchKey, Pending};
use crate::route::{Flow, Routes, Subject};
use crate::supervise::Reporter;
use crate::tail::TailStage;
use crate::targets::{Batching, EventMessage, IncidentMessage, Message, Target};

/// The stage's name in the store.
pub const STAGE: &str = "route";

const PAGE: u32 = 1_000;

/// Topics whose events name their site (`site_name`).
const NAME_TOPICS: [&str; 4] = ["alarms", "audits", "device-events", "device-updowns"];
const FLUSH_MESSAGES: usize = 20_000;
const CURSOR_EVERY_US: i64 = 2_000_000;

/// What routing needs besides routes and targets.
#[derive(Clone, Debug, Default)]
pub struct RoutingSettings {
    /// The base URL people reach mistgate at; incident messages link to
    /// `<public_url>/api/v1/incidents/<id>` when set.
    pub public_url: Option<String>,
    /// Site names by id, for sites whose events do not carry `site_name`.
    pub site_names: BTreeMap<String, String>,
    /// Names another source keeps up to date (Mist's API, `[mist]`), under `site_names`
    /// and what the events say.
    pub api_names: SharedNames,
}

/// Names a background task replaces while the stage reads them.
pub type SharedNames = Arc<std::sync::RwLock<mist::Names>>;

/// What the stage keeps beside its event cursor.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    /// The last incident change routed.
    changes: i64,
    /// Site names learned from events.
    site_names: BTreeMap<String, String>,
}

pub(crate) struct RouteStage {
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    routes: Routes,
    targets: Vec<Arc<Target>>,
    by_name: HashMap<String, usize>,
    settings: RoutingSettings,
    /// The names of sites and devices that the configuration gives (`site_names`), and
    /// later other sources (Mist's API): ahead of what events taught.
    names: mist::Names,
    window_us: i64,
    /// Committed: events and changes up to these are in the outbox or went nowhere.
    events: i64,
    snapshot: Snapshot,
    /// Read into the buffer.
    read_events: i64,
    read_changes: i64,
    written_at: i64,
    /// The cursors moved and wait for `CURSOR_EVERY_US` to pass before they are written.
    cursor_due: bool,
    buffer: Aggregator,
    reporter: Option<Reporter>,
}

/// The routing stage's name in `/readyz` and `/metrics`.
pub const STAGE_NAME: &str = "routing";

impl TailStage for RouteStage {
    type Input = Infallible;
    const NAME: &'static str = "routing";

    async fn step(&mut self) -> Result<bool, StoreError> {
        self.read_and_route().await
    }

    async fn recover(&mut self) {
        self.buffer = Aggregator::new();
        self.read_events = self.events;
        self.read_changes = self.snapshot.changes;
    }

    fn deadline(&self) -> Option<i64> {
        let cursor = self.cursor_due.then_some(self.written_at + CURSOR_EVERY_US);
        [self.buffer.poll_timeout(), cursor]
            .into_iter()
            .flatten()
            .min()
    }

    async fn input(&mut self) -> Option<Infallible> {
        std::future::pending().await
    }

    async fn handle(&mut self, input: Infallible) {
        match input {}
    }

    async fn finish(&mut self) {
        self.finish_routing().await
    }
}

impl RouteStage {
    /// Loads where the stage stands (a first start begins at the end of both logs, and
    /// writes that position at once: routes notify what happens from now on, not history).
    pub(crate) async fn load(
        store: Arc<dyn Store>,
        dispatcher: Arc<Dispatcher>,
        routes: Routes,
        targets: Vec<Arc<Target>>,
        settings: RoutingSettings,
        window: Duration,
    ) -> Result<RouteStage, StoreError> {
        let (events, snapshot) = match store.stage_load(STAGE).await? {
            Some(state) => (
                state.cursor,
                serde_json::from_slice(&state.snapshot).unwrap_or_default(),
            ),
            None => {
                let events = store.tail(0, Vec::new(), 1).await?.1;
                let snapshot = Snapshot {
                    changes: store.last_incident_change().await?,
                    site_names: BTreeMap::new(),
                };
                // Written at once: a restart before the stage's first commit would begin
                // at the end of the logs again, and never route what arrived in between.
                store
                    .outbox_commit(OutboxCommit {
                        stage: Some((STAGE.to_string(), events)),
                        snapshot: Some(
                            serde_json::to_vec(&snapshot).expect("the snapshot serialises"),
                        ),
                        batches: Vec::new(),
                        at: now_us(),
                    })
                    .await?;
                (events, snapshot)
            }
        };
        let by_name = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(RouteStage {
            store,
            dispatcher,
            routes,
            targets,
            by_name,
            names: mist::Names::with_sites(settings.site_names.clone()),
            settings,
            window_us: window.as_micros() as i64,
            read_events: events,
            read_changes: snapshot.changes,
            events,
            snapshot,
            written_at: 0,
            cursor_due: false,
            buffer: Aggregator::new(),
            reporter: None,
        })
    }

    /// Says how far the stage got through `reporter` from now on.
    pub(crate) fn report_to(&mut self, reporter: Reporter) {
        reporter.position(self.events);
        self.reporter = Some(reporter);
    }

    /// At shutdown: catches up, then what is buffered goes to the outbox now, with the
    /// cursors it reaches.
    async fn finish_routing(&mut self) {
        // What was acknowledged before the signal first (the server bounds the wait).
        while let Ok(true) = self.read_and_route().await {}
        let now = now_us();
        let behind = self.read_events > self.events || self.read_changes > self.snapshot.changes;
        let written = if !self.buffer.is_empty() || behind {
            self.flush(now).await
        } else {
            Ok(())
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "routing stage could not write its buffer at shutdown; it is read again at the next start");
        }
    }

    async fn read_and_route(&mut self) -> Result<bool, StoreError> {
        let mut more = false;
        let now = now_us();
        // Events first: the names an incident message shows (the site's) come from the
        // events that caused it, which were committed before the change.
        if self.routes.takes_events() {
            let events = self.store.tail_all(self.read_events, PAGE).await?;
            more |= events.len() as u32 == PAGE;
            for event in events {
                self.read_events = event.id;
                self.take_event(event);
            }
        } else {
            // No route takes events, but incident messages want site names, which Mist
            // puts in alarms, audits and device events: read those for the names alone.
            let topics = NAME_TOPICS.iter().map(|t| t.to_string()).collect();
            let (events, covered) = self.store.tail(self.read_events, topics, PAGE).await?;
            more |= events.len() as u32 == PAGE;
            for event in &events {
                self.learn_site_name(event);
            }
            self.read_events = covered.max(self.read_events);
        }
        if self.routes.takes_incidents() {
            let changes = self.store.incident_changes(self.read_changes, PAGE).await?;
            more |= changes.len() as u32 == PAGE;
            for change in changes {
                // A change whose newest event was committed after this pass read the log
                // waits for the next pass, which reads that event (and its names) first.
                let incident = serde_json::from_str::<Incident>(&change.record).ok();
                let newest = incident.as_ref().and_then(|i| i.event_ids.last().copied());
                if newest.is_some_and(|id| id > self.read_events) {
                    more = true;
                    break;
                }
                self.read_changes = change.id;
                self.take_change(change, incident, now).await?;
            }
        }
        let moved = self.read_events > self.events || self.read_changes > self.snapshot.changes;
        if !self.buffer.is_empty() {
            let due = self.buffer.poll_timeout().is_some_and(|at| at <= now);
            if due || self.buffer.len() >= FLUSH_MESSAGES {
                self.flush(now).await?;
            }
        } else if moved && (more || now - self.written_at >= CURSOR_EVERY_US) {
            self.commit(Vec::new(), now).await?;
        }
        self.cursor_due = self.buffer.is_empty()
            && (self.read_events > self.events || self.read_changes > self.snapshot.changes);
        Ok(more)
    }

    /// Buffers `message` for `targets`; `incident` names the incident an incident message
    /// is about (0 for events), so that its batch can be found from the incident.
    fn push(&mut self, targets: Vec<&str>, flow: &str, message: &Message, incident: i64, at: i64) {
        if targets.is_empty() {
            return;
        }
        let raw: Arc<str> = Arc::from(serde_json::to_string(message).expect("messages serialise"));
        let topic = Topic::parse(flow);
        for name in targets {
            let Some(&index) = self.by_name.get(name) else {
                continue;
            };
            let policy = match self.targets[index].config.batching() {
                Batching::One => AggregationPolicy {
                    window_us: 0,
                    max_events: 1,
                    single_event_per_message: true,
                },
                Batching::Many(max) => AggregationPolicy {
                    window_us: self.window_us,
                    max_events: max.max(1),
                    single_event_per_message: false,
                },
            };
            self.buffer.push(
                BatchKey {
                    subscription_id: index as i64,
                    topic: topic.clone(),
                },
                Pending {
                    event_id: incident,
                    raw: raw.clone(),
                },
                &policy,
                at,
            );
        }
    }

    /// Remembers the site name an event carries.
    fn learn_site_name(&mut self, event: &StoredEvent) {
        let Some(site) = &event.site_id else { return };
        // Cheap test first: most events carry no name.
        if !event.raw.windows(11).any(|w| w == b"\"site_name\"") {
            return;
        }
        let raw: serde_json::Value = serde_json::from_slice(&event.raw).unwrap_or_default();
        if let Some(name) = raw.get("site_name").and_then(|n| n.as_str())
            && !name.is_empty()
            && self.snapshot.site_names.get(site).map(String::as_str) != Some(name)
        {
            self.snapshot
                .site_names
                .insert(site.clone(), name.to_string());
        }
    }

    fn take_event(&mut self, event: StoredEvent) {
        self.learn_site_name(&event);
        let raw: serde_json::Value = serde_json::from_slice(&event.raw).unwrap_or_default();
        let topic = Topic::parse(&event.topic);
        let severity = event.severity.as_deref().map(Severity::parse);
        let subject = Subject {
            flow: Flow::Event,
            topic: Some(&topic),
            event_type: event.event_type.as_deref(),
            severity: severity.as_ref(),
            org_id: event.org_id.as_deref(),
            site_id: event.site_id.as_deref(),
            kind: None,
            transition: None,
            quiet: false,
        };
        let targets: Vec<String> = self
            .routes
            .targets(&subject)
            .into_iter()
            .map(str::to_string)
            .collect();
        if targets.is_empty() {
            return;
        }
        let device_name = [
            "device_name",
            "ap_name",
            "hostname",
            "switch_name",
            "gateway_name",
        ]
        .iter()
        .find_map(|k| raw.get(*k).and_then(|v| v.as_str()))
        .or_else(|| {
            raw.get("hostnames")
                .and_then(|h| h.get(0))
                .and_then(|v| v.as_str())
        })
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| event.mac.as_deref().and_then(|m| self.device_name(m)));
        let site_name = event.site_id.as_ref().and_then(|s| self.site_name(s));
        let message = Message::Event(EventMessage {
            id: event.id,
            topic,
            org_id: event.org_id,
            site_id: event.site_id,
            event_type: event.event_type,
            mac: event.mac,
            severity,
            time: event.time,
            received_at: event.received_at,
            source: event.source,
            raw,
            site_name,
            device_name,
        });
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        self.push(targets, "event", &message, 0, event.received_at);
    }

    /// Routes one change; `incident` is its record, read by the caller (`None`: unreadable).
    async fn take_change(
        &mut self,
        change: IncidentChange,
        incident: Option<Incident>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (Some(incident), Some(what)) = (incident, Change::parse(&change.change)) else {
            // Written by this correlator, so it always reads; if a record ever does not,
            // say so and go on rather than stop routing every later change.
            tracing::error!(
                change_id = change.id,
                incident_id = change.incident_id,
                "incident change not readable; not routed"
            );
            return Ok(());
        };
        let subject = Subject {
            flow: Flow::Incident,
            topic: None,
            event_type: incident.alarm_type.as_deref(),
            severity: Some(&incident.severity),
            org_id: incident.org_id.as_deref(),
            site_id: incident.site_id.as_deref(),
            kind: Some(incident.kind),
            transition: Some(what),
            quiet: incident.suppressed || incident.silenced,
        };
        let targets: Vec<String> = self
            .routes
            .targets(&subject)
            .into_iter()
            .map(str::to_string)
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        // The inventory's newest names, the site's name, then the configured names; what
        // the incident's own events said (a security alarm's `hostnames`) after them.
        let mut names = mist::Names::default();
        for mac in &incident.devices {
            if let Some(row) = self.store.device(mac).await?
                && let Ok(record) = serde_json::from_str::<serde_json::Value>(&row.record)
                && let Some(name) = record.get("name").and_then(|n| n.as_str())
                && !name.is_empty()
            {
                names.name_device(mac, name);
            }
        }
        if let Some(site) = &incident.site_id
            && let Some(name) = self.site_name(site)
        {
            names.name_site(site, &name);
        }
        names.fill_from(&self.names);
        names.fill_from(
            &self
                .settings
                .api_names
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let link = self.settings.public_url.as_ref().map(|base| {
            format!(
                "{}/ui/incidents/{}",
                base.trim_end_matches('/'),
                incident.id
            )
        });
        let message = Message::Incident(IncidentMessage::named(
            change.id, what, change.at, incident, &names, link,
        ));
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let incident_id = change.incident_id;
        self.push(targets, "incident", &message, incident_id, now);
        Ok(())
    }

    fn site_name(&self, site_id: &str) -> Option<String> {
        self.names
            .site(site_id)
            .or_else(|| self.snapshot.site_names.get(site_id).map(String::as_str))
            .map(str::to_string)
            .or_else(|| self.api_names().site(site_id).map(str::to_string))
    }

    fn device_name(&self, mac: &str) -> Option<String> {
        self.names
            .device(mac)
            .map(str::to_string)
            .or_else(|| self.api_names().device(mac).map(str::to_string))
    }

    fn api_names(&self) -> std::sync::RwLockReadGuard<'_, mist::Names> {
        self.settings
            .api_names
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    async fn flush(&mut self, now: i64) -> Result<(), StoreError> {
        let batches = self
            .buffer
            .drain()
            .into_iter()
            .map(|batch| {
                let target = &self.targets[batch.subscription_id as usize];
                NewBatch {
                    subscription_id: target.destination(),
                    topic: batch.topic.as_str().to_string(),
                    event_ids: Vec::new(),
                    incident_ids: batch.event_ids.into_iter().filter(|id| *id > 0).collect(),
                    body: Bytes::from(batch.body),
                    delivery_id: uuid::Uuid::new_v4().to_string(),
                    created_at: now,
                }
            })
            .collect();
        self.commit(batches, now).await
    }

    async fn commit(&mut self, batches: Vec<NewBatch>, now: i64) -> Result<(), StoreError> {
        let mut snapshot = self.snapshot.clone();
        snapshot.changes = self.read_changes;
        let ids = self
            .store
            .outbox_commit(OutboxCommit {
                stage: Some((STAGE.to_string(), self.read_events)),
                snapshot: Some(serde_json::to_vec(&snapshot).expect("the snapshot serialises")),
                batches: batches.clone(),
                at: now,
            })
            .await?;
        self.events = self.read_events;
        if let Some(r) = &self.reporter {
            r.position(self.events);
        }
        self.snapshot = snapshot;
        self.written_at = now;
        if !batches.is_empty() {
            metrics::counter!("mistgate_routing_batches_total").increment(batches.len() as u64);
            self.dispatcher.enqueue(
                ids.into_iter()
                    .zip(batches)
                    .map(|(id, b)| Queued::new(id, b)),
            );
        }
        Ok(())
    }
}
