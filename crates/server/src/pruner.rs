//! Retention: a background task that asks the store to drop what is no longer kept.

use std::sync::Arc;
use std::time::Duration;

use deliver::supervise::{Reporter, Stages, supervise};
use store::{Retention, Store};

use deliver::clock::now_us;

const DAY_US: i64 = 86_400_000_000;

/// What to prune at `now`, from the retention days (0 keeps data forever) and the
/// duplicate window (fingerprints are only needed that long).
pub fn retention_at(now: i64, retention_days: u32, dedup_window: Duration) -> Retention {
    Retention {
        data_before: (retention_days > 0).then(|| now - i64::from(retention_days) * DAY_US),
        fingerprints_before: now - dedup_window.as_micros().min(i64::MAX as u128) as i64,
    }
}

/// The pruner's name in `/readyz` and `/metrics`.
pub const STAGE_NAME: &str = "pruner";

/// Prunes once at start, then every `interval`; supervised like the other stages.
pub fn spawn(
    store: Arc<dyn Store>,
    retention_days: u32,
    dedup_window: Duration,
    interval: Duration,
    stages: Arc<Stages>,
) {
    // Several instances on one database prune under one lease: one at a time.
    supervise(stages, STAGE_NAME, move |reporter| {
        let store = store.clone();
        let stop = reporter.clone();
        deliver::lease::leased(
            store.clone(),
            STAGE_NAME,
            async move { stop.stopped().await },
            move || {
                run(
                    store.clone(),
                    retention_days,
                    dedup_window,
                    interval,
                    reporter.clone(),
                )
            },
        )
    });
}

async fn run(
    store: Arc<dyn Store>,
    retention_days: u32,
    dedup_window: Duration,
    interval: Duration,
    reporter: Reporter,
) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = reporter.stopped() => return,
        }
        let result = store
            .prune(retention_at(now_us(), retention_days, dedup_window))
            .await;
        match result {
            Ok(p) => {
                reporter.progressed();
                if p != store::Pruned::default() {
                    tracing::info!(
                        requests = p.requests,
                        events = p.events,
                        quarantine = p.quarantine,
                        fingerprints = p.fingerprints,
                        "retention pruned old rows"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention pass failed; will retry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_cutoffs() {
        let now = 100 * DAY_US;
        let r = retention_at(now, 30, Duration::from_secs(86_400));
        assert_eq!(r.data_before, Some(70 * DAY_US));
        assert_eq!(r.fingerprints_before, 99 * DAY_US);
        assert_eq!(retention_at(now, 0, Duration::ZERO).data_before, None);
    }
}
