//! Writes attempt records in groups, so that a busy lane does not wait for a commit per
//! request and many lanes share one.

use std::sync::Arc;
use std::time::Duration;

use store::{AttemptRecord, Store};
use tokio::sync::mpsc;

/// Most records written in one call.
const GROUP: usize = 1_000;

pub(crate) fn spawn(store: Arc<dyn Store>) -> mpsc::UnboundedSender<AttemptRecord> {
    let (tx, mut rx) = mpsc::unbounded_channel::<AttemptRecord>();
    tokio::spawn(async move {
        let mut group = Vec::with_capacity(GROUP);
        while rx.recv_many(&mut group, GROUP).await > 0 {
            let mut pause = Duration::from_millis(100);
            // A failed write is retried: the records are the only trace of those attempts
            // and the batch states they carry decide what is sent after a restart.
            while let Err(e) = store.record_attempts(group.clone()).await {
                tracing::warn!(error = %e, records = group.len(), "writing delivery attempts failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            group.clear();
        }
    });
    tx
}
