//! The PostgreSQL backend, for one or several mistgate instances on one database: every
//! method of [`crate::Store`], and what the instances coordinate through
//! ([`crate::Cluster`]: stage versions, lanes' claims, relayed commands, shared sessions,
//! backfilled events waiting for their webhook copy, the reports of stages run on one
//! instance, commit notifications).
//!
//! One SQL dialect, written out: no ORM, no compile-time database.

mod access;
mod cluster;
pub mod import;
mod import_rows;
mod import_tables;
mod keycheck;
mod late;
mod lease;
mod log;
mod outbox;
mod plan;
mod prune;
mod read;
mod reports;
mod schema;
mod state;
mod store;
mod writer;

pub use schema::VERSION as SCHEMA_VERSION;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Appended, EventFilter, NewQuarantine, NewRequest, Page, PageRequest, StoreError, StoredEvent,
};

/// A mistgate log on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    writer: mpsc::Sender<writer::Job>,
    /// Seals secrets at rest (subscription and source records), as the SQLite backend.
    sealer: Option<crate::Sealer>,
    /// The stage versions this instance loaded or wrote (`cluster::write_stage`).
    stages: std::sync::Arc<cluster::StageVersions>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:5432/db`), brings the schema up to date
    /// (once, whatever number of instances start together), and starts the writer.
    pub async fn open(url: &str, sealer: Option<crate::Sealer>) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        schema::migrate(&pool).await?;
        keycheck::prepare(&pool, sealer.as_ref(), url).await?;
        let writer = writer::spawn(pool.clone());
        Ok(PgStore {
            pool,
            writer,
            sealer,
            stages: Default::default(),
        })
    }

    /// The connection pool (for this backend's modules).
    #[allow(dead_code)]
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The stage versions this instance last loaded or wrote.
    pub(super) fn stage_versions(&self) -> &cluster::StageVersions {
        &self.stages
    }

    /// The key secrets are sealed with, if any.
    #[allow(dead_code)]
    pub(super) fn sealer(&self) -> Option<&crate::Sealer> {
        self.sealer.as_ref()
    }

    /// Appends one request and its events; returns once they are committed. An event
    /// whose fingerprint any instance stored at or after `dedup_since` is a duplicate.
    pub async fn append(
        &self,
        request: NewRequest,
        dedup_since: i64,
    ) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(writer::Job {
                request,
                dedup_since,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Keeps a request that was not accepted; its quarantine id once committed.
    pub async fn quarantine(&self, entry: NewQuarantine) -> Result<i64, StoreError> {
        let headers = serde_json::to_string(&entry.headers).expect("headers serialise");
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO quarantine (source, received_at, reason, detail, headers, body)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING id",
        )
        .bind(&entry.source)
        .bind(entry.received_at)
        .bind(&entry.reason)
        .bind(&entry.detail)
        .bind(headers)
        .bind(&entry.body[..])
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE quarantine_total SET n = n + 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A page of events, by filter.
    pub async fn events(
        &self,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<Page<StoredEvent>, StoreError> {
        read::events(&self.pool, &filter, page).await
    }

    /// One event with its raw JSON.
    pub async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        read::event(&self.pool, id).await
    }

    /// The schema version applied (the number of migrations).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(i64::from(v.unwrap_or(0)))
    }
}

/// A throwaway cluster, the URL of a database of its own, and two stores on it: two
/// instances (the cluster must outlive them).
#[cfg(test)]
pub(super) async fn two_instances() -> (pgtest::Cluster, String, PgStore, PgStore) {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let a = PgStore::open(&url, None).await.unwrap();
    let b = PgStore::open(&url, None).await.unwrap();
    (cluster, url, a, b)
}
