//! The two halves of copying one table for `mistgate migrate` (see `import.rs`): reading
//! it from SQLite in chunks (on a blocking thread) and writing a chunk to PostgreSQL as
//! one `INSERT ... SELECT FROM UNNEST(...)` with one array per column; and, once all are
//! copied, the sequences set past the copied ids.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::mpsc;

use super::import::ImportError;
use super::import_tables::{Key, Kind, Table};

/// One column's values of a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Values {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Blob(Vec<Option<Vec<u8>>>),
}

impl Values {
    pub(super) fn new(kind: Kind, capacity: usize) -> Values {
        match kind {
            Kind::Int => Values::Int(Vec::with_capacity(capacity)),
            Kind::Text => Values::Text(Vec::with_capacity(capacity)),
            Kind::Blob => Values::Blob(Vec::with_capacity(capacity)),
        }
    }

    /// Adds one SQLite value; `Err` names what was found instead of the column's kind.
    pub(super) fn push(&mut self, value: ValueRef<'_>) -> Result<(), String> {
        match (self, value) {
            (Values::Int(v), ValueRef::Null) => v.push(None),
            (Values::Text(v), ValueRef::Null) => v.push(None),
            (Values::Blob(v), ValueRef::Null) => v.push(None),
            (Values::Int(v), ValueRef::Integer(i)) => v.push(Some(i)),
            (Values::Text(v), ValueRef::Text(b) | ValueRef::Blob(b)) => {
                let s = std::str::from_utf8(b).map_err(|_| "bytes that are not UTF-8")?;
                v.push(Some(s.to_owned()));
            }
            (Values::Blob(v), ValueRef::Blob(b) | ValueRef::Text(b)) => v.push(Some(b.to_vec())),
            (_, other) => return Err(format!("a value of type {:?}", other.data_type())),
        }
        Ok(())
    }
}

/// Rows of one table, column by column.
pub(super) struct Chunk {
    pub columns: Vec<Values>,
    pub rows: usize,
}

impl Chunk {
    /// The values of column `name` (one of the table's).
    pub(super) fn column(&self, table: &Table, name: &str) -> &Values {
        let i = table.columns.iter().position(|c| c.name == name);
        &self.columns[i.expect("a column of the table")]
    }
}

/// Opens the SQLite database for reading only.
pub(super) fn open(db: &Path) -> Result<Connection, ImportError> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
        ImportError::NotMistgate {
            path: db.display().to_string(),
            detail: e.to_string(),
        }
    })?;
    conn.pragma_update(None, "busy_timeout", 5_000)?;
    Ok(conn)
}

/// The condition selecting the rows of `table` to copy, after id `after` for a table
/// with ids.
fn condition(table: &Table) -> String {
    let mut parts = Vec::new();
    if let Key::Id { column, .. } = table.key {
        parts.push(format!("{column} > ?1"));
    }
    if !table.only.is_empty() {
        parts.push(table.only.to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// How many rows of `table` SQLite holds that a complete copy puts in PostgreSQL.
pub(super) fn sqlite_count(conn: &Connection, table: &Table) -> Result<i64, ImportError> {
    let only = if table.only.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", table.only)
    };
    let sql = format!("SELECT count(*) FROM {}{only}", table.name);
    Ok(conn.query_row(&sql, [], |r| r.get(0))?)
}

/// Reads the rows of `table` to copy (ids above `after`), in key order, and sends them
/// in chunks of `chunk_rows` to `out`; stops early when `out` is closed. Runs on a
/// blocking thread.
pub(super) fn read_chunks(
    db: PathBuf,
    table: &'static Table,
    after: i64,
    chunk_rows: usize,
    out: mpsc::Sender<Result<Chunk, ImportError>>,
) {
    let result = (|| {
        let conn = open(&db)?;
        let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let order = match table.key {
            Key::Id { column, .. } => column,
            Key::Natural { conflict } => conflict,
        };
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {order}",
            names.join(", "),
            table.name,
            condition(table)
        );
        let mut statement = conn.prepare(&sql)?;
        let mut rows = match table.key {
            Key::Id { .. } => statement.query([after])?,
            Key::Natural { .. } => statement.query([])?,
        };
        let fresh = || Chunk {
            columns: table
                .columns
                .iter()
                .map(|c| Values::new(c.kind, chunk_rows))
                .collect(),
            rows: 0,
        };
        let mut chunk = fresh();
        while let Some(row) = rows.next()? {
            for (i, values) in chunk.columns.iter_mut().enumerate() {
                values
                    .push(row.get_ref(i)?)
                    .map_err(|found| ImportError::Value {
                        table: table.name,
                        column: table.columns[i].name,
                        detail: found,
                    })?;
            }
            chunk.rows += 1;
            if chunk.rows == chunk_rows {
                let full = std::mem::replace(&mut chunk, fresh());
                if out.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if chunk.rows > 0 {
            let _ = out.blocking_send(Ok(chunk));
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = out.blocking_send(Err(e));
    }
}

/// The statement that writes a chunk of `table`: one array per column, unnested.
pub(super) fn insert_sql(table: &Table) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let arrays: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, c.kind.array_type()))
        .collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.pg {
            "" => format!("u.{}", c.name),
            expr => expr.to_owned(),
        })
        .collect();
    let conflict = match table.key {
        Key::Id { .. } => "ON CONFLICT DO NOTHING".to_owned(),
        Key::Natural { conflict } => {
            let keys: Vec<&str> = conflict.split(", ").collect();
            let rest: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !keys.contains(n))
                .collect();
            if rest.is_empty() {
                "ON CONFLICT DO NOTHING".to_owned()
            } else {
                let set: Vec<String> = rest.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
                let mine: Vec<String> =
                    rest.iter().map(|n| format!("{}.{n}", table.name)).collect();
                let theirs: Vec<String> = rest.iter().map(|n| format!("EXCLUDED.{n}")).collect();
                format!(
                    "ON CONFLICT ({conflict}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                    set.join(", "),
                    mine.join(", "),
                    theirs.join(", ")
                )
            }
        }
    };
    format!(
        "INSERT INTO {name} ({cols}) SELECT {values} FROM UNNEST({arrays}) AS u({cols}) {conflict}",
        name = table.name,
        cols = names.join(", "),
        values = values.join(", "),
        arrays = arrays.join(", "),
    )
}

/// Writes one chunk with `sql` (from [`insert_sql`]); the rows written.
pub(super) async fn write_chunk(
    tx: &mut Transaction<'_, Postgres>,
    sql: &str,
    chunk: &Chunk,
) -> Result<u64, ImportError> {
    // The statement is made from this file's table descriptions only.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for values in &chunk.columns {
        query = match values {
            Values::Int(v) => query.bind(v),
            Values::Text(v) => query.bind(v),
            Values::Blob(v) => query.bind(v),
        };
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// Sets every id sequence past the largest id copied, so that rows added on PostgreSQL
/// get ids above them (a sequence already further is left alone).
pub(super) async fn set_sequences(pool: &PgPool) -> Result<(), ImportError> {
    const SEQUENCES: &[(&str, &str, &str)] = &[
        ("request_ids", "requests", "id"),
        ("event_ids", "events", "id"),
        ("device_ids", "devices", "id"),
        ("device_history_ids", "device_history", "id"),
        ("incident_change_ids", "incident_changes", "id"),
        ("", "quarantine", "id"),
        ("", "subscriptions", "seq"),
        ("", "outbox", "id"),
        ("", "attempts", "id"),
        ("", "tokens", "id"),
        ("", "audit", "id"),
    ];
    for &(sequence, table, column) in SEQUENCES {
        let sequence = if sequence.is_empty() {
            sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
                .bind(table)
                .bind(column)
                .fetch_one(pool)
                .await?
        } else {
            sequence.to_owned()
        };
        let sql = format!("SELECT max({column}) FROM {table}");
        let largest: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await?;
        let Some(largest) = largest else { continue };
        sqlx::query(
            "SELECT setval($1::regclass, $2)
             WHERE $2 > coalesce(pg_sequence_last_value($1::regclass), 0)",
        )
        .bind(&sequence)
        .bind(largest)
        .execute(pool)
        .await?;
    }
    Ok(())
}
