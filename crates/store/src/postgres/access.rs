//! Tokens, the audit log, sources added at run time, and backfill's reads and marks on
//! PostgreSQL. Tokens and sources are few and written rarely: plain statements on the
//! pool, no writer queue; `mistgate token` and several instances write them side by side.

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::PgStore;
use super::log::paged;
use crate::{
    AuditFilter, AuditRecord, AuditRow, BackfillMark, KindEvent, NewToken, Page, PageRequest,
    SourceRow, StoreError, TokenError, TokenRow,
};

/// This part's tables (migration 4).
pub(super) const SCHEMA: &str = r#"
    CREATE TABLE tokens (
        id           bigserial PRIMARY KEY,
        name         text   NOT NULL,
        role         text   NOT NULL,
        hash         bytea  NOT NULL UNIQUE,    -- SHA-256 of the token
        created_at   bigint NOT NULL,           -- unix µs
        expires_at   bigint,
        last_used_at bigint,
        revoked_at   bigint
    );
    -- A revoked token keeps its row (the audit log names it); its name is free again.
    CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
    CREATE TABLE audit (
        id     bigserial PRIMARY KEY,
        at     bigint  NOT NULL,
        token  text    NOT NULL,
        client text    NOT NULL,
        action text    NOT NULL,
        target text    NOT NULL,
        status integer NOT NULL,
        before text,
        after  text
    );
    CREATE INDEX audit_at ON audit (at);
    -- A value sealed with the database's key at the first open with one (keycheck.rs).
    CREATE TABLE secret_key_check (
        id     integer PRIMARY KEY CHECK (id = 1),
        sealed text    NOT NULL
    );
    CREATE TABLE sources (
        name        text   PRIMARY KEY,
        record      text   NOT NULL,            -- JSON, sealed when there is a key
        created_at  bigint NOT NULL,
        modified_at bigint NOT NULL
    );
    -- Backfill: the three kinds Mist's searches answer, by time, and how far each org
    -- and kind has been read.
    CREATE INDEX events_backfill ON events (topic, time)
        WHERE topic IN ('alarms', 'device-events', 'audits');
    CREATE TABLE backfill (
        org_id     text   NOT NULL,
        kind       text   NOT NULL,
        read_until bigint NOT NULL,
        recovered  bigint NOT NULL,
        PRIMARY KEY (org_id, kind)
    );
"#;

const TOKEN_COLUMNS: &str =
    "SELECT id, name, role, hash, created_at, expires_at, last_used_at, revoked_at FROM tokens";

fn token_row(r: &PgRow) -> Result<TokenRow, sqlx::Error> {
    let hash: Vec<u8> = r.try_get(3)?;
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: r.try_get(2)?,
        hash: hash.try_into().unwrap_or([0; 32]),
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        last_used_at: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
    })
}

pub(super) async fn tokens(pg: &PgStore) -> Result<Vec<TokenRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{TOKEN_COLUMNS} ORDER BY id"));
    Ok(sqlx::query(sql)
        .fetch_all(pg.pool())
        .await?
        .iter()
        .map(token_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Adds a token; a live token of the same name makes it `NameTaken` (the partial unique
/// index decides, so two instances adding one name at once cannot both succeed).
pub(super) async fn create_token(pg: &PgStore, token: NewToken) -> Result<TokenRow, TokenError> {
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(&token.name)
    .bind(&token.role)
    .bind(&token.hash[..])
    .bind(token.created_at)
    .bind(token.expires_at)
    .fetch_one(pg.pool())
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("tokens_live_name") => {
            return Err(TokenError::NameTaken(token.name));
        }
        Err(e) => return Err(TokenError::Store(e.into())),
    };
    Ok(TokenRow {
        id,
        name: token.name,
        role: token.role,
        hash: token.hash,
        created_at: token.created_at,
        expires_at: token.expires_at,
        last_used_at: None,
        revoked_at: None,
    })
}

pub(super) async fn revoke_token(pg: &PgStore, name: &str, at: i64) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
            .bind(name)
            .bind(at)
            .execute(pg.pool())
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Records tokens' last use; a time never moves back.
pub(super) async fn touch_tokens(pg: &PgStore, used: &[(i64, i64)]) -> Result<(), StoreError> {
    let (ids, ats): (Vec<i64>, Vec<i64>) = used.iter().copied().unzip();
    sqlx::query(
        "UPDATE tokens SET last_used_at = greatest(coalesce(last_used_at, 0), u.at)
         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, at) WHERE tokens.id = u.id",
    )
    .bind(ids)
    .bind(ats)
    .execute(pg.pool())
    .await?;
    Ok(())
}

pub(super) async fn append_audit(pg: &PgStore, r: AuditRecord) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO audit (at, token, client, action, target, status, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(r.at)
    .bind(&r.token)
    .bind(&r.client)
    .bind(&r.action)
    .bind(&r.target)
    .bind(i32::from(r.status))
    .bind(&r.before)
    .bind(&r.after)
    .fetch_one(pg.pool())
    .await?)
}

/// A page of the audit log, newest first unless `page` says otherwise.
pub(super) async fn audit(
    pg: &PgStore,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditRow>, StoreError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, at, token, client, action, target, status, before, after FROM audit WHERE true",
    );
    if let Some(token) = &filter.token {
        q.push(" AND token = ").push_bind(token.clone());
    }
    if let Some(action) = &filter.action {
        q.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(target) = &filter.target {
        q.push(" AND starts_with(target, ")
            .push_bind(target.clone())
            .push(")");
    }
    if let Some(since) = filter.since {
        q.push(" AND at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        q.push(" AND at <= ").push_bind(until);
    }
    super::log::page_tail(&mut q, "id", page);
    let items = q
        .build()
        .fetch_all(pg.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get(0)?,
                record: AuditRecord {
                    at: r.try_get(1)?,
                    token: r.try_get(2)?,
                    client: r.try_get(3)?,
                    action: r.try_get(4)?,
                    target: r.try_get(5)?,
                    status: r.try_get::<i32, _>(6)? as u16,
                    before: r.try_get(7)?,
                    after: r.try_get(8)?,
                },
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paged(items, page, |a| a.id))
}

pub(super) async fn sources(pg: &PgStore) -> Result<Vec<SourceRow>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT name, record, created_at, modified_at FROM sources ORDER BY name")
            .fetch_all(pg.pool())
            .await?;
    rows.into_iter()
        .map(|(name, record, created_at, modified_at)| {
            let row = SourceRow {
                name,
                record,
                created_at,
                modified_at,
            };
            crate::sqlite::sources::open_source(pg.sealer(), row)
        })
        .collect()
}

/// Adds or replaces a source (its record sealed when there is a key); a replaced source
/// keeps its creation time.
pub(super) async fn put_source(pg: &PgStore, row: SourceRow) -> Result<(), StoreError> {
    let record = crate::sqlite::sources::stored_record(pg.sealer(), &row);
    sqlx::query(
        "INSERT INTO sources (name, record, created_at, modified_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record, modified_at = EXCLUDED.modified_at",
    )
    .bind(&row.name)
    .bind(record)
    .bind(row.created_at)
    .bind(row.modified_at)
    .execute(pg.pool())
    .await?;
    Ok(())
}

pub(super) async fn delete_source(pg: &PgStore, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM sources WHERE name = $1")
        .bind(name)
        .execute(pg.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The stored events of `topic` with their own time in `[from, to]`, at most `limit`.
pub(super) async fn kind_events(
    pg: &PgStore,
    topic: &str,
    from: i64,
    to: i64,
    limit: u32,
) -> Result<Vec<KindEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.source, substring(r.body from e.raw_offset + 1 for e.raw_len), e.fingerprint
         FROM events e JOIN requests r ON r.id = e.request_id AND r.received_at = e.received_at
         WHERE e.topic IN ('alarms', 'device-events', 'audits') AND e.topic = $1
           AND e.time BETWEEN $2 AND $3 ORDER BY e.time LIMIT $4",
    )
    .bind(topic)
    .bind(from)
    .bind(to)
    .bind(i64::from(limit))
    .fetch_all(pg.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let fingerprint: Vec<u8> = r.try_get(2)?;
            Ok(KindEvent {
                source: r.try_get(0)?,
                raw: r.try_get(1)?,
                fingerprint: fingerprint.try_into().unwrap_or([0; 16]),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub(super) async fn newest_event_time(
    pg: &PgStore,
    topic: &str,
    org_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT time FROM events WHERE topic IN ('alarms', 'device-events', 'audits')
           AND topic = $1 AND org_id = $2 ORDER BY time DESC LIMIT 1",
    )
    .bind(topic)
    .bind(org_id)
    .fetch_optional(pg.pool())
    .await?)
}

pub(super) async fn backfill_marks(pg: &PgStore) -> Result<Vec<BackfillMark>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT org_id, kind, read_until, recovered FROM backfill ORDER BY org_id, kind",
    )
    .fetch_all(pg.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(org_id, kind, read_until, recovered)| BackfillMark {
            org_id,
            kind,
            read_until,
            recovered,
        })
        .collect())
}

pub(super) async fn put_backfill_mark(pg: &PgStore, m: BackfillMark) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO backfill (org_id, kind, read_until, recovered) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, kind) DO UPDATE
         SET read_until = EXCLUDED.read_until, recovered = EXCLUDED.recovered",
    )
    .bind(&m.org_id)
    .bind(&m.kind)
    .bind(m.read_until)
    .bind(m.recovered)
    .execute(pg.pool())
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::Access for PgStore {
    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        tokens(self).await
    }

    async fn create_token(&self, token: NewToken) -> Result<TokenRow, TokenError> {
        create_token(self, token).await
    }

    async fn revoke_token(&self, name: &str, at: i64) -> Result<bool, StoreError> {
        revoke_token(self, name, at).await
    }

    async fn touch_tokens(&self, used: Vec<(i64, i64)>) -> Result<(), StoreError> {
        touch_tokens(self, &used).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        append_audit(self, record).await
    }

    async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        sources(self).await
    }

    async fn put_source(&self, row: SourceRow) -> Result<(), StoreError> {
        put_source(self, row).await
    }

    async fn delete_source(&self, name: &str) -> Result<bool, StoreError> {
        delete_source(self, name).await
    }

    async fn audit(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRow>, StoreError> {
        audit(self, &filter, page).await
    }
}

#[async_trait::async_trait]
impl crate::Backfill for PgStore {
    async fn kind_events(
        &self,
        topic: &str,
        from: i64,
        to: i64,
        limit: u32,
    ) -> Result<Vec<KindEvent>, StoreError> {
        kind_events(self, topic, from, to, limit).await
    }

    async fn newest_event_time(
        &self,
        topic: &str,
        org_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        newest_event_time(self, topic, org_id).await
    }

    async fn backfill_marks(&self) -> Result<Vec<BackfillMark>, StoreError> {
        backfill_marks(self).await
    }

    async fn put_backfill_mark(&self, mark: BackfillMark) -> Result<(), StoreError> {
        put_backfill_mark(self, mark).await
    }
}
