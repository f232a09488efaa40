//! The delivery engine: the IO shell around the pure cores.
//!
//! - The **delivery stage** ([`delivery_stage`]) tails the event log with its own cursor, matches events to
//!   subscriptions, aggregates them per (subscription, topic) and writes the batches to
//!   the outbox in the same transaction that moves its cursor.
//! - The **lanes** ([`lane`]), one per subscription, send due batches in order with at
//!   most `max_in_flight` requests at a time, behind the subscription's circuit breaker,
//!   and decide retries with [`crate::schedule::next_attempt`].
//! - The **recorder** ([`recorder`]) writes attempt records and batch states in groups.
//!
//! Delivery is at least once: a batch is marked delivered after its 2xx, so a crash in
//! between sends it again after restart, with the same delivery id header.

mod claims;
mod delivery_stage;
mod lane;
mod recorder;
mod route_stage;

pub use route_stage::{RoutingSettings, SharedNames};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use store::{BatchRow, NewBatch, OutboxCommit, ReplayRequest, Store, StoreError};
use tokio::sync::mpsc;

use crate::breaker::BreakerPolicy;
use crate::client::{Client, ClientSettings};
use crate::registry::Registry;
use crate::route::Routes;
use crate::schedule::RetryPolicy;
use crate::subscription::{Subscription, WebhookType};
use crate::supervise::{Stages, supervise};
use crate::tail::{self, Log};
use crate::targets::Target;

/// The stage's name in the store.
pub const STAGE: &str = "deliver";

/// How the engine batches, sends and retries.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// How long events of one (subscription, topic) are gathered before they are sent.
    pub aggregation_window: Duration,
    /// Most events in one message.
    pub max_batch_events: usize,
    /// Requests in flight per subscription (1 keeps a healthy receiver's messages in order).
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    pub client: ClientSettings,
    /// Routing targets (Slack, PagerDuty, ...), by name.
    pub targets: Vec<Target>,
    /// The routes to them.
    pub routes: Routes,
    pub routing: RoutingSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            aggregation_window: Duration::from_secs(1),
            max_batch_events: 100,
            max_in_flight: 1,
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            client: ClientSettings::default(),
            targets: Vec::new(),
            routes: Routes::default(),
            routing: RoutingSettings::default(),
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A batch a lane holds: what it needs to send and to decide about retries.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    pub id: i64,
    pub subscription_id: String,
    pub topic: String,
    pub delivery_id: String,
    pub due_at: i64,
    pub attempts: u32,
    pub round_attempts: u32,
    pub first_attempt_at: Option<i64>,
    /// The body when it is at hand; read from the outbox otherwise.
    pub body: Option<Bytes>,
}

impl Queued {
    /// A batch just written to the outbox as `id`, due at once.
    pub(crate) fn new(id: i64, batch: NewBatch) -> Queued {
        Queued {
            id,
            subscription_id: batch.subscription_id,
            topic: batch.topic,
            delivery_id: batch.delivery_id,
            due_at: batch.created_at,
            attempts: 0,
            round_attempts: 0,
            first_attempt_at: None,
            body: Some(batch.body),
        }
    }
}

impl From<BatchRow> for Queued {
    fn from(row: BatchRow) -> Queued {
        Queued {
            id: row.id,
            subscription_id: row.subscription_id,
            topic: row.topic,
            delivery_id: row.delivery_id,
            due_at: row.due_at,
            attempts: row.attempts,
            round_attempts: row.round_attempts,
            first_attempt_at: row.first_attempt_at,
            body: (!row.body.is_empty()).then_some(row.body),
        }
    }
}

/// What the lanes share.
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    /// Routing targets by destination id (`target:<name>`).
    pub targets: HashMap<String, Arc<Target>>,
    pub client: Client,
    pub settings: EngineSettings,
    pub recorder: mpsc::UnboundedSender<store::AttemptRecord>,
}

/// Hands batches to the lane of their subscription, starting lanes as needed.
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    lanes: Mutex<HashMap<String, mpsc::UnboundedSender<Queued>>>,
    /// On a store other instances share: the destinations this instance sends to.
    claims: Option<Arc<claims::Claims>>,
}

impl Dispatcher {
    /// Batches just written to the outbox. On a shared store they go out from the
    /// instance that holds their destination's claim, which reads them from the outbox
    /// (this one too): the claims loop is woken to read them now.
    pub fn enqueue(&self, batches: impl IntoIterator<Item = Queued>) {
        match &self.claims {
            Some(claims) => claims.nudge(),
            None => self.hand(batches),
        }
    }

    /// Gives batches to their lanes, starting lanes as needed.
    pub(crate) fn hand(&self, batches: impl IntoIterator<Item = Queued>) {
        let mut lanes = self.lanes.lock().expect("lanes lock");
        for batch in batches {
            let mut batch = batch;
            loop {
                let sender = lanes
                    .entry(batch.subscription_id.clone())
                    .or_insert_with(|| lane::spawn(self.shared.clone(), &batch.subscription_id));
                match sender.send(batch) {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(back)) => {
                        // The lane ended: its subscription was deleted (its batches went
                        // with it), unless it exists again.
                        lanes.remove(&back.subscription_id);
                        if !self.known(&back.subscription_id) {
                            break;
                        }
                        batch = back;
                    }
                }
            }
        }
    }

    /// Stops the lane of `destination` (its requests in flight too): another instance
    /// sends to it now.
    pub(crate) fn close(&self, destination: &str) {
        self.lanes.lock().expect("lanes lock").remove(destination);
    }

    /// Every destination there is: webhooks and routing targets.
    pub(crate) fn destinations(&self) -> Vec<String> {
        let mut all: Vec<String> = self.shared.targets.keys().cloned().collect();
        all.extend(self.shared.registry.current().ids());
        all
    }

    fn known(&self, destination: &str) -> bool {
        self.shared.targets.contains_key(destination)
            || self.shared.registry.current().get(destination).is_some()
    }
}

/// The running engine, as the server holds it.
pub struct Engine {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
}

impl Engine {
    /// Loads the subscriptions and the pending batches, then starts the lanes and the
    /// stages (woken through `stages.wakes()`).
    pub async fn start(
        store: Arc<dyn Store>,
        settings: EngineSettings,
        stages: Arc<Stages>,
    ) -> Result<Engine, StartError> {
        let registry = Arc::new(Registry::load(store.as_ref()).await?);
        let client = Client::new(settings.client.clone())?;
        let recorder = recorder::spawn(store.clone());
        let targets: Vec<Arc<Target>> = settings.targets.iter().cloned().map(Arc::new).collect();
        let shared = Arc::new(Shared {
            store: store.clone(),
            registry: registry.clone(),
            targets: targets
                .iter()
                .map(|t| (t.destination(), t.clone()))
                .collect(),
            client,
            settings: settings.clone(),
            recorder,
        });
        let claims = store.cluster().is_some().then(claims::Claims::new);
        let dispatcher = Arc::new(Dispatcher {
            shared,
            lanes: Mutex::new(HashMap::new()),
            claims: claims.clone(),
        });
        match claims {
            // Several instances: each sends to the destinations it claims, and reads
            // their batches from the outbox.
            Some(claims) => {
                tracing::info!(instance = %claims.instance, "sending is shared with the other instances on the database");
                // At shutdown it gives its claims back before the store closes.
                stages.track(tokio::spawn(claims::run(
                    dispatcher.clone(),
                    claims,
                    stages.stop_signal(),
                )));
            }
            None => {
                // Pending batches first, so that none is both loaded here and handed
                // over by the stage below.
                let mut after = 0;
                let mut loaded = 0usize;
                loop {
                    let rows = store.pending_batches(after, 1_000).await?;
                    let Some(last) = rows.last() else { break };
                    after = last.id;
                    loaded += rows.len();
                    dispatcher.hand(rows.into_iter().map(Queued::from));
                }
                if loaded > 0 {
                    tracing::info!(batches = loaded, "resuming pending deliveries");
                }
            }
        }
        // A store that cannot be read stops the start (the stage reads it again when it
        // runs).
        store.stage_load(STAGE).await?;
        let wakes = stages.wakes().clone();
        delivery_stage::spawn(
            store.clone(),
            registry.clone(),
            dispatcher.clone(),
            wakes.clone(),
            &settings,
            stages.clone(),
        );
        if !settings.routes.is_empty() {
            let load = {
                let (store, dispatcher) = (store.clone(), dispatcher.clone());
                move || {
                    route_stage::RouteStage::load(
                        store.clone(),
                        dispatcher.clone(),
                        settings.routes.clone(),
                        targets.clone(),
                        settings.routing.clone(),
                        settings.aggregation_window,
                    )
                }
            };
            // The first load here, so that a failure stops the start; it serves the
            // first run unless other instances share the store (one of them may run
            // the stage when this one takes it). Every later run (after a panic, after
            // taking the lease) loads what was last committed.
            let loaded = load().await?;
            let mut first = store.cluster().is_none().then_some(loaded);
            let leases = store.clone();
            supervise(stages, route_stage::STAGE_NAME, move |reporter| {
                let stop = reporter.clone();
                let mut loaded = first.take();
                let (load, wakes, store) = (load.clone(), wakes.clone(), leases.clone());
                crate::lease::leased(
                    store,
                    route_stage::STAGE_NAME,
                    async move { stop.stopped().await },
                    move || {
                        let loaded = loaded.take();
                        let load = load.clone();
                        let waiter = wakes.waiter(&[Log::Events, Log::Incidents]);
                        let reporter = reporter.clone();
                        async move {
                            let mut stage = match loaded {
                                Some(stage) => stage,
                                None => tail::until_ok("load the routing stage", load).await,
                            };
                            stage.report_to(reporter.clone());
                            tail::run(stage, reporter, waiter).await
                        }
                    },
                )
            });
        }
        Ok(Engine {
            store,
            registry,
            dispatcher,
        })
    }

    /// Sends one request now, outside the outbox and its retries (a person's "resend to
    /// URL"), through the deliveries' client: the same timeout, certificate checks and
    /// address guard. Returns what the attempt saw, redacted as attempt records are.
    pub async fn send_once(
        &self,
        request: &crate::request::HttpRequest,
        now_us: i64,
    ) -> crate::client::Exchange {
        self.dispatcher
            .shared
            .client
            .request(request, now_us)
            .await
            .0
    }

    /// The subscriptions as the engine sees them.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reads the subscriptions again after the API changed one.
    pub async fn subscriptions_changed(&self) -> Result<(), StoreError> {
        self.registry.reload(self.store.as_ref()).await
    }

    /// Queues a Mist `ping` message to `sub` (sent even when it is disabled); returns the
    /// batch id.
    pub async fn ping(&self, sub: &Subscription) -> Result<i64, StoreError> {
        let now = now_us();
        let event = serde_json::json!({
            "id": sub.id,
            "name": sub.name.clone().unwrap_or_default(),
            "org_id": sub.org_id,
            // Mist names org-level things with the all-zero site id.
            "site_id": sub.site_id.clone().unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into()),
            "timestamp": now as f64 / 1e6,
        });
        let raw = event.to_string();
        let body = match sub.webhook_type {
            WebhookType::Splunk => crate::hec::mist_body(
                "ping",
                [(
                    now,
                    sub.org_id.as_deref(),
                    sub.site_id.as_deref(),
                    raw.as_str(),
                )],
            ),
            _ => mist::write_envelope("ping", [raw.as_str()]),
        };
        let batch = NewBatch {
            subscription_id: sub.id.clone(),
            topic: "ping".into(),
            event_ids: Vec::new(),
            incident_ids: Vec::new(),
            body: Bytes::from(body),
            delivery_id: uuid::Uuid::new_v4().to_string(),
            created_at: now,
        };
        let ids = self
            .store
            .outbox_commit(OutboxCommit {
                stage: None,
                snapshot: None,
                batches: vec![batch.clone()],
                at: now,
            })
            .await?;
        let id = ids[0];
        self.dispatcher.enqueue([Queued::new(id, batch)]);
        Ok(id)
    }

    /// Puts dead batches back in their subscription's queue; returns their ids.
    pub async fn replay(&self, request: ReplayRequest) -> Result<Vec<i64>, StoreError> {
        let ids = self.store.replay_batches(request).await?;
        if self.dispatcher.claims.is_some() {
            // The instance that sends to the webhook reads them back (by the replays'
            // version).
            return Ok(ids);
        }
        for &id in &ids {
            if let Some(row) = self.store.batch(id).await? {
                self.dispatcher.hand([Queued::from(row)]);
            }
        }
        Ok(ids)
    }
}

pub(crate) use crate::clock::now_us;
