//! The sender of a Mist cloud: each message of the plan, when due, is recorded (the
//! searches answer it whatever becomes of its deliveries), then delivered to every
//! enabled webhook whose topics and scope it matches (an org webhook gets every site's
//! events, a site webhook its site's), signed with that webhook's secret, retried on the
//! delivery engine's schedule, each attempt's result kept; and to `--target` if given.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use deliver::client::Exchange;
use deliver::schedule::{Decision, next_attempt};
use deliver::subscription::Subscription;
use mist::Topic;
use tokio::task::JoinSet;

use super::consts::DELIVERY_RESULT_TOPICS;
use super::webhooks::Webhook;
use super::{Cloud, lock};
use crate::plan::Message;
use crate::rng::Rng;
use crate::send::now_us;
use crate::summary::Summary;
use crate::topics::wire_name;

/// Where else to send, beside the webhooks created through the API.
#[derive(Clone, Debug)]
pub struct Target {
    /// The receiver's URL.
    pub url: String,
    /// Its shared secret.
    pub secret: Option<String>,
}

/// One body for one destination.
pub(super) struct Route {
    /// The API webhook (its results recorded), or `None` for `--target`.
    pub(super) hook: Option<Arc<Webhook>>,
    sub: Arc<Subscription>,
    pub(super) body: Bytes,
    events: u64,
}

impl Cloud {
    /// Records a message's events in the history and the run state.
    fn record(&self, message: &Message, events: &[&serde_json::value::RawValue]) {
        let kept = matches!(
            message.topic,
            Topic::Alarms | Topic::Audits | Topic::DeviceEvents | Topic::DeviceUpdowns
        );
        if kept {
            let mut h = lock(&self.inner.history);
            for raw in events {
                if let Ok(v) = serde_json::from_str(raw.get()) {
                    h.record(&message.topic, &v);
                }
            }
        }
        let mut run = lock(&self.inner.run);
        run.messages += 1;
        run.events += events.len() as u64;
    }

    /// The bodies each matching webhook gets: the events of its scope, in order, one
    /// message (or one per event for `single_event_per_message`).
    pub(super) fn routes(
        &self,
        message: &Message,
        events: &[&serde_json::value::RawValue],
    ) -> Vec<Route> {
        let hooks: Vec<Webhook> = lock(&self.inner.webhooks).values().cloned().collect();
        let mut routes = Vec::new();
        for hook in hooks {
            let picked: Vec<&[u8]> = events
                .iter()
                .zip(&message.truths)
                .filter(|(_, t)| hook.wants(&message.topic, t.site_id.as_deref()))
                .map(|(raw, _)| raw.get().as_bytes())
                .collect();
            if picked.is_empty() {
                continue;
            }
            let topic = wire_name(&message.topic);
            let bodies: Vec<(Bytes, u64)> = if hook.sub.single_event_per_message {
                picked
                    .iter()
                    .map(|e| (Bytes::from(mist::write_envelope(topic, [e])), 1))
                    .collect()
            } else if picked.len() == events.len() {
                vec![(message.body.clone(), picked.len() as u64)]
            } else {
                vec![(
                    Bytes::from(mist::write_envelope(topic, &picked)),
                    picked.len() as u64,
                )]
            };
            let (hook, sub) = (Arc::new(hook.clone()), Arc::new(hook.sub));
            for (body, events) in bodies {
                routes.push(Route {
                    hook: Some(hook.clone()),
                    sub: sub.clone(),
                    body,
                    events,
                });
            }
        }
        routes
    }
}

/// Sends `messages` as a Mist cloud until they run out and every delivery has settled,
/// or `stop` completes; `pace` waits for each message's due time. Returns the tally over
/// every delivery.
pub async fn run(
    messages: impl Iterator<Item = Message>,
    cloud: Cloud,
    target: Option<Target>,
    pace: bool,
    stop: impl Future<Output = ()>,
    mut progress: impl FnMut(&Summary),
) -> Summary {
    let summary = Arc::new(Mutex::new(Summary::default()));
    let target =
        target.map(|t| Arc::new(crate::send::subscription(&t.url, t.secret.as_deref(), true)));
    let started = std::time::Instant::now();
    let mut tasks: JoinSet<()> = JoinSet::new();
    tokio::pin!(stop);
    let mut stopped = false;
    for message in messages {
        let wait = message.due_us.saturating_sub(now_us());
        if pace && wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_micros(wait as u64)) => {}
                _ = &mut stop => { stopped = true; break; }
            }
        }
        let Ok(envelope) = mist::parse_envelope(&message.body) else {
            continue;
        };
        cloud.record(&message, &envelope.events);
        let mut routes = cloud.routes(&message, &envelope.events);
        if let Some(sub) = &target {
            routes.push(Route {
                hook: None,
                sub: sub.clone(),
                body: message.body.clone(),
                events: message.events() as u64,
            });
        }
        for (n, route) in routes.into_iter().enumerate() {
            let (cloud, summary) = (cloud.clone(), summary.clone());
            let (topic, seq) = (message.topic.clone(), message.seq);
            tasks.spawn(async move {
                deliver(cloud, route, topic, format!("{seq}.{n}"), summary).await
            });
        }
        while tasks.try_join_next().is_some() {}
        progress(&lock(&summary));
    }
    lock(&cloud.inner.run).plan_finished = true;
    if !stopped {
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = &mut stop => {}
        }
    }
    let mut out = lock(&summary).clone();
    out.pending = tasks.len() as u64;
    tasks.abort_all();
    out.elapsed_us = started.elapsed().as_micros() as u64;
    out.finish();
    out
}

/// One attempt to deliver `body` to `hook`, its result recorded when Mist keeps results
/// for `topic`.
pub(super) async fn attempt(
    cloud: &Cloud,
    hook: &Webhook,
    topic: &Topic,
    body: &Bytes,
    id: &str,
) -> Exchange {
    let delivery_id = format!("{}-{id}", hook.id);
    let ex = cloud
        .inner
        .client
        .send(&hook.sub, body, &delivery_id, now_us())
        .await;
    if DELIVERY_RESULT_TOPICS.contains(topic) {
        let result_id = cloud.new_id();
        lock(&cloud.inner.deliveries).record(result_id, hook, topic, &ex, now_us());
    }
    ex
}

async fn deliver(
    cloud: Cloud,
    route: Route,
    topic: Topic,
    id: String,
    summary: Arc<Mutex<Summary>>,
) {
    let policy = cloud.inner.settings.retry.clone();
    let mut jitter = Rng::new(cloud.inner.settings.seed).derive(&format!("jitter:{id}"));
    let first_at = now_us();
    {
        let mut s = lock(&summary);
        s.messages += 1;
        s.events += route.events;
    }
    let mut attempts = 0;
    loop {
        // A webhook deleted or disabled meanwhile gets no more attempts.
        if let Some(hook) = &route.hook
            && !lock(&cloud.inner.webhooks)
                .get(&hook.id)
                .is_some_and(|h| h.sub.enabled)
        {
            return;
        }
        attempts += 1;
        let ex = match &route.hook {
            Some(hook) => attempt(&cloud, hook, &topic, &route.body, &id).await,
            None => {
                cloud
                    .inner
                    .client
                    .send(&route.sub, &route.body, &format!("sim-{id}"), now_us())
                    .await
            }
        };
        let decision = next_attempt(
            &policy,
            attempts,
            &ex.outcome,
            first_at,
            now_us(),
            jitter.unit(),
        );
        {
            let mut s = lock(&summary);
            s.attempts += 1;
            s.bytes += route.body.len() as u64;
            match ex.status_code {
                Some(code) => {
                    *s.statuses.entry(code).or_default() += 1;
                    s.record_latency(ex.latency.as_micros() as u64);
                }
                None => s.transport_errors += 1,
            }
            match decision {
                Decision::Done => {
                    s.acknowledged += 1;
                    s.acknowledged_events += route.events;
                }
                Decision::RetryAt(_) => {
                    if attempts == 1 {
                        s.retried += 1;
                    }
                    s.retries += 1;
                }
                Decision::DeadLetter(_) => {
                    s.failed += 1;
                    s.failed_events += route.events;
                }
            }
        }
        match decision {
            Decision::RetryAt(at) => {
                let wait = at.saturating_sub(now_us()).max(0) as u64;
                tokio::time::sleep(Duration::from_micros(wait)).await;
            }
            Decision::Done | Decision::DeadLetter(_) => return,
        }
    }
}
