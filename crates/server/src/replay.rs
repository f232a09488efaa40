//! Backtesting: run stored history through a fresh correlator, with any settings, and
//! report what it would have opened and resolved. Nothing is written: live state, the
//! stage's cursor and the log are untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use correlate::{Correlator, Incident, Settings, Transition};
use store::{EventFilter, Order, PageRequest, Store, StoreError};

/// Events read per page while replaying.
const PAGE: u32 = 1_000;

/// Replays the events whose own time is within `since..=until` (unix µs), in log order.
///
/// The clock is the events' own time: before each event, every timer due by then fires
/// (so a 24-hour quiet period passes as the history does); after the last event, timers
/// due by `end` fire. `progress` is called with the number of events handled so far.
pub async fn replay(
    store: Arc<dyn Store>,
    settings: Settings,
    names: mist::Names,
    since: Option<i64>,
    until: Option<i64>,
    end: i64,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Incident>, StoreError> {
    let mut correlator = Correlator::new(settings);
    // Named as the live stage names them, so that summaries compare.
    correlator.set_names(names);
    let mut incidents: BTreeMap<i64, Incident> = BTreeMap::new();
    let mut keep = |transitions: Vec<Transition>| {
        for t in transitions {
            if let Transition::Incident { incident, .. } = t {
                incidents.insert(incident.id, incident);
            }
        }
    };
    let filter = EventFilter {
        since,
        until,
        ..EventFilter::default()
    };
    let mut after = None;
    let mut handled = 0u64;
    loop {
        let page = PageRequest {
            limit: PAGE,
            after,
            order: Order::Asc,
        };
        let events = store.events(filter.clone(), page).await?;
        for e in &events.items {
            while let Some(at) = correlator.poll_timeout().filter(|at| *at <= e.time) {
                keep(correlator.handle_timeout(at));
            }
            keep(crate::correlation_stage::feed(&mut correlator, e, e.time));
            handled += 1;
        }
        progress(handled);
        match events.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    while let Some(at) = correlator.poll_timeout().filter(|at| *at <= end) {
        keep(correlator.handle_timeout(at));
    }
    Ok(incidents.into_values().collect())
}
