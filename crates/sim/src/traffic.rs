//! Background traffic: every subscribed topic at its everyday rate, as a Poisson process.

use mist::Topic;

use crate::org::Org;
use crate::rng::Rng;
use crate::topics::{self, RATES, SimEvent};

/// An endless, time-ordered stream of ordinary events.
pub(crate) struct Traffic {
    rng: Rng,
    /// Topics with their cumulative weights, for a weighted draw.
    cumulative: Vec<(Topic, f64)>,
    /// Mean gap between events, µs.
    mean_gap_us: f64,
    next_us: f64,
}

impl Traffic {
    /// `rate` events per second in total, over `topics` (every known topic when `None`),
    /// from `start_us`. `None` when there is nothing to send.
    pub(crate) fn new(
        rng: Rng,
        topics: Option<&[Topic]>,
        rate: f64,
        start_us: i64,
    ) -> Option<Traffic> {
        if !(rate.is_finite() && rate > 0.0) {
            return None;
        }
        let mut total = 0.0;
        let cumulative: Vec<(Topic, f64)> = RATES
            .iter()
            .filter(|(t, _)| topics.is_none_or(|list| list.contains(t)))
            .map(|(t, w)| {
                total += w;
                (t.clone(), total)
            })
            .collect();
        if cumulative.is_empty() {
            return None;
        }
        Some(Traffic {
            rng,
            cumulative,
            mean_gap_us: 1e6 / rate,
            next_us: start_us as f64,
        })
    }

    /// When the next event happens.
    pub(crate) fn peek_us(&self) -> i64 {
        self.next_us as i64
    }

    /// The next event.
    pub(crate) fn next_event(&mut self, org: &Org) -> SimEvent {
        let at = self.next_us as i64;
        let total = self.cumulative.last().map_or(1.0, |(_, w)| *w);
        let draw = self.rng.unit() * total;
        let topic = self
            .cumulative
            .iter()
            .find(|(_, w)| draw < *w)
            .map_or(&self.cumulative[0].0, |(t, _)| t)
            .clone();
        self.next_us += self.rng.exponential(self.mean_gap_us);
        topics::generate(&topic, org, &mut self.rng, at).expect("known topics only")
    }
}
