//! What backfill (reading back from Mist's API what its webhooks did not deliver) needs
//! of the log: the stored events of a kind over a time range, the newest one, and how
//! far each org and kind has been read.

/// A stored event of one of backfill's kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindEvent {
    /// The source it came in through (`mist-api` for what backfill stored).
    pub source: String,
    /// The event's JSON exactly as received.
    pub raw: Vec<u8>,
    pub fingerprint: [u8; 16],
}

/// How far backfill has read one org's events of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackfillMark {
    pub org_id: String,
    /// `alarms`, `device-events` or `audits` (the topic the events are stored under).
    pub kind: String,
    /// Everything up to this event time (unix µs) has been read.
    pub read_until: i64,
    /// Events recovered for this org and kind since the mark was made.
    pub recovered: i64,
}

/// The store's part for backfill (every `Store` has it).
#[async_trait::async_trait]
pub trait Backfill: Send + Sync {
    /// The stored events of `topic` (`alarms`, `device-events` or `audits`) whose own
    /// time is within `[from, to]` (unix µs), at most `limit`.
    async fn kind_events(
        &self,
        topic: &str,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<KindEvent>, crate::StoreError>;

    /// The own time of the newest stored event of `topic` from `org_id`.
    async fn newest_event_time(
        &self,
        topic: &str,
        org_id: &str,
    ) -> Result<Option<i64>, crate::StoreError>;

    /// Every org and kind's mark.
    async fn backfill_marks(&self) -> Result<Vec<BackfillMark>, crate::StoreError>;

    /// Adds or replaces the mark of its org and kind.
    async fn put_backfill_mark(&self, mark: BackfillMark) -> Result<(), crate::StoreError>;
}
