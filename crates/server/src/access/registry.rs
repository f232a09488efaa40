//! The tokens the server accepts: the live rows of the `tokens` table, held in memory by
//! their SHA-256, and the configured token (`api_token`), which is always `admin`.
//!
//! A lookup hashes the presented token and looks the hash up. Comparing hashes in a map
//! tells a timing observer nothing about any token (finding a token from its hash's
//! prefix is a preimage search); the configured token's hash is compared in constant time.
//! Tokens created or revoked by `mistgate token` (which writes the database beside the
//! server) are picked up by [`Tokens::refresh`], which the upkeep task runs every
//! [`REFRESH`]; changes made through the API take effect at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use store::{NewToken, Store, TokenError, TokenRow};
use subtle::ConstantTimeEq;

use super::{Role, hash, new_token};

/// How often tokens changed outside this process are read again.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How often last-used times are written.
const FLUSH_USED: Duration = Duration::from_secs(5);

/// The name the configured `api_token` acts under (in the audit log, for instance).
pub const CONFIGURED: &str = "config";

/// Who a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's row; `None` for the configured token.
    pub token_id: Option<i64>,
    pub name: String,
    pub role: Role,
}

#[derive(Clone, Debug)]
struct Live {
    id: i64,
    name: String,
    role: Role,
    expires_at: Option<i64>,
}

pub struct Tokens {
    store: Arc<dyn Store>,
    configured: Option<[u8; 32]>,
    live: RwLock<HashMap<[u8; 32], Live>>,
    /// Token id → when it was last used, not written yet.
    used: Mutex<HashMap<i64, i64>>,
}

impl Tokens {
    /// The tokens of `store`, and `configured` (the config's `api_token`) beside them.
    pub async fn load(
        store: Arc<dyn Store>,
        configured: Option<&str>,
    ) -> Result<Tokens, store::StoreError> {
        let tokens = Tokens {
            store,
            configured: configured.map(|t| hash(t.as_bytes())),
            live: RwLock::default(),
            used: Mutex::default(),
        };
        tokens.refresh().await?;
        Ok(tokens)
    }

    /// Who `presented` is, if it is a live, unexpired token.
    pub fn authenticate(&self, presented: &str, now: i64) -> Option<Principal> {
        let digest = hash(presented.as_bytes());
        if let Some(configured) = &self.configured
            && bool::from(configured.ct_eq(&digest))
        {
            return Some(Principal {
                token_id: None,
                name: CONFIGURED.into(),
                role: Role::Admin,
            });
        }
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        let token = live.get(&digest)?;
        if token.expires_at.is_some_and(|at| at <= now) {
            return None;
        }
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.id, now);
        Some(Principal {
            token_id: Some(token.id),
            name: token.name.clone(),
            role: token.role,
        })
    }

    /// Whether the token behind `principal` is still live (a console session ends when
    /// its token is revoked or expires).
    pub fn still_live(&self, principal: &Principal, now: i64) -> bool {
        let Some(id) = principal.token_id else {
            return true;
        };
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.values()
            .any(|t| t.id == id && t.expires_at.is_none_or(|at| at > now))
    }

    /// Reads the live tokens again.
    pub async fn refresh(&self) -> Result<(), store::StoreError> {
        let rows = self.store.tokens().await?;
        let live = rows
            .into_iter()
            .filter(|r| r.revoked_at.is_none())
            .filter_map(|r| {
                let role = match r.role.parse::<Role>() {
                    Ok(role) => role,
                    Err(e) => {
                        tracing::warn!(token = %r.name, error = %e, "a stored token has an unknown role; it is not accepted");
                        return None;
                    }
                };
                let live = Live {
                    id: r.id,
                    name: r.name,
                    role,
                    expires_at: r.expires_at,
                };
                Some((r.hash, live))
            })
            .collect();
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = live;
        Ok(())
    }

    /// Creates a token; returns the token itself (shown once, never stored) and its row.
    pub async fn create(
        &self,
        name: &str,
        role: Role,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(String, TokenRow), TokenError> {
        let (token, row) = create(self.store.as_ref(), name, role, expires_at, now).await?;
        self.refresh().await?;
        Ok((token, row))
    }

    /// Revokes the live token named `name`; false when there is none.
    pub async fn revoke(&self, name: &str, now: i64) -> Result<bool, store::StoreError> {
        let found = self.store.revoke_token(name, now).await?;
        self.refresh().await?;
        Ok(found)
    }

    /// Writes the last-used times gathered since the previous call.
    pub async fn flush_used(&self) -> Result<(), store::StoreError> {
        let used: Vec<(i64, i64)> =
            std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        if used.is_empty() {
            return Ok(());
        }
        self.store.touch_tokens(used).await
    }

    /// Refreshes every [`REFRESH`] and writes last-used times every 5 s, until
    /// `stopping`; then writes them a last time.
    pub fn spawn_upkeep(self: Arc<Self>, mut stopping: tokio::sync::watch::Receiver<bool>) {
        tokio::spawn(async move {
            let mut refresh = tokio::time::interval(REFRESH);
            let mut flush = tokio::time::interval(FLUSH_USED);
            loop {
                tokio::select! {
                    _ = refresh.tick() => {
                        if let Err(e) = self.refresh().await {
                            tracing::warn!(error = %e, "could not read the API tokens again; the ones known are kept");
                        }
                    }
                    _ = flush.tick() => {
                        if let Err(e) = self.flush_used().await {
                            tracing::warn!(error = %e, "could not record when tokens were last used");
                        }
                    }
                    _ = stopping.changed() => break,
                }
            }
            let _ = self.flush_used().await;
        });
    }
}

/// Creates a token in `store` (what the API and `mistgate token create` do).
pub async fn create(
    store: &dyn Store,
    name: &str,
    role: Role,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(String, TokenRow), TokenError> {
    let token = new_token().map_err(|e| store::StoreError::Task(e.to_string()))?;
    let row = store
        .create_token(NewToken {
            name: name.to_string(),
            role: role.as_str().to_string(),
            hash: hash(token.as_bytes()),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((token, row))
}
