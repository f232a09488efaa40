//! `[mist]` with several instances on one database: one of them reads Mist's API (the
//! holder of the [`LEASE`]), so that the token's hourly budget is spent once, not once per
//! instance. It keeps the names and wiring it read in the database after each good read;
//! the others take them from there within [`FOLLOW_EVERY`] for their own correlation
//! stage, routing and API. Ids the names lack are looked up by the reading instance when
//! its own traffic names them; the others' wait for its next full read.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::Store;
use tokio::sync::watch;

use super::{Outlets, Synced};
use deliver::clock::now_us;

/// The lease the reads run under, and the name of what they keep in the database.
pub(super) const LEASE: &str = "mist-sync";

/// How often an instance that does not read looks for a newer read.
pub(super) const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// What is kept of a read.
#[derive(Serialize, Deserialize)]
struct Kept {
    names: mist::Names,
    topology: correlate::Topology,
}

/// Keeps what the reading instance made of a read, for the others.
pub(super) async fn keep(store: &dyn Store, synced: &Synced) {
    let Some(cluster) = store.cluster() else {
        return;
    };
    let kept = Kept {
        names: synced.names.clone(),
        topology: synced.topology.clone(),
    };
    let body = serde_json::to_string(&kept).expect("names and wiring serialise");
    if let Err(e) = cluster.report_put(LEASE, &body, now_us()).await {
        tracing::warn!(error = %e, "cannot keep the names and wiring read from Mist's API for the other instances; they keep what they had");
    }
}

/// On every instance: whenever another instance kept a newer read, hands it to this
/// instance's outlets, until `stopping`.
pub(super) async fn follow(
    store: Arc<dyn Store>,
    outlets: Arc<Outlets>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut seen = 0;
    loop {
        if let Some(cluster) = store.cluster()
            && !deliver::lease::held_here(LEASE)
        {
            match cluster.report_get(LEASE, seen).await {
                Ok(Some((body, version))) => {
                    seen = version;
                    match serde_json::from_str::<Kept>(&body) {
                        Ok(kept) => {
                            outlets.apply(kept.names, kept.topology).await;
                            tracing::debug!(
                                version,
                                "took the names and wiring another instance read from Mist's API"
                            );
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the names and wiring another instance kept cannot be read; keeping what this one has")
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the names and wiring another instance read from Mist's API; trying again")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
            () = super::stopped(&mut stopping) => return,
        }
    }
}
