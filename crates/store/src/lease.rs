//! Leases: the right to run a stage, held by one instance at a time. A stage that must
//! not run twice (the pruner, backfill; the others as they move to the database) runs
//! only while its instance holds the stage's lease, and stops as soon as it is lost.

use crate::StoreError;

/// A lease held.
#[async_trait::async_trait]
pub trait Lease: Send {
    /// Whether it is still held; false once the database has lost the holder's session
    /// (the stage must stop at once: another instance may hold it now).
    async fn held(&mut self) -> bool;
}

/// The store's part for leases (every `Store` has it).
#[async_trait::async_trait]
pub trait Leases: Send + Sync {
    /// Takes lease `name` when no instance holds it; `None` when one does.
    async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError>;

    /// What instances sharing this store coordinate through it; `None` when the store
    /// has one process (SQLite).
    fn cluster(&self) -> Option<&dyn Cluster> {
        None
    }
}

/// What an instance committed, as every instance on the database hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Committed {
    /// Events were appended.
    Events,
    /// Incident changes were committed.
    Incidents,
}

/// What several instances on one database coordinate through it: who is alive, which
/// instance sends to each destination (a lane's claim), relayed commands to the holder of
/// a stage, and the versions of the configuration they share.
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// What any instance commits, as it commits (its own commits included). After the
    /// connection that listens was lost and made again, both kinds are sent once: a
    /// commit in between may have been missed.
    async fn commits(&self) -> Result<tokio::sync::mpsc::Receiver<Committed>, StoreError>;

    /// Records that `instance` is alive at `now` (unix µs); returns how many instances
    /// were seen since `now - live_us`, this one included.
    async fn heartbeat(&self, instance: &str, now: i64, live_us: i64) -> Result<u32, StoreError>;

    /// Of `candidates`, those with a pending batch that no instance's claim covers at
    /// `now`; and how many claims are current.
    async fn unclaimed_lanes(
        &self,
        candidates: &[String],
        now: i64,
    ) -> Result<(Vec<String>, u32), StoreError>;

    /// Of `destinations`, those with a pending batch.
    async fn busy_lanes(&self, destinations: &[String]) -> Result<Vec<String>, StoreError>;

    /// Claims for `instance`, until `until`, those of `destinations` whose claim is
    /// free, expired at `now` or its own (rows locked by another claimer are skipped);
    /// returns the ones claimed.
    async fn claim_lanes(
        &self,
        instance: &str,
        destinations: &[String],
        now: i64,
        until: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Extends to `until` the claims `instance` still holds among `destinations`;
    /// returns those (a claim another instance took after it expired is not among them).
    async fn renew_lanes(
        &self,
        instance: &str,
        destinations: &[String],
        until: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Gives up `instance`'s claims on `destinations`.
    async fn release_lanes(
        &self,
        instance: &str,
        destinations: &[String],
    ) -> Result<(), StoreError>;

    /// Pending batches (without bodies) of `destinations` with an id above `after`,
    /// lowest id first, at most `limit`.
    async fn pending_of(
        &self,
        destinations: &[String],
        after: i64,
        limit: u32,
    ) -> Result<Vec<crate::BatchRow>, StoreError>;

    /// The version of a kind of shared state, raised by every change of it:
    /// `subscriptions` (webhooks and asset filters), `replays` (dead batches put back).
    async fn version(&self, kind: &str) -> Result<i64, StoreError>;

    /// Remembers backfilled events whose webhook copy has not come, as (identity key,
    /// fingerprint) pairs, so that the copy is known as their duplicate on whichever
    /// instance it reaches; a pair remembered already is kept as it was.
    async fn late_remember(&self, copies: &[LateCopy], at: i64) -> Result<(), StoreError>;

    /// Takes, for each of `keys` that has any, one remembered pair (the oldest): each is
    /// given out once, across instances.
    async fn late_claim(&self, keys: &[[u8; 16]]) -> Result<Vec<LateCopy>, StoreError>;

    /// Forgets the pairs remembered before `before`; how many.
    async fn late_prune(&self, before: i64) -> Result<u64, StoreError>;

    /// Keeps `body` as the last report of stage `name` (one that runs on one instance:
    /// backfill's report, what the Mist API sync read), for the other instances; each
    /// one raises the report's version.
    async fn report_put(&self, name: &str, body: &str, at: i64) -> Result<(), StoreError>;

    /// The last report of stage `name` and its version, when its version is above
    /// `after` (0: any).
    async fn report_get(&self, name: &str, after: i64)
    -> Result<Option<(String, i64)>, StoreError>;

    /// Leaves a command for the holder of stage `stage`; its id.
    async fn relay_put(&self, stage: &str, body: &str, at: i64) -> Result<i64, StoreError>;

    /// The commands for `stage` not answered yet, oldest first.
    async fn relay_open(&self, stage: &str) -> Result<Vec<(i64, String)>, StoreError>;

    /// Answers command `id`.
    async fn relay_answer(&self, id: i64, answer: &str, at: i64) -> Result<(), StoreError>;

    /// Command `id`'s answer, once given.
    async fn relay_answer_of(&self, id: i64) -> Result<Option<String>, StoreError>;

    /// Deletes the commands left before `before` (answered or not).
    async fn relay_prune(&self, before: i64) -> Result<u64, StoreError>;

    /// Keeps a console session, by the SHA-256 of its id (the id itself is never
    /// stored), so that every instance knows it; `record` is sealed at rest.
    async fn session_put(
        &self,
        hash: &[u8],
        record: &str,
        created_at: i64,
        used_at: i64,
    ) -> Result<(), StoreError>;

    /// A session's record, when it was made and when it was last used.
    async fn session_get(&self, hash: &[u8]) -> Result<Option<(String, i64, i64)>, StoreError>;

    /// Marks a session used at `at`.
    async fn session_used(&self, hash: &[u8], at: i64) -> Result<(), StoreError>;

    /// Ends a session; whether there was one.
    async fn session_end(&self, hash: &[u8]) -> Result<bool, StoreError>;

    /// Deletes the sessions last used before `used_before` or made before
    /// `created_before`.
    async fn sessions_prune(
        &self,
        used_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError>;
}

/// A backfilled event waiting for its webhook copy: its identity key and its
/// duplicate-detection fingerprint.
pub type LateCopy = ([u8; 16], [u8; 16]);

/// A lease that is always held: one process owns a SQLite data dir (its lock file sees
/// to that), so its stages have no one to share with.
pub struct Sole;

#[async_trait::async_trait]
impl Lease for Sole {
    async fn held(&mut self) -> bool {
        true
    }
}
