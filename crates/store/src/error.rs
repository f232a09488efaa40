use thiserror::Error;

/// Why the store could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] sqlx::Error),
    /// The filesystem holding the database has no space left: nothing of the operation
    /// was written. Writes succeed again by themselves once space returns.
    #[error("the data dir's filesystem is full, nothing was written: {0}")]
    DiskFull(String),
    #[error("cannot open the data dir {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the database: a second mistgate on the same data dir, or a
    /// tool with a write transaction open.
    #[error(
        "the database {path} is in use by another process ({detail}): stop the other mistgate or tool using it, or give this one another data dir"
    )]
    Locked { path: String, detail: String },
    /// The database file is not a readable SQLite database.
    #[error(
        "the database {path} is damaged or not a mistgate database ({detail}): restore it from a backup, or move it (with its -wal and -shm files) aside to start with an empty log"
    )]
    Damaged { path: String, detail: String },
    #[error(
        "the database was written by a newer mistgate (schema version {found}, this build knows {known})"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// The database's secrets were sealed with another key than the one given: without
    /// that key the webhook subscriptions' secrets cannot be read.
    #[error(
        "the secrets in the database {path} were sealed with another key than the one given: without that key the webhook subscriptions' secrets cannot be read"
    )]
    SecretKeyMismatch { path: String },
    /// The database's secrets are sealed and the store was opened without a key.
    #[error("the secrets in the database {path} are sealed, and no key was given to open them")]
    SecretKeyMissing { path: String },
    /// A sealed value did not open (`what` names the row, never its content).
    #[error("{what} cannot be read: {reason}")]
    Unsealable { what: String, reason: String },
    #[error("the store's writer has stopped")]
    WriterGone,
    /// Another instance moved stage `stage` on since this one loaded it (it took the
    /// stage's lease meanwhile): nothing was written; the stage must load again.
    #[error(
        "stage {stage} was moved on by another instance since this one loaded it: nothing was written"
    )]
    Fenced { stage: String },
    #[error("a blocking task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull(e.to_string()),
            _ => StoreError::Sqlite(e),
        }
    }
}

impl StoreError {
    /// Whether the failure is a full disk (the caller should say so and retry later).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull(_))
    }
}
