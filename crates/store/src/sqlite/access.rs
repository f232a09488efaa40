//! Tokens and the audit log. They are written on a connection of their own, not by the
//! group-commit writer: they are few, and `mistgate token` writes them beside a running
//! server (SQLite's WAL lock orders the two writers; the busy timeout waits).

use std::path::Path;

pub use rusqlite::Connection;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use super::read::{Clause, paged};
use crate::{
    AuditFilter, AuditRecord, AuditRow, NewToken, Page, PageRequest, SourceRow, StoreError,
    TokenError, TokenRow,
};

/// A read-write connection for tokens and audit records; `migrate` brings a new database
/// up to date first (only when no server holds it: a server migrates at its own start).
pub fn open(path: &Path, migrate: bool) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "busy_timeout", 5_000)?;
    if migrate {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        super::schema::migrate(&mut conn)?;
    }
    Ok(conn)
}

const TOKEN_COLUMNS: &str =
    "id, name, role, hash, created_at, expires_at, last_used_at, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    let hash: Vec<u8> = r.get(3)?;
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        hash: hash.try_into().unwrap_or([0; 32]),
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        last_used_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

/// Every token, revoked ones too, oldest first.
pub fn tokens(conn: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id");
    Ok(conn
        .prepare_cached(&sql)?
        .query_map([], token_row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Adds a token; its name must not be taken by a token that is not revoked.
pub fn insert_token(conn: &Connection, token: &NewToken) -> Result<TokenRow, TokenError> {
    let taken: Option<i64> = conn
        .query_row(
            "SELECT id FROM tokens WHERE name = ?1 AND revoked_at IS NULL",
            [&token.name],
            |r| r.get(0),
        )
        .optional()
        .map_err(StoreError::from)?;
    if taken.is_some() {
        return Err(TokenError::NameTaken(token.name.clone()));
    }
    conn.execute(
        "INSERT INTO tokens (name, role, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            token.name,
            token.role,
            &token.hash[..],
            token.created_at,
            token.expires_at
        ],
    )
    .map_err(StoreError::from)?;
    Ok(TokenRow {
        id: conn.last_insert_rowid(),
        name: token.name.clone(),
        role: token.role.clone(),
        hash: token.hash,
        created_at: token.created_at,
        expires_at: token.expires_at,
        last_used_at: None,
        revoked_at: None,
    })
}

/// Revokes the live token named `name`; false when there is none.
pub fn revoke_token(conn: &Connection, name: &str, at: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
        params![name, at],
    )?;
    Ok(n > 0)
}

/// Records when tokens were last used (id, unix µs); a time never moves back.
pub fn touch_tokens(conn: &mut Connection, used: &[(i64, i64)]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut update = tx.prepare_cached(
            "UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
        )?;
        for (id, at) in used {
            update.execute(params![id, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub fn insert_audit(conn: &Connection, record: &AuditRecord) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (at, token, client, action, target, status, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        record.at,
        record.token,
        record.client,
        record.action,
        record.target,
        record.status,
        record.before,
        record.after
    ])?;
    Ok(conn.last_insert_rowid())
}

/// A page of the audit log, newest first unless `page` says otherwise.
pub fn audit(
    conn: &Connection,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditRow>, StoreError> {
    let mut c = Clause::default();
    c.eq("token = ?", &filter.token);
    c.eq("action = ?", &filter.action);
    c.eq(
        "instr(target, ?) = 1",
        &filter.target.as_ref().map(|t| t.to_string()),
    );
    c.int("at >= ?", filter.since);
    c.int("at <= ?", filter.until);
    let (tail, values) = c.finish("id", page);
    let sql = format!(
        "SELECT id, at, token, client, action, target, status, before, after FROM audit{tail}"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter::<Vec<Value>>(values), |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                record: AuditRecord {
                    at: r.get(1)?,
                    token: r.get(2)?,
                    client: r.get(3)?,
                    action: r.get(4)?,
                    target: r.get(5)?,
                    status: r.get(6)?,
                    before: r.get(7)?,
                    after: r.get(8)?,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paged(items, page, |a| a.id))
}

impl super::SqliteStore {
    /// Runs `f` on the store's token and audit connection, on a blocking thread.
    pub(super) async fn side<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut side = inner.side.lock().unwrap_or_else(|p| p.into_inner());
            let conn = match side.as_mut() {
                Some(c) => c,
                None => side.insert(open(&inner.config.path, false)?),
            };
            f(conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

#[async_trait::async_trait]
impl crate::Access for super::SqliteStore {
    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.side(|c| tokens(c)).await
    }

    async fn create_token(&self, token: NewToken) -> Result<TokenRow, TokenError> {
        self.side(move |c| insert_token(c, &token)).await
    }

    async fn revoke_token(&self, name: &str, at: i64) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.side(move |c| revoke_token(c, &name, at)).await
    }

    async fn touch_tokens(&self, used: Vec<(i64, i64)>) -> Result<(), StoreError> {
        self.side(move |c| touch_tokens(c, &used)).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<i64, StoreError> {
        self.side(move |c| insert_audit(c, &record)).await
    }

    async fn audit(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRow>, StoreError> {
        self.side(move |c| audit(c, &filter, page)).await
    }

    async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        let sealer = self.inner.config.sealer.clone();
        self.side(move |c| super::sources::sources(c, sealer.as_ref()))
            .await
    }

    async fn put_source(&self, row: SourceRow) -> Result<(), StoreError> {
        let sealer = self.inner.config.sealer.clone();
        self.side(move |c| super::sources::put_source(c, sealer.as_ref(), &row))
            .await
    }

    async fn delete_source(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.side(move |c| super::sources::delete_source(c, &name))
            .await
    }
}

#[async_trait::async_trait]
impl crate::Leases for super::SqliteStore {
    /// Always held: this process owns the data dir (see `open.rs`'s lock file).
    async fn try_lease(&self, _name: &str) -> Result<Option<Box<dyn crate::Lease>>, StoreError> {
        Ok(Some(Box::new(crate::Sole)))
    }
}
