//! `mistgate serve` with its log in PostgreSQL (`MISTGATE_DATABASE_URL`), on a throwaway
//! cluster: signed webhooks stored and read back through the API, duplicates recognised,
//! incidents made by the correlation stage, everything still there after a restart; and
//! two instances on one database storing the same message posted to both at once once.

mod support;

use serde_json::json;
use support::{Server, signed, site_alarm};

const SECRET: &str = "postgres-test-secret-0123456789";

/// The key every instance on one database shares (`MISTGATE_SECRET_KEY`).
const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn config(stages: bool) -> String {
    let mut c = format!("[[sources]]\nname = \"hq\"\nsecrets = [\"{SECRET}\"]\n");
    if !stages {
        // Several instances: the stages need the leases that are still to come.
        c.push_str("\n[correlation]\nenabled = false\n\n[delivery]\nenabled = false\n");
    }
    c
}

/// One more instance on the database at `url`, its stages off but the pruner's, with the
/// shared key.
fn instance(url: &str) -> Server {
    Server::start_env(
        Some(&config(false)),
        &[("MISTGATE_DATABASE_URL", url), ("MISTGATE_SECRET_KEY", KEY)],
    )
}

#[tokio::test]
async fn the_log_lives_in_postgresql_through_a_restart() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let mut server = Server::start_env(Some(&config(true)), &[("MISTGATE_DATABASE_URL", &url)]);
    let body = site_alarm(
        "o1",
        "s1",
        "device_down",
        &["5c5b350e0001"],
        1_765_000_000.0,
        json!({}),
    );
    let sig = signed(SECRET, &body);
    let (status, answer) = server
        .ingest("hq", body.clone(), &support::headers(&sig))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let (_, again) = server
        .ingest("hq", body.clone(), &support::headers(&sig))
        .await;
    assert_eq!(again["duplicates"], 1, "{again}");
    // Unsigned: refused, nothing stored.
    assert_eq!(server.ingest("hq", body.clone(), &[]).await.0, 401);

    let events = server.api_ok("/events?source=hq").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    let raw = serde_json::to_vec(&events["items"][0]["raw"]).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&raw).unwrap(),
        sent["events"][0]
    );
    server.correlated().await;
    let incidents = server.api_ok("/incidents").await;
    assert_eq!(
        incidents["items"].as_array().unwrap().len(),
        1,
        "{incidents}"
    );

    // The data dir holds no log: the database does.
    assert!(!server.data_dir.join("mistgate.db").exists());
    server.restart();
    let events = server.api_ok("/events?source=hq").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    let incidents = server.api_ok("/incidents").await;
    assert_eq!(incidents["items"].as_array().unwrap().len(), 1);
    let stats = server.stats().await;
    assert!(stats.to_string().contains("\"hq\""), "{stats}");
    // The URL's password, were there one, never reaches the log: the server names the
    // database without it.
    drop(cluster);
}

#[tokio::test]
async fn two_instances_store_a_message_posted_to_both_at_once_once() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let one = instance(&url);
    let two = instance(&url);
    for i in 0..20 {
        let body = site_alarm(
            "o1",
            "s1",
            "device_down",
            &["5c5b350e0001"],
            1_765_000_000.0 + f64::from(i),
            json!({}),
        );
        let sig = signed(SECRET, &body);
        let h = support::headers(&sig);
        let (a, b) = tokio::join!(
            one.ingest("hq", body.clone(), &h),
            two.ingest("hq", body.clone(), &h)
        );
        assert_eq!((a.0, b.0), (200, 200));
        let accepted = a.1["accepted"].as_u64().unwrap() + b.1["accepted"].as_u64().unwrap();
        assert_eq!(accepted, 1, "{} / {}", a.1, b.1);
    }
    // Either instance answers the whole log.
    for server in [&one, &two] {
        let events = server.api_ok("/events?source=hq&limit=100").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 20);
    }
}

/// Whether `server`'s metrics say it holds the lease of `stage`.
async fn holds(server: &Server, stage: &str) -> bool {
    let metrics = server.text("/metrics", false).await;
    metrics
        .lines()
        .any(|l| l.starts_with(&format!("mistgate_stage_lease{{stage=\"{stage}\"}} 1")))
}

#[tokio::test]
async fn the_pruner_runs_on_one_instance_and_moves_when_it_dies() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let mut one = instance(&url);
    let mut two = instance(&url);
    // Exactly one of them holds it.
    let holder = support::eventually(
        std::time::Duration::from_secs(30),
        "one instance holding the pruner's lease",
        || async {
            match (holds(&one, "pruner").await, holds(&two, "pruner").await) {
                (true, false) => Some(1),
                (false, true) => Some(2),
                _ => None,
            }
        },
    )
    .await;
    let (dead, alive) = if holder == 1 {
        (&mut one, &two)
    } else {
        (&mut two, &one)
    };
    dead.kill();
    let killed = std::time::Instant::now();
    support::eventually(
        std::time::Duration::from_secs(10),
        "the other instance taking the pruner over within 10 s",
        || async { holds(alive, "pruner").await.then_some(()) },
    )
    .await;
    eprintln!("pruner taken over {:?} after SIGKILL", killed.elapsed());
    // The survivor still answers the whole log.
    assert_eq!(alive.api("/events").await.0, 200);
}

/// Waits (at most 10 s) until posting `body` signed `sig` to source `branch` of `server`
/// answers `status`.
async fn answers_within(
    server: &Server,
    body: &[u8],
    sig: &[(&'static str, String); 2],
    status: u16,
    what: &str,
) {
    support::eventually(std::time::Duration::from_secs(10), what, || async {
        let (got, _) = server
            .ingest("branch", body.to_vec(), &support::headers(sig))
            .await;
        (got == status).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_source_added_on_one_instance_is_accepted_by_the_others_within_seconds() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    // Both instances seal and open with one key (instance() gives each the same).
    let one = instance(&url);
    let two = instance(&url);
    let body = site_alarm(
        "o1",
        "s1",
        "device_down",
        &["5c5b350e0001"],
        1_765_000_000.0,
        json!({}),
    );
    let sig = signed("branch-secret-0123456789", &body);
    assert_eq!(
        two.ingest("branch", body.clone(), &support::headers(&sig))
            .await
            .0,
        404
    );
    let (status, created, text) = one
        .call(
            "POST",
            "/sources",
            Some(json!({"name": "branch", "secrets": ["branch-secret-0123456789"]}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(created["name"], "branch");
    let took = std::time::Instant::now();
    answers_within(
        &two,
        &body,
        &sig,
        200,
        "the other instance accepting the new source",
    )
    .await;
    eprintln!(
        "source reached the other instance after {:?}",
        took.elapsed()
    );
    // Removed on the other one: refused on the first again.
    let (status, _, text) = two.call("DELETE", "/sources/branch", None).await;
    assert_eq!(status, 200, "{text}");
    answers_within(
        &one,
        &body,
        &sig,
        404,
        "the first instance refusing the removed source",
    )
    .await;
}

#[tokio::test]
async fn an_instance_with_another_secret_key_is_refused() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let first = instance(&url);
    assert_eq!(first.api("/events").await.0, 200);
    let other_key = "0f".repeat(32);
    let dir = tempfile::tempdir().unwrap();
    // A password in the URL (the test cluster trusts any) must never be shown.
    let url = url.replacen("postgres@", "postgres:hunter2pw@", 1);
    let (status, _, stderr) = support::serve_refused_env(
        dir.path(),
        &[],
        &[
            ("MISTGATE_DATABASE_URL", url.as_str()),
            ("MISTGATE_SECRET_KEY", other_key.as_str()),
        ],
    );
    assert!(!status.success());
    assert!(stderr.contains("another key"), "{stderr}");
    assert!(!stderr.contains("hunter2pw"), "no password: {stderr}");
    assert!(stderr.contains("postgres:***@"), "{stderr}");
}
