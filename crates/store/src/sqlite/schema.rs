//! The SQLite schema and its migrations, applied in order and recorded in
//! `PRAGMA user_version`.

use rusqlite::Connection;

use crate::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`. Never edit one that
/// has shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the request log, events, quarantine and running totals.
    r#"
    CREATE TABLE requests (
        id           INTEGER PRIMARY KEY,
        source       TEXT    NOT NULL,
        received_at  INTEGER NOT NULL,          -- unix µs
        topic        TEXT    NOT NULL,
        verdict      TEXT    NOT NULL,
        headers      TEXT    NOT NULL,          -- JSON array of [name, value]
        body         BLOB    NOT NULL,          -- byte-exact
        accepted     INTEGER NOT NULL,
        duplicates   INTEGER NOT NULL,
        duplicate_of TEXT,                      -- JSON array of event ids, NULL when none
        -- The events a request stores get consecutive ids (one writer hands them out),
        -- so the range first_event_id .. first_event_id + accepted names them all
        -- without an index on events.request_id.
        first_event_id INTEGER
    );
    CREATE INDEX requests_received_at ON requests (received_at);

    -- An event's raw JSON is the byte range [raw_offset, raw_offset + raw_len) of its
    -- request's body: the body is kept anyway, so the event is not stored twice.
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        request_id  INTEGER NOT NULL,
        topic       TEXT    NOT NULL,
        org_id      TEXT,
        site_id     TEXT,
        type        TEXT,
        mac         TEXT,
        severity    TEXT,
        time        INTEGER NOT NULL,           -- the event's own time, unix µs
        time_source TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        source      TEXT    NOT NULL,
        raw_offset  INTEGER NOT NULL,
        raw_len     INTEGER NOT NULL,
        -- Duplicate-detection key. Deliberately not indexed: the writer keeps the
        -- recent ones in memory (see dedup.rs) and rebuilds them from here at start.
        fingerprint BLOB    NOT NULL
    );
    CREATE INDEX events_topic ON events (topic, id);
    CREATE INDEX events_site ON events (site_id, id) WHERE site_id IS NOT NULL;

    -- The MAC index is written in large sorted batches by the writer (see mac_index.rs):
    -- per event it would take a random page, since MACs arrive in no order. Events
    -- after `index_state.upto` are not in it yet and are found by scanning that tail.
    CREATE TABLE mac_index (
        mac      TEXT    NOT NULL,
        event_id INTEGER NOT NULL,
        PRIMARY KEY (mac, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE index_state (
        name TEXT    PRIMARY KEY,
        upto INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO index_state (name, upto) VALUES ('mac', 0);
    CREATE INDEX events_time ON events (time);

    CREATE TABLE quarantine (
        id          INTEGER PRIMARY KEY,
        source      TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        detail      TEXT    NOT NULL,
        headers     TEXT    NOT NULL,
        body        BLOB    NOT NULL
    );
    CREATE INDEX quarantine_received_at ON quarantine (received_at);

    CREATE TABLE totals (
        source           TEXT    NOT NULL,
        topic            TEXT    NOT NULL,
        requests         INTEGER NOT NULL,
        events           INTEGER NOT NULL,
        duplicates       INTEGER NOT NULL,
        last_received_at INTEGER NOT NULL,
        PRIMARY KEY (source, topic)
    ) WITHOUT ROWID;
    CREATE TABLE quarantine_total (n INTEGER NOT NULL);
    INSERT INTO quarantine_total (n) VALUES (0);
    "#,
    // 2: the correlation stage: its cursor and snapshot, devices, incidents.
    r#"
    CREATE TABLE stages (
        name       TEXT    PRIMARY KEY,
        cursor     INTEGER NOT NULL,
        snapshot   BLOB    NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE devices (
        id      INTEGER PRIMARY KEY,
        org_id  TEXT    NOT NULL,
        mac     TEXT    NOT NULL,
        kind    TEXT    NOT NULL,
        site_id TEXT,
        state   TEXT    NOT NULL,
        since   INTEGER NOT NULL,
        record  TEXT    NOT NULL,
        -- MAC first: the same index serves the upsert and the lookup by MAC alone.
        UNIQUE (mac, org_id)
    );
    CREATE INDEX devices_site ON devices (site_id, id);

    CREATE TABLE incidents (
        id           INTEGER PRIMARY KEY,
        key          TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        state        TEXT    NOT NULL,
        site_id      TEXT,
        opened_at    INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        resolved_at  INTEGER,
        record       TEXT    NOT NULL
    );
    CREATE INDEX incidents_state ON incidents (state, id);
    CREATE INDEX incidents_site ON incidents (site_id, id);
    CREATE INDEX incidents_opened ON incidents (opened_at);
    "#,
    // 3: Mist-format webhook subscriptions (the record holds the secrets: it is what
    // signs deliveries; the API never returns them).
    r#"
    CREATE TABLE subscriptions (
        seq         INTEGER PRIMARY KEY,
        id          TEXT    NOT NULL UNIQUE,
        scope       TEXT    NOT NULL,           -- 'org' or 'site'
        scope_id    TEXT    NOT NULL,
        record      TEXT    NOT NULL,
        modified_at INTEGER NOT NULL
    );
    CREATE INDEX subscriptions_scope ON subscriptions (scope, scope_id, seq);
    "#,
    // 4: the delivery outbox and the record of attempts.
    r#"
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        subscription_id  TEXT    NOT NULL,
        topic            TEXT    NOT NULL,
        state            TEXT    NOT NULL,      -- 'pending', 'delivered', 'dead'
        event_count      INTEGER NOT NULL,
        event_ids        TEXT    NOT NULL,      -- JSON array of event ids
        delivery_id      TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        due_at           INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        -- Attempts since the batch was built or last replayed: the retry schedule's count.
        round_attempts   INTEGER NOT NULL DEFAULT 0,
        first_attempt_at INTEGER,
        last_attempt_at  INTEGER,
        last_status      INTEGER,
        last_error       TEXT,
        body             BLOB    NOT NULL       -- the exact request body
    );
    -- Pending batches are loaded once at start; the partial index keeps that cheap
    -- however many delivered batches the outbox holds.
    CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
    CREATE INDEX outbox_subscription ON outbox (subscription_id, state, id);
    CREATE INDEX outbox_created ON outbox (created_at);

    CREATE TABLE attempts (
        id               INTEGER PRIMARY KEY,
        batch_id         INTEGER NOT NULL,
        subscription_id  TEXT    NOT NULL,
        topic            TEXT    NOT NULL,
        attempt          INTEGER NOT NULL,
        at               INTEGER NOT NULL,
        success          INTEGER NOT NULL,
        status_code      INTEGER,
        latency_us       INTEGER NOT NULL,
        error            TEXT,
        url              TEXT    NOT NULL,
        request_headers  TEXT    NOT NULL,
        request_body     TEXT    NOT NULL,
        response_headers TEXT    NOT NULL,
        response_body    TEXT    NOT NULL,
        next_state       TEXT    NOT NULL,
        next_due_at      INTEGER NOT NULL,
        first_attempt_at INTEGER NOT NULL
    );
    CREATE INDEX attempts_subscription ON attempts (subscription_id, id);
    CREATE INDEX attempts_at ON attempts (at);
    "#,
    // 5: routing: the incident changes the correlation stage made (a log the routing
    // stage tails), and what targets remember per incident (a Slack message, a
    // ServiceNow record).
    r#"
    CREATE TABLE incident_changes (
        id          INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL,
        change      TEXT    NOT NULL,          -- opened, updated, resolved, acknowledged, suppressed
        at          INTEGER NOT NULL,
        record      TEXT    NOT NULL           -- the incident after the change
    );
    CREATE INDEX incident_changes_at ON incident_changes (at);

    CREATE TABLE target_state (
        target     TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (target, key)
    ) WITHOUT ROWID;
    "#,
    // 6: events stored per receive minute, topic and source (see series.rs): what charts
    // read instead of counting events. A database that already holds events gets them
    // counted once here; from then on the writer adds each commit's counts.
    r#"
    CREATE TABLE event_minutes (
        minute INTEGER NOT NULL,               -- unix minute of received_at (floor)
        topic  TEXT    NOT NULL,
        source TEXT    NOT NULL,
        events INTEGER NOT NULL,
        PRIMARY KEY (minute, topic, source)
    ) WITHOUT ROWID;
    INSERT INTO event_minutes (minute, topic, source, events)
        SELECT (received_at - ((received_at % 60000000) + 60000000) % 60000000) / 60000000,
               topic, source, COUNT(*)
        FROM events GROUP BY 1, 2, 3;
    "#,
    // 7: the append-only device history (see history.rs), written with each stage commit.
    // Devices already known get their timelines (their last changes) as a start: a
    // change's state is what the change implies, a restart's the state the record shows
    // holding at that time (the current one when it held since before; else that of the
    // newest state change before it in the timeline; else `unknown`).
    r#"
    CREATE TABLE device_history (
        id       INTEGER PRIMARY KEY,
        org_id   TEXT    NOT NULL,
        mac      TEXT    NOT NULL,
        kind     TEXT    NOT NULL,
        site_id  TEXT,
        at       INTEGER NOT NULL,              -- event time of the change, unix µs
        change   TEXT    NOT NULL,              -- down, up, restarted, flap
        state    TEXT    NOT NULL,              -- up, down, unknown: after the change
        since    INTEGER NOT NULL,              -- since when in that state, unix µs
        event_id INTEGER,
        note     TEXT    NOT NULL
    );
    -- A device's state at a time: its newest row at or before it.
    CREATE INDEX device_history_at ON device_history (org_id, mac, at, id);
    -- A device's history, newest first.
    CREATE INDEX device_history_device ON device_history (org_id, mac, id);
    -- One event changes a device in a given way once: a stage that rebuilds its state from
    -- the log does not add it again.
    CREATE UNIQUE INDEX device_history_once ON device_history (org_id, mac, event_id, change);

    INSERT INTO device_history (org_id, mac, kind, site_id, at, change, state, since, event_id, note)
    SELECT d.org_id, d.mac, d.kind, d.site_id, t.at, t.change,
        CASE
            WHEN t.change = 'down' THEN 'down'
            WHEN t.change IN ('up', 'flap') THEN 'up'
            WHEN d.since <= t.at THEN d.state
            ELSE COALESCE(t.before_state, 'unknown')
        END,
        CASE
            WHEN t.change IN ('down', 'up', 'flap') THEN t.at
            WHEN d.since <= t.at THEN d.since
            ELSE COALESCE(t.before_at, t.at)
        END,
        t.event_id, t.note
    FROM devices d
    JOIN (
        SELECT dd.id AS device, e.key AS position,
            json_extract(e.value, '$.at') AS at,
            json_extract(e.value, '$.change') AS change,
            json_extract(e.value, '$.event_id') AS event_id,
            COALESCE(json_extract(e.value, '$.note'), '') AS note,
            (SELECT CASE json_extract(p.value, '$.change') WHEN 'down' THEN 'down' ELSE 'up' END
                FROM json_each(dd.record, '$.timeline') p
                WHERE json_extract(p.value, '$.change') != 'restarted'
                  AND json_extract(p.value, '$.at') <= json_extract(e.value, '$.at')
                ORDER BY json_extract(p.value, '$.at') DESC, p.key DESC LIMIT 1) AS before_state,
            (SELECT json_extract(p.value, '$.at')
                FROM json_each(dd.record, '$.timeline') p
                WHERE json_extract(p.value, '$.change') != 'restarted'
                  AND json_extract(p.value, '$.at') <= json_extract(e.value, '$.at')
                ORDER BY json_extract(p.value, '$.at') DESC, p.key DESC LIMIT 1) AS before_at
        FROM devices dd, json_each(dd.record, '$.timeline') e
    ) t ON t.device = d.id
    ORDER BY d.id, t.position;
    "#,
    // 8: which outbox batches carried a routing target's message about an incident (the
    // incident page's notifications).
    r#"
    CREATE TABLE outbox_incidents (
        incident_id INTEGER NOT NULL,
        batch_id    INTEGER NOT NULL,
        PRIMARY KEY (incident_id, batch_id)
    ) WITHOUT ROWID;
    "#,
    // 9: the console's counts per state, kind and site read these indexes, not the records.
    r#"
    CREATE INDEX incidents_tally ON incidents (state, kind, site_id);
    CREATE INDEX devices_tally ON devices (state, kind, site_id);
    "#,
    // 10: a device's name as a column computed from its record, so that the device board
    // reads names without the records.
    r#"
    ALTER TABLE devices ADD COLUMN name TEXT GENERATED ALWAYS AS (json_extract(record, '$.name')) VIRTUAL;
    "#,
    // 11: named API tokens (only a SHA-256 of each is kept) and the audit log of every
    // state-changing action.
    r#"
    CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT    NOT NULL,
        role         TEXT    NOT NULL,
        hash         BLOB    NOT NULL UNIQUE,   -- SHA-256 of the token
        created_at   INTEGER NOT NULL,          -- unix µs
        expires_at   INTEGER,
        last_used_at INTEGER,
        revoked_at   INTEGER
    );
    -- A revoked token keeps its row (the audit log names it), and its name is free again.
    CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,                -- unix µs
        token  TEXT    NOT NULL,                -- the token's name
        client TEXT    NOT NULL,                -- the client's address
        action TEXT    NOT NULL,
        target TEXT    NOT NULL,
        status INTEGER NOT NULL,                -- the HTTP status answered
        before TEXT,                            -- JSON, secrets redacted
        after  TEXT
    );
    CREATE INDEX audit_at ON audit (at);
    "#,
    // 12: secrets at rest (see secrets.rs): one value sealed with the key at the first
    // start with a key, so that a start with another key fails before anything is read.
    r#"
    CREATE TABLE secret_key_check (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        sealed TEXT    NOT NULL
    );
    "#,
    // 13: sources added at run time through the API (beside the config file's), their
    // record (secrets included) sealed as the subscriptions' are.
    r#"
    CREATE TABLE sources (
        name        TEXT    PRIMARY KEY,
        record      TEXT    NOT NULL,           -- JSON, sealed
        created_at  INTEGER NOT NULL,           -- unix µs
        modified_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 14: backfill (events read back from Mist's searches). The three kinds it reads are
    // indexed by time, only those (a partial index costs nothing on other topics), and
    // each org and kind remembers how far it has been read.
    r#"
    CREATE INDEX events_backfill ON events (topic, time)
        WHERE topic IN ('alarms', 'device-events', 'audits');
    CREATE TABLE backfill (
        org_id     TEXT    NOT NULL,
        kind       TEXT    NOT NULL,            -- the topic: alarms, device-events, audits
        read_until INTEGER NOT NULL,            -- unix µs of event time
        recovered  INTEGER NOT NULL,
        PRIMARY KEY (org_id, kind)
    ) WITHOUT ROWID;
    "#,
];

/// Brings the database up to the schema this build knows.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Brings the database up to schema version `version` (tests make older databases with
/// it, to check what a later migration does to their data).
pub(crate) fn migrate_to(conn: &mut Connection, version: usize) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    let upto = &MIGRATIONS[..version.min(MIGRATIONS.len())];
    for (i, sql) in upto.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `mistgate migrate` copies every table of a given SQLite schema version: a new
    /// migration here must be taught to it (`postgres/import_tables.rs`) before this passes.
    #[test]
    fn the_copy_to_postgresql_knows_every_migration() {
        assert_eq!(
            crate::postgres::import::SQLITE_SCHEMA,
            super::MIGRATIONS.len() as i64
        );
    }
}
