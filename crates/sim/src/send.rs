//! The IO shell that posts a plan's messages: signed like Mist signs them, through the
//! delivery engine's HTTP client, retried on the delivery engine's schedule, with an
//! in-memory queue in place of the engine's outbox (a simulation has nothing to recover
//! after a crash, and needs no store).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use deliver::ClientSettings;
use deliver::client::Client;
use deliver::schedule::{Decision, Outcome, RetryPolicy, next_attempt};
use deliver::subscription::{Subscription, WebhookType};
use tokio::task::JoinSet;

use crate::plan::Message;
use crate::rng::Rng;
use crate::summary::Summary;

/// Where and how to send.
#[derive(Clone, Debug)]
pub struct SendSettings {
    /// The receiver, e.g. `http://127.0.0.1:8080/ingest/default`.
    pub target: String,
    /// The shared secret: `X-Mist-Signature-v2` and `X-Mist-Signature` are sent with it.
    pub secret: Option<String>,
    /// Messages in flight at once. 1 keeps them in order, as Mist does per webhook.
    pub connections: usize,
    /// Wait until each message is due (its events' time) before sending it; without,
    /// messages go as soon as the previous ones are answered.
    pub pace: bool,
    /// When failed attempts are retried.
    pub retry: RetryPolicy,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Seed of the retry jitter.
    pub seed: u64,
}

impl SendSettings {
    /// Sends to `target`, one message at a time, paced, on the delivery engine's default
    /// retry schedule.
    pub fn new(target: impl Into<String>) -> SendSettings {
        SendSettings {
            target: target.into(),
            secret: None,
            connections: 1,
            pace: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            seed: 1,
        }
    }

    /// The retry schedule run `speed` times faster (a time-compressed simulation
    /// compresses Mist's patience too).
    pub fn compress_retries(mut self, speed: f64) -> SendSettings {
        if speed.is_finite() && speed > 0.0 {
            let scale = |us: i64| ((us as f64 / speed) as i64).max(1);
            let p = &mut self.retry;
            p.delays_us = p.delays_us.iter().map(|d| scale(*d)).collect();
            p.max_age_us = scale(p.max_age_us);
            p.min_delay_us = scale(p.min_delay_us);
            p.retry_after_min_us = scale(p.retry_after_min_us);
            p.retry_after_max_us = scale(p.retry_after_max_us);
        }
        self
    }
}

/// The sender could not start.
#[derive(Debug, thiserror::Error)]
#[error("building the HTTP client: {0}")]
pub struct SendError(String);

/// The webhook the simulated org posts to, as the delivery client wants it.
pub(crate) fn subscription(target: &str, secret: Option<&str>, verify_cert: bool) -> Subscription {
    Subscription {
        id: "simulator".into(),
        org_id: None,
        site_id: None,
        for_site: false,
        name: Some("mistgate simulate".into()),
        url: target.to_string(),
        enabled: true,
        webhook_type: WebhookType::HttpPost,
        topics: Vec::new(),
        secret: secret.map(str::to_owned),
        headers: BTreeMap::new(),
        verify_cert,
        splunk_token: None,
        oauth2_grant_type: None,
        oauth2_client_id: None,
        oauth2_client_secret: None,
        oauth2_username: None,
        oauth2_password: None,
        oauth2_token_url: None,
        oauth2_scopes: Vec::new(),
        single_event_per_message: false,
        assetfilter_ids: Vec::new(),
        rate_limit: None,
        created_time: 0.0,
        modified_time: 0.0,
    }
}

/// A delivery client that may reach loopback and private addresses: a simulator posts
/// to the user's own receiver, often on this machine.
pub(crate) fn client(timeout: Duration) -> Result<Client, SendError> {
    Client::new(ClientSettings {
        timeout,
        allow_private_targets: true,
        // Enough to read a receiver's short answer to its end, so connections are reused.
        record_body_bytes: 1024,
    })
    .map_err(|e| SendError(e.to_string()))
}

pub(crate) use deliver::clock::now_us;

struct Delivery {
    message: Arc<Message>,
    attempts: u32,
    first_at: i64,
}

struct Attempted {
    delivery: Delivery,
    outcome: Outcome,
    status: Option<u16>,
    latency: Duration,
}

/// Sends `messages` until they run out (and every retry has settled) or `stop`
/// completes; calls `progress` as answers come in. Returns the tally.
pub async fn run(
    messages: impl Iterator<Item = Message>,
    settings: &SendSettings,
    stop: impl Future<Output = ()>,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary, SendError> {
    let client = Arc::new(client(settings.timeout)?);
    let sub = Arc::new(subscription(
        &settings.target,
        settings.secret.as_deref(),
        true,
    ));
    let mut jitter = Rng::new(settings.seed).derive("retry-jitter");
    let mut plan = messages.peekable();
    let mut retries: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
    let mut parked: HashMap<u64, Delivery> = HashMap::new();
    let mut inflight: JoinSet<Attempted> = JoinSet::new();
    let mut summary = Summary::default();
    let started = Instant::now();
    let connections = settings.connections.max(1);
    tokio::pin!(stop);

    loop {
        let now = now_us();
        let new_at = plan
            .peek()
            .map(|m| if settings.pace { m.due_us } else { i64::MIN });
        let retry_at = retries.peek().map(|Reverse((at, _))| *at);
        let next = match (new_at, retry_at) {
            (Some(n), Some(r)) => Some(n.min(r)),
            (n, r) => n.or(r),
        };
        if next.is_none() && inflight.is_empty() {
            break;
        }
        let wait = next.map(|at| at.saturating_sub(now));
        if inflight.len() >= connections || wait.is_none_or(|w| w > 0) {
            let sleep = tokio::time::sleep(Duration::from_micros(
                wait.unwrap_or(i64::MAX).clamp(0, 3_600_000_000) as u64,
            ));
            tokio::select! {
                done = inflight.join_next(), if !inflight.is_empty() => {
                    if let Some(Ok(done)) = done {
                        settle(done, settings, &mut summary, &mut retries, &mut parked, &mut jitter);
                        progress(&summary);
                    }
                }
                _ = sleep, if inflight.len() < connections && wait.is_some() => {}
                _ = &mut stop => break,
            }
            continue;
        }
        // Something is due and a connection is free: the earlier of a retry and a new one.
        let take_retry = match (new_at, retry_at) {
            (Some(n), Some(r)) => r <= n,
            (None, Some(_)) => true,
            _ => false,
        };
        let delivery = if take_retry {
            let Some(Reverse((_, seq))) = retries.pop() else {
                continue;
            };
            let Some(d) = parked.remove(&seq) else {
                continue;
            };
            d
        } else {
            let Some(message) = plan.next() else { continue };
            summary.messages += 1;
            summary.events += message.events() as u64;
            Delivery {
                message: Arc::new(message),
                attempts: 0,
                first_at: now,
            }
        };
        summary.attempts += 1;
        summary.bytes += delivery.message.body.len() as u64;
        let (client, sub) = (client.clone(), sub.clone());
        inflight.spawn(async move { attempt(&client, &sub, delivery).await });
    }
    summary.pending = (parked.len() + inflight.len()) as u64;
    inflight.abort_all();
    summary.elapsed_us = started.elapsed().as_micros() as u64;
    summary.finish();
    Ok(summary)
}

async fn attempt(client: &Client, sub: &Subscription, mut delivery: Delivery) -> Attempted {
    delivery.attempts += 1;
    let id = format!("sim-{}", delivery.message.seq);
    let body: &Bytes = &delivery.message.body;
    let exchange = client.send(sub, body, &id, now_us()).await;
    Attempted {
        delivery,
        outcome: exchange.outcome,
        status: exchange.status_code,
        latency: exchange.latency,
    }
}

fn settle(
    done: Attempted,
    settings: &SendSettings,
    summary: &mut Summary,
    retries: &mut BinaryHeap<Reverse<(i64, u64)>>,
    parked: &mut HashMap<u64, Delivery>,
    jitter: &mut Rng,
) {
    match done.status {
        Some(code) => {
            *summary.statuses.entry(code).or_default() += 1;
            summary.record_latency(done.latency.as_micros() as u64);
        }
        None => summary.transport_errors += 1,
    }
    let d = done.delivery;
    let events = d.message.events() as u64;
    match next_attempt(
        &settings.retry,
        d.attempts,
        &done.outcome,
        d.first_at,
        now_us(),
        jitter.unit(),
    ) {
        Decision::Done => {
            summary.acknowledged += 1;
            summary.acknowledged_events += events;
        }
        Decision::RetryAt(at) => {
            if d.attempts == 1 {
                summary.retried += 1;
            }
            summary.retries += 1;
            retries.push(Reverse((at, d.message.seq)));
            parked.insert(d.message.seq, d);
        }
        Decision::DeadLetter(reason) => {
            tracing::warn!(message = d.message.seq, ?reason, "message given up");
            summary.failed += 1;
            summary.failed_events += events;
        }
    }
}
