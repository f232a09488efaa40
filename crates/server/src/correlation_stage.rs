//! The correlation stage: the IO shell around the pure `correlate::Correlator`.
//!
//! It tails the event log with its own cursor, feeds each event to the correlator, and
//! writes the records that changed, the correlator's snapshot and the new cursor in one
//! transaction (`Store::stage_commit`). A crash anywhere therefore resumes exactly after
//! the last committed batch, from the state that batch left: no event is handled twice
//! and none is skipped. Manual actions (ack, resolve, silences) reach the correlator
//! through this task too, so one owner changes its state. Each batch also appends the
//! device changes it made to the device history (`history.rs`), in the same transaction.
//!
//! Names (`[routing] site_names`, and whatever [`Command::SetNames`] adds under them) and
//! the topology ([`Command::SetTopology`]) are inputs the correlator does not snapshot:
//! the stage keeps them and gives them again whenever it loads the correlator.

mod handle;
mod history;
mod inputs;
mod relay;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use correlate::{Correlator, Settings, Snapshot, Transition};
use deliver::supervise::{Reporter, Stages, supervise};
use deliver::tail::{self, Log, TailStage, Wakes};
use store::{DeviceFilter, IncidentFilter, Order, PageRequest, StageCommit, Store, StoreError};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use deliver::clock::now_us;
use handle::Running;
pub use handle::{StageHandle, disabled};
use inputs::ShellInputs;

/// The stage's name in the store.
pub const STAGE: &str = "correlate";

/// Events handled per transaction. Larger batches write a busy device once for more
/// events, but a large stage commit holds up the ingest commits queued behind it: 20,000
/// raised ingest's p99 from ~15 ms to ~90 ms under load for a few percent of throughput.
const PAGE: u32 = 1_000;

/// How often the watched sources' last requests are read.
const SOURCES_EVERY_US: i64 = 1_000_000;

/// What the API asks of the stage.
pub enum Command {
    Acknowledge {
        incident: i64,
        by: String,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    Resolve {
        incident: i64,
        by: String,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    AddSilence {
        silence: correlate::Silence,
        reply: oneshot::Sender<Result<correlate::Silence, CommandError>>,
    },
    ReplaceSilence {
        silence: correlate::Silence,
        reply: oneshot::Sender<Result<Option<correlate::Silence>, CommandError>>,
    },
    RemoveSilence {
        id: i64,
        reply: oneshot::Sender<Result<bool, CommandError>>,
    },
    Silences {
        reply: oneshot::Sender<Vec<correlate::Silence>>,
    },
    /// Replaces the wiring (from Mist's device stats) for incidents from now on.
    SetTopology {
        topology: correlate::Topology,
        reply: oneshot::Sender<()>,
    },
    /// Replaces the names a source other than the config gives (Mist's API); the
    /// configured names keep priority over them.
    SetNames {
        names: mist::Names,
        reply: oneshot::Sender<()>,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Rejected(#[from] correlate::CorrelateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads the stage's state and runs it until the process ends, supervised: after a
/// panic it is loaded again from its last commit and goes on. Appended events wake it
/// (through `stages.wakes()`); it wakes the routing stage when it commits incident changes.
pub async fn spawn(
    store: Arc<dyn Store>,
    settings: Settings,
    names: mist::Names,
    stages: Arc<Stages>,
    watches: Vec<(String, i64)>,
) -> Result<StageHandle, StoreError> {
    let inputs = Arc::new(std::sync::Mutex::new(ShellInputs {
        configured: names,
        ..ShellInputs::default()
    }));
    // The first load happens here, so that a store that cannot be read stops the start.
    let (mut correlator, cursor) = load(store.as_ref(), settings.clone()).await?;
    inputs.lock().expect("shell inputs").give(&mut correlator);
    // On a store other instances share, another instance may run the stage when this
    // one takes it over: each run then loads what was last committed.
    let mut first = store.cluster().is_none().then_some((correlator, cursor));
    let (tx, rx) = mpsc::channel(64);
    let commands = Arc::new(tokio::sync::Mutex::new(rx));
    let wakes = stages.wakes().clone();
    let running = Arc::new(AtomicBool::new(false));
    let handle = StageHandle {
        commands: tx.clone(),
        running: running.clone(),
        shared: store.cluster().is_some().then(|| store.clone()),
        inputs: inputs.clone(),
    };
    // Several instances on one database: the stage runs on the holder of its lease, and
    // loads what the last holder committed whenever this instance takes it.
    supervise(stages, STAGE_NAME, move |reporter| {
        let stop = reporter.clone();
        let (store, settings) = (store.clone(), settings.clone());
        let (commands, wakes, tx) = (commands.clone(), wakes.clone(), tx.clone());
        let (watches, inputs, running) = (watches.clone(), inputs.clone(), running.clone());
        // The state loaded at start is used once, by the first run (a commit from a
        // stale state would be refused anyway: the store fences stages).
        let mut loaded = first.take();
        deliver::lease::leased(
            store.clone(),
            STAGE_NAME,
            async move { stop.stopped().await },
            move || {
                let loaded = loaded.take();
                let (store, settings) = (store.clone(), settings.clone());
                let (commands, wakes, tx) = (commands.clone(), wakes.clone(), tx.clone());
                let (watches, inputs, running) = (watches.clone(), inputs.clone(), running.clone());
                let reporter = reporter.clone();
                async move {
                    let waiter = wakes.waiter(&[Log::Events]);
                    let (correlator, cursor) = match loaded {
                        Some(state) => state,
                        None => {
                            let (mut correlator, cursor) =
                                tail::until_ok("load the correlation state", || {
                                    load(store.as_ref(), settings.clone())
                                })
                                .await;
                            inputs.lock().expect("shell inputs").give(&mut correlator);
                            (correlator, cursor)
                        }
                    };
                    reporter.position(cursor);
                    let commands = commands.lock_owned().await;
                    let _running = Running::start(&running);
                    let stage = Stage {
                        store: store.clone(),
                        correlator,
                        cursor,
                        commands,
                        wakes,
                        reporter: reporter.clone(),
                        watches,
                        sources_checked_at: None,
                        inputs,
                    };
                    tokio::select! {
                        () = tail::run(stage, reporter, waiter) => {}
                        () = relay::serve(store, tx) => {}
                    }
                }
            },
        )
    });
    Ok(handle)
}

/// The correlation stage's name in `/readyz` and `/metrics`.
pub const STAGE_NAME: &str = "correlation";

/// Rebuilds the correlator from what the stage last committed: the snapshot (timers,
/// silences, marks, counters) plus the device and live incident records, which the
/// stage keeps as rows rather than rewriting them with every batch.
async fn load(store: &dyn Store, settings: Settings) -> Result<(Correlator, i64), StoreError> {
    let Some(state) = store.stage_load(STAGE).await? else {
        return Ok((Correlator::new(settings), 0));
    };
    let mut snapshot = match serde_json::from_slice::<Snapshot>(&state.snapshot) {
        Ok(s) => s,
        Err(e) => {
            // A snapshot this build cannot read: rebuild from the start of the log
            // rather than continue from a state that is not there.
            tracing::warn!(error = %e, "correlation snapshot unreadable; rebuilding from the log");
            return Ok((Correlator::new(settings), 0));
        }
    };
    snapshot.devices = all_pages(|page| store.devices(DeviceFilter::default(), page))
        .await?
        .iter()
        .filter_map(|row| serde_json::from_str(&row.record).ok())
        .collect();
    let mut incidents = Vec::new();
    for state in ["open", "acknowledged"] {
        let filter = || IncidentFilter {
            state: Some(state.to_string()),
            ..IncidentFilter::default()
        };
        let rows = all_pages(|page| store.incidents(filter(), page)).await?;
        incidents.extend(
            rows.iter()
                .filter_map(|row| serde_json::from_str::<correlate::Incident>(&row.record).ok()),
        );
    }
    incidents.sort_by_key(|i| i.id);
    snapshot.incidents = incidents;
    Ok((Correlator::restore(settings, snapshot), state.cursor))
}

/// Every row of a paged list, oldest first.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<store::Page<T>, StoreError>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest {
            limit: 1_000,
            after,
            order: Order::Asc,
        })
        .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

struct Stage {
    store: Arc<dyn Store>,
    correlator: Correlator,
    cursor: i64,
    /// Shared with the stage's next run after a panic, so the API's handle stays valid.
    commands: OwnedMutexGuard<mpsc::Receiver<Command>>,
    wakes: Arc<Wakes>,
    reporter: Reporter,
    /// Sources watched for silence: name and `silent_after` (µs).
    watches: Vec<(String, i64)>,
    /// When the sources' last requests were last read (unix µs).
    sources_checked_at: Option<i64>,
    /// Names and topology, shared with the stage's next run after a panic.
    inputs: Arc<std::sync::Mutex<ShellInputs>>,
}

/// The records one batch changed, latest version of each.
#[derive(Default)]
struct Changed {
    devices: BTreeMap<(String, String), correlate::Device>,
    incidents: BTreeMap<i64, correlate::Incident>,
    /// Every incident change in order, for the routing stage.
    changes: Vec<store::IncidentChange>,
    /// Every device change in order, for the device history.
    history: Vec<store::DeviceHistoryRow>,
}

impl Changed {
    fn absorb(&mut self, transitions: Vec<Transition>) {
        for t in transitions {
            match t {
                Transition::Device(d) => {
                    self.devices.insert((d.org_id.clone(), d.mac.clone()), d);
                }
                Transition::Incident { incident, change } => {
                    let record = serde_json::to_value(&incident).expect("an incident serialises");
                    self.changes.push(store::IncidentChange {
                        id: 0,
                        incident_id: incident.id,
                        change: text(&serde_json::to_value(change).expect("a change serialises")),
                        at: incident
                            .timeline
                            .last()
                            .map_or(incident.last_seen_at, |t| t.at),
                        record: record.to_string(),
                    });
                    self.incidents.insert(incident.id, incident);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.incidents.is_empty()
    }
}

impl TailStage for Stage {
    type Input = Command;
    const NAME: &'static str = "correlation";

    async fn step(&mut self) -> Result<bool, StoreError> {
        Stage::step(self).await
    }

    /// The correlator may be ahead of what was committed: back to the last committed state.
    async fn recover(&mut self) {
        self.reload().await
    }

    fn deadline(&self) -> Option<i64> {
        let sources = (!self.watches.is_empty())
            .then(|| self.sources_checked_at.map(|at| at + SOURCES_EVERY_US))
            .flatten();
        [self.correlator.poll_timeout(), sources]
            .into_iter()
            .flatten()
            .min()
    }

    async fn input(&mut self) -> Option<Command> {
        self.commands.recv().await
    }

    async fn handle(&mut self, command: Command) {
        self.command(command).await
    }

    async fn finish(&mut self) {
        Stage::finish(self).await
    }
}

impl Stage {
    /// At shutdown: catches up with the log (what was acknowledged before the signal;
    /// the server bounds how long it waits), then writes the cursor it reached (it moves
    /// past topics it does not read without a commit) with the snapshot.
    async fn finish(&mut self) {
        loop {
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "correlation stage stopped before catching up; it resumes from its last commit");
                    return;
                }
            }
        }
        match self.commit(self.cursor, Changed::default(), now_us()).await {
            Ok(()) => tracing::debug!(cursor = self.cursor, "correlation stage stopped"),
            Err(e) => {
                tracing::warn!(error = %e, "correlation stage could not write its cursor at shutdown")
            }
        }
    }

    /// Handles due timers and the next batch of events; true when there may be more.
    async fn step(&mut self) -> Result<bool, StoreError> {
        let now = now_us();
        let mut changed = Changed::default();
        let topics: Vec<String> = Correlator::TOPICS
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        let (events, covered) = self.store.tail(self.cursor, topics, PAGE).await?;
        for e in &events {
            let transitions = feed(&mut self.correlator, e, now);
            changed.history.extend(history::rows(e.id, &transitions));
            changed.absorb(transitions);
        }
        self.check_sources(&mut changed, now).await?;
        // Timers after the batch: a reconnect waiting in the batch must be seen before
        // a hold-down that it would have cancelled fires.
        if self.correlator.poll_timeout().is_some_and(|at| at <= now) {
            changed.absorb(self.correlator.handle_timeout(now));
        }
        if changed.is_empty() && events.is_empty() {
            // Only events the correlator does not read: move on without a commit (after
            // a restart the stage skips them again, cheaply).
            self.cursor = covered;
            self.reporter.position(covered);
            return Ok(false);
        }
        self.commit(covered, changed, now).await?;
        self.reporter.position(covered);
        Ok(events.len() as u32 == PAGE)
    }

    /// Tells the correlator when each watched source last received a request (from the
    /// store's totals, so a restart knows too), at most every [`SOURCES_EVERY_US`].
    async fn check_sources(&mut self, changed: &mut Changed, now: i64) -> Result<(), StoreError> {
        let first = self.sources_checked_at.is_none();
        if self
            .sources_checked_at
            .is_some_and(|at| now - at < SOURCES_EVERY_US)
        {
            return Ok(());
        }
        if first {
            // Sources whose `silent_after` went from the config stop being watched.
            let names: Vec<&str> = self.watches.iter().map(|(n, _)| n.as_str()).collect();
            changed.absorb(self.correlator.watch_only_sources(&names, now));
        }
        self.sources_checked_at = Some(now);
        if self.watches.is_empty() {
            return Ok(());
        }
        let stats = self.store.stats().await?;
        for (name, after) in &self.watches {
            let last = stats
                .rows
                .iter()
                .filter(|r| &r.source == name)
                .map(|r| r.last_received_at)
                .max();
            changed.absorb(self.correlator.source_seen(name, *after, last, now));
        }
        Ok(())
    }

    async fn reload(&mut self) {
        let settings = self.correlator.settings().clone();
        match load(self.store.as_ref(), settings).await {
            Ok((mut correlator, cursor)) => {
                self.inputs
                    .lock()
                    .expect("shell inputs")
                    .give(&mut correlator);
                self.correlator = correlator;
                self.cursor = cursor;
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload the correlation state"),
        }
    }

    async fn commit(&mut self, cursor: i64, changed: Changed, now: i64) -> Result<(), StoreError> {
        let snapshot = serde_json::to_vec(&self.correlator.snapshot_without_records())
            .expect("the snapshot serialises");
        let commit = StageCommit {
            stage: STAGE.to_string(),
            cursor,
            snapshot,
            devices: changed
                .devices
                .into_values()
                .map(|d| device_row(&d))
                .collect(),
            incidents: changed
                .incidents
                .into_values()
                .map(|i| incident_row(&i))
                .collect(),
            changes: changed.changes,
            device_changes: changed.history,
            at: now,
        };
        let incidents_changed = !commit.changes.is_empty();
        self.store.stage_commit(commit).await?;
        self.cursor = cursor;
        if incidents_changed {
            self.wakes.committed(Log::Incidents);
        }
        Ok(())
    }

    async fn command(&mut self, command: Command) {
        let now = now_us();
        match command {
            Command::Acknowledge {
                incident,
                by,
                reply,
            } => {
                let result = self.correlator.acknowledge(incident, &by, now);
                let _ = reply.send(self.apply(result, now).await);
            }
            Command::Resolve {
                incident,
                by,
                reply,
            } => {
                let result = self.correlator.resolve(incident, &by, now);
                let _ = reply.send(self.apply(result, now).await);
            }
            Command::AddSilence { silence, reply } => {
                let added = self.correlator.add_silence(silence);
                let result = self.commit(self.cursor, Changed::default(), now).await;
                let _ = reply.send(result.map(|()| added).map_err(CommandError::from));
            }
            Command::ReplaceSilence { silence, reply } => {
                let replaced = self.correlator.replace_silence(silence);
                let result = self.commit(self.cursor, Changed::default(), now).await;
                let _ = reply.send(result.map(|()| replaced).map_err(CommandError::from));
            }
            Command::RemoveSilence { id, reply } => {
                let removed = self.correlator.remove_silence(id);
                let result = self.commit(self.cursor, Changed::default(), now).await;
                let _ = reply.send(result.map(|()| removed).map_err(CommandError::from));
            }
            Command::Silences { reply } => {
                let _ = reply.send(self.correlator.silences().to_vec());
            }
            Command::SetTopology { topology, reply } => {
                let mut inputs = self.inputs.lock().expect("shell inputs");
                inputs.topology = topology;
                inputs.give(&mut self.correlator);
                let _ = reply.send(());
            }
            Command::SetNames { names, reply } => {
                let mut inputs = self.inputs.lock().expect("shell inputs");
                inputs.learned = names;
                inputs.give(&mut self.correlator);
                let _ = reply.send(());
            }
        }
    }

    async fn apply(
        &mut self,
        result: Result<Vec<Transition>, correlate::CorrelateError>,
        now: i64,
    ) -> Result<(), CommandError> {
        let mut changed = Changed::default();
        changed.absorb(result?);
        self.commit(self.cursor, changed, now).await?;
        Ok(())
    }
}

/// Hands one stored event to the correlator (the stage and the replay share this).
pub(crate) fn feed(
    correlator: &mut Correlator,
    e: &store::StoredEvent,
    now: i64,
) -> Vec<Transition> {
    let topic = mist::Topic::parse(&e.topic);
    let raw: serde_json::Value = serde_json::from_slice(&e.raw).unwrap_or(serde_json::Value::Null);
    let input = correlate::Input {
        event_id: e.id,
        topic: &topic,
        time: e.time,
        org_id: e.org_id.as_deref(),
        site_id: e.site_id.as_deref(),
        event_type: e.event_type.as_deref(),
        raw: &raw,
    };
    correlator.handle(&input, now)
}

use rows::text;
pub use rows::{device_row, incident_row};
