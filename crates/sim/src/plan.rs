//! The plan of a run: scenario and background events merged in time order and
//! aggregated per topic into Mist messages. Sans-IO: an iterator of messages, each with
//! the time it is due; the sender decides when and how to post them.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use deliver::aggregate::{AggregationPolicy, Aggregator, BatchKey, Pending};
use mist::Topic;

use crate::org::{Org, OrgSpec};
use crate::rng::Rng;
use crate::scenario::{Scenario, Unfit};
use crate::topics::{SimEvent, Truth, wire_name};
use crate::traffic::Traffic;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct PlanSettings {
    /// The org's sizes (grown to fit the scenarios).
    pub org: OrgSpec,
    /// The seed the org derives from; events derive from it and `start_us`.
    pub seed: u64,
    /// The simulated start, unix µs.
    pub start_us: i64,
    /// Time compression: scenarios (and Mist's aggregation window) run this many times
    /// faster than real time.
    pub speed: f64,
    /// Background events per second over the subscribed topics (0: none).
    pub rate: f64,
    /// Background traffic stops this long after the start (before compression it is
    /// wall time: the rate is per real second). `None`: until the scenarios end, or for
    /// ever without scenarios.
    pub duration: Option<Duration>,
    /// Stop after this many events in all.
    pub count: Option<u64>,
    /// The subscribed topics (`None`: all); events of other topics are not sent.
    pub topics: Option<Vec<Topic>>,
    /// Scenarios, all starting at `start_us`.
    pub scenarios: Vec<Scenario>,
    /// Mist's aggregation window before compression.
    pub window: Duration,
    /// Most events in one message.
    pub max_events: usize,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            org: OrgSpec::default(),
            seed: 1,
            start_us: 0,
            speed: 1.0,
            rate: 0.0,
            duration: None,
            count: None,
            topics: None,
            scenarios: Vec::new(),
            window: Duration::from_secs(1),
            max_events: 100,
        }
    }
}

/// One webhook POST body, ready to send.
#[derive(Clone, Debug)]
pub struct Message {
    /// Sequence number in the run, from 0.
    pub seq: u64,
    /// When Mist would send it, unix µs on the simulated clock.
    pub due_us: i64,
    /// The topic of every event in it.
    pub topic: Topic,
    /// `{"topic": ..., "events": [...]}`, byte for byte as sent.
    pub body: Bytes,
    /// What a receiver should read from each event, in body order.
    pub truths: Vec<Truth>,
}

impl Message {
    /// Events in the message.
    pub fn events(&self) -> usize {
        self.truths.len()
    }
}

/// The messages of a run, in the order they are due. Deterministic for given settings.
pub struct Plan {
    org: Org,
    scripted: VecDeque<SimEvent>,
    traffic: Option<Traffic>,
    background_end_us: Option<i64>,
    count_left: Option<u64>,
    topics: Option<Vec<Topic>>,
    aggregator: Aggregator,
    policy: AggregationPolicy,
    waiting: HashMap<i64, (Arc<str>, Truth)>,
    /// When each topic's open batch got its first event.
    open_since: HashMap<Topic, i64>,
    next_event_id: i64,
    ready: VecDeque<Message>,
    next_seq: u64,
    finished: bool,
    /// Hashes of the most recent events: a repeat is dropped (Mist never sends the same
    /// event twice, and its schemas want the events of a message unique).
    recent: HashSet<u64>,
    recent_order: VecDeque<u64>,
}

/// How many recent events are remembered to drop repeats.
const RECENT: usize = 20_000;

impl Plan {
    /// Builds the org and expands the scenarios. Fails when a scenario names something
    /// the org cannot have.
    pub fn new(settings: PlanSettings) -> Result<Plan, Unfit> {
        let mut spec = settings.org.clone();
        for s in &settings.scenarios {
            s.fit(&mut spec);
        }
        let org = Org::generate(&spec, settings.seed);
        // Events draw from the seed and the start: the same org with new ids and values
        // for a run that starts at another time (the demo's rounds), and the same messages
        // for the same seed and start.
        let rng = Rng::new(settings.seed).derive(&format!("start:{}", settings.start_us));
        let speed = if settings.speed.is_finite() && settings.speed > 0.0 {
            settings.speed
        } else {
            1.0
        };
        let mut scripted = Vec::new();
        for s in &settings.scenarios {
            scripted.extend(s.expand(&org, &rng, settings.start_us, speed)?);
        }
        scripted.sort_by_key(|e| e.at_us);
        let scenario_end = settings
            .scenarios
            .iter()
            .map(|s| settings.start_us + (s.length().as_micros() as f64 / speed) as i64)
            .max();
        let background_end_us = match settings.duration {
            Some(d) => Some(settings.start_us + d.as_micros() as i64),
            None => scenario_end,
        };
        let traffic = Traffic::new(
            rng.derive("traffic"),
            settings.topics.as_deref(),
            settings.rate,
            settings.start_us,
        );
        let window_us = ((settings.window.as_micros() as f64 / speed) as i64).max(1);
        Ok(Plan {
            org,
            scripted: scripted.into(),
            traffic,
            background_end_us,
            count_left: settings.count,
            topics: settings.topics,
            aggregator: Aggregator::new(),
            policy: AggregationPolicy {
                window_us,
                max_events: settings.max_events.max(1),
                single_event_per_message: false,
            },
            waiting: HashMap::new(),
            open_since: HashMap::new(),
            next_event_id: 0,
            ready: VecDeque::new(),
            next_seq: 0,
            finished: false,
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
        })
    }

    /// The simulated org.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// The next event of the run, scripted or background, in time order.
    fn next_event(&mut self) -> Option<SimEvent> {
        loop {
            if self.count_left == Some(0) {
                return None;
            }
            let background = self
                .traffic
                .as_ref()
                .map(Traffic::peek_us)
                .filter(|t| self.background_end_us.is_none_or(|end| *t < end));
            let scripted = self.scripted.front().map(|e| e.at_us);
            let event = match (scripted, background) {
                (Some(s), Some(b)) if b < s => self.traffic.as_mut()?.next_event(&self.org),
                (Some(_), _) => self.scripted.pop_front()?,
                (None, Some(_)) => self.traffic.as_mut()?.next_event(&self.org),
                (None, None) => return None,
            };
            if self
                .topics
                .as_ref()
                .is_some_and(|t| !t.contains(&event.topic))
            {
                continue;
            }
            let mut h = DefaultHasher::new();
            event.topic.as_str().hash(&mut h);
            event.value.to_string().hash(&mut h);
            let h = h.finish();
            if !self.recent.insert(h) {
                continue;
            }
            self.recent_order.push_back(h);
            if self.recent_order.len() > RECENT
                && let Some(old) = self.recent_order.pop_front()
            {
                self.recent.remove(&old);
            }
            if let Some(n) = self.count_left.as_mut() {
                *n -= 1;
            }
            return Some(event);
        }
    }

    fn collect(&mut self, now_us: i64) {
        for batch in self.aggregator.poll_ready(now_us) {
            let mut raws: Vec<Arc<str>> = Vec::with_capacity(batch.event_ids.len());
            let mut truths = Vec::with_capacity(batch.event_ids.len());
            for id in &batch.event_ids {
                if let Some((raw, truth)) = self.waiting.remove(id) {
                    raws.push(raw);
                    truths.push(truth);
                }
            }
            // A batch is due when its window closes, or at once when it filled up.
            let first = self.open_since.remove(&batch.topic).unwrap_or(now_us);
            let due_us = first.saturating_add(self.policy.window_us).min(now_us);
            self.ready.push_back(Message {
                seq: self.next_seq,
                due_us,
                body: Bytes::from(mist::write_envelope(
                    wire_name(&batch.topic),
                    raws.iter().map(|r| r.as_bytes()),
                )),
                topic: batch.topic,
                truths,
            });
            self.next_seq += 1;
        }
    }
}

impl Iterator for Plan {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            if self.finished {
                return None;
            }
            match self.next_event() {
                Some(event) => {
                    // Batches whose window closed before this event are sent first.
                    self.collect(event.at_us);
                    let id = self.next_event_id;
                    self.next_event_id += 1;
                    let raw: Arc<str> = Arc::from(event.value.to_string());
                    self.waiting.insert(id, (raw.clone(), event.truth));
                    self.open_since
                        .entry(event.topic.clone())
                        .or_insert(event.at_us);
                    let key = BatchKey {
                        subscription_id: 0,
                        topic: event.topic,
                    };
                    self.aggregator.push(
                        key,
                        Pending { event_id: id, raw },
                        &self.policy,
                        event.at_us,
                    );
                    self.collect(event.at_us);
                }
                None => {
                    self.finished = true;
                    self.collect(i64::MAX);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PlanSettings {
        PlanSettings {
            start_us: 1_750_000_000_000_000,
            rate: 50.0,
            duration: Some(Duration::from_secs(20)),
            ..PlanSettings::default()
        }
    }

    #[test]
    fn the_same_settings_give_the_same_messages() {
        let a: Vec<Bytes> = Plan::new(settings()).unwrap().map(|m| m.body).collect();
        let b: Vec<Bytes> = Plan::new(settings()).unwrap().map(|m| m.body).collect();
        assert!(a.len() > 10, "{}", a.len());
        assert_eq!(a, b);
        let other: Vec<Bytes> = Plan::new(PlanSettings {
            seed: 2,
            ..settings()
        })
        .unwrap()
        .map(|m| m.body)
        .collect();
        assert_ne!(a, other);
        let later: Vec<Bytes> = Plan::new(PlanSettings {
            start_us: settings().start_us + 1_000_000,
            ..settings()
        })
        .unwrap()
        .map(|m| m.body)
        .collect();
        assert_ne!(a, later, "another start draws other ids and values");
    }

    #[test]
    fn messages_are_due_in_order_hold_one_topic_and_respect_the_limits() {
        let plan = Plan::new(PlanSettings {
            max_events: 5,
            ..settings()
        })
        .unwrap();
        let messages: Vec<Message> = plan.collect();
        let events: usize = messages.iter().map(Message::events).sum();
        // About 50 events/s for 20 s.
        assert!((700..1300).contains(&events), "{events}");
        for w in messages.windows(2) {
            assert!(w[0].due_us <= w[1].due_us);
            assert_eq!(w[0].seq + 1, w[1].seq);
        }
        for m in &messages {
            assert!(m.events() >= 1 && m.events() <= 5);
            let v: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
            assert_eq!(v["events"].as_array().unwrap().len(), m.events());
            assert_eq!(Topic::parse(v["topic"].as_str().unwrap()), m.topic);
        }
        // Chatty topics are batched, rare ones are not.
        assert!(messages.iter().any(|m| m.events() > 1));
    }

    #[test]
    fn topics_and_count_limit_what_is_sent() {
        let only: Vec<Message> = Plan::new(PlanSettings {
            topics: Some(vec![Topic::Alarms, Topic::ClientJoin]),
            ..settings()
        })
        .unwrap()
        .collect();
        assert!(!only.is_empty());
        assert!(
            only.iter()
                .all(|m| matches!(m.topic, Topic::Alarms | Topic::ClientJoin))
        );
        let counted: usize = Plan::new(PlanSettings {
            count: Some(123),
            duration: None,
            ..settings()
        })
        .unwrap()
        .map(|m| m.events())
        .sum();
        assert_eq!(counted, 123);
    }

    #[test]
    fn scenarios_alone_end_and_grow_the_org() {
        let plan = Plan::new(PlanSettings {
            rate: 0.0,
            duration: None,
            org: OrgSpec {
                sites: 1,
                aps_per_site: 1,
                ..OrgSpec::default()
            },
            scenarios: vec![Scenario::load("gateway-wan-outage").unwrap()],
            ..settings()
        })
        .unwrap();
        assert_eq!(plan.org().sites.len(), 2);
        let messages: Vec<Message> = plan.collect();
        assert!(messages.iter().any(|m| m.topic == Topic::Alarms));
        assert!(messages.iter().any(|m| m.topic == Topic::DeviceEvents));
    }
}
