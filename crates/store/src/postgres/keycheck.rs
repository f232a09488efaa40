//! The secret key on PostgreSQL, as on SQLite: the first instance to open the database
//! with a key records a value sealed with it; every later open must bring the same key
//! (several instances share one database, so they must share `MISTGATE_SECRET_KEY`), and
//! one without a key is refused once secrets are sealed. Records written in clear (by an
//! open without a key) are sealed at the first open with one.

use sqlx::PgPool;

use crate::sqlite::secrets::{CHECK_AAD, CHECK_VALUE, subscription_aad};
use crate::{Sealer, StoreError};

/// The advisory lock key of the check ("mgkeyc"): two instances opening a new database
/// at once record one value.
const KEY_LOCK: i64 = 0x6d67_6b65_7963;

/// The database as errors name it: host and database, never the credentials.
pub(super) fn shown(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let at_host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("postgres://{at_host}")
}

/// Checks `sealer` against the database (see the module); `url` names it in errors.
pub(super) async fn prepare(
    pool: &PgPool,
    sealer: Option<&Sealer>,
    url: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_LOCK)
        .execute(&mut *tx)
        .await?;
    let check: Option<String> =
        sqlx::query_scalar("SELECT sealed FROM secret_key_check WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
    let Some(sealer) = sealer else {
        let sealed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE starts_with(record, 'mgseal1:'))
                 OR EXISTS (SELECT 1 FROM sources WHERE starts_with(record, 'mgseal1:'))",
        )
        .fetch_one(&mut *tx)
        .await?;
        if check.is_some() || sealed {
            return Err(StoreError::SecretKeyMissing { path: shown(url) });
        }
        return Ok(());
    };
    match check {
        Some(sealed) => {
            if sealer.open(&sealed, CHECK_AAD).as_deref() != Ok(CHECK_VALUE) {
                return Err(StoreError::SecretKeyMismatch { path: shown(url) });
            }
        }
        None => {
            sqlx::query("INSERT INTO secret_key_check (id, sealed) VALUES (1, $1)")
                .bind(sealer.seal(CHECK_VALUE, CHECK_AAD))
                .execute(&mut *tx)
                .await?;
        }
    }
    // Records an open without a key left in clear.
    let clear: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, record FROM subscriptions WHERE NOT starts_with(record, 'mgseal1:')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, record) in clear {
        sqlx::query("UPDATE subscriptions SET record = $2 WHERE id = $1")
            .bind(&id)
            .bind(sealer.seal(&record, &subscription_aad(&id)))
            .execute(&mut *tx)
            .await?;
    }
    let clear: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT name, created_at, modified_at, record FROM sources WHERE NOT starts_with(record, 'mgseal1:')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, created_at, modified_at, record) in clear {
        let row = crate::SourceRow {
            name,
            record,
            created_at,
            modified_at,
        };
        sqlx::query("UPDATE sources SET record = $2 WHERE name = $1")
            .bind(&row.name)
            .bind(crate::sqlite::sources::stored_record(Some(sealer), &row))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::PgStore;

    #[test]
    fn errors_name_the_database_without_credentials() {
        assert_eq!(
            shown("postgres://gate:pw@db.example.net:5432/mistgate"),
            "postgres://db.example.net:5432/mistgate"
        );
        assert_eq!(shown("postgresql://h/db"), "postgres://h/db");
    }

    #[tokio::test]
    async fn instances_must_bring_the_key_the_database_was_sealed_with() {
        let cluster = pgtest::Cluster::start();
        let url = cluster.database();
        let key = Sealer::new([7u8; 32]);
        let other = Sealer::new([9u8; 32]);
        PgStore::open(&url, Some(key.clone())).await.unwrap();
        // The same key again: fine.
        PgStore::open(&url, Some(key)).await.unwrap();
        let wrong = PgStore::open(&url, Some(other))
            .await
            .err()
            .expect("refused");
        assert!(
            matches!(wrong, StoreError::SecretKeyMismatch { .. }),
            "{wrong}"
        );
        assert!(!wrong.to_string().contains("postgres@"), "{wrong}");
        let none = PgStore::open(&url, None).await.err().expect("refused");
        assert!(
            matches!(none, StoreError::SecretKeyMissing { .. }),
            "{none}"
        );
    }
}
