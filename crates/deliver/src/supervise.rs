//! Background stages that come back after a panic, and what each one is doing.
//!
//! Every stage (correlation, delivery, routing, pruner) commits its cursor with its work,
//! so a stage rebuilt from the store resumes exactly where its last commit left it.
//! [`supervise`] relies on that: it runs a stage as its own task, and when the task
//! panics it logs the panic, counts it, waits (1 s, doubling up to a minute) and builds
//! the stage again. [`Stages`] holds each stage's position in the log and its restarts,
//! for `/readyz` and `/metrics`, and the [`Wakes`] that tell them about commits.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::engine::now_us;
use crate::tail::Wakes;

/// The longest wait before a stage that keeps panicking is started again.
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);

/// A stage that ran at least this long before it panicked starts again at once.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What one stage is doing, as readiness shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageStatus {
    /// The id of the last event of the log the stage is done with.
    pub position: Option<i64>,
    /// When the stage last finished a piece of work (unix µs).
    pub progressed_at: Option<i64>,
    /// False from a panic until the stage runs again.
    pub running: bool,
    /// Restarts after a panic since the process started.
    pub restarts: u64,
    /// The last panic's message and when it happened (unix µs).
    pub last_panic: Option<(String, i64)>,
}

/// Every supervised stage's status, by name, what wakes them, and the signal that stops
/// them all.
#[derive(Debug)]
pub struct Stages {
    inner: Mutex<BTreeMap<&'static str, StageStatus>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    wakes: Arc<Wakes>,
}

impl Stages {
    /// No stages yet.
    pub fn new() -> Arc<Stages> {
        Arc::new(Stages {
            inner: Mutex::default(),
            stop: watch::channel(false).0,
            tasks: Mutex::default(),
            wakes: Wakes::new(),
        })
    }

    /// What every commit calls to wake the stages that read what it wrote.
    pub fn wakes(&self) -> &Arc<Wakes> {
        &self.wakes
    }

    /// Asks every stage to write what it holds (its cursor, buffered batches) and return,
    /// and waits for them, at most `limit`. False if some did not return in time.
    pub async fn stop(&self, limit: Duration) -> bool {
        self.stop.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        tokio::time::timeout(limit, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await
        .is_ok()
    }

    /// True once the process is shutting down (for tasks that are not stages).
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// A task that is not a stage but that [`Stages::stop`] waits for too (it ends on
    /// [`Stages::stop_signal`]).
    pub fn track(&self, task: tokio::task::JoinHandle<()>) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    /// Every stage's status, by name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, StageStatus> {
        self.lock().clone()
    }

    fn update(&self, name: &'static str, f: impl FnOnce(&mut StageStatus)) {
        f(self.lock().entry(name).or_default());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, StageStatus>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a running stage uses to say how far it got, and to learn that it should stop.
#[derive(Clone, Debug)]
pub struct Reporter {
    stages: Arc<Stages>,
    name: &'static str,
    stop: watch::Receiver<bool>,
}

impl Reporter {
    /// A reporter for `name` that is not supervised (tests, stages run by hand).
    pub fn new(stages: Arc<Stages>, name: &'static str) -> Reporter {
        stages.update(name, |s| s.running = true);
        let stop = stages.stop.subscribe();
        Reporter { stages, name, stop }
    }

    /// Whether the process is shutting down.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the process is shutting down: a stage selects on it while idle,
    /// then writes what it holds and returns.
    pub async fn stopped(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// The stage is done with every event up to `event_id`.
    pub fn position(&self, event_id: i64) {
        let now = now_us();
        self.stages.update(self.name, |s| {
            s.position = Some(event_id);
            s.progressed_at = Some(now);
        });
    }

    /// The stage finished a piece of work that has no position in the log.
    pub fn progressed(&self) {
        let now = now_us();
        self.stages
            .update(self.name, |s| s.progressed_at = Some(now));
    }
}

/// How long to wait before the `n`th restart in a row (1-based): 1 s, doubling, at most
/// [`MAX_RESTART_DELAY`].
pub fn restart_delay(n: u32) -> Duration {
    let secs = 1u64.checked_shl(n.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_RESTART_DELAY)
}

/// Runs the stage `make` builds under `name`, building it again after every panic, until
/// it returns normally. `make` is called once per run and should rebuild the stage from
/// what it last committed.
pub fn supervise<F, Fut>(stages: Arc<Stages>, name: &'static str, mut make: F) -> SupervisedStage
where
    F: FnMut(Reporter) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let restarts = metrics::counter!("mistgate_stage_restarts_total", "stage" => name);
    let supervisor = stages.clone();
    let handle = tokio::spawn(async move {
        let mut in_a_row = 0u32;
        loop {
            let reporter = Reporter::new(stages.clone(), name);
            let started = Instant::now();
            let outcome = tokio::spawn(make(reporter)).await;
            let Err(error) = outcome else {
                stages.update(name, |s| s.running = false);
                return;
            };
            if error.is_cancelled() || *stages.stop.borrow() {
                stages.update(name, |s| s.running = false);
                return;
            }
            let message = panic_message(error.into_panic());
            in_a_row = if started.elapsed() >= HEALTHY_RUN {
                1
            } else {
                in_a_row + 1
            };
            let delay = restart_delay(in_a_row);
            tracing::error!(stage = name, panic = %message, restart_in = ?delay,
                "a stage panicked; it restarts from its last commit");
            restarts.increment(1);
            let at = now_us();
            stages.update(name, |s| {
                s.running = false;
                s.restarts += 1;
                s.last_panic = Some((message, at));
            });
            tokio::time::sleep(delay).await;
        }
    });
    let abort = handle.abort_handle();
    supervisor
        .tasks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(handle);
    SupervisedStage(abort)
}

/// A handle to a supervised stage.
#[derive(Debug)]
pub struct SupervisedStage(tokio::task::AbortHandle);

impl SupervisedStage {
    /// Whether the stage is over for good (it returned, or the runtime ended).
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_string(),
            Err(_) => "a panic without a message".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn stop_asks_every_stage_to_finish_and_waits_for_it() {
        let stages = Stages::new();
        let (wrote_tx, wrote_rx) = tokio::sync::oneshot::channel();
        let mut wrote_tx = Some(wrote_tx);
        supervise(stages.clone(), "idle", move |reporter| {
            let wrote = wrote_tx.take();
            async move {
                reporter.stopped().await;
                assert!(reporter.stopping());
                if let Some(wrote) = wrote {
                    let _ = wrote.send("cursor written");
                }
            }
        });
        assert!(stages.stop(Duration::from_secs(5)).await);
        assert_eq!(wrote_rx.await.unwrap(), "cursor written");
        assert!(!stages.snapshot()["idle"].running);
    }

    #[test]
    fn restart_delays_double_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| restart_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(restart_delay(200), MAX_RESTART_DELAY);
        assert_eq!(restart_delay(0), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stage_that_panics_is_started_again_and_says_why() {
        let stages = Stages::new();
        let runs = Arc::new(AtomicU32::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let mut done_tx = Some(done_tx);
        let handle = supervise(stages.clone(), "test", {
            let runs = runs.clone();
            move |reporter| {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                let done = if run == 3 { done_tx.take() } else { None };
                async move {
                    reporter.position(i64::from(run) * 10);
                    if run < 3 {
                        panic!("stage broke on run {run}");
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            }
        });
        done_rx.await.expect("the third run completes");
        assert!(
            stages.stop(Duration::from_secs(5)).await,
            "returned normally"
        );
        assert!(handle.is_finished());
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let status = stages.snapshot()["test"].clone();
        assert_eq!(status.restarts, 2);
        assert_eq!(status.position, Some(30));
        assert!(!status.running, "returned normally: not restarted");
        let (message, _) = status.last_panic.expect("the panic is kept");
        assert_eq!(message, "stage broke on run 2");
    }
}
