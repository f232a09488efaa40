//! The PostgreSQL side of the store's webhook subscriptions, delivery outbox and attempts,
//! as the SQLite backend behaves (`sqlite/outbox.rs`, `sqlite/state_tables.rs`): free
//! functions the `Store` implementation of [`PgStore`] delegates to.
//!
//! For several instances on one database: writes that hand out ids take the outbox lock,
//! so ids grow in commit order (a reader paging by id misses no later commit); a replay
//! reads and updates in one statement (a batch is replayed once). Reads lock no rows:
//! claiming batches across instances is for the leases of a later step.

use crate::sqlite::secrets::{open_row, seal_row};
use sqlx::postgres::PgRow;
use sqlx::{Encode, Postgres, QueryBuilder, Row, Type};

use super::PgStore;
use super::cluster::BUMP;
use crate::{
    AttemptFilter, AttemptRecord, AttemptRow, BatchFilter, BatchRow, BatchState, Order,
    OutboxCommit, Page, PageRequest, ReplayRequest, StoreError, SubscriptionRow,
};

/// Migration 2 of `schema.rs` (run inside its transaction): subscriptions, the outbox
/// and the record of attempts, as the SQLite migrations 3, 4 and 8 make them.
pub(super) const SCHEMA: &str = r#"
    -- Mist-format webhook subscriptions: the record (JSON) holds secrets, sealed (seal.rs).
    CREATE TABLE subscriptions (
        seq         bigserial PRIMARY KEY,      -- creation order: lists run by it
        id          text      NOT NULL UNIQUE,
        scope       text      NOT NULL,         -- 'org' or 'site'
        scope_id    text      NOT NULL,
        record      text      NOT NULL,
        modified_at bigint    NOT NULL          -- unix µs, as every time below
    );
    CREATE INDEX subscriptions_scope ON subscriptions (scope, scope_id, seq);

    -- A batch: one request body for a subscription (by id) or `target:<name>`.
    CREATE TABLE outbox (
        id               bigserial PRIMARY KEY,  -- taken under the outbox lock
        subscription_id  text      NOT NULL,
        topic            text      NOT NULL,
        state            text      NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        event_count      integer   NOT NULL,
        event_ids        bigint[]  NOT NULL,
        delivery_id      text      NOT NULL,
        created_at       bigint    NOT NULL,
        due_at           bigint    NOT NULL,
        attempts         integer   NOT NULL DEFAULT 0,
        round_attempts   integer   NOT NULL DEFAULT 0, -- since built or last replayed
        first_attempt_at bigint,
        last_attempt_at  bigint,
        last_status      integer,
        last_error       text,
        body             bytea     NOT NULL      -- the exact request body
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
    CREATE INDEX outbox_subscription ON outbox (subscription_id, state, id);
    CREATE INDEX outbox_created ON outbox (created_at);

    -- Which batches carried a target's message about an incident (gone with the batch).
    CREATE TABLE outbox_incidents (
        incident_id bigint NOT NULL,
        batch_id    bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
        PRIMARY KEY (incident_id, batch_id)
    );
    CREATE INDEX outbox_incidents_batch ON outbox_incidents (batch_id);

    -- Every delivery attempt; it may outlive its batch (pruned by its own time).
    CREATE TABLE attempts (
        id               bigserial PRIMARY KEY,  -- taken under the outbox lock
        batch_id         bigint    NOT NULL,
        subscription_id  text      NOT NULL,
        topic            text      NOT NULL,
        attempt          integer   NOT NULL,
        at               bigint    NOT NULL,
        success          boolean   NOT NULL,
        status_code      integer,
        latency_us       bigint    NOT NULL,
        error            text,
        url              text      NOT NULL,
        request_headers  text      NOT NULL,     -- JSON, secrets redacted
        request_body     text      NOT NULL,
        response_headers text      NOT NULL,
        response_body    text      NOT NULL,
        next_state       text      NOT NULL,
        next_due_at      bigint    NOT NULL,
        first_attempt_at bigint    NOT NULL
    );
    CREATE INDEX attempts_subscription ON attempts (subscription_id, id);
    CREATE INDEX attempts_at ON attempts (at);
"#;

/// The version kind webhook and asset filter changes raise.
const SUBSCRIPTIONS: &str = "subscriptions";

/// The advisory lock that outbox writes handing out ids run under ("mgoutb" in ASCII).
const OUTBOX_LOCK: i64 = 0x6d67_6f75_7462;

/// Largest page a list returns, whatever the caller asks (as the SQLite backend).
const MAX_LIMIT: u32 = 1_000;

/// Creates or replaces a subscription (by id, keeping its place in lists), sealed.
pub(super) async fn put_subscription(
    pg: &PgStore,
    mut row: SubscriptionRow,
) -> Result<(), StoreError> {
    seal_row(pg.sealer(), &mut row);
    // Other instances see the change by the version it raises (`cluster.rs`).
    let sql = sqlx::AssertSqlSafe(format!(
        "{BUMP} INSERT INTO subscriptions (id, scope, scope_id, record, modified_at)
         VALUES ($2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET scope = EXCLUDED.scope, scope_id = EXCLUDED.scope_id,
             record = EXCLUDED.record, modified_at = EXCLUDED.modified_at"
    ));
    sqlx::query(sql)
        .bind(SUBSCRIPTIONS)
        .bind(&row.id)
        .bind(&row.scope)
        .bind(&row.scope_id)
        .bind(&row.record)
        .bind(row.modified_at)
        .execute(pg.pool())
        .await?;
    Ok(())
}

/// Deletes a subscription with its batches (their incident links cascade) and attempts,
/// in one statement; false when there was no such subscription.
pub(super) async fn delete_subscription(pg: &PgStore, id: &str) -> Result<bool, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{BUMP}, batches AS (DELETE FROM outbox WHERE subscription_id = $2),
              attempts AS (DELETE FROM attempts WHERE subscription_id = $2)
         DELETE FROM subscriptions WHERE id = $2"
    ));
    let deleted = sqlx::query(sql)
        .bind(SUBSCRIPTIONS)
        .bind(id)
        .execute(pg.pool())
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// A subscription's columns, as [`SubscriptionColumns`] holds them.
const SUBSCRIPTION_COLUMNS: &str =
    "SELECT id, scope, scope_id, record, modified_at FROM subscriptions WHERE true";
type SubscriptionColumns = (String, String, String, String, i64);

/// A subscription as read, its record opened.
fn opened(pg: &PgStore, columns: SubscriptionColumns) -> Result<SubscriptionRow, StoreError> {
    let (id, scope, scope_id, record, modified_at) = columns;
    let row = SubscriptionRow {
        id,
        scope,
        scope_id,
        record,
        modified_at,
    };
    open_row(pg.sealer(), row)
}

/// One subscription by id, its record opened.
pub(super) async fn subscription(
    pg: &PgStore,
    id: &str,
) -> Result<Option<SubscriptionRow>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SUBSCRIPTION_COLUMNS);
    and(&mut q, "id =", Some(id));
    let row: Option<SubscriptionColumns> = q.build_query_as().fetch_optional(pg.pool()).await?;
    row.map(|r| opened(pg, r)).transpose()
}

/// The subscriptions of one scope (`org`/`site` and its id), or every one when `scope`
/// is `None`, oldest first, their records opened.
pub(super) async fn subscriptions(
    pg: &PgStore,
    scope: Option<(String, String)>,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SUBSCRIPTION_COLUMNS);
    let (kind, id) = scope.unzip();
    and(&mut q, "scope =", kind);
    and(&mut q, "scope_id =", id);
    q.push(" ORDER BY seq");
    let rows: Vec<SubscriptionColumns> = q.build_query_as().fetch_all(pg.pool()).await?;
    rows.into_iter().map(|r| opened(pg, r)).collect()
}

/// Writes the delivery stage's new batches (pending, due when built) and its cursor (in
/// `stages`, migration 3) in one transaction; returns the batch ids, in the order of
/// `commit.batches`. The stage's snapshot is replaced only when the commit carries one.
pub(super) async fn outbox_commit(
    pg: &PgStore,
    commit: OutboxCommit,
) -> Result<Vec<i64>, StoreError> {
    let mut tx = pg.pool().begin().await?;
    if !commit.batches.is_empty() {
        lock_outbox(&mut tx).await?;
    }
    let mut ids = Vec::with_capacity(commit.batches.len());
    for b in &commit.batches {
        // The batch and its incident links in one statement.
        let id: i64 = sqlx::query_scalar(
            "WITH batch AS (
                 INSERT INTO outbox (subscription_id, topic, state, event_count, event_ids,
                                     delivery_id, created_at, due_at, body)
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $6, $7) RETURNING id
             ), links AS (
                 INSERT INTO outbox_incidents (incident_id, batch_id)
                 SELECT DISTINCT incident, batch.id FROM batch, unnest($8::bigint[]) incident
             )
             SELECT id FROM batch",
        )
        .bind(&b.subscription_id)
        .bind(&b.topic)
        .bind(int(b.event_ids.len()))
        .bind(&b.event_ids[..])
        .bind(&b.delivery_id)
        .bind(b.created_at)
        .bind(&b.body[..])
        .bind(&b.incident_ids[..])
        .fetch_one(&mut *tx)
        .await?;
        ids.push(id);
    }
    if let Some((stage, cursor)) = &commit.stage {
        let snapshot = commit.snapshot.as_deref();
        super::cluster::write_stage(pg, &mut tx, stage, *cursor, snapshot, commit.at).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Records attempts and moves each batch to the state its attempt decided, in one
/// transaction. A batch's attempt count never goes down; its round count grows by one.
pub(super) async fn record_attempts(
    pg: &PgStore,
    records: Vec<AttemptRecord>,
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = pg.pool().begin().await?;
    lock_outbox(&mut tx).await?;
    for r in &records {
        sqlx::query(
            "WITH attempt AS (
                 INSERT INTO attempts (batch_id, subscription_id, topic, attempt, at, success,
                     status_code, latency_us, error, url, request_headers, request_body,
                     response_headers, response_body, next_state, next_due_at, first_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             )
             UPDATE outbox SET state = $15, due_at = $16, attempts = GREATEST(attempts, $4),
                 round_attempts = round_attempts + 1, first_attempt_at = $17,
                 last_attempt_at = $5, last_status = $7, last_error = $9
             WHERE id = $1",
        )
        .bind(r.batch_id)
        .bind(&r.subscription_id)
        .bind(&r.topic)
        .bind(int(r.attempt))
        .bind(r.at)
        .bind(r.success)
        .bind(r.status_code.map(i32::from))
        .bind(r.latency_us)
        .bind(&r.error)
        .bind(&r.url)
        .bind(&r.request_headers)
        .bind(&r.request_body)
        .bind(&r.response_headers)
        .bind(&r.response_body)
        .bind(r.next_state.as_str())
        .bind(r.next_due_at)
        .bind(r.first_attempt_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Puts the subscription's dead batches (one, or those built within `since`/`until`)
/// back in the queue, due at `request.now`, as a new round of retries; returns their ids,
/// ascending. One statement: of two instances replaying a batch at once, the later waits
/// for the first, then finds the batch no longer dead.
pub(super) async fn replay_batches(
    pg: &PgStore,
    request: ReplayRequest,
) -> Result<Vec<i64>, StoreError> {
    // The instance that sends to the webhook sees its dead batches back by the version.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(BUMP.replace("$1", "'replays'"));
    q.push("UPDATE outbox SET state = 'pending', due_at = ");
    q.push_bind(request.now);
    q.push(
        ", round_attempts = 0, first_attempt_at = NULL WHERE state = 'dead' AND subscription_id = ",
    );
    q.push_bind(request.subscription_id);
    and(&mut q, "id =", request.batch_id);
    and(&mut q, "created_at >=", request.since);
    and(&mut q, "created_at <=", request.until);
    q.push(" RETURNING id");
    let mut ids: Vec<i64> = q.build_query_scalar().fetch_all(pg.pool()).await?;
    ids.sort_unstable();
    Ok(ids)
}

/// The columns of a batch without its body (lists), in the order [`batch_row`] reads.
const BATCH_COLUMNS: &str = "SELECT id, subscription_id, topic, state, event_count, event_ids, \
     delivery_id, created_at, due_at, attempts, round_attempts, first_attempt_at, \
     last_attempt_at, last_status, last_error";

fn batch_row(row: &PgRow) -> Result<BatchRow, sqlx::Error> {
    let state: String = row.try_get(3)?;
    Ok(BatchRow {
        id: row.try_get(0)?,
        subscription_id: row.try_get(1)?,
        topic: row.try_get(2)?,
        // The table's check allows no other state.
        state: BatchState::parse(&state).unwrap_or(BatchState::Dead),
        event_count: count(row.try_get(4)?),
        event_ids: row.try_get(5)?,
        delivery_id: row.try_get(6)?,
        created_at: row.try_get(7)?,
        due_at: row.try_get(8)?,
        attempts: count(row.try_get(9)?),
        round_attempts: count(row.try_get(10)?),
        first_attempt_at: row.try_get(11)?,
        last_attempt_at: row.try_get(12)?,
        last_status: status_code(row.try_get(13)?),
        last_error: row.try_get(14)?,
        body: bytes::Bytes::new(),
    })
}

/// The batches that reported changes of incident `incident_id`, newest first, at most
/// `limit`, without their bodies.
pub(super) async fn incident_batches(
    pg: &PgStore,
    incident_id: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    let sql = "WHERE id IN (SELECT batch_id FROM outbox_incidents WHERE incident_id = $1)
               ORDER BY id DESC LIMIT $2";
    batch_list(pg, sql, incident_id, limit).await
}

/// Pending batches after id `after`, oldest first, at most `limit`, without their bodies
/// (the queue, at start). No `SKIP LOCKED`: a batch whose attempt is being recorded
/// would be skipped rather than waited for, even on a single instance.
pub(super) async fn pending_batches(
    pg: &PgStore,
    after: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    let sql = "WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2";
    batch_list(pg, sql, after, limit).await
}

/// Pending batches (without bodies) of `destinations` with an id above `after`, lowest
/// first: what the instance sending to them has not seen yet.
pub(super) async fn pending_of(
    pg: &PgStore,
    destinations: &[String],
    after: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    if destinations.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "{BATCH_COLUMNS} FROM outbox WHERE state = 'pending' AND id > $1
         AND subscription_id = ANY($3) ORDER BY id LIMIT $2"
    ));
    let rows = sqlx::query(sql)
        .bind(after)
        .bind(i64::from(limit.min(MAX_LIMIT)))
        .bind(destinations)
        .fetch_all(pg.pool())
        .await?;
    Ok(rows.iter().map(batch_row).collect::<Result<_, _>>()?)
}

/// The batches (without bodies) that `tail` selects: an id as `$1`, the limit as `$2`.
async fn batch_list(
    pg: &PgStore,
    tail: &'static str,
    id: i64,
    limit: u32,
) -> Result<Vec<BatchRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{BATCH_COLUMNS} FROM outbox {tail}"));
    let rows = sqlx::query(sql)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(pg.pool())
        .await?;
    Ok(rows.iter().map(batch_row).collect::<Result<_, _>>()?)
}

/// Per destination with pending batches: how many, and when the oldest was built.
pub(super) async fn pending_by_destination(
    pg: &PgStore,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT subscription_id, count(*), min(created_at) FROM outbox
         WHERE state = 'pending' GROUP BY subscription_id ORDER BY subscription_id COLLATE \"C\"",
    )
    .fetch_all(pg.pool())
    .await?)
}

/// One batch with its body.
pub(super) async fn batch(pg: &PgStore, id: i64) -> Result<Option<BatchRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{BATCH_COLUMNS}, body FROM outbox WHERE id = $1"));
    let Some(row) = sqlx::query(sql).bind(id).fetch_optional(pg.pool()).await? else {
        return Ok(None);
    };
    let mut batch = batch_row(&row)?;
    batch.body = bytes::Bytes::from(row.try_get::<Vec<u8>, _>(15)?);
    Ok(Some(batch))
}

/// A page of batches without their bodies, by filter (`since`/`until` bound the time
/// they were built), keyset-paged by id.
pub(super) async fn batches(
    pg: &PgStore,
    filter: BatchFilter,
    page: PageRequest,
) -> Result<Page<BatchRow>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(BATCH_COLUMNS);
    q.push(" FROM outbox WHERE true");
    and(&mut q, "subscription_id =", filter.subscription_id);
    and(&mut q, "state =", filter.state.map(BatchState::as_str));
    and(&mut q, "topic =", filter.topic);
    and(&mut q, "created_at >=", filter.since);
    and(&mut q, "created_at <=", filter.until);
    let limit = push_page(&mut q, page);
    let rows = q.build().fetch_all(pg.pool()).await?;
    let items = rows.iter().map(batch_row).collect::<Result<_, _>>()?;
    Ok(paged(items, limit, |b| b.id))
}

/// The columns of an attempt, in the order [`attempt_row`] reads.
const ATTEMPT_COLUMNS: &str = "SELECT id, batch_id, subscription_id, topic, attempt, at, \
     success, status_code, latency_us, error, url, request_headers, request_body, \
     response_headers, response_body, next_state, next_due_at, first_attempt_at";

fn attempt_row(row: &PgRow) -> Result<AttemptRow, sqlx::Error> {
    let next_state: String = row.try_get(15)?;
    Ok(AttemptRow {
        id: row.try_get(0)?,
        record: AttemptRecord {
            batch_id: row.try_get(1)?,
            subscription_id: row.try_get(2)?,
            topic: row.try_get(3)?,
            attempt: count(row.try_get(4)?),
            at: row.try_get(5)?,
            success: row.try_get(6)?,
            status_code: status_code(row.try_get(7)?),
            latency_us: row.try_get(8)?,
            error: row.try_get(9)?,
            url: row.try_get(10)?,
            request_headers: row.try_get(11)?,
            request_body: row.try_get(12)?,
            response_headers: row.try_get(13)?,
            response_body: row.try_get(14)?,
            next_state: BatchState::parse(&next_state).unwrap_or(BatchState::Dead),
            next_due_at: row.try_get(16)?,
            first_attempt_at: row.try_get(17)?,
        },
    })
}

/// Adds ` AND ...` for each term of an attempt filter (the query ends in a `WHERE`).
/// The error term is a plain substring match: `%` and `_` in it are not wildcards.
fn push_attempt_filter(q: &mut QueryBuilder<Postgres>, filter: AttemptFilter) {
    and(q, "subscription_id =", filter.subscription_id);
    and(q, "topic =", filter.topic);
    and(q, "success =", filter.success);
    and(q, "status_code =", filter.status_code.map(i32::from));
    if let Some(error) = filter.error {
        q.push(" AND strpos(error, ").push_bind(error).push(") > 0");
    }
    and(q, "at >=", filter.since);
    and(q, "at <=", filter.until);
}

/// A page of delivery attempts, by filter (`since`/`until` bound the attempt time),
/// keyset-paged by id.
pub(super) async fn attempts(
    pg: &PgStore,
    filter: AttemptFilter,
    page: PageRequest,
) -> Result<Page<AttemptRow>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(ATTEMPT_COLUMNS);
    q.push(" FROM attempts WHERE true");
    push_attempt_filter(&mut q, filter);
    let limit = push_page(&mut q, page);
    let rows = q.build().fetch_all(pg.pool()).await?;
    let items = rows.iter().map(attempt_row).collect::<Result<_, _>>()?;
    Ok(paged(items, limit, |a| a.id))
}

/// Attempts per `distinct` (`status`, `status_code` ("" for none), `topic`, else the
/// subscription id), largest group first, then by key in byte order (as SQLite sorts).
pub(super) async fn count_attempts(
    pg: &PgStore,
    filter: AttemptFilter,
    distinct: String,
) -> Result<Vec<(String, i64)>, StoreError> {
    let key = match distinct.as_str() {
        "status" => "CASE WHEN success THEN 'success' ELSE 'failure' END",
        "status_code" => "COALESCE(status_code::text, '')",
        "topic" => "topic",
        _ => "subscription_id",
    };
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT ({key}) COLLATE \"C\" AS k, count(*) AS n FROM attempts WHERE true"
    ));
    push_attempt_filter(&mut q, filter);
    q.push(" GROUP BY k ORDER BY n DESC, k");
    Ok(q.build_query_as().fetch_all(pg.pool()).await?)
}

/// Adds ` AND <term> <value>` when there is a value (terms are constants, values bound).
fn and<'t, T: Encode<'t, Postgres> + Type<Postgres>>(
    q: &mut QueryBuilder<Postgres>,
    term: &str,
    value: Option<T>,
) {
    if let Some(value) = value {
        q.push(format_args!(" AND {term} ")).push_bind(value);
    }
}

/// Takes the outbox lock for the rest of the transaction: the batch and attempt ids
/// handed out after it grow in commit order across instances.
async fn lock_outbox(tx: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OUTBOX_LOCK)
        .execute(tx)
        .await?;
    Ok(())
}

/// Adds `page`'s keyset condition, order and limit (one row past the page) on `id`;
/// returns the page's size.
fn push_page(q: &mut QueryBuilder<Postgres>, page: PageRequest) -> usize {
    let limit = page.limit.clamp(1, MAX_LIMIT);
    let (cmp, dir) = match page.order {
        Order::Desc => ("<", "DESC"),
        Order::Asc => (">", "ASC"),
    };
    if let Some(after) = page.after {
        q.push(format!(" AND id {cmp} ")).push_bind(after);
    }
    q.push(format!(" ORDER BY id {dir} LIMIT "))
        .push_bind(i64::from(limit) + 1);
    limit as usize
}

/// The first `limit` items, and the id to continue after when there were more.
fn paged<T>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> i64) -> Page<T> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(id)
    } else {
        None
    };
    Page { items, next }
}

/// A count for an `integer` column; saturates (no count comes near 2³¹).
fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A count read from an `integer` column (written from a `u32`: never negative).
fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// An HTTP status read from an `integer` column (written from a `u16`).
fn status_code(code: Option<i32>) -> Option<u16> {
    code.and_then(|c| u16::try_from(c).ok())
}

#[cfg(test)]
#[path = "outbox_tests/mod.rs"]
mod tests;
