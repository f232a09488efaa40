//! Stages that must run on one instance at a time run under a lease of the store
//! (`store::Leases`): on SQLite, always held (one process per data dir); on PostgreSQL,
//! held by one instance, and taken over by another within [`RETRY`] of the holder's
//! death (its session's advisory lock goes with it). A holder checks its lease every
//! [`CHECK`] and stops the stage the moment it is lost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use store::Store;

/// How often an instance without the lease tries to take it.
pub const RETRY: Duration = Duration::from_secs(2);

/// How often the holder checks that it still holds it.
pub const CHECK: Duration = Duration::from_secs(2);

/// At shutdown, how long a stage is left to finish by itself (it sees the same signal:
/// it reads what was acknowledged and writes its cursor) before its task is aborted.
pub const FINISH: Duration = Duration::from_secs(3);

/// Runs `run()` while this instance holds lease `name`, until `stop` completes; the
/// stage, which sees the same shutdown, is then left [`FINISH`] to end by itself. When
/// the lease is lost the stage is stopped at once (its task aborted: another instance
/// may run it now) and the lease tried for again. A stage that panics panics here, for
/// its supervisor to restart.
pub async fn leased<S, F, Fut>(store: Arc<dyn Store>, name: &'static str, stop: S, mut run: F)
where
    S: Future<Output = ()> + Send,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::pin!(stop);
    loop {
        let mut lease = tokio::select! {
            lease = acquire(store.as_ref(), name) => lease,
            () = &mut stop => return,
        };
        set_held(name, true);
        tracing::info!(
            stage = name,
            "this instance holds the stage's lease and runs it"
        );
        let mut task = tokio::spawn(run());
        loop {
            tokio::select! {
                ended = &mut task => {
                    set_held(name, false);
                    if let Err(e) = ended
                        && e.is_panic()
                    {
                        std::panic::resume_unwind(e.into_panic());
                    }
                    return;
                }
                () = tokio::time::sleep(CHECK) => {
                    if !lease.held().await {
                        break;
                    }
                }
                () = &mut stop => {
                    // Not aborted at once: that would cut the stage's own finish short
                    // (found by a shutdown that left the correlation cursor behind).
                    if tokio::time::timeout(FINISH, &mut task).await.is_err() {
                        task.abort();
                        let _ = task.await;
                    }
                    set_held(name, false);
                    return;
                }
            }
        }
        task.abort();
        let _ = task.await;
        set_held(name, false);
        tracing::warn!(
            stage = name,
            "lost the stage's lease (the database no longer knows this instance's session): stopped it; another instance takes over"
        );
    }
}

async fn acquire(store: &dyn Store, name: &'static str) -> Box<dyn store::Lease> {
    loop {
        match store.try_lease(name).await {
            Ok(Some(lease)) => return lease,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(stage = name, error = %e, "could not ask for the stage's lease; trying again");
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// The leases this process holds now.
static HELD: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn set_held(name: &'static str, held: bool) {
    metrics::gauge!("mistgate_stage_lease", "stage" => name).set(if held { 1.0 } else { 0.0 });
    let mut set = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held {
        set.insert(name);
    } else {
        set.remove(name);
    }
}

/// Whether this process holds lease `name` now (it runs that stage).
pub fn held_here(name: &str) -> bool {
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use store::{SqliteConfig, SqliteStore};

    /// Runs under `leased` a stage that, once told to stop, takes `finishing` to write
    /// what it holds; whether it wrote it before `leased` returned.
    async fn finished(finishing: Duration) -> bool {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(SqliteConfig::in_data_dir(dir.path())).expect("store"));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let wrote = Arc::new(AtomicBool::new(false));
        let (stage_rx, stage_wrote) = (rx.clone(), wrote.clone());
        let mut stop = rx;
        let running = tokio::spawn(leased(
            store,
            "test",
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
            move || {
                let (mut rx, wrote) = (stage_rx.clone(), stage_wrote.clone());
                async move {
                    let _ = rx.wait_for(|s| *s).await;
                    tokio::time::sleep(finishing).await;
                    wrote.store(true, Ordering::SeqCst);
                }
            },
        ));
        // The stage runs (the lease is always held on SQLite), then the shutdown.
        while !held_here("test") {
            tokio::task::yield_now().await;
        }
        tx.send_replace(true);
        running.await.expect("leased returns");
        wrote.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn at_shutdown_a_stage_finishes_by_itself_and_is_cut_short_only_after_the_grace() {
        assert!(finished(Duration::from_millis(500)).await, "left to finish");
        assert!(!finished(FINISH * 2).await, "aborted after FINISH");
    }
}
