//! `mistgate serve` on a PostgreSQL server that speaks TLS, as managed databases do: the
//! URL's `sslmode=verify-full` and `sslrootcert` are honoured (every connection of the
//! instance encrypted, the server's certificate checked against the operator's CA), and
//! a server whose certificate that CA did not sign is refused at start with a clear error.

mod support;

use serde_json::json;
use support::tls::TestCa;
use support::{Server, signed, site_alarm};

const SECRET: &str = "postgres-tls-secret-0123456789";
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

#[tokio::test]
async fn the_database_is_reached_over_tls_checked_against_the_operators_ca() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let cluster = pgtest::Cluster::start_tls(
        &certs.path().join("leaf.pem"),
        &certs.path().join("leaf.key"),
    );
    let plain = cluster.database();
    let url = format!(
        "{plain}?sslmode=verify-full&sslrootcert={}",
        ca.ca_file.display()
    );
    let config = format!("[[sources]]\nname = \"hq\"\nsecrets = [\"{SECRET}\"]\n");
    let server = Server::start_env(
        Some(&config),
        &[
            ("MISTGATE_DATABASE_URL", &url),
            ("MISTGATE_SECRET_KEY", KEY),
        ],
    );
    let body = site_alarm(
        "o1",
        "s1",
        "device_down",
        &["5c5b350e0001"],
        1_765_000_000.0,
        json!({}),
    );
    let sig = signed(SECRET, &body);
    let (status, answer) = server.ingest("hq", body, &support::headers(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    let events = server.api_ok("/events?topic=alarms").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    // Every session of the instance's (pool, leases) is encrypted.
    let sessions = cluster.psql_at(
        &plain,
        "SELECT count(*) || ' ' || bool_and(s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
         AND a.backend_type = 'client backend'",
    );
    let (count, all_tls) = sessions.split_once(' ').expect("count and flag");
    assert!(count.parse::<u32>().unwrap() >= 2, "{sessions}");
    assert_eq!(all_tls, "true", "{sessions}");

    // Checked against another CA, the server's certificate is refused: the start fails
    // and says why, naming no password.
    let other = tempfile::tempdir().unwrap();
    let other_ca = TestCa::new(other.path());
    let wrong = format!(
        "{plain}?sslmode=verify-full&sslrootcert={}",
        other_ca.ca_file.display()
    );
    let data = tempfile::tempdir().unwrap();
    let (status, _, stderr) = support::serve_refused_env(
        data.path(),
        &[],
        &[
            ("MISTGATE_DATABASE_URL", &wrong),
            ("MISTGATE_SECRET_KEY", KEY),
        ],
    );
    assert!(!status.success());
    eprintln!("refused: {}", stderr.trim());
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "the error names the certificate: {stderr}"
    );
}
