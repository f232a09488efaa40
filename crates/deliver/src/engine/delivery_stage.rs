//! The delivery stage: from the event log to the outbox.
//!
//! It reads the log after its cursor (only the topics some enabled webhook takes), hands
//! each event to every matching subscription's aggregation buffer, and when the oldest
//! buffer's window has passed it closes all of them and writes the batches together with
//! the cursor they reach. Between two flushes nothing is written, so a crash simply reads
//! those events again: no event is lost between the log and the outbox, and none is put
//! in two batches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use mist::Topic;
use store::{NewBatch, OutboxCommit, Store, StoreError, StoredEvent};

use super::{Dispatcher, EngineSettings, Queued, STAGE, now_us};
use crate::aggregate::{AggregationPolicy, Aggregator, BatchKey, Pending};
use crate::registry::{Registry, Subscriptions};
use crate::subscription::WebhookType;
use crate::supervise::{Reporter, Stages, supervise};
use crate::tail::{self, Log, TailStage, Wakes};

/// Events read per query.
const PAGE: u32 = 1_000;

/// Events buffered before a flush, whatever the windows say (catching up on a backlog).
const FLUSH_EVENTS: usize = 20_000;

/// How often the cursor is written when the stage only skips events no webhook takes.
const CURSOR_EVERY_US: i64 = 2_000_000;

/// The delivery stage's name in `/readyz` and `/metrics`.
pub const STAGE_NAME: &str = "delivery";

/// Runs the stage, supervised, while this instance holds the stage's lease (always, on a
/// store no other instance shares): each run starts from the cursor last committed, so
/// after a panic or a takeover it goes on where the last commit left it. Appended events
/// and changed subscriptions wake it.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    wakes: Arc<Wakes>,
    settings: &EngineSettings,
    stages: Arc<Stages>,
) {
    let window_us = settings.aggregation_window.as_micros() as i64;
    let max_events = settings.max_batch_events.max(1);
    supervise(stages, STAGE_NAME, move |reporter| {
        let stop = reporter.clone();
        let (store, registry) = (store.clone(), registry.clone());
        let (dispatcher, wakes) = (dispatcher.clone(), wakes.clone());
        crate::lease::leased(
            store.clone(),
            STAGE_NAME,
            async move { stop.stopped().await },
            move || {
                let (store, registry) = (store.clone(), registry.clone());
                let dispatcher = dispatcher.clone();
                let waiter = wakes.waiter(&[Log::Events]).or(registry.changes());
                let reporter = reporter.clone();
                async move {
                    let cursor =
                        tail::until_ok("read the delivery stage's cursor", || start(&store)).await;
                    reporter.position(cursor);
                    let stage = Stage {
                        store,
                        registry,
                        dispatcher,
                        cursor,
                        read: cursor,
                        cursor_written_at: 0,
                        cursor_due: false,
                        buffer: Aggregator::new(),
                        held: HashMap::new(),
                        numbers: HashMap::new(),
                        names: Vec::new(),
                        window_us,
                        max_events,
                        reporter: reporter.clone(),
                    };
                    tail::run(stage, reporter, waiter).await
                }
            },
        )
    });
}

/// Where the stage starts: its committed cursor; on the very first start the end of the
/// log, written at once (subscriptions get what arrives from now on, not the history; a
/// restart before the stage's first commit would otherwise begin at the end of the log
/// again, and never deliver what was stored in between).
async fn start(store: &Arc<dyn Store>) -> Result<i64, StoreError> {
    if let Some(state) = store.stage_load(STAGE).await? {
        return Ok(state.cursor);
    }
    let end = store.tail(0, Vec::new(), 1).await?.1;
    store
        .outbox_commit(OutboxCommit {
            stage: Some((STAGE.to_string(), end)),
            snapshot: None,
            batches: Vec::new(),
            at: now_us(),
        })
        .await?;
    Ok(end)
}

/// What a splunk body needs of a buffered event besides its raw text.
struct Held {
    time: i64,
    org_id: Option<String>,
    site_id: Option<String>,
    raw: Arc<str>,
}

struct Stage {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    /// Everything up to here is in the outbox (or matched no webhook).
    cursor: i64,
    /// Everything up to here is in `buffer`.
    read: i64,
    cursor_written_at: i64,
    /// A cursor is waiting for `CURSOR_EVERY_US` to pass before it is written.
    cursor_due: bool,
    buffer: Aggregator,
    /// The buffered events, for bodies other than Mist's envelope.
    held: HashMap<i64, Held>,
    /// Subscription ids as the aggregator's numbers, and back.
    numbers: HashMap<String, i64>,
    names: Vec<String>,
    window_us: i64,
    max_events: usize,
    reporter: Reporter,
}

impl TailStage for Stage {
    type Input = Infallible;
    const NAME: &'static str = "delivery";

    async fn step(&mut self) -> Result<bool, StoreError> {
        Stage::step(self).await
    }

    async fn recover(&mut self) {
        self.reset();
    }

    fn deadline(&self) -> Option<i64> {
        let cursor = self
            .cursor_due
            .then_some(self.cursor_written_at + CURSOR_EVERY_US);
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
        Stage::finish(self).await
    }
}

impl Stage {
    /// At shutdown: catches up, then what is buffered goes to the outbox now, with the
    /// cursor it reaches (sent after the restart), rather than being read again.
    async fn finish(&mut self) {
        // What was acknowledged before the signal first (the server bounds the wait).
        while let Ok(true) = self.step().await {}
        let now = now_us();
        let subs = self.registry.current();
        let written = if !self.buffer.is_empty() {
            self.flush(&subs, now).await
        } else if self.read > self.cursor {
            self.commit(Vec::new(), now).await
        } else {
            Ok(())
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "delivery stage could not write its buffer at shutdown; it is read again at the next start");
        }
    }

    fn reset(&mut self) {
        self.buffer = Aggregator::new();
        self.held.clear();
        self.numbers.clear();
        self.names.clear();
        self.read = self.cursor;
    }

    /// Reads a page, flushes when due; true when there is more to read at once.
    async fn step(&mut self) -> Result<bool, StoreError> {
        let subs = self.registry.current();
        let topics = subs.topics();
        let now = now_us();
        if topics.is_empty() && self.buffer.is_empty() {
            // No webhook: nothing to read. Keep the cursor near the end of the log, now
            // and then, so that a first webhook does not start with a long tail to skip.
            self.cursor_due = now - self.cursor_written_at < CURSOR_EVERY_US;
            if !self.cursor_due {
                self.read = self
                    .store
                    .tail(self.read, Vec::new(), 1)
                    .await?
                    .1
                    .max(self.read);
                if self.read > self.cursor {
                    self.commit(Vec::new(), now).await?;
                } else {
                    self.cursor_written_at = now;
                }
            }
            return Ok(false);
        }
        let (events, covered) = self.store.tail(self.read, topics, PAGE).await?;
        let more = events.len() as u32 == PAGE;
        for event in events {
            self.take(&subs, event);
        }
        self.read = covered.max(self.read);
        let now = now_us();
        if !self.buffer.is_empty() {
            let due = self.buffer.poll_timeout().is_some_and(|at| at <= now);
            if due || self.buffer.len() >= FLUSH_EVENTS {
                self.flush(&subs, now).await?;
            }
        } else if self.read > self.cursor
            && (more || now - self.cursor_written_at >= CURSOR_EVERY_US)
        {
            self.commit(Vec::new(), now).await?;
        }
        self.cursor_due = self.buffer.is_empty() && self.read > self.cursor;
        Ok(more)
    }

    fn take(&mut self, subs: &Subscriptions, event: StoredEvent) {
        let mut matched = subs
            .matching(
                &event.topic,
                event.org_id.as_deref(),
                event.site_id.as_deref(),
                event.received_at,
            )
            .peekable();
        if matched.peek().is_none() {
            return;
        }
        let raw: Arc<str> = match String::from_utf8(event.raw) {
            Ok(text) => Arc::from(text),
            Err(e) => Arc::from(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        };
        let topic = Topic::parse(&event.topic);
        let mut splunk = false;
        let parsed = std::cell::OnceCell::new();
        for sub in matched {
            if subs.filters_apply(sub, &event.topic)
                && !subs.filters_admit(
                    sub,
                    parsed.get_or_init(|| serde_json::from_str(&raw).unwrap_or_default()),
                )
            {
                continue;
            }
            let number = match self.numbers.get(&sub.id) {
                Some(&n) => n,
                None => {
                    let n = self.names.len() as i64;
                    self.names.push(sub.id.clone());
                    self.numbers.insert(sub.id.clone(), n);
                    n
                }
            };
            splunk |= sub.webhook_type == WebhookType::Splunk;
            let policy = AggregationPolicy {
                window_us: self.window_us,
                max_events: self.max_events,
                single_event_per_message: sub.single_event_per_message,
            };
            self.buffer.push(
                BatchKey {
                    subscription_id: number,
                    topic: topic.clone(),
                },
                Pending {
                    event_id: event.id,
                    raw: raw.clone(),
                },
                &policy,
                event.received_at,
            );
        }
        if splunk {
            self.held.insert(
                event.id,
                Held {
                    time: event.time,
                    org_id: event.org_id,
                    site_id: event.site_id,
                    raw,
                },
            );
        }
    }

    async fn flush(&mut self, subs: &Subscriptions, now: i64) -> Result<(), StoreError> {
        let mut batches = Vec::new();
        for batch in self.buffer.drain() {
            let Some(sub) = self
                .names
                .get(batch.subscription_id as usize)
                .and_then(|id| subs.get(id))
            else {
                continue; // deleted meanwhile
            };
            let body = if sub.webhook_type == WebhookType::Splunk {
                crate::hec::mist_body(
                    batch.topic.as_str(),
                    batch
                        .event_ids
                        .iter()
                        .filter_map(|id| self.held.get(id))
                        .map(|h| (h.time, h.org_id.as_deref(), h.site_id.as_deref(), &*h.raw)),
                )
            } else {
                batch.body
            };
            batches.push(NewBatch {
                subscription_id: sub.id.clone(),
                topic: batch.topic.as_str().to_string(),
                event_ids: batch.event_ids,
                incident_ids: Vec::new(),
                body: Bytes::from(body),
                delivery_id: uuid::Uuid::new_v4().to_string(),
                created_at: now,
            });
        }
        self.commit(batches, now).await?;
        self.held.clear();
        self.numbers.clear();
        self.names.clear();
        Ok(())
    }

    async fn commit(&mut self, batches: Vec<NewBatch>, now: i64) -> Result<(), StoreError> {
        let ids = self
            .store
            .outbox_commit(OutboxCommit {
                stage: Some((STAGE.to_string(), self.read)),
                snapshot: None,
                batches: batches.clone(),
                at: now,
            })
            .await?;
        self.cursor = self.read;
        self.cursor_written_at = now;
        self.reporter.position(self.cursor);
        if !batches.is_empty() {
            metrics::counter!("mistgate_delivery_batches_total", "state" => "created")
                .increment(batches.len() as u64);
            self.dispatcher.enqueue(
                ids.into_iter()
                    .zip(batches)
                    .map(|(id, b)| Queued::new(id, b)),
            );
        }
        Ok(())
    }
}
