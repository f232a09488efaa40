//! How far behind the log each background stage is, and how old the oldest undelivered
//! batch of each destination is: for `/readyz` and `/metrics`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Serialize;
use store::{Store, StoreError};

use crate::api::params::rfc3339;
use crate::app_state::AppState;
use deliver::clock::now_us;

/// One background stage as readiness shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StageReport {
    /// `correlation`, `delivery`, `routing` or `pruner`.
    pub name: String,
    /// False between a panic and the stage's restart.
    pub running: bool,
    /// Whether this instance runs the stage now. With several instances on one
    /// database, one of them runs each stage and the others stand by (position, lag and
    /// progress are then the holder's to report: here they are empty and 0).
    pub here: bool,
    /// The id of the last event the stage is done with (none for the pruner).
    pub position: Option<i64>,
    /// Events stored after `position` (0 for the pruner).
    pub lag_events: i64,
    /// How long the oldest event the stage has not handled has been waiting; for the
    /// pruner, the time since its last completed pass.
    pub lag_seconds: f64,
    /// Restarts after a panic since the server started.
    pub restarts: u64,
    /// The last panic's message.
    pub last_panic: Option<String>,
    /// When the stage last panicked (RFC 3339).
    pub last_panic_at: Option<String>,
    /// When the stage last finished a piece of work (RFC 3339).
    pub progressed_at: Option<String>,
}

/// Every supervised stage, by name.
pub async fn report(app: &AppState) -> Result<Vec<StageReport>, StoreError> {
    let head = app.store.tail(0, Vec::new(), 1).await?.1;
    let now = now_us();
    let mut out = Vec::new();
    for (name, mut status) in app.stages.snapshot() {
        let here = deliver::lease::held_here(name);
        if !here {
            status.position = None;
            status.progressed_at = None;
        }
        let (lag_events, lag_seconds) = match status.position {
            Some(position) => lag(app.store.as_ref(), head, position, now).await?,
            None => (
                0,
                status
                    .progressed_at
                    .map_or(0.0, |at| seconds(now.saturating_sub(at))),
            ),
        };
        let (last_panic, last_panic_at) = match status.last_panic {
            Some((message, at)) => (Some(message), Some(rfc3339(at))),
            None => (None, None),
        };
        out.push(StageReport {
            name: name.to_string(),
            running: status.running,
            here,
            position: status.position,
            lag_events,
            lag_seconds,
            restarts: status.restarts,
            last_panic,
            last_panic_at,
            progressed_at: status.progressed_at.map(rfc3339),
        });
    }
    Ok(out)
}

async fn lag(
    store: &dyn Store,
    head: i64,
    position: i64,
    now: i64,
) -> Result<(i64, f64), StoreError> {
    if head <= position {
        return Ok((0, 0.0));
    }
    let waiting = store
        .tail_all(position, 1)
        .await?
        .first()
        .map_or(0.0, |e| seconds(now.saturating_sub(e.received_at)));
    Ok((head - position, waiting))
}

fn seconds(us: i64) -> f64 {
    us.max(0) as f64 / 1e6
}

/// The destinations whose outbox gauges were last set (the recorder is process-wide too).
static SHOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Sets the gauges that are computed rather than counted: per-stage lag and state, and
/// per destination the number of pending batches and the age of the oldest. Called
/// before each `/metrics` render, so the figures are as of the scrape.
pub async fn refresh_gauges(app: &AppState) {
    match report(app).await {
        Ok(stages) => {
            for s in stages {
                let stage = s.name.clone();
                metrics::gauge!("mistgate_stage_lag_events", "stage" => stage.clone())
                    .set(s.lag_events as f64);
                metrics::gauge!("mistgate_stage_lag_seconds", "stage" => stage.clone())
                    .set(s.lag_seconds);
                metrics::gauge!("mistgate_stage_running", "stage" => stage).set(if s.running {
                    1.0
                } else {
                    0.0
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot compute stage lag for /metrics"),
    }
    let now = now_us();
    match app.store.pending_by_destination().await {
        Ok(rows) => {
            // A destination whose backlog emptied goes back to 0 rather than keeping
            // the last value it had.
            let mut shown = SHOWN.lock().unwrap_or_else(|p| p.into_inner());
            let current: BTreeSet<String> = rows.iter().map(|r| r.0.clone()).collect();
            for gone in shown.difference(&current) {
                metrics::gauge!("mistgate_outbox_pending_batches", "destination" => gone.clone())
                    .set(0.0);
                metrics::gauge!("mistgate_outbox_oldest_pending_seconds", "destination" => gone.clone())
                    .set(0.0);
            }
            *shown = current;
            for (destination, count, oldest) in rows {
                metrics::gauge!("mistgate_outbox_pending_batches", "destination" => destination.clone())
                    .set(count as f64);
                metrics::gauge!("mistgate_outbox_oldest_pending_seconds", "destination" => destination)
                    .set(seconds(now.saturating_sub(oldest)));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox for /metrics"),
    }
}
