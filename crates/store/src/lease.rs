//! Leases: the right to run a stage, held by one instance at a time. A stage that must
//! not run twice (the pruner, backfill; the others as they move to the database) runs
//! only while its instance holds the stage's lease, and stops as soon as it is lost.

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
    async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, crate::StoreError>;
}

/// A lease that is always held: one process owns a SQLite data dir (its lock file sees
/// to that), so its stages have no one to share with.
pub struct Sole;

#[async_trait::async_trait]
impl Lease for Sole {
    async fn held(&mut self) -> bool {
        true
    }
}
