//! One subscription's lane: its queue of batches, its circuit breaker, its requests in
//! flight.
//!
//! Due batches go out lowest id first, at most `max_in_flight` at a time, so a healthy
//! receiver sees its messages in the order they were built. A failed batch waits for its
//! retry time without holding up the ones behind it; when failures pile up the breaker
//! opens and the lane sends nothing but one probe per pause until the receiver answers.
//! A destination with a rate limit sends a due batch only when its [`Limiter`] lets it:
//! until then the batch stays first in line (not an attempt, no backoff) and the lane
//! sleeps until that time, as it does for retries; other lanes are other tasks.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use store::{AttemptRecord, BatchState};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Queued, Shared, now_us};
use crate::breaker::Breaker;
use crate::client::Exchange;
use crate::rate_limit::{Limiter, RateLimit};
use crate::schedule::{Class, Decision, Outcome, classify, next_attempt};
use crate::subscription::Subscription;
use crate::targets::{Context, Target, local_failure, messages_of};

/// Starts the lane of `subscription_id`; batches reach it through the returned sender.
pub(crate) fn spawn(shared: Arc<Shared>, subscription_id: &str) -> mpsc::UnboundedSender<Queued> {
    let (tx, rx) = mpsc::unbounded_channel();
    let destination = subscription_id.to_string();
    let lane = Lane {
        queued: metrics::gauge!("mistgate_delivery_queued", "webhook" => subscription_id.to_string()),
        paused: metrics::gauge!("mistgate_delivery_paused", "webhook" => subscription_id.to_string()),
        rate_limited: metrics::gauge!("mistgate_delivery_rate_limited_batches", "destination" => destination.clone()),
        rate_limit_waits: metrics::counter!("mistgate_delivery_rate_limited_total", "destination" => destination),
        limiter: None,
        held_until: None,
        held_batch: None,
        id: subscription_id.to_string(),
        breaker: Breaker::new(shared.settings.breaker.clone()),
        changes: shared.registry.changes(),
        shared,
        rx,
        due: BTreeMap::new(),
        waiting: BTreeMap::new(),
        in_flight: JoinSet::new(),
        flying: HashSet::new(),
    };
    tokio::spawn(lane.run());
    tx
}

struct Lane {
    id: String,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Queued>,
    /// Batches due now, by id.
    due: BTreeMap<i64, Queued>,
    /// Batches waiting for their time, by (due time, id).
    waiting: BTreeMap<(i64, i64), Queued>,
    breaker: Breaker,
    in_flight: JoinSet<Sent>,
    flying: HashSet<i64>,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Batches not yet delivered or dead, for `/metrics`.
    queued: metrics::Gauge,
    /// 1 while the breaker holds the webhook back.
    paused: metrics::Gauge,
    /// Due batches the rate limit holds back now.
    rate_limited: metrics::Gauge,
    /// Batches that had to wait for the rate limit.
    rate_limit_waits: metrics::Counter,
    /// The destination's rate limit, when it has one.
    limiter: Option<Limiter>,
    /// When the rate limit lets the next due batch go, while it holds one back.
    held_until: Option<i64>,
    /// The batch last held back, so a batch that waits is counted once.
    held_batch: Option<i64>,
}

/// A finished request: the batch, what happened, and when it was sent.
struct Sent {
    batch: Queued,
    exchange: Option<Exchange>,
    at: i64,
}

impl Lane {
    async fn run(mut self) {
        loop {
            let now = now_us();
            while let Some(entry) = self.waiting.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let batch = entry.remove();
                self.due.insert(batch.id, batch);
            }
            let Some(dest) = self.destination() else {
                // Deleted: its batches were deleted with it.
                tracing::debug!(subscription = %self.id, "webhook deleted; its lane ends");
                self.queued.set(0.0);
                self.paused.set(0.0);
                self.rate_limited.set(0.0);
                return;
            };
            self.keep_limit(dest.rate_limit());
            self.start_sends(&dest, now);
            self.queued
                .set((self.due.len() + self.waiting.len() + self.flying.len()) as f64);
            self.paused.set(if self.breaker.poll_timeout().is_some() {
                1.0
            } else {
                0.0
            });
            self.rate_limited.set(if self.held_until.is_some() {
                self.due.len() as f64
            } else {
                0.0
            });
            let mut wake_at = self.waiting.first_key_value().map(|(k, _)| k.0);
            if !self.due.is_empty()
                && let Some(until) = self.breaker.poll_timeout()
            {
                wake_at = Some(wake_at.map_or(until, |w| w.min(until)));
            }
            if let Some(until) = self.held_until {
                wake_at = Some(wake_at.map_or(until, |w| w.min(until)));
            }
            let sleep = wake_at.map(|at| Duration::from_micros((at - now_us()).max(0) as u64));
            tokio::select! {
                batch = self.rx.recv() => match batch {
                    Some(batch) => self.add(batch),
                    None => return,
                },
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    match done {
                        Ok(sent) => self.finish(sent),
                        Err(e) => tracing::error!(subscription = %self.id, error = %e, "a delivery task failed"),
                    }
                }
                _ = tokio::time::sleep(sleep.unwrap_or(Duration::from_secs(3600))), if sleep.is_some() => {}
                _ = self.changes.changed() => {}
            }
        }
    }

    fn add(&mut self, batch: Queued) {
        if self.flying.contains(&batch.id)
            || self.due.contains_key(&batch.id)
            || self.waiting.contains_key(&(batch.due_at, batch.id))
        {
            return;
        }
        if batch.due_at <= now_us() {
            self.due.insert(batch.id, batch);
        } else {
            self.waiting.insert((batch.due_at, batch.id), batch);
        }
    }

    /// What this lane sends to: a routing target, or a webhook (gone once deleted).
    fn destination(&self) -> Option<Destination> {
        if let Some(target) = self.shared.targets.get(&self.id) {
            return Some(Destination::Target(target.clone()));
        }
        self.shared
            .registry
            .current()
            .get(&self.id)
            .cloned()
            .map(Destination::Webhook)
    }

    /// Follows the destination's current limit (a webhook's may change through the API);
    /// the last send still counts under a new limit.
    fn keep_limit(&mut self, limit: Option<RateLimit>) {
        match (&mut self.limiter, limit) {
            (_, None) => self.limiter = None,
            (Some(limiter), Some(limit)) => limiter.set_limit(limit),
            (None, Some(limit)) => self.limiter = Some(Limiter::new(limit)),
        }
    }

    fn start_sends(&mut self, dest: &Destination, now: i64) {
        let limit = self.shared.settings.max_in_flight.max(1);
        self.held_until = None;
        while self.in_flight.len() < limit {
            let Some((_, first)) = self.due.first_key_value() else {
                return;
            };
            // A disabled webhook keeps its queue but sends nothing, pings excepted.
            if let Destination::Webhook(sub) = dest
                && !sub.enabled
                && first.topic != "ping"
            {
                return;
            }
            // A paused destination is held by its breaker, not by its limit (for the
            // metrics); the limit is asked before `allow`, which takes a half-open probe.
            if self.breaker.poll_timeout().is_some_and(|until| until > now) {
                return;
            }
            if let Some(at) = self.limiter.as_mut().and_then(|l| l.next_send(now)) {
                self.held_until = Some(at);
                if self.held_batch != Some(first.id) {
                    self.held_batch = Some(first.id);
                    self.rate_limit_waits.increment(1);
                }
                return;
            }
            if !self.breaker.allow(now) {
                return;
            }
            if let Some(limiter) = &mut self.limiter {
                limiter.sent(now);
            }
            let (_, batch) = self.due.pop_first().expect("checked above");
            self.flying.insert(batch.id);
            let shared = self.shared.clone();
            self.in_flight.spawn(send(shared, dest.clone(), batch));
        }
    }

    fn finish(&mut self, sent: Sent) {
        let Sent {
            mut batch,
            exchange,
            at,
        } = sent;
        self.flying.remove(&batch.id);
        let Some(exchange) = exchange else {
            return; // the batch is gone from the outbox
        };
        let Some(dest) = self.destination() else {
            return; // deleted while the request was out: its batches and results went with it
        };
        let now = now_us();
        let settings = &self.shared.settings;
        let attempt = batch.attempts + 1;
        let round = batch.round_attempts + 1;
        let first = batch.first_attempt_at.unwrap_or(at);
        let class = classify(&exchange.outcome);
        match class {
            Class::Retry => self.breaker.on_failure(now),
            // The receiver answered (even if with a refusal): it is up.
            Class::Success | Class::Fail => self.breaker.on_success(now),
        }
        let decision = match &exchange.outcome {
            Outcome::Success => Decision::Done,
            outcome => next_attempt(&settings.retry, round, outcome, first, now, rand::random()),
        };
        let (next_state, next_due_at) = match &decision {
            Decision::Done => (BatchState::Delivered, now),
            Decision::RetryAt(t) => (BatchState::Pending, *t),
            Decision::DeadLetter(_) => (BatchState::Dead, now),
        };
        metrics::counter!("mistgate_delivery_attempts_total", "result" => match class {
            Class::Success => "success",
            Class::Retry => "retry",
            Class::Fail => "failure",
        })
        .increment(1);
        match &decision {
            Decision::Done => {
                metrics::counter!("mistgate_delivery_batches_total", "state" => "delivered")
                    .increment(1)
            }
            Decision::DeadLetter(reason) => {
                tracing::warn!(subscription = %self.id, batch = batch.id, ?reason, "delivery gave up; the batch is in the dead letters");
                metrics::counter!("mistgate_delivery_batches_total", "state" => "dead")
                    .increment(1);
            }
            Decision::RetryAt(_) => {}
        }
        let record = AttemptRecord {
            batch_id: batch.id,
            subscription_id: batch.subscription_id.clone(),
            topic: batch.topic.clone(),
            attempt,
            at,
            success: matches!(exchange.outcome, Outcome::Success),
            status_code: exchange.status_code,
            latency_us: exchange.latency.as_micros() as i64,
            error: exchange.error,
            url: match &dest {
                Destination::Webhook(sub) => crate::client::shown_url(&sub.url),
                Destination::Target(t) => format!("{}:{}", t.config.kind(), t.name),
            },
            request_headers: exchange.request_headers,
            request_body: exchange.request_body,
            response_headers: exchange.response_headers,
            response_body: exchange.response_body,
            next_state,
            next_due_at,
            first_attempt_at: first,
        };
        let _ = self.shared.recorder.send(record);
        if let Decision::RetryAt(t) = decision {
            batch.attempts = attempt;
            batch.round_attempts = round;
            batch.first_attempt_at = Some(first);
            batch.due_at = t;
            // Read again from the outbox when due: a long outage must not hold every
            // failed body in memory.
            batch.body = None;
            self.waiting.insert((t, batch.id), batch);
        }
    }
}

/// Where a lane's batches go.
#[derive(Clone)]
enum Destination {
    Webhook(Arc<Subscription>),
    Target(Arc<Target>),
}

impl Destination {
    fn rate_limit(&self) -> Option<RateLimit> {
        match self {
            Destination::Webhook(sub) => sub.rate_limit,
            Destination::Target(target) => target.config.rate_limit(),
        }
    }
}

async fn send(shared: Arc<Shared>, dest: Destination, mut batch: Queued) -> Sent {
    let body = match batch.body.take() {
        Some(body) => body,
        None => match shared.store.batch(batch.id).await {
            Ok(Some(row)) => row.body,
            Ok(None) => {
                return Sent {
                    batch,
                    exchange: None,
                    at: now_us(),
                };
            }
            Err(e) => {
                let at = now_us();
                return Sent {
                    exchange: Some(Exchange {
                        outcome: Outcome::Other(format!("reading the batch: {e}")),
                        status_code: None,
                        latency: Duration::ZERO,
                        error: Some(format!("reading the batch from the outbox: {e}")),
                        request_headers: "{}".into(),
                        request_body: String::new(),
                        response_headers: "{}".into(),
                        response_body: String::new(),
                    }),
                    batch,
                    at,
                };
            }
        },
    };
    let at = now_us();
    let exchange = match &dest {
        Destination::Webhook(sub) => shared.client.send(sub, &body, &batch.delivery_id, at).await,
        Destination::Target(target) => match messages_of(&body) {
            Ok(messages) => {
                let ctx = Context {
                    client: &shared.client,
                    store: shared.store.as_ref(),
                    target: &target.name,
                    delivery_id: &batch.delivery_id,
                    now_us: at,
                };
                target.config.send(&messages, &ctx).await
            }
            Err(e) => local_failure(
                Outcome::Refused(format!("unreadable batch: {e}")),
                format!("the batch cannot be read: {e}"),
            ),
        },
    };
    Sent {
        batch,
        exchange: Some(exchange),
        at,
    }
}
