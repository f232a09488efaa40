//! Sending from several instances on one database.
//!
//! Each destination (a webhook, a routing target) is sent to by one instance at a time:
//! the one that holds its claim ([`store::Cluster::claim_lanes`], taken with `FOR UPDATE
//! SKIP LOCKED`, held for [`TTL_US`] and renewed every [`BEAT`]). A lane therefore keeps
//! what it promises on one instance (batches in order, `max_in_flight`, the breaker, the
//! rate limit) and no batch is ever sent by two instances at once; different destinations
//! spread over the instances, each taking about its share of the destinations with work.
//!
//! The loop here, on every instance: beats (how many instances are alive), renews its
//! claims (a claim it lost, or could not renew in time, stops that lane at once, requests
//! in flight included), gives back the claims of destinations with nothing pending for
//! [`IDLE_BEATS`] beats, takes
//! its share of the unclaimed ones with work (loading their pending batches), reads the
//! batches other instances' stages built for the destinations it holds, and reloads the
//! webhooks when another instance changed them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{Cluster, StoreError};
use tokio::sync::Notify;

use super::{Dispatcher, Queued, now_us};

/// How long a claim lasts without renewal: a dead instance's lanes move after this.
pub const TTL_US: i64 = 6_000_000;

/// How often claims are renewed and new ones looked for.
pub const BEAT: Duration = Duration::from_secs(1);

/// How often the outbox is read for new batches of the destinations held (sooner when
/// this instance's own stage wrote some).
const POLL: Duration = Duration::from_millis(200);

/// A destination with nothing pending for this many beats in a row is given back.
const IDLE_BEATS: u32 = 10;

/// Batches read per query.
const PAGE: u32 = 1_000;

/// What this instance holds, shared with the dispatcher.
pub(crate) struct Claims {
    /// This instance's name in the database (host, process, random part).
    pub instance: String,
    /// Destinations held, with the time each claim runs out (unix µs).
    held: Mutex<HashMap<String, i64>>,
    /// Wakes the loop: this instance's stage wrote batches.
    nudge: Notify,
}

impl Claims {
    pub(crate) fn new() -> Arc<Claims> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let random = uuid::Uuid::new_v4().simple().to_string();
        Arc::new(Claims {
            instance: format!("{host}-{}-{}", std::process::id(), &random[..8]),
            held: Mutex::default(),
            nudge: Notify::new(),
        })
    }

    /// New batches are in the outbox: read them now rather than at the next poll.
    pub(crate) fn nudge(&self) {
        self.nudge.notify_one();
    }

    fn held(&self) -> HashMap<String, i64> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, held: HashMap<String, i64>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = held;
    }
}

/// How many destinations an instance should hold: its share of those with work.
pub(crate) fn share(current_claims: u32, unclaimed: usize, live: u32) -> usize {
    let total = current_claims as usize + unclaimed;
    total.div_ceil(live.max(1) as usize)
}

/// Whether the registry must be read again, given the version of the webhooks seen at
/// the last beat (none before the first) and the one now: always at the first beat.
pub(crate) fn stale(seen: Option<i64>, now: i64) -> bool {
    seen != Some(now)
}

/// Runs the loop until the process shuts down; then gives its claims back, so that the
/// other instances send to those destinations at once rather than after the claims run
/// out.
pub(crate) async fn run(
    dispatcher: Arc<Dispatcher>,
    claims: Arc<Claims>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let store = dispatcher.shared.store.clone();
    let cluster = store.cluster().expect("claims run on a shared store");
    let mut state = Loop {
        high: 0,
        seen: HashMap::new(),
        idle: HashMap::new(),
        versions: (None, None),
        beat_at: None,
    };
    loop {
        let due = state
            .beat_at
            .is_none_or(|at: tokio::time::Instant| at.elapsed() >= BEAT);
        if due {
            state.beat_at = Some(tokio::time::Instant::now());
            if let Err(e) = beat(cluster, &dispatcher, &claims, &mut state).await {
                tracing::warn!(error = %e, "cannot renew or take the lanes' claims");
            }
            expire(&dispatcher, &claims, &mut state);
        }
        match read_new(cluster, &dispatcher, &claims, &mut state).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read new batches from the outbox"),
        }
        let stopping = tokio::select! {
            () = tokio::time::sleep(POLL) => false,
            () = claims.nudge.notified() => false,
            _ = stop.wait_for(|stopping| *stopping) => true,
        };
        if stopping {
            let held: Vec<String> = claims.held().into_keys().collect();
            for d in &held {
                dispatcher.close(d);
            }
            if let Err(e) = cluster.release_lanes(&claims.instance, &held).await {
                tracing::warn!(error = %e, "cannot give the lanes' claims back at shutdown");
            }
            return;
        }
    }
}

struct Loop {
    /// Every pending batch of a held destination up to this id has been handed over.
    high: i64,
    /// Per destination, the highest id handed over when it was claimed.
    seen: HashMap<String, i64>,
    /// Per destination held, how many beats in a row it had nothing pending.
    idle: HashMap<String, u32>,
    /// The versions of the webhooks and of replays last seen.
    versions: (Option<i64>, Option<i64>),
    beat_at: Option<tokio::time::Instant>,
}

impl Loop {
    /// A destination no longer held.
    fn forget(&mut self, destination: &str) {
        self.seen.remove(destination);
        self.idle.remove(destination);
        lane_held(destination, false);
    }
}

/// `mistgate_delivery_lane_held{destination}`: 1 on the instance that sends to it.
fn lane_held(destination: &str, held: bool) {
    metrics::gauge!("mistgate_delivery_lane_held", "destination" => destination.to_string())
        .set(if held { 1.0 } else { 0.0 });
}

async fn beat(
    cluster: &dyn Cluster,
    dispatcher: &Dispatcher,
    claims: &Claims,
    state: &mut Loop,
) -> Result<(), StoreError> {
    let shared = &dispatcher.shared;
    let now = now_us();
    let live = cluster
        .heartbeat(&claims.instance, now, 3 * TTL_US / 2)
        .await?;
    // Webhooks changed on another instance (or this one) reach the registry. The first
    // beat reloads too: a webhook made between the engine's start (which loaded the
    // registry) and this read of the version would otherwise stay unknown here.
    let subscriptions = cluster.version("subscriptions").await?;
    if stale(state.versions.0, subscriptions) {
        shared.registry.reload(shared.store.as_ref()).await?;
    }
    state.versions.0 = Some(subscriptions);
    let replays = cluster.version("replays").await?;
    let replayed = state.versions.1.is_some_and(|v| v != replays);
    state.versions.1 = Some(replays);

    let mut held = claims.held();
    let names: Vec<String> = held.keys().cloned().collect();
    let until = now + TTL_US;
    let kept: HashSet<String> = cluster
        .renew_lanes(&claims.instance, &names, until)
        .await?
        .into_iter()
        .collect();
    for name in &names {
        if kept.contains(name) {
            held.insert(name.clone(), until);
        } else {
            tracing::warn!(destination = %name, "lost the claim on a destination; another instance sends to it");
            held.remove(name);
            state.forget(name);
            dispatcher.close(name);
        }
    }
    // Destinations with nothing pending for a while are given back, so that the work
    // spreads again.
    let busy: HashSet<String> = cluster.busy_lanes(&names).await?.into_iter().collect();
    let mut idle = Vec::new();
    for d in held.keys() {
        let beats = state.idle.entry(d.clone()).or_default();
        *beats = if busy.contains(d) { 0 } else { *beats + 1 };
        if *beats >= IDLE_BEATS {
            idle.push(d.clone());
        }
    }
    if !idle.is_empty() {
        cluster.release_lanes(&claims.instance, &idle).await?;
        for d in &idle {
            tracing::debug!(destination = %d, "nothing to send to the destination: its claim is given back");
            held.remove(d);
            state.forget(d);
            dispatcher.close(d);
        }
    }
    // Take this instance's share of what nobody holds.
    let candidates: Vec<String> = dispatcher
        .destinations()
        .into_iter()
        .filter(|d| !held.contains_key(d))
        .collect();
    let (mut free, current) = cluster.unclaimed_lanes(&candidates, now).await?;
    let room = share(current, free.len(), live).saturating_sub(held.len());
    // Not always the same first ones: instances looking at once take different ones.
    free.sort_by_key(|d| (uuid::Uuid::new_v4(), d.clone()));
    free.truncate(room);
    let taken = cluster
        .claim_lanes(&claims.instance, &free, now, until)
        .await?;
    for d in &taken {
        held.insert(d.clone(), until);
    }
    claims.set(held.clone());
    for d in taken {
        let mut after = 0;
        loop {
            let rows = cluster
                .pending_of(std::slice::from_ref(&d), after, PAGE)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            dispatcher.hand(rows.into_iter().map(Queued::from));
        }
        tracing::info!(destination = %d, "this instance sends to the destination now");
        lane_held(&d, true);
        state.seen.insert(d, after);
    }
    if replayed {
        // Dead batches went back to pending: read every held destination again (a lane
        // ignores a batch it already has).
        let all: Vec<String> = held.keys().cloned().collect();
        let mut after = 0;
        loop {
            let rows = cluster.pending_of(&all, after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            dispatcher.hand(rows.into_iter().map(Queued::from));
        }
    }
    Ok(())
}

/// Stops the lanes whose claim ran out without a renewal (the database could not be
/// reached): another instance may send to them now.
fn expire(dispatcher: &Dispatcher, claims: &Claims, state: &mut Loop) {
    let now = now_us();
    let mut held = claims.held();
    let gone: Vec<String> = held
        .iter()
        .filter(|(_, until)| **until <= now)
        .map(|(d, _)| d.clone())
        .collect();
    for d in gone {
        tracing::warn!(destination = %d, "the claim on a destination ran out before it could be renewed; its lane stops");
        held.remove(&d);
        state.forget(&d);
        dispatcher.close(&d);
    }
    claims.set(held);
}

/// Hands over the batches built since the last read for the destinations held; true when
/// there may be more at once.
async fn read_new(
    cluster: &dyn Cluster,
    dispatcher: &Dispatcher,
    claims: &Claims,
    state: &mut Loop,
) -> Result<bool, StoreError> {
    let held: Vec<String> = claims.held().into_keys().collect();
    if held.is_empty() {
        return Ok(false);
    }
    let rows = cluster.pending_of(&held, state.high, PAGE).await?;
    let full = rows.len() == PAGE as usize;
    if let Some(last) = rows.last() {
        state.high = last.id;
    }
    dispatcher.hand(
        rows.into_iter()
            .filter(|r| state.seen.get(&r.subscription_id).is_none_or(|&s| r.id > s))
            .map(Queued::from),
    );
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::{share, stale};

    #[test]
    fn the_first_beat_reads_the_webhooks_again() {
        // The engine loaded them before the first beat read the version: a webhook made
        // in between is only found by reading them again.
        assert!(stale(None, 7));
        assert!(stale(Some(6), 7));
        assert!(!stale(Some(7), 7));
    }

    #[test]
    fn each_instance_takes_its_share_of_the_destinations_with_work() {
        assert_eq!(share(0, 1, 3), 1, "one destination: whoever looks first");
        assert_eq!(share(0, 9, 3), 3);
        assert_eq!(share(3, 6, 3), 3);
        assert_eq!(share(2, 0, 2), 1);
        assert_eq!(share(0, 5, 0), 5, "no beat yet counts as one instance");
    }
}
