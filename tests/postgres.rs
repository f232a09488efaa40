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

/// A `device_down` alarm for one AP of org `o1`, site `s1`, at `t` (epoch seconds).
fn down_alarm(t: f64) -> Vec<u8> {
    site_alarm("o1", "s1", "device_down", &["5c5b350e0001"], t, json!({}))
}

fn config() -> String {
    format!("[[sources]]\nname = \"hq\"\nsecrets = [\"{SECRET}\"]\n")
}

/// One more instance on the database at `url`, every stage on (each runs on the holder
/// of its lease), with the shared key.
fn instance(url: &str) -> Server {
    Server::start_env(
        Some(&config()),
        &[("MISTGATE_DATABASE_URL", url), ("MISTGATE_SECRET_KEY", KEY)],
    )
}

#[tokio::test]
async fn the_log_lives_in_postgresql_through_a_restart() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let mut server = Server::start_env(Some(&config()), &[("MISTGATE_DATABASE_URL", &url)]);
    let body = down_alarm(1_765_000_000.0);
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
        let body = down_alarm(1_765_000_000.0 + f64::from(i));
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

/// Creates, through `server`, an org webhook of the alarms to `rx`; its id.
async fn alarms_webhook(server: &Server, rx: &support::receiver::Receiver) -> String {
    let (status, hook, text) = server
        .call(
            "POST",
            "/orgs/o1/webhooks",
            Some(json!({"url": rx.url("/"), "topics": ["alarms"]}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    hook["id"].as_str().unwrap().to_string()
}

/// Two instances, the first running every stage (it started alone).
async fn holder_and_other(url: &str, config: &str) -> (Server, Server) {
    let env = [("MISTGATE_DATABASE_URL", url), ("MISTGATE_SECRET_KEY", KEY)];
    let holder = Server::start_env(Some(config), &env);
    support::eventually(
        std::time::Duration::from_secs(30),
        "the first instance running the stages",
        || async {
            (holds(&holder, "correlation").await && holds(&holder, "delivery").await).then_some(())
        },
    )
    .await;
    let other = Server::start_env(Some(config), &env);
    (holder, other)
}

#[tokio::test]
async fn commands_on_an_instance_without_the_correlation_stage_reach_its_holder() {
    let cluster = pgtest::Cluster::start();
    let (holder, other) = holder_and_other(&cluster.database(), &config()).await;
    assert!(!holds(&other, "correlation").await);
    let body = down_alarm(1_765_000_000.0);
    let sig = signed(SECRET, &body);
    assert_eq!(
        other.ingest("hq", body, &support::headers(&sig)).await.0,
        200
    );
    holder.correlated().await;
    let incidents = other.api_ok("/incidents").await;
    let id = incidents["items"][0]["id"].as_i64().expect("an incident");
    // Acknowledged through the instance that does not run the stage.
    let (status, acked, text) = other
        .call(
            "POST",
            &format!("/incidents/{id}/ack"),
            Some(json!({"by": "noc"}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(acked["state"], "acknowledged");
    let seen = holder.api_ok(&format!("/incidents/{id}")).await;
    assert_eq!(seen["state"], "acknowledged", "{seen}");
    // A refusal comes back as the holder gave it.
    let (status, _, text) = other.call("POST", "/incidents/999999/resolve", None).await;
    assert_eq!(status, 404, "{text}");
    // Silences added on one are the holder's, listed by both.
    let (status, silence, text) = other
        .call(
            "POST",
            "/silences",
            Some(
                json!({"site_id": "s1", "ends_at": "2099-01-01T00:00:00Z", "comment": "works"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    for server in [&holder, &other] {
        let list = server.api_ok("/silences").await;
        assert_eq!(list["items"][0]["id"], silence["id"], "{list}");
    }
    let (status, _, text) = holder
        .call("DELETE", &format!("/silences/{}", silence["id"]), None)
        .await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(other.api_ok("/silences").await["items"], json!([]));
}

#[tokio::test]
async fn a_webhook_created_on_one_instance_is_served_by_the_instance_running_delivery() {
    let cluster = pgtest::Cluster::start();
    let rx = support::receiver::Receiver::start().await;
    let config = format!(
        "{}\n[delivery]\nallow_private_targets = true\naggregation_window = \"100ms\"\n",
        config()
    );
    let (holder, other) = holder_and_other(&cluster.database(), &config).await;
    // Created on the instance that does not run the delivery stage.
    let id = alarms_webhook(&other, &rx).await;
    let created = std::time::Instant::now();
    // Alarms posted from then on, until one arrives: how long the change took to reach
    // the delivery stage on the other instance.
    let mut t = 1_765_000_000.0;
    let reached = support::eventually(
        std::time::Duration::from_secs(10),
        "an alarm at the new webhook",
        || {
            t += 1.0;
            let body = down_alarm(t);
            let holder = &holder;
            let rx = &rx;
            async move {
                let sig = signed(SECRET, &body);
                assert_eq!(
                    holder.ingest("hq", body, &support::headers(&sig)).await.0,
                    200
                );
                (!rx.received().is_empty()).then(|| created.elapsed())
            }
        },
    )
    .await;
    eprintln!("a webhook created on one instance received events after {reached:?}");
    let got = rx.received();
    assert_eq!(
        got[0].header("x-mistgate-delivery-id").map(str::len),
        Some(36),
        "a delivery id"
    );
    // Deleted on the holder: gone for the other too.
    let id = id.as_str();
    let (status, _, text) = holder
        .call("DELETE", &format!("/orgs/o1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(other.api(&format!("/orgs/o1/webhooks/{id}")).await.0, 404);
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
    let body = down_alarm(1_765_000_000.0);
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

/// GET `path` of `server` with `cookie`: the status, and the page.
async fn page(
    browser: &reqwest::Client,
    server: &Server,
    path: &str,
    cookie: &str,
) -> (u16, String) {
    let r = browser
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_console_session_is_good_on_every_instance_and_ends_on_all() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let one = instance(&url);
    let two = instance(&url);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = one.console_sign_in(&browser).await;
    // A load balancer sends the next request elsewhere: still signed in.
    let (status, html) = page(&browser, &two, "/ui/", &cookie).await;
    assert_eq!(status, 200, "{html}");
    // The API takes the session on the other instance too, and its CSRF token.
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_string();
    let r = browser
        .get(two.url("/api/v1/incidents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The database keeps the session's hash and a sealed record, never the id or CSRF.
    let session_id = cookie.trim_start_matches("mistgate_session=");
    let stored = cluster.psql_at(
        &url,
        "SELECT encode(hash, 'hex') || ' ' || record FROM console_sessions",
    );
    assert!(
        !stored.contains(session_id) && !stored.contains(&csrf),
        "{stored}"
    );
    // Signed out on the second: signed out on the first too.
    let r = browser
        .post(two.url("/ui/logout"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (status, _) = page(&browser, &one, "/ui/", &cookie).await;
    assert_eq!(status, 303, "the session ended on every instance");
}

/// Whether `server` sends to `destination` now, from its metrics.
async fn sends_to(server: &Server, destination: &str) -> bool {
    let metrics = server.text("/metrics", false).await;
    let line = format!("mistgate_delivery_lane_held{{destination=\"{destination}\"}} 1");
    metrics.lines().any(|l| l == line)
}

#[tokio::test]
async fn a_stopped_instance_gives_its_lanes_back_at_once() {
    let cluster = pgtest::Cluster::start();
    let rx = support::receiver::Receiver::start().await;
    // Refused for now: the batch stays pending, the destination keeps work.
    rx.respond_with(|_| Some(support::receiver::Answer::status(503)));
    let config = format!(
        "{}\n[delivery]\nallow_private_targets = true\naggregation_window = \"100ms\"\nretry_delays = [\"1s\"]\n",
        config()
    );
    let (one, two) = holder_and_other(&cluster.database(), &config).await;
    let mut servers = [one, two];
    let hook = alarms_webhook(&servers[0], &rx).await;
    let body = down_alarm(1_765_000_000.0);
    let sig = signed(SECRET, &body);
    assert_eq!(
        servers[0]
            .ingest("hq", body, &support::headers(&sig))
            .await
            .0,
        200
    );
    // Whichever instance took the destination's claim sends to it, the other does not.
    let sender = support::eventually(
        std::time::Duration::from_secs(20),
        "one instance sending to the webhook",
        || async {
            support::only_one(&[
                sends_to(&servers[0], &hook).await,
                sends_to(&servers[1], &hook).await,
            ])
        },
    )
    .await;
    // A graceful stop hands the lane over well before its claim would run out (6 s).
    let status = servers[sender].terminate(std::time::Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let stopped = std::time::Instant::now();
    let other = &servers[1 - sender];
    support::eventually(
        std::time::Duration::from_secs(4),
        "the other instance sending to the webhook within 4 s of the stop",
        || async { sends_to(other, &hook).await.then_some(()) },
    )
    .await;
    eprintln!("lane handed over {:?} after SIGTERM", stopped.elapsed());
    rx.respond_with(|_| Some(support::receiver::Answer::status(200)));
    rx.wait_until(
        std::time::Duration::from_secs(20),
        "the alarm delivered",
        |r| {
            r.iter()
                .any(|r| r.raw_events().iter().any(|e| e.contains("device_down")))
        },
    )
    .await;
}
