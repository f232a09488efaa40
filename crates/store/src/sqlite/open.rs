//! Opening the database file: one process at a time, and a clear error when the file is
//! damaged or held by another process, before anything else starts.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::ErrorCode;

use crate::StoreError;

/// The lock file beside the database (`mistgate.db.lock`).
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// Takes the exclusive lock that makes this process the database's only writer. The
/// writer hands out ids from its own memory, so two writers on one file would collide;
/// the lock is released by the OS when the process ends, however it ends.
pub(crate) fn lock(db: &Path) -> Result<File, StoreError> {
    let path = lock_path(db);
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // Like every file in the data dir, readable by the service's user alone (a file that
    // exists keeps its mode).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: db.display().to_string(),
            detail: format!("{} is locked", path.display()),
        }),
        Err(TryLockError::Error(source)) => Err(StoreError::Open {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Names what went wrong while opening `db`: a damaged file or one held by another
/// process gets its own error with what to do; anything else stays as it is.
pub(crate) fn classify(db: &Path, error: StoreError) -> StoreError {
    let StoreError::Sqlite(e) = &error else {
        return error;
    };
    let detail = e.to_string();
    let path = db.display().to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Damaged { path, detail }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, detail }
        }
        _ => error,
    }
}

/// Whether the last write reached the disk, shared by the writer (which records it) and
/// readiness (which reports it).
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    disk_full: Mutex<Option<String>>,
}

impl WriteHealth {
    /// Records the outcome of a write.
    pub(crate) fn record<T>(&self, result: &Result<T, StoreError>) {
        let mut state = self.disk_full.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => {
                if state.take().is_some() {
                    tracing::info!("the data dir has space again: writes succeed");
                }
            }
            Err(StoreError::DiskFull(detail)) => {
                if state.is_none() {
                    tracing::error!(error = %detail, "the data dir's filesystem is full: ingest answers 503 until space returns");
                }
                *state = Some(detail.clone());
            }
            Err(_) => {}
        }
    }

    /// The disk-full failure of the last write, if it failed so.
    pub(crate) fn disk_full(&self) -> Option<String> {
        self.disk_full
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
