//! The delivery stage: from the event log to the outbox.
//!
//! It reads the log after its cursor (only the topics some enabled webhook takes), hands
//! each event to every matching subscription's aggregation buffer, and when the oldest
//! buffer's window has passed it closes all of them and writes the batches together with
//! the cursor they reach. Between two flushes nothing is written, so a crash simply reads
//! those events again: no event is lost between the log and the outbox, and none is put
//! in two batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mist::Topic;
use store::{NewBatch, OutboxCommit, Store, StoreError, StoredEvent};
use tokio::sync::Notify;

use super::{Dispatcher, EngineSettings, Queued, STAGE, now_us};
use crate::aggregate::{AggregationPolicy, Aggregator, BatchKey, Pending};
use crate::registry::{Registry, Subscriptions};
use crate::subscription::WebhookType;
use crate::supervise::{Reporter, Stages, supervise};

/// Events read per query.
const PAGE: u32 = 1_000;

/// Events buffered before a flush, whatever the windows say (catching up on a backlog).
const FLUSH_EVENTS: usize = 20_000;

/// How long the stage sleeps when nobody wakes it.
const IDLE: Duration = Duration::from_millis(500);

/// The shortest pause between two reads of the log when the last one was not full.
const READ_EVERY: Duration = Duration::from_millis(50);

/// How often the cursor is written when the stage only skips events no webhook takes.
const CURSOR_EVERY_US: i64 = 2_000_000;

/// The delivery stage's name in `/readyz` and `/metrics`.
pub const STAGE_NAME: &str = "delivery";

/// Runs the stage from `cursor`, supervised: after a panic it starts again from the
/// cursor it last committed.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    wake: Arc<Notify>,
    cursor: i64,
    settings: &EngineSettings,
    stages: Arc<Stages>,
) {
    let window_us = settings.aggregation_window.as_micros() as i64;
    let max_events = settings.max_batch_events.max(1);
    let mut first = Some(cursor);
    supervise(stages, STAGE_NAME, move |reporter| {
        let given = first.take();
        let (store, registry) = (store.clone(), registry.clone());
        let (dispatcher, wake) = (dispatcher.clone(), wake.clone());
        async move {
            let cursor = match given {
                Some(c) => c,
                None => committed_cursor(store.as_ref()).await,
            };
            reporter.position(cursor);
            let stage = Stage {
                store,
                registry,
                dispatcher,
                wake,
                cursor,
                read: cursor,
                cursor_written_at: 0,
                buffer: Aggregator::new(),
                held: HashMap::new(),
                numbers: HashMap::new(),
                names: Vec::new(),
                window_us,
                max_events,
                reporter,
            };
            stage.run().await
        }
    });
}

/// The cursor the stage last committed, read again after a restart (retried until the
/// store answers: the stage has nothing better to do).
async fn committed_cursor(store: &dyn Store) -> i64 {
    loop {
        match store.stage_load(STAGE).await {
            Ok(state) => return state.map_or(0, |s| s.cursor),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the delivery stage's cursor; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
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
    wake: Arc<Notify>,
    /// Everything up to here is in the outbox (or matched no webhook).
    cursor: i64,
    /// Everything up to here is in `buffer`.
    read: i64,
    cursor_written_at: i64,
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

impl Stage {
    async fn run(mut self) {
        let mut changes = self.registry.changes();
        loop {
            if self.reporter.stopping() {
                return self.finish().await;
            }
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "delivery stage failed a batch; retrying from its last commit");
                    self.reset();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            let sleep = match self.buffer.poll_timeout() {
                Some(at) => Duration::from_micros((at - now_us()).max(0) as u64).min(IDLE),
                None => IDLE,
            };
            let reporter = self.reporter.clone();
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = changes.changed() => {}
                _ = tokio::time::sleep(sleep) => {}
                () = reporter.stopped() => continue,
            }
            // Ingest wakes the stage after every append: under load, read at most every
            // READ_EVERY (the events wait for the aggregation window anyway) rather than
            // once per request.
            tokio::time::sleep(READ_EVERY).await;
        }
    }

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
            if now - self.cursor_written_at >= CURSOR_EVERY_US {
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
        for sub in matched {
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
                hec_body(
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

/// A Splunk HTTP Event Collector body: one event object per Mist event, concatenated,
/// with the event's own time, the topic as sourcetype, and org and site as indexed fields.
pub(crate) fn hec_body<'a>(
    topic: &str,
    events: impl IntoIterator<Item = (i64, Option<&'a str>, Option<&'a str>, &'a str)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (time_us, org_id, site_id, raw) in events {
        let fields = serde_json::json!({"topic": topic, "org_id": org_id, "site_id": site_id});
        // `time` is written as a JSON number with microseconds: an f64 would round it.
        let head = format!(
            r#"{{"time":{}.{:06},"source":"mistgate","sourcetype":{},"fields":{},"event":"#,
            time_us.div_euclid(1_000_000),
            time_us.rem_euclid(1_000_000),
            serde_json::Value::String(format!("mist:{topic}")),
            fields,
        );
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(raw.as_bytes());
        out.push(b'}');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hec_bodies_carry_each_raw_event_with_its_time() {
        let body = hec_body(
            "alarms",
            [
                (
                    1_700_000_000_123_456,
                    Some("o"),
                    Some("s"),
                    r#"{"type": "x"}"#,
                ),
                (1_700_000_001_000_000, Some("o"), None, r#"{"type":"y"}"#),
            ],
        );
        let text = String::from_utf8(body).unwrap();
        let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(objects.len(), 2);
        assert!(text.starts_with(r#"{"time":1700000000.123456,"#), "{text}");
        assert_eq!(objects[0]["event"]["type"], "x");
        assert_eq!(objects[0]["sourcetype"], "mist:alarms");
        assert_eq!(objects[1]["fields"]["site_id"], serde_json::Value::Null);
        assert!(
            text.contains(r#""event":{"type": "x"}}"#),
            "raw kept verbatim: {text}"
        );
    }
}
