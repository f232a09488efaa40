//! Leases on PostgreSQL: a session-level advisory lock, taken on a connection of its own
//! that the lease keeps. When the holder dies, its connection closes and PostgreSQL
//! releases the lock at once; another instance's next try takes it. When its machine
//! dies or is cut off, the server's TCP keepalives (set short on that connection) end
//! the session within about 9 s. A try is made on a connection of the pool: one that
//! gets nothing goes back to it (standbys trying every 2 s open no connections), and one
//! that gets the lock leaves the pool with it.

use sqlx::{Connection, PgConnection};

use super::PgStore;
use crate::{Lease, StoreError};

/// The advisory lock key of lease `name`: FNV-1a of the name, in a space of its own.
fn key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "mistgate-lease:".bytes().chain(name.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// A held lease: the connection that holds the lock.
struct PgLease {
    conn: PgConnection,
}

#[async_trait::async_trait]
impl Lease for PgLease {
    async fn held(&mut self) -> bool {
        // The lock lives as long as this session; a session that answers still holds it.
        let ping = sqlx::query("SELECT 1").execute(&mut self.conn);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(5), ping).await,
            Ok(Ok(_))
        )
    }
}

/// How long a try waits for a connection of the pool before it opens one of its own (the
/// pool is busy under heavy load: a takeover is not held up by it).
const ACQUIRE: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) async fn try_lease(
    pg: &PgStore,
    name: &str,
) -> Result<Option<Box<dyn Lease>>, StoreError> {
    let mut conn = match tokio::time::timeout(ACQUIRE, pg.pool().acquire()).await {
        Ok(pooled) => {
            let mut pooled = pooled?;
            if !try_lock(&mut pooled, name).await? {
                return Ok(None);
            }
            // Held for as long as this session lives: the lease's own from now on.
            pooled.detach()
        }
        Err(_) => {
            let mut own = PgConnection::connect_with(&pg.pool().connect_options()).await?;
            if !try_lock(&mut own, name).await? {
                own.close().await?;
                return Ok(None);
            }
            own
        }
    };
    sqlx::raw_sql(
        "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 2; \
         SET tcp_keepalives_count = 3",
    )
    .execute(&mut conn)
    .await?;
    Ok(Some(Box::new(PgLease { conn })))
}

/// Takes lease `name`'s lock on `conn` for its session, if it is free.
async fn try_lock(conn: &mut PgConnection, name: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key(name))
        .fetch_one(conn)
        .await?)
}

#[async_trait::async_trait]
impl crate::Leases for PgStore {
    async fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        try_lease(self, name).await
    }

    fn cluster(&self) -> Option<&dyn crate::Cluster> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Leases;

    #[test]
    fn names_have_keys_of_their_own() {
        assert_ne!(key("pruner"), key("backfill"));
        assert_eq!(key("pruner"), key("pruner"));
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_the_next_takes_over_when_it_goes() {
        let (cluster, url, a, b) = crate::postgres::two_instances().await;
        let mut held = a.try_lease("pruner").await.unwrap().expect("free at first");
        assert!(held.held().await);
        assert!(b.try_lease("pruner").await.unwrap().is_none(), "held by a");
        for _ in 0..10 {
            assert!(b.try_lease("pruner").await.unwrap().is_none(), "still a's");
        }
        assert!(
            b.try_lease("backfill").await.unwrap().is_some(),
            "another lease"
        );
        // The holder's session ends (its process died): the server frees the lock as soon
        // as it sees the connection close.
        drop(held);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let taken = loop {
            if let Some(lease) = b.try_lease("pruner").await.unwrap() {
                break lease;
            }
            assert!(tokio::time::Instant::now() < deadline, "b never took over");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        drop(taken);
        // A holder whose session the server ended learns it has lost the lease.
        let mut lost = a.try_lease("routing").await.unwrap().unwrap();
        cluster.psql_at(
            &url,
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()",
        );
        assert!(!lost.held().await);
    }

    #[tokio::test]
    async fn a_lease_is_taken_even_when_every_connection_of_the_pool_is_busy() {
        let cluster = pgtest::Cluster::start();
        let a = PgStore::open(&cluster.database(), None).await.unwrap();
        let mut busy = Vec::new();
        while let Ok(conn) =
            tokio::time::timeout(std::time::Duration::from_millis(300), a.pool().acquire()).await
        {
            busy.push(conn.unwrap());
        }
        assert!(!busy.is_empty());
        let mut lease = a.try_lease("pruner").await.unwrap().expect("free");
        assert!(lease.held().await);
        drop(busy);
        // The pool's connections are used for tries again: one that gets nothing goes back.
        assert!(a.try_lease("pruner").await.unwrap().is_none(), "held");
    }
}
