//! Load generation: simulated messages as fast as N connections allow.
//!
//! Each connection builds its own messages from the simulated org (every message is new:
//! fresh ids, times and values, so a receiver cannot skip any as a duplicate), signs and
//! posts them one after another through the delivery client, and counts the answers.
//! Nothing is retried: a load generator measures, it does not insist.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mist::Topic;

use crate::org::Org;
use crate::rng::Rng;
use crate::send::{SendError, client, now_us, subscription};
use crate::summary::Summary;
use crate::topics::{self, RATES, wire_name};

/// How to flood.
#[derive(Clone, Debug)]
pub struct FloodSettings {
    /// The receiver.
    pub target: String,
    /// The shared secret, if the receiver checks signatures.
    pub secret: Option<String>,
    /// Concurrent connections, each with one request in flight.
    pub connections: usize,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many messages in all.
    pub count: Option<u64>,
    /// Topics to draw from, by their everyday rates (`None`: all).
    pub topics: Option<Vec<Topic>>,
    /// Events per message.
    pub batch: usize,
    /// Seed of the generated values.
    pub seed: u64,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Floods `settings.target` with messages about `org`; returns the tally.
pub async fn run(org: Arc<Org>, settings: &FloodSettings) -> Result<Summary, SendError> {
    let client = Arc::new(client(settings.timeout)?);
    let sub = Arc::new(subscription(
        &settings.target,
        settings.secret.as_deref(),
        true,
    ));
    let weights: Vec<(Topic, f64)> = RATES
        .iter()
        .filter(|(t, _)| settings.topics.as_ref().is_none_or(|l| l.contains(t)))
        .cloned()
        .collect();
    if weights.is_empty() {
        return Ok(Summary::default());
    }
    let weights = Arc::new(weights);
    let started = Instant::now();
    let deadline = settings.duration.map(|d| started + d);
    let connections = settings.connections.max(1);
    let remaining = Arc::new(std::sync::atomic::AtomicI64::new(
        settings.count.map_or(i64::MAX, |c| c as i64),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let (client, sub, org, weights, remaining) = (
            client.clone(),
            sub.clone(),
            org.clone(),
            weights.clone(),
            remaining.clone(),
        );
        let batch = settings.batch.max(1);
        let mut rng = Rng::new(settings.seed).derive(&format!("flood{c}"));
        tasks.spawn(async move {
            let mut summary = Summary::default();
            let mut seq = 0u64;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d)
                    || remaining.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) <= 0
                {
                    break;
                }
                let (body, events) = message(&org, &weights, &mut rng, batch);
                seq += 1;
                summary.messages += 1;
                summary.attempts += 1;
                summary.events += events;
                summary.bytes += body.len() as u64;
                let exchange = client
                    .send(&sub, &body, &format!("flood-{c}-{seq}"), now_us())
                    .await;
                match exchange.status_code {
                    Some(code) => {
                        *summary.statuses.entry(code).or_default() += 1;
                        summary.record_latency(exchange.latency.as_micros() as u64);
                        if (200..300).contains(&code) {
                            summary.acknowledged += 1;
                            summary.acknowledged_events += events;
                        } else {
                            summary.failed += 1;
                            summary.failed_events += events;
                        }
                    }
                    None => {
                        summary.transport_errors += 1;
                        summary.failed += 1;
                        summary.failed_events += events;
                    }
                }
            }
            summary
        });
    }
    let mut total = Summary::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok(s) = done {
            total.merge(s);
        }
    }
    total.elapsed_us = started.elapsed().as_micros() as u64;
    total.finish();
    Ok(total)
}

/// One message of `batch` events of one topic, drawn by the topics' rates.
fn message(org: &Org, weights: &[(Topic, f64)], rng: &mut Rng, batch: usize) -> (Bytes, u64) {
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut draw = rng.unit() * total;
    let topic = weights
        .iter()
        .find(|(_, w)| {
            draw -= w;
            draw < 0.0
        })
        .map_or(&weights[0].0, |(t, _)| t);
    let now = now_us();
    let raws: Vec<Arc<str>> = (0..batch)
        .filter_map(|i| topics::generate(topic, org, rng, now + i as i64))
        .map(|e| Arc::from(e.value.to_string()))
        .collect();
    let n = raws.len() as u64;
    (
        Bytes::from(mist::write_envelope(
            wire_name(topic),
            raws.iter().map(|r| r.as_bytes()),
        )),
        n,
    )
}
