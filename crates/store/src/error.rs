use thiserror::Error;

/// Why the store could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the data dir {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database was written by a newer mistgate (schema version {found}, this build knows {known})"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("a blocking task failed: {0}")]
    Task(String),
}
