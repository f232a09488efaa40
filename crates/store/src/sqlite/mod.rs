//! The embedded backend: one SQLite file in WAL mode inside the data dir.
//!
//! One thread writes ([`writer`]), batching concurrent operations into one commit; reads
//! use a small pool of their own connections on tokio's blocking threads, so a slow query
//! never holds up ingest.

pub mod access;
mod backfill;
mod board;
mod dedup;
mod history;
mod mac_index;
mod open;
mod ops;
mod outbox;
mod read;
mod schema;
pub(crate) mod secrets;
mod series;
pub mod sources;
mod state_tables;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Appended, DeviceFilter, DeviceRow, DeviceTile, EventFilter, IncidentFilter, IncidentRow,
    NewQuarantine, NewRequest, Page, PageRequest, Pruned, QuarantineEntry, RequestDetail,
    RequestFilter, RequestSummary, Retention, SeriesPoint, SeriesQuery, StageCommit, StageState,
    Stats, Store, StoreError, StoredEvent, Tally,
};
use crate::{
    AttemptFilter, AttemptRecord, AttemptRow, BatchFilter, BatchRow, OutboxCommit, ReplayRequest,
    SubscriptionRow,
};

/// How hard a commit insists that the data reached the disk (SQLite's `synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync on every commit: an acknowledged request survives a power cut. The default.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a crash of mistgate, not of the machine.
    Normal,
    /// Leave it to the OS. For tests and throwaway data.
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// Where and how to open the embedded store.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    /// The database file (created with its directory when missing).
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// Reader connections kept open.
    pub readers: usize,
    /// Most fingerprints the duplicate index keeps in memory (at most 9.7 bytes each).
    pub dedup_capacity: usize,
    /// Events gathered before the MAC index is written (see `mac_index.rs`).
    pub mac_index_batch: usize,
    /// The key that seals the webhook subscriptions' secrets (see `secrets.rs`). The
    /// server always gives one; without, records are kept in clear (tests, tools), and a
    /// database whose secrets are sealed is refused for writing.
    pub sealer: Option<crate::Sealer>,
}

impl SqliteConfig {
    /// The default layout: `mistgate.db` inside `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> SqliteConfig {
        SqliteConfig {
            path: data_dir.join("mistgate.db"),
            synchronous: Synchronous::Full,
            readers: 4,
            dedup_capacity: 2_000_000,
            mac_index_batch: 100_000,
            sealer: None,
        }
    }
}

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<Op>,
    readers: Mutex<Vec<Connection>>,
    config: SqliteConfig,
    health: Arc<open::WriteHealth>,
    /// Held while the store is open: this process is the database's only writer.
    _lock: Option<std::fs::File>,
    /// Tokens and audit records (see access.rs), opened at first use.
    side: Mutex<Option<Connection>>,
}

use ops::Op;

impl SqliteStore {
    /// Opens (creating and migrating when needed) the database and starts its writer.
    pub fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let lock = open::lock(&config.path)?;
        let conn = open_writer(&config).map_err(|e| open::classify(&config.path, e))?;
        let readers = (0..config.readers.max(1))
            .map(|_| open_reader(&config.path))
            .collect::<Result<Vec<_>, _>>()?;
        let health = Arc::new(open::WriteHealth::default());
        let (tx, rx) = mpsc::channel(4_096);
        let started = {
            let (capacity, batch) = (config.dedup_capacity, config.mac_index_batch);
            let health = health.clone();
            // The writer's state (ids, the duplicate index) is read before serving.
            let (ready, started) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("mistgate-store-writer".into())
                .spawn(move || writer::run(conn, capacity, batch, rx, health, ready))
                .map_err(|source| StoreError::Open {
                    path: config.path.display().to_string(),
                    source,
                })?;
            started
        };
        started
            .recv()
            .map_err(|_| StoreError::WriterGone)?
            .map_err(|e| open::classify(&config.path, e))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: tx,
                readers: Mutex::new(readers),
                config,
                health,
                _lock: Some(lock),
                side: Mutex::new(None),
            }),
        })
    }

    /// Opens an existing database for reading only, beside a server that may be writing
    /// it (for `mistgate replay`): no lock, no migration, and every write fails.
    pub fn open_read_only(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        let readers = (0..config.readers.max(1))
            .map(|_| open_reader(&config.path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| open::classify(&config.path, e))?;
        let (tx, _) = mpsc::channel(1);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: tx,
                readers: Mutex::new(readers),
                config,
                health: Default::default(),
                _lock: None,
                side: Mutex::new(None),
            }),
        })
    }

    async fn write<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(op(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` with a reader connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().expect("reader pool lock").pop();
            let conn = match conn {
                Some(c) => c,
                None => open_reader(&inner.config.path)?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().expect("reader pool lock");
            if pool.len() < inner.config.readers.max(1) {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// The write connection, set up and migrated.
fn open_writer(config: &SqliteConfig) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(&config.path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", config.synchronous.pragma())?;
    conn.pragma_update(None, "busy_timeout", 5_000)?;
    conn.pragma_update(None, "cache_size", -8_192)?; // 8 MiB
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The writer checkpoints itself (SQLite's default, every 1000 WAL pages). A
    // separate checkpoint thread was measured: it competes for the two cores and
    // the disk, and doubled the p99 answer time of ingest.
    schema::migrate(&mut conn)?;
    secrets::prepare(&mut conn, config.sealer.as_ref(), &config.path)?;
    // Another process holding the write lock would only show at the first write: take
    // it once now (waiting busy_timeout), so that such a start fails before serving.
    conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "busy_timeout", 5_000)?;
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, request: NewRequest, dedup_since: i64) -> Result<Appended, StoreError> {
        self.write(|reply| Op::Append {
            request,
            dedup_since,
            reply,
        })
        .await
    }

    async fn quarantine(&self, entry: NewQuarantine) -> Result<i64, StoreError> {
        self.write(|reply| Op::Quarantine { entry, reply }).await
    }

    async fn events(
        &self,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<Page<StoredEvent>, StoreError> {
        self.read(move |c| read::events(c, &filter, page)).await
    }

    async fn event(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        self.read(move |c| read::event(c, id)).await
    }

    async fn tail(
        &self,
        after: i64,
        topics: Vec<String>,
        limit: u32,
    ) -> Result<(Vec<StoredEvent>, i64), StoreError> {
        self.read(move |c| read::tail(c, after, &topics, limit))
            .await
    }

    async fn tail_all(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |c| read::tail_all(c, after, limit)).await
    }

    async fn incident_changes(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<crate::IncidentChange>, StoreError> {
        self.read(move |c| state_tables::incident_changes(c, after, limit))
            .await
    }

    async fn last_incident_change(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM incident_changes",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn target_state(&self, target: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (target, key) = (target.to_string(), key.to_string());
        self.read(move |c| state_tables::target_state(c, &target, &key))
            .await
    }

    async fn put_target_state(
        &self,
        target: &str,
        key: &str,
        value: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let (target, key, value) = (target.to_string(), key.to_string(), value.to_string());
        self.write(|reply| Op::TargetState {
            target,
            key,
            value,
            at,
            reply,
        })
        .await
    }

    async fn requests(
        &self,
        filter: RequestFilter,
        page: PageRequest,
    ) -> Result<Page<RequestSummary>, StoreError> {
        self.read(move |c| read::requests(c, &filter, page)).await
    }

    async fn request(&self, id: i64) -> Result<Option<RequestDetail>, StoreError> {
        self.read(move |c| read::request(c, id)).await
    }

    async fn incident_tallies(&self) -> Result<Vec<Tally>, StoreError> {
        self.read(|c| read::tallies(c, read::Tallied::Incidents))
            .await
    }

    async fn quarantine_by_source(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(read::quarantine_by_source).await
    }

    async fn device_tiles(
        &self,
        filter: DeviceFilter,
        limit: u32,
    ) -> Result<Vec<DeviceTile>, StoreError> {
        self.read(move |c| board::tiles(c, &filter, limit)).await
    }

    async fn device_names(&self, ids: Vec<i64>) -> Result<Vec<(i64, String)>, StoreError> {
        self.read(move |c| board::names(c, &ids)).await
    }

    async fn device_tallies(&self) -> Result<Vec<Tally>, StoreError> {
        self.read(|c| read::tallies(c, read::Tallied::Devices))
            .await
    }

    async fn duplicate_arrivals(
        &self,
        event_id: i64,
        request_id: i64,
        limit: u32,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        self.read(move |c| read::duplicate_arrivals(c, event_id, request_id, limit))
            .await
    }

    async fn quarantined(&self, page: PageRequest) -> Result<Page<QuarantineEntry>, StoreError> {
        self.read(move |c| read::quarantined(c, page)).await
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        self.read(read::stats).await
    }

    async fn series(&self, query: SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        self.read(move |c| series::series(c, &query)).await
    }

    async fn prune(&self, retention: Retention) -> Result<Pruned, StoreError> {
        self.write(|reply| Op::Prune { retention, reply }).await
    }

    async fn stage_load(&self, name: &str) -> Result<Option<StageState>, StoreError> {
        let name = name.to_string();
        self.read(move |c| state_tables::load(c, &name)).await
    }

    async fn stage_commit(&self, commit: StageCommit) -> Result<(), StoreError> {
        self.write(|reply| Op::Stage { commit, reply }).await
    }

    async fn devices(
        &self,
        filter: DeviceFilter,
        page: PageRequest,
    ) -> Result<Page<DeviceRow>, StoreError> {
        self.read(move |c| state_tables::devices(c, &filter, page))
            .await
    }

    async fn device(&self, mac: &str) -> Result<Option<DeviceRow>, StoreError> {
        let mac = mac.to_string();
        self.read(move |c| state_tables::device(c, &mac)).await
    }

    async fn device_history(
        &self,
        org_id: &str,
        mac: &str,
        page: PageRequest,
    ) -> Result<Page<crate::DeviceHistoryRow>, StoreError> {
        let (org_id, mac) = (org_id.to_string(), mac.to_string());
        self.read(move |c| history::device_history(c, &org_id, &mac, page))
            .await
    }

    async fn devices_at(
        &self,
        at: i64,
        filter: DeviceFilter,
    ) -> Result<Vec<crate::DeviceAt>, StoreError> {
        self.read(move |c| history::devices_at(c, at, &filter))
            .await
    }

    async fn incidents(
        &self,
        filter: IncidentFilter,
        page: PageRequest,
    ) -> Result<Page<IncidentRow>, StoreError> {
        self.read(move |c| state_tables::incidents(c, &filter, page))
            .await
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRow>, StoreError> {
        self.read(move |c| state_tables::incident(c, id)).await
    }

    async fn put_subscription(&self, mut row: SubscriptionRow) -> Result<(), StoreError> {
        secrets::seal_row(self.inner.config.sealer.as_ref(), &mut row);
        self.write(|reply| Op::PutSubscription { row, reply }).await
    }

    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(|reply| Op::DeleteSubscription { id, reply })
            .await
    }

    async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>, StoreError> {
        let id = id.to_string();
        let row = self
            .read(move |c| state_tables::subscription(c, &id))
            .await?;
        let sealer = self.inner.config.sealer.as_ref();
        row.map(|r| secrets::open_row(sealer, r)).transpose()
    }

    async fn subscriptions(
        &self,
        scope: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let rows = self
            .read(move |c| state_tables::subscriptions(c, scope.as_ref()))
            .await?;
        secrets::open_rows(self.inner.config.sealer.as_ref(), rows)
    }

    async fn outbox_commit(&self, commit: OutboxCommit) -> Result<Vec<i64>, StoreError> {
        self.write(|reply| Op::Outbox { commit, reply }).await
    }

    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> Result<(), StoreError> {
        self.write(|reply| Op::Attempts { records, reply }).await
    }

    async fn replay_batches(&self, request: ReplayRequest) -> Result<Vec<i64>, StoreError> {
        self.write(|reply| Op::Replay { request, reply }).await
    }

    async fn incident_batches(
        &self,
        incident_id: i64,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        self.read(move |c| outbox::incident_batches(c, incident_id, limit))
            .await
    }

    async fn pending_batches(&self, after: i64, limit: u32) -> Result<Vec<BatchRow>, StoreError> {
        self.read(move |c| outbox::pending(c, after, limit)).await
    }

    async fn pending_by_destination(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        self.read(outbox::pending_by_destination).await
    }

    async fn batch(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        self.read(move |c| outbox::batch(c, id)).await
    }

    async fn batches(
        &self,
        filter: BatchFilter,
        page: PageRequest,
    ) -> Result<Page<BatchRow>, StoreError> {
        self.read(move |c| outbox::batches(c, &filter, page)).await
    }

    async fn attempts(
        &self,
        filter: AttemptFilter,
        page: PageRequest,
    ) -> Result<Page<AttemptRow>, StoreError> {
        self.read(move |c| outbox::attempts(c, &filter, page)).await
    }

    async fn count_attempts(
        &self,
        filter: AttemptFilter,
        distinct: String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(move |c| outbox::count_attempts(c, &filter, &distinct))
            .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        match self.write(|reply| Op::Close { reply }).await {
            Err(StoreError::WriterGone) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.inner.writer.is_closed() {
            return Err(StoreError::WriterGone);
        }
        if let Some(full) = self.inner.health.disk_full() {
            // Nothing may be writing while the disk is full (a load balancer takes a
            // server that is not ready out of rotation), so readiness itself tries a
            // small write: once it succeeds, the server is ready again.
            self.write(|reply| Op::Probe { reply })
                .await
                .map_err(|e| match e {
                    StoreError::DiskFull(_) => e,
                    other => StoreError::DiskFull(format!("{full}; probe: {other}")),
                })?;
        }
        self.read(|c| {
            Ok(
                c.query_row("SELECT COUNT(*) FROM quarantine_total", [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        })
        .await
        .map(|_| ())
    }
}
