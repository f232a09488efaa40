//! Moving a SQLite history (the embedded store of a data dir) into PostgreSQL: what
//! `mistgate migrate --from DATA_DIR --to postgres://...` runs.
//!
//! Every table is copied with its ids (events keep theirs: stage cursors, requests'
//! `first_event_id` and outbox batches name events by id), table by table in id order, in
//! chunks of one transaction each, written with one `INSERT ... SELECT FROM UNNEST` per
//! chunk. A run that stops half way is resumed by running it again: a table with ids
//! continues after the largest id PostgreSQL holds, the others are written again (the
//! SQLite values win, an equal row is left alone), so nothing is ever copied twice.
//! Before writing anything, a run checks that what PostgreSQL already holds came from
//! this history (the same rows up to its largest id), and refuses otherwise.
//!
//! Afterwards the sequences ids come from are set past the largest id copied, and the
//! rows of each table are counted on both sides.
//!
//! Sealed records (subscriptions, sources) are copied as they are: the PostgreSQL
//! backend seals with the same associated data, so the same key opens them.
//!
//! The data dir's lock is held during the copy: a running `mistgate serve` on it makes
//! the copy refuse to start. Nothing else may write the PostgreSQL database meanwhile.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sqlx::{PgPool, Row};
use tokio::sync::mpsc;

use super::PgStore;
use super::import_rows::{self as tables, Chunk, Values};
use super::import_tables::{Key, Kind, TABLES, Table};
use super::writer::{APPEND_LOCK, DAY_US};
use crate::{Sealer, StoreError};

/// The SQLite schema version this copy knows every table of (`sqlite/schema.rs`). A
/// database at another version is refused: older, it must be brought up to date by
/// starting this mistgate on it once; newer, it may hold tables this copy would miss.
pub const SQLITE_SCHEMA: i64 = 14;

/// Rows per transaction unless told otherwise.
pub const CHUNK_ROWS: usize = 5_000;

/// How a copy runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rows per chunk (one transaction each); at least 1.
    pub chunk_rows: usize,
    /// Stop after this many chunks, as an interrupted run would (for tests of resuming).
    pub max_chunks: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            chunk_rows: CHUNK_ROWS,
            max_chunks: None,
        }
    }
}

/// Where a copy stands, given to the progress callback after each chunk.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The table being copied.
    pub table: &'static str,
    /// Rows of all tables handled so far (copied now or found already copied).
    pub done: u64,
    /// Rows of all tables to handle.
    pub total: u64,
}

/// One table's rows on both sides after a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub sqlite: i64,
    pub postgres: i64,
    /// Rows this run wrote.
    pub copied: u64,
}

/// What a copy did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every table, in copy order; then `quarantine_total` (its value, not rows) and
    /// `fingerprints` (SQLite: distinct fingerprints of its events).
    pub tables: Vec<TableCount>,
    /// False when the run stopped early (`Options::max_chunks`).
    pub complete: bool,
    pub elapsed: Duration,
}

impl Report {
    /// Whether every table holds as many rows in PostgreSQL as in SQLite.
    pub fn counts_match(&self) -> bool {
        self.tables.iter().all(|t| t.sqlite == t.postgres)
    }

    /// Rows this run wrote, all tables.
    pub fn copied(&self) -> u64 {
        self.tables.iter().map(|t| t.copied).sum()
    }
}

/// Why a copy did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path} is in use by a running mistgate: stop it before migrating its history")]
    InUse { path: String },
    #[error("{path} is not a mistgate SQLite database: {detail}")]
    NotMistgate { path: String, detail: String },
    #[error("{path} is at schema version {found}, this copy knows version {SQLITE_SCHEMA}: {hint}")]
    SchemaVersion {
        path: String,
        found: i64,
        hint: &'static str,
    },
    #[error(
        "the PostgreSQL database already holds {table} that did not come from this SQLite history ({detail}): migrate into an empty database, or into the one an earlier run of this migration filled"
    )]
    Foreign { table: &'static str, detail: String },
    #[error("{table}.{column} holds {detail}, not what mistgate writes there")]
    Value {
        table: &'static str,
        column: &'static str,
        detail: String,
    },
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> ImportError {
        ImportError::Store(e.into())
    }
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> ImportError {
        ImportError::Store(e.into())
    }
}

/// Whether a key opens the sealed records of a SQLite history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// No record is sealed: no key is needed.
    NothingSealed,
    /// The key opens the first sealed subscription and source record.
    Opens,
    /// Records are sealed, and no key was given.
    NoKey,
    /// Records are sealed with another key.
    DoesNotOpen,
}

/// Checks `sealer` against the sealed records of the SQLite database `db`.
pub fn check_key(db: &Path, sealer: Option<&Sealer>) -> Result<KeyCheck, ImportError> {
    let conn = tables::open(db)?;
    let mut found = false;
    for (table, key, prefix) in [
        ("subscriptions", "id", "subscriptions/"),
        ("sources", "name", "sources/"),
    ] {
        let sql = format!(
            "SELECT {key}, record FROM {table} WHERE record LIKE 'mgseal1:%' ORDER BY {key} LIMIT 1"
        );
        let first: Option<(String, String)> =
            match conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?))) {
                Ok(row) => Some(row),
                Err(rusqlite::Error::QueryReturnedNoRows) => None,
                Err(e) => return Err(e.into()),
            };
        let Some((name, record)) = first else {
            continue;
        };
        found = true;
        let Some(sealer) = sealer else {
            return Ok(KeyCheck::NoKey);
        };
        let aad = format!("{prefix}{name}");
        if sealer.open(&record, aad.as_bytes()).is_err() {
            return Ok(KeyCheck::DoesNotOpen);
        }
    }
    Ok(if found {
        KeyCheck::Opens
    } else {
        KeyCheck::NothingSealed
    })
}

/// What SQLite holds, read before copying.
struct Source {
    /// Per table of [`TABLES`]: the rows a complete copy puts in PostgreSQL.
    counts: Vec<i64>,
    quarantine_total: i64,
    fingerprints: i64,
    /// Days (since the epoch) that requests were received on.
    days: Vec<i64>,
}

/// What PostgreSQL holds of a table with ids: count, smallest and largest id, and the
/// identifying column of those two rows.
struct Present {
    count: i64,
    min: i64,
    max: i64,
    idents: Option<(Values, Values)>,
}

/// Copies the SQLite history `db` (a data dir's `mistgate.db`) into `pg`'s database.
pub async fn copy(
    db: &Path,
    pg: &PgStore,
    options: &Options,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Report, ImportError> {
    let started = Instant::now();
    let _lock = lock(db)?;
    let source = read_source(db)?;
    let pool = pg.pool();
    let mut present = Vec::new();
    for table in TABLES {
        present.push(match table.key {
            Key::Id { column, ident } => Some(present_rows(pool, table, column, ident).await?),
            Key::Natural { .. } => None,
        });
    }
    check_present(db, &present)?;
    make_partitions(pool, &source.days).await?;

    let total = source.counts.iter().sum::<i64>() as u64;
    let chunk_rows = options.chunk_rows.max(1);
    let mut chunks_left = options.max_chunks;
    let mut done = 0u64;
    let mut copied = vec![0u64; TABLES.len()];
    let mut complete = true;
    'tables: for (i, table) in TABLES.iter().enumerate() {
        let after = present[i].as_ref().map_or(0, |p| p.max);
        done += present[i].as_ref().map_or(0, |p| p.count) as u64;
        progress(Progress {
            table: table.name,
            done,
            total,
        });
        let (out, mut chunks) = mpsc::channel(2);
        let path = db.to_path_buf();
        let reader = tokio::task::spawn_blocking(move || {
            tables::read_chunks(path, table, after, chunk_rows, out)
        });
        let sql = tables::insert_sql(table);
        while let Some(chunk) = chunks.recv().await {
            if chunks_left == Some(0) {
                complete = false;
                drop(chunks);
                let _ = reader.await;
                break 'tables;
            }
            let chunk = chunk?;
            copied[i] += write(pool, table, &sql, &chunk).await?;
            done += chunk.rows as u64;
            chunks_left = chunks_left.map(|n| n - 1);
            progress(Progress {
                table: table.name,
                done,
                total,
            });
        }
        reader.await.map_err(|e| StoreError::Task(e.to_string()))?;
    }

    let mut quarantine_copied = 0;
    if complete {
        quarantine_copied =
            sqlx::query("UPDATE quarantine_total SET n = $1 WHERE n IS DISTINCT FROM $1")
                .bind(source.quarantine_total)
                .execute(pool)
                .await?
                .rows_affected();
        tables::set_sequences(pool).await?;
    }

    let mut counts = Vec::new();
    for (i, table) in TABLES.iter().enumerate() {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        let postgres: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await?;
        counts.push(TableCount {
            table: table.name,
            sqlite: source.counts[i],
            postgres,
            copied: copied[i],
        });
    }
    counts.push(TableCount {
        table: "quarantine_total",
        sqlite: source.quarantine_total,
        postgres: sqlx::query_scalar("SELECT n FROM quarantine_total")
            .fetch_one(pool)
            .await?,
        copied: quarantine_copied,
    });
    counts.push(TableCount {
        table: "fingerprints",
        sqlite: source.fingerprints,
        postgres: sqlx::query_scalar("SELECT count(*) FROM fingerprints")
            .fetch_one(pool)
            .await?,
        copied: 0,
    });
    Ok(Report {
        tables: counts,
        complete,
        elapsed: started.elapsed(),
    })
}

/// Takes the data dir's writer lock (`mistgate.db.lock`, as `mistgate serve` does), so
/// that nothing writes the history while it is copied.
fn lock(db: &Path) -> Result<std::fs::File, ImportError> {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = db.with_file_name(name);
    if !db.exists() {
        return Err(ImportError::NotMistgate {
            path: db.display().to_string(),
            detail: "no such file".into(),
        });
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ImportError::InUse {
            path: db.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Open {
            path: path.display().to_string(),
            source,
        }
        .into()),
    }
}

fn read_source(db: &Path) -> Result<Source, ImportError> {
    let conn = tables::open(db)?;
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| ImportError::NotMistgate {
            path: db.display().to_string(),
            detail: e.to_string(),
        })?;
    if found != SQLITE_SCHEMA {
        let hint = if found < SQLITE_SCHEMA {
            "start this mistgate on the data dir once to bring it up to date, then migrate"
        } else {
            "migrate with the mistgate that wrote it"
        };
        return Err(ImportError::SchemaVersion {
            path: db.display().to_string(),
            found,
            hint,
        });
    }
    let counts = TABLES
        .iter()
        .map(|t| tables::sqlite_count(&conn, t))
        .collect::<Result<Vec<_>, _>>()?;
    let quarantine_total = conn.query_row("SELECT n FROM quarantine_total", [], |r| r.get(0))?;
    let fingerprints =
        conn.query_row("SELECT count(DISTINCT fingerprint) FROM events", [], |r| {
            r.get(0)
        })?;
    let mut days = Vec::new();
    let mut statement = conn.prepare(
        "SELECT DISTINCT (received_at - ((received_at % ?1) + ?1) % ?1) / ?1 FROM requests
         UNION SELECT DISTINCT (received_at - ((received_at % ?1) + ?1) % ?1) / ?1 FROM events",
    )?;
    let mut rows = statement.query([DAY_US])?;
    while let Some(row) = rows.next()? {
        days.push(row.get(0)?);
    }
    Ok(Source {
        counts,
        quarantine_total,
        fingerprints,
        days,
    })
}

/// What PostgreSQL holds of `table` (which has ids).
async fn present_rows(
    pool: &PgPool,
    table: &Table,
    column: &str,
    ident: &str,
) -> Result<Present, ImportError> {
    let sql = format!(
        "SELECT count(*), coalesce(min({column}), 0), coalesce(max({column}), 0) FROM {}",
        table.name
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?;
    let (count, min, max): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let idents = if count == 0 {
        None
    } else {
        let kind = ident_kind(table, ident);
        let sql = format!("SELECT {ident} FROM {} WHERE {column} = $1", table.name);
        let mut found = Vec::new();
        for id in [min, max] {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .fetch_one(pool)
                .await?;
            found.push(match kind {
                Kind::Int => Values::Int(vec![row.try_get(0)?]),
                Kind::Text => Values::Text(vec![row.try_get(0)?]),
                Kind::Blob => Values::Blob(vec![row.try_get(0)?]),
            });
        }
        let last = found.pop().expect("two rows");
        Some((found.pop().expect("two rows"), last))
    };
    Ok(Present {
        count,
        min,
        max,
        idents,
    })
}

fn ident_kind(table: &Table, ident: &str) -> Kind {
    let col = table.columns.iter().find(|c| c.name == ident);
    col.expect("the ident is a column of the table").kind
}

/// Refuses when what PostgreSQL holds of a table with ids is not this history's first
/// rows: SQLite must hold as many rows up to PostgreSQL's largest id, and the same
/// identifying values at its smallest and largest ids.
fn check_present(db: &Path, present: &[Option<Present>]) -> Result<(), ImportError> {
    let conn = tables::open(db)?;
    for (table, p) in TABLES.iter().zip(present) {
        let (Some(p), Key::Id { column, ident }) = (p, &table.key) else {
            continue;
        };
        let Some((first, last)) = &p.idents else {
            continue;
        };
        let sql = format!("SELECT count(*) FROM {} WHERE {column} <= ?1", table.name);
        let here: i64 = conn.query_row(&sql, [p.max], |r| r.get(0))?;
        if here != p.count {
            return Err(ImportError::Foreign {
                table: table.name,
                detail: format!(
                    "PostgreSQL has {} rows up to id {}, this history {here}",
                    p.count, p.max
                ),
            });
        }
        for (id, theirs) in [(p.min, first), (p.max, last)] {
            let mine = sqlite_ident(&conn, table, column, ident, id)?;
            if mine.as_ref() != Some(theirs) {
                return Err(ImportError::Foreign {
                    table: table.name,
                    detail: format!("the row with id {id} differs"),
                });
            }
        }
    }
    Ok(())
}

fn sqlite_ident(
    conn: &Connection,
    table: &Table,
    column: &str,
    ident: &str,
    id: i64,
) -> Result<Option<Values>, ImportError> {
    let sql = format!("SELECT {ident} FROM {} WHERE {column} = ?1", table.name);
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut values = Values::new(ident_kind(table, ident), 1);
    values
        .push(row.get_ref(0)?)
        .map_err(|detail| ImportError::Value {
            table: table.name,
            column: "id",
            detail,
        })?;
    Ok(Some(values))
}

/// The day partitions of requests and events for `days`, made as the writer makes them
/// (`<table>_d<day>`, one day of `received_at` each), when missing.
async fn make_partitions(pool: &PgPool, days: &[i64]) -> Result<(), ImportError> {
    for &day in days {
        let (from, to) = (day * DAY_US, (day + 1) * DAY_US);
        for table in ["requests", "events"] {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {table}_d{day} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
            );
            // Only integers computed here are formatted in.
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
        }
    }
    Ok(())
}

/// Writes one chunk of `table` in a transaction. The log's chunks take the append lock,
/// as appends do; an events chunk also records its fingerprints (the newest event of
/// each), so that duplicates of copied events are recognised.
async fn write(pool: &PgPool, table: &Table, sql: &str, chunk: &Chunk) -> Result<u64, ImportError> {
    let mut tx = pool.begin().await?;
    if matches!(table.name, "requests" | "events") {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    let written = tables::write_chunk(&mut tx, sql, chunk).await?;
    if table.name == "events" {
        let (Values::Blob(fingerprints), Values::Int(ids), Values::Int(received)) = (
            chunk.column(table, "fingerprint"),
            chunk.column(table, "id"),
            chunk.column(table, "received_at"),
        ) else {
            unreachable!("the events table's columns are described so");
        };
        sqlx::query(
            "INSERT INTO fingerprints (fingerprint, event_id, received_at)
             SELECT DISTINCT ON (f) f, id, at
             FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[]) AS u(f, id, at)
             ORDER BY f, id DESC
             ON CONFLICT (fingerprint) DO UPDATE
             SET event_id = EXCLUDED.event_id, received_at = EXCLUDED.received_at
             WHERE fingerprints.event_id < EXCLUDED.event_id",
        )
        .bind(fingerprints)
        .bind(ids)
        .bind(received)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// The database file of a data dir.
pub fn database_in(data_dir: &Path) -> PathBuf {
    data_dir.join("mistgate.db")
}
