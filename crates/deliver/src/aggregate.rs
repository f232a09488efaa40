//! Aggregation: events for one (subscription, topic) gathered into Mist-format batches.
//!
//! Mist batches the events of a topic and posts them within a few seconds as
//! `{"topic": ..., "events": [...]}`; mistgate does the same for its subscribers. A batch
//! opens with its first event and closes when its window has elapsed (measured from that
//! first event) or when it holds the maximum number of events, whichever comes first.
//!
//! [`Aggregator`] is sans-IO: `push(key, event, policy, now)` adds, `poll_ready(now)` hands
//! back closed batches, and `poll_timeout()` says when to poll next.

use std::collections::HashMap;
use std::sync::Arc;

use mist::Topic;

/// How one subscription's events are batched. Times are in microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationPolicy {
    /// How long a batch stays open after its first event. Mist itself sends within 5 s.
    pub window_us: i64,
    /// A batch with this many events closes at once. `0` behaves as `1`.
    pub max_events: usize,
    /// Every event is sent on its own, without waiting (Mist's `single_event_per_message`).
    pub single_event_per_message: bool,
}

impl Default for AggregationPolicy {
    /// A 1 s window and at most 100 events per batch.
    fn default() -> Self {
        AggregationPolicy {
            window_us: 1_000_000,
            max_events: 100,
            single_event_per_message: false,
        }
    }
}

/// What batches are kept apart by: a subscription and a canonical topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BatchKey {
    /// The subscription the events go to.
    pub subscription_id: i64,
    /// The events' topic.
    pub topic: Topic,
}

/// One event waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The stored event's id, so the outbox can record which events a batch carried.
    pub event_id: i64,
    /// The event's JSON text exactly as received; it is copied into the body verbatim
    /// and must already be valid JSON (the ingest side parsed it).
    pub raw: Arc<str>,
}

/// A closed batch, ready to be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The subscription to deliver to.
    pub subscription_id: i64,
    /// The topic of every event in the batch.
    pub topic: Topic,
    /// The events' ids, in the order they were pushed (and appear in the body).
    pub event_ids: Vec<i64>,
    /// The request body: the Mist envelope ([`mist::write_envelope`]).
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct Open {
    closes_at: i64,
    /// Opening order, to hand out batches that close at the same time deterministically.
    seq: u64,
    events: Vec<Pending>,
}

#[derive(Debug)]
struct Closed {
    ready_at: i64,
    batch: Batch,
}

/// Gathers events into batches per [`BatchKey`].
///
/// ```
/// use std::sync::Arc;
/// use deliver::aggregate::{AggregationPolicy, Aggregator, BatchKey, Pending};
/// let mut agg = Aggregator::new();
/// let key = BatchKey { subscription_id: 1, topic: mist::Topic::Alarms };
/// let policy = AggregationPolicy::default();
/// agg.push(key.clone(), Pending { event_id: 7, raw: Arc::from("{}") }, &policy, 0);
/// assert!(agg.poll_ready(999_999).is_empty());
/// assert_eq!(agg.poll_timeout(), Some(1_000_000));
/// let batches = agg.poll_ready(1_000_000);
/// assert_eq!(batches[0].event_ids, [7]);
/// ```
#[derive(Debug, Default)]
pub struct Aggregator {
    open: HashMap<BatchKey, Open>,
    closed: Vec<Closed>,
    next_seq: u64,
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `event` for `key` under `policy` at `now`.
    ///
    /// With `single_event_per_message` (or `max_events` ≤ 1) the event becomes a batch of
    /// its own, ready at once. Otherwise it joins the open batch for `key`, or opens one
    /// whose window ends at `now + window_us`; a batch that reaches `max_events` closes at
    /// once and the next event opens a new one. An open batch whose window has already
    /// ended (because nobody polled) is closed first, so the event starts a new batch.
    /// The policy is read on every push; an open batch keeps the window it opened with.
    pub fn push(&mut self, key: BatchKey, event: Pending, policy: &AggregationPolicy, now: i64) {
        if policy.single_event_per_message || policy.max_events <= 1 {
            self.close(key, vec![event], now);
            return;
        }
        if let Some(open) = self.open.get(&key)
            && open.closes_at <= now
        {
            let expired = self
                .open
                .remove(&key)
                .map(|open| (open.closes_at, open.events));
            if let Some((closes_at, events)) = expired {
                self.close(key.clone(), events, closes_at);
            }
        }
        let seq = self.next_seq;
        let open = self.open.entry(key.clone()).or_insert_with(|| Open {
            closes_at: now.saturating_add(policy.window_us.max(0)),
            seq,
            events: Vec::new(),
        });
        if open.seq == seq {
            self.next_seq += 1;
        }
        open.events.push(event);
        if open.events.len() >= policy.max_events
            && let Some(full) = self.open.remove(&key)
        {
            self.close(key, full.events, now);
        }
    }

    /// Hands back every batch ready at `now`: those closed by size or by
    /// `single_event_per_message`, and those whose window has ended.
    ///
    /// Batches come in the order they became ready (ties in the order they opened).
    pub fn poll_ready(&mut self, now: i64) -> Vec<Batch> {
        let due: Vec<BatchKey> = self
            .open
            .iter()
            .filter(|(_, open)| open.closes_at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        let mut expired: Vec<(BatchKey, Open)> = due
            .into_iter()
            .filter_map(|key| self.open.remove(&key).map(|open| (key, open)))
            .collect();
        expired.sort_by_key(|(_, open)| (open.closes_at, open.seq));
        for (key, open) in expired {
            self.close(key, open.events, open.closes_at);
        }
        // `closed` is appended in readiness order except where an expired batch closed late
        // above; a stable sort restores it without reordering equal times.
        let (mut ready, waiting): (Vec<Closed>, Vec<Closed>) = std::mem::take(&mut self.closed)
            .into_iter()
            .partition(|c| c.ready_at <= now);
        self.closed = waiting;
        ready.sort_by_key(|c| c.ready_at);
        ready.into_iter().map(|c| c.batch).collect()
    }

    /// The earliest time at which [`poll_ready`](Self::poll_ready) has something to hand
    /// back, or `None` when nothing is buffered. May be in the past: poll at once then.
    pub fn poll_timeout(&self) -> Option<i64> {
        let open = self.open.values().map(|o| o.closes_at);
        let closed = self.closed.iter().map(|c| c.ready_at);
        open.chain(closed).min()
    }

    /// Closes and hands back everything, windows or not (for shutdown or a flush).
    pub fn drain(&mut self) -> Vec<Batch> {
        self.poll_ready(i64::MAX)
    }

    /// How many events are buffered, in open and closed batches.
    pub fn len(&self) -> usize {
        let open: usize = self.open.values().map(|o| o.events.len()).sum();
        let closed: usize = self.closed.iter().map(|c| c.batch.event_ids.len()).sum();
        open + closed
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.closed.is_empty()
    }

    fn close(&mut self, key: BatchKey, events: Vec<Pending>, ready_at: i64) {
        let body = mist::write_envelope(
            key.topic.wire_name(),
            events.iter().map(|e| e.raw.as_bytes()),
        );
        let batch = Batch {
            subscription_id: key.subscription_id,
            topic: key.topic,
            event_ids: events.iter().map(|e| e.event_id).collect(),
            body,
        };
        self.closed.push(Closed { ready_at, batch });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: i64 = 1_000;

    fn key(subscription_id: i64, topic: Topic) -> BatchKey {
        BatchKey {
            subscription_id,
            topic,
        }
    }

    fn ev(event_id: i64) -> Pending {
        Pending {
            event_id,
            raw: Arc::from(format!("{{\"id\": {event_id}}}")),
        }
    }

    fn policy(window_us: i64, max_events: usize) -> AggregationPolicy {
        AggregationPolicy {
            window_us,
            max_events,
            single_event_per_message: false,
        }
    }

    #[test]
    fn window_is_measured_from_the_first_event() {
        let mut agg = Aggregator::new();
        let k = key(1, Topic::Alarms);
        let p = policy(1_000 * MS, 100);
        agg.push(k.clone(), ev(1), &p, 0);
        agg.push(k.clone(), ev(2), &p, 600 * MS);
        agg.push(k.clone(), ev(3), &p, 999 * MS);
        assert_eq!(agg.poll_timeout(), Some(1_000 * MS));
        assert!(agg.poll_ready(999 * MS).is_empty());
        let batches = agg.poll_ready(1_000 * MS);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].event_ids, [1, 2, 3]);
        assert_eq!(
            batches[0].body,
            br#"{"topic":"alarms","events":[{"id": 1},{"id": 2},{"id": 3}]}"#
        );
        assert!(agg.is_empty());
        assert_eq!(agg.poll_timeout(), None);
    }

    #[test]
    fn a_full_batch_is_ready_at_once_and_the_next_event_opens_a_new_one() {
        let mut agg = Aggregator::new();
        let k = key(1, Topic::DeviceEvents);
        let p = policy(1_000 * MS, 2);
        agg.push(k.clone(), ev(1), &p, 0);
        agg.push(k.clone(), ev(2), &p, 10 * MS);
        agg.push(k.clone(), ev(3), &p, 20 * MS);
        assert_eq!(agg.poll_timeout(), Some(10 * MS));
        let first = agg.poll_ready(20 * MS);
        assert_eq!(
            first
                .iter()
                .map(|b| b.event_ids.clone())
                .collect::<Vec<_>>(),
            [vec![1, 2]]
        );
        assert_eq!(agg.poll_timeout(), Some(1_020 * MS));
        assert_eq!(agg.poll_ready(1_020 * MS)[0].event_ids, [3]);
    }

    #[test]
    fn single_event_per_message_sends_each_event_alone() {
        let mut agg = Aggregator::new();
        let k = key(1, Topic::Zone);
        let p = AggregationPolicy {
            single_event_per_message: true,
            ..AggregationPolicy::default()
        };
        agg.push(k.clone(), ev(1), &p, 5);
        agg.push(k.clone(), ev(2), &p, 5);
        assert_eq!(agg.poll_timeout(), Some(5));
        let batches = agg.poll_ready(5);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].body, br#"{"topic":"zone","events":[{"id": 1}]}"#);
        assert_eq!(batches[1].event_ids, [2]);
    }

    #[test]
    fn keys_are_kept_apart() {
        let mut agg = Aggregator::new();
        let p = policy(100, 10);
        agg.push(key(1, Topic::Alarms), ev(1), &p, 0);
        agg.push(key(2, Topic::Alarms), ev(2), &p, 10);
        agg.push(key(1, Topic::Audits), ev(3), &p, 20);
        agg.push(key(1, Topic::Alarms), ev(4), &p, 30);
        assert_eq!(agg.len(), 4);
        let batches = agg.poll_ready(200);
        let got: Vec<(i64, Topic, Vec<i64>)> = batches
            .into_iter()
            .map(|b| (b.subscription_id, b.topic, b.event_ids))
            .collect();
        assert_eq!(
            got,
            [
                (1, Topic::Alarms, vec![1, 4]),
                (2, Topic::Alarms, vec![2]),
                (1, Topic::Audits, vec![3])
            ]
        );
    }

    #[test]
    fn a_late_push_does_not_join_an_expired_window() {
        let mut agg = Aggregator::new();
        let k = key(1, Topic::Alarms);
        let p = policy(100, 10);
        agg.push(k.clone(), ev(1), &p, 0);
        agg.push(k.clone(), ev(2), &p, 150);
        let batches = agg.poll_ready(150);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].event_ids, [1]);
        assert_eq!(agg.poll_timeout(), Some(250));
        assert_eq!(agg.drain()[0].event_ids, [2]);
    }

    proptest! {
        #[test]
        fn every_event_is_sent_once_in_order_within_limits(
            pushes in proptest::collection::vec((0i64..3, 0u8..2, 0i64..500), 0..200),
            window in 0i64..300,
            max_events in 0usize..6,
            single in any::<bool>(),
        ) {
            let p = AggregationPolicy { window_us: window, max_events, single_event_per_message: single };
            let mut agg = Aggregator::new();
            let mut now = 0;
            let mut sent: Vec<Batch> = Vec::new();
            for (id, (sub, topic, step)) in pushes.iter().enumerate() {
                now += step;
                let topic = if *topic == 0 { Topic::Alarms } else { Topic::Audits };
                agg.push(key(*sub, topic), ev(id as i64), &p, now);
                if let Some(t) = agg.poll_timeout() {
                    prop_assert!(t <= now + window);
                }
                sent.extend(agg.poll_ready(now));
            }
            sent.extend(agg.drain());
            prop_assert!(agg.is_empty());
            let mut ids: Vec<i64> = sent.iter().flat_map(|b| b.event_ids.clone()).collect();
            ids.sort_unstable();
            prop_assert_eq!(ids, (0..pushes.len() as i64).collect::<Vec<_>>());
            for b in &sent {
                prop_assert!(!b.event_ids.is_empty());
                prop_assert!(b.event_ids.len() <= max_events.max(1));
                if single { prop_assert_eq!(b.event_ids.len(), 1); }
                prop_assert!(b.event_ids.windows(2).all(|w| w[0] < w[1]));
                let env = mist::parse_envelope(&b.body).unwrap();
                prop_assert_eq!(env.events.len(), b.event_ids.len());
            }
        }
    }
}
