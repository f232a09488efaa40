//! How the stages that tail the log (correlation, delivery, routing) run: what wakes
//! them, and the one loop they share.
//!
//! A stage has work when something it reads was committed, or when one of its own
//! deadlines passes (an aggregation window closing, a correlator timer, a cursor to
//! write). [`Wakes`] carries the first: every commit says what it wrote (events, incident
//! changes), and each stage waits on the logs it reads, through a [`Waiter`]. Wake-ups
//! coalesce: any number of commits while a stage works make one more pass. Deadlines come
//! from the stage itself ([`TailStage::deadline`]); there is no idle tick, so a stage with
//! nothing to do uses no CPU.
//!
//! [`run`] is the loop: step while there is more to read, then wait for a commit, a
//! deadline, an input (the correlation stage's commands) or the shutdown. Under load,
//! commits come faster than a stage can read them; the loop then leaves at least as much
//! time between two passes as the last pass took (at most [`MAX_PACE`]), so that a stage
//! reads bigger pages instead of competing with ingest for the cores on every commit.
//! At shutdown (ingest has stopped by then) a stage first reads what was committed before
//! the stop, for at most [`DRAIN`], then writes what it holds.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use store::StoreError;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::now_us;
use crate::supervise::Reporter;

/// The longest pause the loop leaves between two passes of a busy stage.
pub const MAX_PACE: Duration = Duration::from_millis(50);

/// At shutdown, the longest a stage goes on reading what was acknowledged before the
/// stop (a pass is never cut short: what it did is committed with its cursor).
pub const DRAIN: Duration = Duration::from_secs(1);

/// How long a stage whose pass failed waits before it tries again from its last commit.
const RETRY: Duration = Duration::from_secs(1);

/// The longest a stage sleeps towards a deadline before it looks at the clock again (the
/// wall clock may have been set back).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What a commit wrote, and so which stages it wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Log {
    /// Events appended by ingest: read by correlation, delivery and routing.
    Events,
    /// Incident changes committed by the correlation stage (its own, and manual actions
    /// such as acknowledge and resolve): read by routing.
    Incidents,
}

/// The wake-ups of the stages: each commit calls [`Wakes::committed`] with the log it
/// wrote; each stage waits on the logs it reads.
#[derive(Debug)]
pub struct Wakes {
    events: watch::Sender<u64>,
    incidents: watch::Sender<u64>,
}

impl Wakes {
    /// A hub no stage waits on yet.
    pub fn new() -> Arc<Wakes> {
        Arc::new(Wakes {
            events: watch::channel(0).0,
            incidents: watch::channel(0).0,
        })
    }

    fn sender(&self, log: Log) -> &watch::Sender<u64> {
        match log {
            Log::Events => &self.events,
            Log::Incidents => &self.incidents,
        }
    }

    /// `log` grew: wakes every stage that reads it (cheap; a stage that is busy makes one
    /// more pass, however many commits came meanwhile).
    pub fn committed(&self, log: Log) {
        self.sender(log).send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What a stage that reads `logs` waits on. Commits before this call do not wake it
    /// (a stage reads everything after its cursor when it starts).
    pub fn waiter(&self, logs: &[Log]) -> Waiter {
        Waiter {
            receivers: logs.iter().map(|l| self.sender(*l).subscribe()).collect(),
        }
    }
}

/// One stage's side of [`Wakes`]: resolves when something it reads was committed.
#[derive(Debug)]
pub struct Waiter {
    receivers: Vec<watch::Receiver<u64>>,
}

impl Waiter {
    /// Also wakes on `changes` (for example the subscriptions' version).
    pub fn or(mut self, changes: watch::Receiver<u64>) -> Waiter {
        self.receivers.push(changes);
        self
    }

    /// Resolves at the next commit the stage reads (at once when one came since the last
    /// call). Never resolves once every sender is gone.
    pub async fn changed(&mut self) {
        // `watch::Receiver::changed` is cancel-safe: a commit is never missed.
        let waits: Vec<_> = self
            .receivers
            .iter_mut()
            .map(|rx| Box::pin(one(rx)))
            .collect();
        first_of(waits).await;
    }
}

async fn one(rx: &mut watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        // The hub is gone: this source never wakes the stage again.
        std::future::pending::<()>().await;
    }
}

/// Resolves when the first of `futures` does; never when there are none.
async fn first_of<F: Future<Output = ()> + Unpin>(mut futures: Vec<F>) {
    std::future::poll_fn(|cx| {
        for f in futures.iter_mut() {
            if std::pin::Pin::new(f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// A stage that tails the log, as [`run`] drives it.
pub trait TailStage: Send {
    /// What reaches the stage besides commits (the API's commands to the correlation
    /// stage); [`std::convert::Infallible`] when nothing does.
    type Input: Send;

    /// The stage's name in the log messages.
    const NAME: &'static str;

    /// Handles what is due and reads the next page; true when there is more to read at once.
    fn step(&mut self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// After a failed step: goes back to what the stage last committed.
    fn recover(&mut self) -> impl Future<Output = ()> + Send;

    /// When the stage next has work that no commit brings (unix µs): a window closing,
    /// a timer, a cursor to write.
    fn deadline(&self) -> Option<i64>;

    /// The next input, `None` when no more can come; pending when the stage takes none.
    fn input(&mut self) -> impl Future<Output = Option<Self::Input>> + Send;

    /// Handles one input.
    fn handle(&mut self, input: Self::Input) -> impl Future<Output = ()> + Send;

    /// At shutdown: writes what the stage holds.
    fn finish(&mut self) -> impl Future<Output = ()> + Send;
}

/// Runs `stage` until the process shuts down (or its inputs close): see the module
/// documentation.
pub async fn run<S: TailStage>(mut stage: S, reporter: Reporter, mut wake: Waiter) {
    let mut pace = Pace::default();
    loop {
        if reporter.stopping() {
            drain(&mut stage).await;
            return stage.finish().await;
        }
        let started = Instant::now();
        let stepped = stage.step().await;
        pace.ran(started);
        match stepped {
            Ok(true) => continue,
            Ok(false) => {}
            Err(StoreError::Fenced { stage }) => {
                // Another instance holds the stage now (this one lost its lease): its
                // supervisor builds it again, which waits for the lease and loads.
                panic!(
                    "{} stage: stage {stage} was moved on by another instance; loading it again",
                    S::NAME
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "{} stage failed a batch; retrying from its last commit", S::NAME);
                stage.recover().await;
                tokio::select! {
                    () = tokio::time::sleep(RETRY) => {}
                    () = reporter.stopped() => {}
                }
                continue;
            }
        }
        let deadline = stage.deadline();
        tokio::select! {
            input = stage.input() => match input {
                Some(input) => {
                    stage.handle(input).await;
                    continue;
                }
                None => return,
            },
            () = wake.changed() => {}
            () = sleep_until(deadline) => {}
            () = reporter.stopped() => continue,
        }
        tokio::select! {
            () = pace.wait() => {}
            () = reporter.stopped() => {}
        }
    }
}

/// Reads what was committed before the shutdown, whole passes only, for at most
/// [`DRAIN`]: the last events acknowledged are handled now, and the cursor the stage
/// writes is the log's head, rather than left for the next start.
async fn drain<S: TailStage>(stage: &mut S) {
    let until = Instant::now() + DRAIN;
    while Instant::now() < until {
        match stage.step().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::debug!(error = %e, "{} stage: the last pass before stopping failed", S::NAME);
                return stage.recover().await;
            }
        }
    }
}

/// Sleeps until `deadline` (unix µs); forever when there is none.
async fn sleep_until(deadline: Option<i64>) {
    match deadline {
        Some(at) => {
            let us = (at - now_us()).max(0) as u64;
            tokio::time::sleep(Duration::from_micros(us).min(MAX_SLEEP)).await;
        }
        None => std::future::pending().await,
    }
}

/// The earliest start of a stage's next pass: as long after the last one ended as it took.
#[derive(Default)]
struct Pace {
    next: Option<Instant>,
}

impl Pace {
    fn ran(&mut self, started: Instant) {
        let now = Instant::now();
        self.next = Some(now + (now - started).min(MAX_PACE));
    }

    async fn wait(&self) {
        if let Some(at) = self.next {
            tokio::time::sleep_until(at).await;
        }
    }
}

/// Calls `attempt` until it succeeds, a second apart, saying each time what failed: for a
/// stage that restarts from what it committed and can do nothing before it has read it.
pub async fn until_ok<T, E, F, Fut>(what: &str, mut attempt: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) => {
                tracing::warn!(error = %e, "cannot {what}; trying again in 1 s");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::Stages;
    use std::convert::Infallible;
    use tokio::sync::mpsc;

    /// Resolves `f` if it finishes before a (paused-clock) hour passes.
    async fn within_an_hour<F: Future>(f: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::from_secs(3600), f)
            .await
            .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_wakes_once_for_many_commits_of_what_it_reads() {
        let wakes = Wakes::new();
        let mut routing = wakes.waiter(&[Log::Events, Log::Incidents]);
        let mut delivery = wakes.waiter(&[Log::Events]);
        for _ in 0..3 {
            wakes.committed(Log::Events);
        }
        assert!(within_an_hour(routing.changed()).await.is_some());
        assert!(within_an_hour(delivery.changed()).await.is_some());
        assert!(
            within_an_hour(routing.changed()).await.is_none(),
            "coalesced"
        );
        assert!(
            within_an_hour(delivery.changed()).await.is_none(),
            "coalesced"
        );
        wakes.committed(Log::Incidents);
        assert!(within_an_hour(routing.changed()).await.is_some());
        assert!(
            within_an_hour(delivery.changed()).await.is_none(),
            "delivery does not read incidents"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_gone_hub_does_not_wake_a_waiter_in_a_loop() {
        let wakes = Wakes::new();
        let mut waiter = wakes.waiter(&[Log::Events]);
        drop(wakes);
        assert!(within_an_hour(waiter.changed()).await.is_none());
    }

    /// Counts its passes; after each, the next of `deadlines` (if any) is its deadline.
    struct Counting {
        passes: mpsc::UnboundedSender<()>,
        deadlines: Vec<Duration>,
        deadline: Option<i64>,
    }

    impl Counting {
        fn new(deadlines: Vec<Duration>) -> (Counting, mpsc::UnboundedReceiver<()>) {
            let (passes, rx) = mpsc::unbounded_channel();
            let stage = Counting {
                passes,
                deadlines,
                deadline: None,
            };
            (stage, rx)
        }
    }

    impl TailStage for Counting {
        type Input = Infallible;
        const NAME: &'static str = "test";

        async fn step(&mut self) -> Result<bool, StoreError> {
            let _ = self.passes.send(());
            self.deadline = self
                .deadlines
                .pop()
                .map(|d| now_us() + d.as_micros() as i64);
            Ok(false)
        }
        async fn recover(&mut self) {}
        fn deadline(&self) -> Option<i64> {
            self.deadline
        }
        async fn input(&mut self) -> Option<Infallible> {
            std::future::pending().await
        }
        async fn handle(&mut self, input: Infallible) {
            match input {}
        }
        async fn finish(&mut self) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_stage_runs_when_what_it_reads_is_committed_and_not_on_a_tick() {
        let wakes = Wakes::new();
        let (stage, mut passes) = Counting::new(Vec::new());
        let reporter = Reporter::new(Stages::new(), "test");
        tokio::spawn(run(stage, reporter, wakes.waiter(&[Log::Events])));
        assert!(
            within_an_hour(passes.recv()).await.is_some(),
            "the first pass"
        );
        assert!(
            within_an_hour(passes.recv()).await.is_none(),
            "an idle stage sleeps until something is committed"
        );
        wakes.committed(Log::Incidents);
        assert!(within_an_hour(passes.recv()).await.is_none(), "not read");
        let before = Instant::now();
        wakes.committed(Log::Events);
        assert!(within_an_hour(passes.recv()).await.is_some());
        assert_eq!(Instant::now(), before, "at once: no tick waited for");
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_wakes_a_stage_that_no_commit_wakes() {
        let wakes = Wakes::new();
        let (stage, mut passes) = Counting::new(vec![Duration::from_secs(30)]);
        let reporter = Reporter::new(Stages::new(), "test");
        tokio::spawn(run(stage, reporter, wakes.waiter(&[Log::Events])));
        assert!(
            within_an_hour(passes.recv()).await.is_some(),
            "the first pass"
        );
        let before = Instant::now();
        assert!(
            within_an_hour(passes.recv()).await.is_some(),
            "the deadline"
        );
        let waited = Instant::now() - before;
        assert!(
            waited >= Duration::from_secs(29) && waited <= Duration::from_secs(31),
            "{waited:?}"
        );
        assert!(within_an_hour(passes.recv()).await.is_none(), "then idle");
    }

    /// A log `pages` pages ahead of the stage, each pass reading one in `pass`; what it
    /// read when it finished goes to `done`.
    struct Behind {
        pages: u32,
        read: u32,
        pass: Duration,
        done: Option<tokio::sync::oneshot::Sender<u32>>,
    }

    impl TailStage for Behind {
        type Input = Infallible;
        const NAME: &'static str = "test";

        async fn step(&mut self) -> Result<bool, StoreError> {
            tokio::time::sleep(self.pass).await;
            if self.pages > 0 {
                self.pages -= 1;
                self.read += 1;
            }
            Ok(self.pages > 0)
        }
        async fn recover(&mut self) {}
        fn deadline(&self) -> Option<i64> {
            None
        }
        async fn input(&mut self) -> Option<Infallible> {
            std::future::pending().await
        }
        async fn handle(&mut self, input: Infallible) {
            match input {}
        }
        async fn finish(&mut self) {
            let _ = self.done.take().expect("finished once").send(self.read);
        }
    }

    /// Runs a `Behind` stage told to stop before its first pass; what it read, and how
    /// long it took.
    async fn stopped_at_once(pages: u32, pass: Duration) -> (u32, Duration) {
        let stages = Stages::new();
        let reporter = Reporter::new(stages.clone(), "test");
        assert!(stages.stop(Duration::from_secs(1)).await);
        let (done, read) = tokio::sync::oneshot::channel();
        let stage = Behind {
            pages,
            read: 0,
            pass,
            done: Some(done),
        };
        let started = Instant::now();
        let wakes = Wakes::new();
        run(stage, reporter, wakes.waiter(&[Log::Events])).await;
        (read.await.expect("finished"), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn at_shutdown_a_stage_reads_what_was_committed_before_it_writes_its_cursor() {
        let (read, took) = stopped_at_once(5, Duration::from_millis(10)).await;
        assert_eq!(read, 5, "the cursor written is the log's head");
        assert_eq!(took, Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stage_far_behind_stops_reading_after_the_drain_time() {
        let (read, took) = stopped_at_once(u32::MAX, Duration::from_millis(300)).await;
        // Whole passes: the one running when the time is up ends first.
        assert_eq!(read, 4);
        assert_eq!(took, Duration::from_millis(1200));
    }
}
