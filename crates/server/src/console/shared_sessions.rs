//! Console sessions when several instances share one database: kept there (by the hash
//! of their id, the record sealed), so that a browser signed in through one instance is
//! signed in on every one, and signing out on one ends the session everywhere. A load
//! balancer needs no sticky sessions. On a store no other instance shares, sessions stay
//! in memory ([`super::Sessions`]).

use serde::{Deserialize, Serialize};

use super::session::{IDLE_US, LIFETIME_US, Session, hash};
use crate::access::Principal;
use crate::app_state::AppState;

/// A session's use is written at most this often (its idle deadline is hours away).
const USE_EVERY_US: i64 = 60_000_000;

/// What the database keeps of a session besides its hash and times.
#[derive(Serialize, Deserialize)]
struct Record {
    csrf: String,
    token_id: Option<i64>,
    name: String,
    role: String,
}

/// Starts a session; the cookie value (shown to the browser only) and the session.
pub async fn create(
    app: &AppState,
    now: i64,
    principal: Principal,
) -> std::io::Result<(String, Session)> {
    let Some(cluster) = app.store.cluster() else {
        return app.sessions.create(now, principal);
    };
    let (id, session) = Session::start(now, principal)?;
    let record = Record {
        csrf: session.csrf.clone(),
        token_id: session.principal.token_id,
        name: session.principal.name.clone(),
        role: session.principal.role.as_str().to_string(),
    };
    let record = serde_json::to_string(&record).expect("a record serialises");
    let io = |e: store::StoreError| std::io::Error::other(e.to_string());
    cluster
        .session_put(&hash(&id), &record, now, now)
        .await
        .map_err(io)?;
    // Sign-ins are rare: the ended ones go then.
    cluster
        .sessions_prune(now - IDLE_US, now - LIFETIME_US)
        .await
        .map_err(io)?;
    Ok((id, session))
}

/// The live session of cookie value `id`, marked as used now.
pub async fn touch(app: &AppState, id: &str, now: i64) -> Option<Session> {
    let Some(cluster) = app.store.cluster() else {
        return app.sessions.touch(id, now);
    };
    let key = hash(id);
    let (record, created_at, used_at) = match cluster.session_get(&key).await {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a console session");
            return None;
        }
    };
    let record: Record = serde_json::from_str(&record).ok()?;
    let session = Session {
        csrf: record.csrf,
        created_at,
        last_used_at: used_at,
        principal: Principal {
            token_id: record.token_id,
            name: record.name,
            role: record.role.parse().ok()?,
        },
    };
    if !session.alive(now) {
        let _ = cluster.session_end(&key).await;
        return None;
    }
    if now - used_at >= USE_EVERY_US
        && let Err(e) = cluster.session_used(&key, now).await
    {
        tracing::warn!(error = %e, "cannot record a console session's use");
    }
    Some(Session {
        last_used_at: now,
        ..session
    })
}

/// Ends the session of cookie value `id`; whether there was one.
pub async fn end(app: &AppState, id: &str) -> bool {
    let Some(cluster) = app.store.cluster() else {
        return app.sessions.end(id);
    };
    match cluster.session_end(&hash(id)).await {
        Ok(ended) => ended,
        Err(e) => {
            tracing::warn!(error = %e, "cannot end a console session");
            false
        }
    }
}
