//! The tables `mistgate migrate` copies from SQLite to PostgreSQL (see `import.rs`;
//! `import_rows.rs` reads and writes them).
//!
//! Every table is described once, by its columns: their SQLite kind and, where the
//! PostgreSQL column has another type, the expression that converts the array element
//! (`u.<column>`) into it.

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
    pub(super) fn array_type(self) -> &'static str {
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
