//! The durable log of mistgate.
//!
//! Every accepted webhook request is appended here, byte for byte, with the events split
//! out of it and their normalised fields; requests that could not be accepted go to the
//! quarantine. [`Store`] is the one interface the rest of the program sees: the embedded
//! SQLite backend ([`SqliteStore`]) implements it now, PostgreSQL will be a second
//! implementation.
//!
//! Invariants every backend keeps:
//! - [`Store::append`] returns only after the request and its events are committed with
//!   the configured durability; concurrent appends share one commit (group commit).
//! - Event ids grow in commit order, so a reader that remembers the last id it saw
//!   (a stage cursor, an API page) never misses a row and never sees one twice.
//! - An event whose fingerprint was stored within the duplicate window is not stored
//!   again; the request that repeated it still is.
//! - The store never reads the clock: every time comes from the caller.

mod access;
mod backfill;
mod correlation;
mod error;
mod lease;
mod model;
mod outbox;
pub mod postgres;
pub mod seal;
mod series;
pub mod sqlite;

pub use access::*;
pub use backfill::*;
pub use correlation::*;
pub use error::StoreError;
pub use lease::{Cluster, Committed, LateCopy, Lease, Leases, Sole};
pub use model::*;
pub use outbox::*;
pub use seal::{SealError, Sealer};
pub use series::*;
pub use sqlite::{SqliteConfig, SqliteStore, Synchronous};

use async_trait::async_trait;

/// Which rows a retention pass removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Requests, events and quarantine received before this time (unix µs); `None` keeps them.
    pub data_before: Option<i64>,
    /// Duplicate-detection fingerprints first seen before this time (unix µs).
    pub fingerprints_before: i64,
}

/// The durable log: append, quarantine, read back, prune.
#[async_trait]
pub trait Store: Access + Backfill + Leases + Send + Sync + 'static {
    /// Appends one request and its events; returns once they are durable.
    ///
    /// `dedup_since` is the start of the duplicate window (unix µs): an event whose
    /// fingerprint was first stored at or after it counts as a duplicate.
    async fn append(&self, request: NewRequest, dedup_since: i64) -> Result<Appended, StoreError>;

    /// Keeps a request that was not accepted; returns its quarantine id once durable.
    async fn quarantine(&self, entry: NewQuarantine) -> Result<i64, StoreError>;

    /// Lists events, newest first unless asked otherwise.
    async fn events(
        &self,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<Page<StoredEvent>, StoreError>;

    /// One event with its raw JSON.
    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError>;

    /// For a stage tailing the log: up to `limit` events after `after` whose topic is one
    /// of `topics`, oldest first, and the id up to which the log was read (past the last
    /// event returned when the rest of the log, as of this read, holds none of those
    /// topics). The stage's cursor can move to that id without reading, event by event,
    /// what it does not look at.
    async fn tail(
        &self,
        after: i64,
        topics: Vec<String>,
        limit: u32,
    ) -> Result<(Vec<StoredEvent>, i64), StoreError>;

    /// Up to `limit` events after `after`, every topic, oldest first.
    async fn tail_all(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// Incident changes after id `after`, oldest first (what the routing stage reads).
    async fn incident_changes(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<IncidentChange>, StoreError>;

    /// The id of the newest incident change (0 when none).
    async fn last_incident_change(&self) -> Result<i64, StoreError>;

    /// What target `target` remembers under `key` (e.g. the message it posted for an
    /// incident).
    async fn target_state(&self, target: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// Remembers `value` for target `target` under `key`, once durable.
    async fn put_target_state(
        &self,
        target: &str,
        key: &str,
        value: &str,
        at: i64,
    ) -> Result<(), StoreError>;

    /// Lists requests of the log (without bodies).
    async fn requests(
        &self,
        filter: RequestFilter,
        page: PageRequest,
    ) -> Result<Page<RequestSummary>, StoreError>;

    /// One request with its body, headers and the events it produced.
    async fn request(&self, id: i64) -> Result<Option<RequestDetail>, StoreError>;

    /// How many incidents there are per state, kind and site.
    async fn incident_tallies(&self) -> Result<Vec<Tally>, StoreError>;

    /// How many quarantined requests are kept per source.
    async fn quarantine_by_source(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// Up to `limit` devices matching `filter`, in id order, as the board draws them
    /// (without their records).
    async fn device_tiles(
        &self,
        filter: DeviceFilter,
        limit: u32,
    ) -> Result<Vec<DeviceTile>, StoreError>;

    /// The names of the devices with these ids (row ids, as `DeviceAt::device_id`).
    async fn device_names(&self, ids: Vec<i64>) -> Result<Vec<(i64, String)>, StoreError>;

    /// How many devices there are per state, kind and site.
    async fn device_tallies(&self) -> Result<Vec<Tally>, StoreError>;

    /// The requests after `request_id` that repeated event `event_id` (its duplicate
    /// arrivals), oldest first, at most `limit`; a backend may search only a bounded
    /// number of the requests that followed.
    async fn duplicate_arrivals(
        &self,
        event_id: i64,
        request_id: i64,
        limit: u32,
    ) -> Result<Vec<RequestSummary>, StoreError>;

    /// Lists quarantined requests.
    async fn quarantined(&self, page: PageRequest) -> Result<Page<QuarantineEntry>, StoreError>;

    /// Totals per source and topic.
    async fn stats(&self) -> Result<Stats, StoreError>;

    /// Events stored per bucket of `query.step_minutes` minutes and topic, by receive
    /// time: only buckets that hold events, ordered by bucket then topic. Read from
    /// per-minute counts kept at append (not from the events): a day of minutes costs
    /// the same whatever the number of events. Retention drops the counts of the whole
    /// minutes before `data_before`.
    async fn series(&self, query: SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError>;

    /// Removes what the retention settings no longer keep.
    async fn prune(&self, retention: Retention) -> Result<Pruned, StoreError>;

    /// Checks that the store can be read and written (readiness). While the last write
    /// failed for a full disk, this tries a small write and fails until one succeeds.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Finishes every write queued so far, then closes the database cleanly (for a
    /// shutdown); every later write fails with [`StoreError::WriterGone`].
    async fn close(&self) -> Result<(), StoreError>;

    /// Where stage `name` stands: its cursor and snapshot; `None` before its first commit.
    async fn stage_load(&self, name: &str) -> Result<Option<StageState>, StoreError>;

    /// Writes a stage's batch (rows, snapshot, cursor) in one transaction, once durable.
    async fn stage_commit(&self, commit: StageCommit) -> Result<(), StoreError>;

    /// Lists devices, ordered by their row id (`Order` applies; `after` is a row id).
    async fn devices(
        &self,
        filter: DeviceFilter,
        page: PageRequest,
    ) -> Result<Page<DeviceRow>, StoreError>;

    /// One device by normalised MAC (in any org; the first if the MAC is in several).
    async fn device(&self, mac: &str) -> Result<Option<DeviceRow>, StoreError>;

    /// One device's history (every change the correlation stage made to it, appended
    /// with its commit and kept whatever the retention), keyset-paged by id, newest
    /// first unless asked otherwise.
    async fn device_history(
        &self,
        org_id: &str,
        mac: &str,
        page: PageRequest,
    ) -> Result<Page<DeviceHistoryRow>, StoreError>;

    /// Every device as it stood at `at` (unix µs, event time): its newest history row at
    /// or before it, filtered on that row's org, site, kind and state; devices with no
    /// change by then are left out. Ordered by device row id, oldest first.
    async fn devices_at(&self, at: i64, filter: DeviceFilter) -> Result<Vec<DeviceAt>, StoreError>;

    /// Lists incidents, newest first unless asked otherwise.
    async fn incidents(
        &self,
        filter: IncidentFilter,
        page: PageRequest,
    ) -> Result<Page<IncidentRow>, StoreError>;

    /// One incident by id.
    async fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError>;

    /// Creates or replaces a subscription (by id), once durable.
    async fn put_subscription(&self, row: SubscriptionRow) -> Result<(), StoreError>;

    /// Deletes a subscription with its batches and attempts; false when there was none.
    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError>;

    /// One subscription by id.
    async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>, StoreError>;

    /// Writes the delivery stage's new batches and its cursor in one transaction; returns
    /// the batch ids, in order, once durable.
    async fn outbox_commit(&self, commit: OutboxCommit) -> Result<Vec<i64>, StoreError>;

    /// Records delivery attempts and the state each leaves its batch in.
    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> Result<(), StoreError>;

    /// Puts dead batches back in the queue, due at `request.now`; returns their ids.
    async fn replay_batches(&self, request: ReplayRequest) -> Result<Vec<i64>, StoreError>;

    /// The batches that reported changes of incident `incident_id` to routing targets,
    /// newest first, without bodies.
    async fn incident_batches(
        &self,
        incident_id: i64,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError>;

    /// Pending batches after id `after`, oldest first, without bodies (for loading the queue).
    async fn pending_batches(&self, after: i64, limit: u32) -> Result<Vec<BatchRow>, StoreError>;

    /// Per destination (a webhook id, or `target:<name>`) that has pending batches: their
    /// number and when the oldest was built (unix µs).
    async fn pending_by_destination(&self) -> Result<Vec<(String, i64, i64)>, StoreError>;

    /// One batch with its body.
    async fn batch(&self, id: i64) -> Result<Option<BatchRow>, StoreError>;

    /// Lists batches without bodies, newest first unless asked otherwise.
    async fn batches(
        &self,
        filter: BatchFilter,
        page: PageRequest,
    ) -> Result<Page<BatchRow>, StoreError>;

    /// Lists delivery attempts, newest first unless asked otherwise.
    async fn attempts(
        &self,
        filter: AttemptFilter,
        page: PageRequest,
    ) -> Result<Page<AttemptRow>, StoreError>;

    /// Counts attempts grouped by `distinct` (`status`, `status_code`, `topic` or
    /// `webhook_id`), largest group first.
    async fn count_attempts(
        &self,
        filter: AttemptFilter,
        distinct: String,
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// The subscriptions of one scope (`org`/`site` and its id), oldest first; every
    /// subscription when `scope` is `None`.
    async fn subscriptions(
        &self,
        scope: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError>;
}
