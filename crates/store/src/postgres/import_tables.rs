//! The tables `mistgate migrate` copies from SQLite to PostgreSQL (see `import.rs`), and
//! the two halves of copying one: reading it from SQLite in chunks (on a blocking
//! thread) and writing a chunk to PostgreSQL as one `INSERT ... SELECT FROM UNNEST(...)`
//! with one array per column.
//!
//! Every table is described once, by its columns: their SQLite kind and, where the
//! PostgreSQL column has another type, the expression that converts the array element
//! (`u.<column>`) into it.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sqlx::{Postgres, Transaction};
use tokio::sync::mpsc;

use super::import::ImportError;

/// How a column's values are read from SQLite and sent to PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `INTEGER`, sent as `bigint[]`.
    Int,
    /// `TEXT`, sent as `text[]`.
    Text,
    /// `BLOB`, sent as `bytea[]`.
    Blob,
}

impl Kind {
    fn array_type(self) -> &'static str {
        match self {
            Kind::Int => "bigint[]",
            Kind::Text => "text[]",
            Kind::Blob => "bytea[]",
        }
    }
}

/// One column: same name in both databases.
pub(super) struct Col {
    pub name: &'static str,
    pub kind: Kind,
    /// What PostgreSQL stores, as an expression over `u.<name>`; empty: the value as is.
    pub pg: &'static str,
}

const fn int(name: &'static str) -> Col {
    Col {
        name,
        kind: Kind::Int,
        pg: "",
    }
}

const fn text(name: &'static str) -> Col {
    Col {
        name,
        kind: Kind::Text,
        pg: "",
    }
}

const fn blob(name: &'static str) -> Col {
    Col {
        name,
        kind: Kind::Blob,
        pg: "",
    }
}

impl Col {
    const fn to(self, pg: &'static str) -> Col {
        Col { pg, ..self }
    }
}

/// How a table's rows are told apart, which decides how a copy resumes.
pub(super) enum Key {
    /// An integer id the rows keep: copied in id order, resuming after the largest id
    /// PostgreSQL already holds. `ident` is a column compared on both sides to tell this
    /// history's rows from another's.
    Id {
        column: &'static str,
        ident: &'static str,
    },
    /// A natural primary key (`conflict`, its columns): every row is written on every
    /// run, the SQLite values replacing what PostgreSQL holds (a row already equal is
    /// left alone, so a second run writes nothing).
    Natural { conflict: &'static str },
}

/// A table to copy.
pub(super) struct Table {
    pub name: &'static str,
    pub key: Key,
    pub columns: &'static [Col],
    /// Which SQLite rows are copied (an SQL condition; empty: all of them).
    pub only: &'static str,
}

const fn by_id(name: &'static str, ident: &'static str, columns: &'static [Col]) -> Table {
    Table {
        name,
        key: Key::Id {
            column: "id",
            ident,
        },
        columns,
        only: "",
    }
}

const fn natural(name: &'static str, conflict: &'static str, columns: &'static [Col]) -> Table {
    Table {
        name,
        key: Key::Natural { conflict },
        columns,
        only: "",
    }
}

/// Every table copied, in the order they are copied: the log first (requests before
/// events, so that a resumed copy never holds an event whose request is missing), the
/// outbox before the links to it. `quarantine_total` (one value) and `fingerprints`
/// (made from the events) are handled apart.
pub(super) const TABLES: &[Table] = &[
    by_id(
        "requests",
        "received_at",
        &[
            int("id"),
            text("source"),
            int("received_at"),
            text("topic"),
            text("verdict"),
            int("accepted"),
            int("duplicates"),
            text("headers").to("u.headers::jsonb"),
            blob("body"),
            text("duplicate_of").to("u.duplicate_of::jsonb"),
            int("first_event_id"),
        ],
    ),
    by_id(
        "events",
        "fingerprint",
        &[
            int("id"),
            int("request_id"),
            text("topic"),
            text("org_id"),
            text("site_id"),
            text("type"),
            text("mac"),
            text("severity"),
            int("time"),
            text("time_source"),
            int("received_at"),
            text("source"),
            int("raw_offset"),
            int("raw_len"),
            blob("fingerprint"),
        ],
    ),
    by_id(
        "quarantine",
        "received_at",
        &[
            int("id"),
            text("source"),
            int("received_at"),
            text("reason"),
            text("detail"),
            text("headers").to("u.headers::jsonb"),
            blob("body"),
        ],
    ),
    natural(
        "totals",
        "source, topic",
        &[
            text("source"),
            text("topic"),
            int("requests"),
            int("events"),
            int("duplicates"),
            int("last_received_at"),
        ],
    ),
    natural(
        "event_minutes",
        "minute, topic, source",
        &[int("minute"), text("topic"), text("source"), int("events")],
    ),
    natural(
        "stages",
        "name",
        &[
            text("name"),
            int("cursor"),
            blob("snapshot"),
            int("updated_at"),
        ],
    ),
    by_id(
        "devices",
        "mac",
        &[
            int("id"),
            text("org_id"),
            text("mac"),
            text("kind"),
            text("site_id"),
            text("state"),
            int("since"),
            text("record"),
        ],
    ),
    by_id(
        "device_history",
        "at",
        &[
            int("id"),
            text("org_id"),
            text("mac"),
            text("kind"),
            text("site_id"),
            int("at"),
            text("change"),
            text("state"),
            int("since"),
            int("event_id"),
            text("note"),
        ],
    ),
    by_id(
        "incidents",
        "key",
        &[
            int("id"),
            text("key"),
            text("kind"),
            text("state"),
            text("site_id"),
            int("opened_at"),
            int("last_seen_at"),
            int("resolved_at"),
            text("record"),
        ],
    ),
    by_id(
        "incident_changes",
        "at",
        &[
            int("id"),
            int("incident_id"),
            text("change"),
            int("at"),
            text("record"),
        ],
    ),
    natural(
        "target_state",
        "target, key",
        &[
            text("target"),
            text("key"),
            text("value"),
            int("updated_at"),
        ],
    ),
    Table {
        name: "subscriptions",
        key: Key::Id {
            column: "seq",
            ident: "id",
        },
        columns: &[
            int("seq"),
            text("id"),
            text("scope"),
            text("scope_id"),
            text("record"),
            int("modified_at"),
        ],
        only: "",
    },
    by_id(
        "outbox",
        "delivery_id",
        &[
            int("id"),
            text("subscription_id"),
            text("topic"),
            text("state"),
            int("event_count"),
            // A JSON array in SQLite, a bigint[] in PostgreSQL, in the same order.
            text("event_ids").to(
                "ARRAY(SELECT x::bigint FROM jsonb_array_elements_text(u.event_ids::jsonb) \
                 WITH ORDINALITY AS a(x, n) ORDER BY n)",
            ),
            text("delivery_id"),
            int("created_at"),
            int("due_at"),
            int("attempts"),
            int("round_attempts"),
            int("first_attempt_at"),
            int("last_attempt_at"),
            int("last_status"),
            text("last_error"),
            blob("body"),
        ],
    ),
    // PostgreSQL links a batch by foreign key: links to batches SQLite no longer holds
    // (it has no foreign keys) are not copied, and not counted.
    Table {
        name: "outbox_incidents",
        key: Key::Natural {
            conflict: "incident_id, batch_id",
        },
        columns: &[int("incident_id"), int("batch_id")],
        only: "batch_id IN (SELECT id FROM outbox)",
    },
    by_id(
        "attempts",
        "at",
        &[
            int("id"),
            int("batch_id"),
            text("subscription_id"),
            text("topic"),
            int("attempt"),
            int("at"),
            int("success").to("u.success <> 0"),
            int("status_code"),
            int("latency_us"),
            text("error"),
            text("url"),
            text("request_headers"),
            text("request_body"),
            text("response_headers"),
            text("response_body"),
            text("next_state"),
            int("next_due_at"),
            int("first_attempt_at"),
        ],
    ),
    by_id(
        "tokens",
        "hash",
        &[
            int("id"),
            text("name"),
            text("role"),
            blob("hash"),
            int("created_at"),
            int("expires_at"),
            int("last_used_at"),
            int("revoked_at"),
        ],
    ),
    by_id(
        "audit",
        "at",
        &[
            int("id"),
            int("at"),
            text("token"),
            text("client"),
            text("action"),
            text("target"),
            int("status"),
            text("before"),
            text("after"),
        ],
    ),
    natural(
        "sources",
        "name",
        &[
            text("name"),
            text("record"),
            int("created_at"),
            int("modified_at"),
        ],
    ),
    natural(
        "backfill",
        "org_id, kind",
        &[
            text("org_id"),
            text("kind"),
            int("read_until"),
            int("recovered"),
        ],
    ),
];

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
