//! [`crate::Store`] on PostgreSQL: each method is one of this backend's functions.

use super::{PgStore, log, outbox, prune, state};
use crate::*;

#[async_trait::async_trait]
impl Store for PgStore {
    async fn append(&self, request: NewRequest, dedup_since: i64) -> Result<Appended, StoreError> {
        PgStore::append(self, request, dedup_since).await
    }

    async fn quarantine(&self, entry: NewQuarantine) -> Result<i64, StoreError> {
        PgStore::quarantine(self, entry).await
    }

    async fn events(
        &self,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<Page<StoredEvent>, StoreError> {
        PgStore::events(self, filter, page).await
    }

    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        PgStore::event(self, id).await
    }

    async fn tail(
        &self,
        after: i64,
        topics: Vec<String>,
        limit: u32,
    ) -> Result<(Vec<StoredEvent>, i64), StoreError> {
        log::tail(&self.pool, after, &topics, limit).await
    }

    async fn tail_all(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        log::tail_all(&self.pool, after, limit).await
    }

    async fn incident_changes(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<IncidentChange>, StoreError> {
        state::incident_changes(self, after, limit).await
    }

    async fn last_incident_change(&self) -> Result<i64, StoreError> {
        state::last_incident_change(self).await
    }

    async fn target_state(&self, target: &str, key: &str) -> Result<Option<String>, StoreError> {
        state::target_state(self, target, key).await
    }

    async fn put_target_state(
        &self,
        target: &str,
        key: &str,
        value: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        state::put_target_state(self, target, key, value, at).await
    }

    async fn requests(
        &self,
        filter: RequestFilter,
        page: PageRequest,
    ) -> Result<Page<RequestSummary>, StoreError> {
        log::requests(&self.pool, &filter, page).await
    }

    async fn request(&self, id: i64) -> Result<Option<RequestDetail>, StoreError> {
        log::request(&self.pool, id).await
    }

    async fn incident_tallies(&self) -> Result<Vec<Tally>, StoreError> {
        state::incident_tallies(self).await
    }

    async fn quarantine_by_source(&self) -> Result<Vec<(String, i64)>, StoreError> {
        log::quarantine_by_source(&self.pool).await
    }

    async fn device_tiles(
        &self,
        filter: DeviceFilter,
        limit: u32,
    ) -> Result<Vec<DeviceTile>, StoreError> {
        state::device_tiles(self, filter, limit).await
    }

    async fn device_names(&self, ids: Vec<i64>) -> Result<Vec<(i64, String)>, StoreError> {
        state::device_names(self, ids).await
    }

    async fn device_tallies(&self) -> Result<Vec<Tally>, StoreError> {
        state::device_tallies(self).await
    }

    async fn duplicate_arrivals(
        &self,
        event_id: i64,
        request_id: i64,
        limit: u32,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        log::duplicate_arrivals(&self.pool, event_id, request_id, limit).await
    }

    async fn quarantined(&self, page: PageRequest) -> Result<Page<QuarantineEntry>, StoreError> {
        log::quarantined(&self.pool, page).await
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        log::stats(&self.pool).await
    }

    async fn series(&self, query: SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        log::series(&self.pool, &query).await
    }

    async fn prune(&self, retention: Retention) -> Result<Pruned, StoreError> {
        prune::prune(self, retention).await
    }

    async fn stage_load(&self, name: &str) -> Result<Option<StageState>, StoreError> {
        state::stage_load(self, name).await
    }

    async fn stage_commit(&self, commit: StageCommit) -> Result<(), StoreError> {
        state::stage_commit(self, commit).await
    }

    async fn devices(
        &self,
        filter: DeviceFilter,
        page: PageRequest,
    ) -> Result<Page<DeviceRow>, StoreError> {
        state::devices(self, filter, page).await
    }

    async fn device(&self, mac: &str) -> Result<Option<DeviceRow>, StoreError> {
        state::device(self, mac).await
    }

    async fn device_history(
        &self,
        org_id: &str,
        mac: &str,
        page: PageRequest,
    ) -> Result<Page<DeviceHistoryRow>, StoreError> {
        state::device_history(self, org_id, mac, page).await
    }

    async fn devices_at(&self, at: i64, filter: DeviceFilter) -> Result<Vec<DeviceAt>, StoreError> {
        state::devices_at(self, at, filter).await
    }

    async fn incidents(
        &self,
        filter: IncidentFilter,
        page: PageRequest,
    ) -> Result<Page<IncidentRow>, StoreError> {
        state::incidents(self, filter, page).await
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError> {
        state::incident(self, id).await
    }

    async fn put_subscription(&self, row: SubscriptionRow) -> Result<(), StoreError> {
        outbox::put_subscription(self, row).await
    }

    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        outbox::delete_subscription(self, id).await
    }

    async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>, StoreError> {
        outbox::subscription(self, id).await
    }

    async fn outbox_commit(&self, commit: OutboxCommit) -> Result<Vec<i64>, StoreError> {
        outbox::outbox_commit(self, commit).await
    }

    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> Result<(), StoreError> {
        outbox::record_attempts(self, records).await
    }

    async fn replay_batches(&self, request: ReplayRequest) -> Result<Vec<i64>, StoreError> {
        outbox::replay_batches(self, request).await
    }

    async fn incident_batches(
        &self,
        incident_id: i64,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        outbox::incident_batches(self, incident_id, limit).await
    }

    async fn pending_batches(&self, after: i64, limit: u32) -> Result<Vec<BatchRow>, StoreError> {
        outbox::pending_batches(self, after, limit).await
    }

    async fn pending_by_destination(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        outbox::pending_by_destination(self).await
    }

    async fn batch(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        outbox::batch(self, id).await
    }

    async fn batches(
        &self,
        filter: BatchFilter,
        page: PageRequest,
    ) -> Result<Page<BatchRow>, StoreError> {
        outbox::batches(self, filter, page).await
    }

    async fn attempts(
        &self,
        filter: AttemptFilter,
        page: PageRequest,
    ) -> Result<Page<AttemptRow>, StoreError> {
        outbox::attempts(self, filter, page).await
    }

    async fn count_attempts(
        &self,
        filter: AttemptFilter,
        distinct: String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        outbox::count_attempts(self, filter, distinct).await
    }

    async fn subscriptions(
        &self,
        scope: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        outbox::subscriptions(self, scope).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::WriterGone);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Every acknowledged append is committed before it was answered; what stays is
        // to end the connections cleanly.
        self.pool.close().await;
        Ok(())
    }
}
