//! Three `mistgate serve` instances on one PostgreSQL database, clients spreading requests
//! over them round robin; the instance holding every stage is killed (SIGKILL) under load
//! and started again later. What must hold: every acknowledged event stored exactly once;
//! incidents identical to those of one instance given the same events in the same order;
//! every webhook batch and routed message delivered at least once, never by two instances
//! at the same time (the receiver holds each request and checks that no two requests
//! with one delivery id overlap); each stage of the killed instance taken over within 10 s.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::receiver::{Answer, Received, Receiver};
use support::{Server, signed};

const SECRET: &str = "cluster-test-secret-0123456789";
const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const ORG: &str = "6748cfa6-4e12-11e6-9188-0242ac110007";
const SITE: &str = "978c48e6-6ef6-11e6-8bbf-02e208b2d34f";

/// How long the receiver holds every request: two requests with one delivery id that
/// arrive closer than this were in flight at the same time.
const HOLD: Duration = Duration::from_millis(40);

/// The stages a lease moves, with the name each has in `mistgate_stage_lease`.
const STAGES: [&str; 4] = ["correlation", "delivery", "routing", "pruner"];

fn config(rx: &Receiver) -> String {
    format!(
        r#"
[[sources]]
name = "hq"
secrets = ["{SECRET}"]

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
timeout = "3s"
retry_delays = ["200ms", "400ms"]
retry_min_delay = "50ms"
breaker_failures = 1000

[targets.audit]
type = "webhook"
url = "{route}"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[routes]]
name = "every incident change"
flow = "incident"
targets = ["audit"]
"#,
        route = rx.url("/route")
    )
}

fn start(config: &str, url: &str) -> Server {
    Server::start_env(
        Some(config),
        &[("MISTGATE_DATABASE_URL", url), ("MISTGATE_SECRET_KEY", KEY)],
    )
}

/// The stages `server` holds the lease of, from its metrics.
async fn held(server: &Server) -> BTreeSet<&'static str> {
    let metrics = server.text("/metrics", false).await;
    STAGES
        .into_iter()
        .filter(|stage| {
            metrics
                .lines()
                .any(|l| l == format!("mistgate_stage_lease{{stage=\"{stage}\"}} 1"))
        })
        .collect()
}

/// Which of `lanes` (destinations) `server` sends to, from its metrics.
async fn sends_to(server: &Server, lanes: &[String]) -> Vec<String> {
    let metrics = server.text("/metrics", false).await;
    lanes
        .iter()
        .filter(|d| {
            metrics
                .lines()
                .any(|l| l == format!("mistgate_delivery_lane_held{{destination=\"{d}\"}} 1"))
        })
        .cloned()
        .collect()
}

/// Event `i` of the traffic: 24 APs going down and up in turn, so that incidents open,
/// resolve and open again; `marker` makes each event its own.
fn event(i: usize) -> (String, Vec<u8>) {
    let ap = i % 24;
    let round = i / 24;
    let kind = if round.is_multiple_of(2) {
        "AP_DISCONNECTED"
    } else {
        "AP_CONNECTED"
    };
    let marker = format!("m-{i:06}");
    let body = json!({"topic": "device-updowns", "events": [{
        "type": kind,
        "mac": format!("5c5b35ae{ap:04x}"),
        "ap_name": format!("ap-{ap}"),
        "org_id": ORG,
        "site_id": SITE,
        "timestamp": 1_765_000_000 + i as i64,
        "marker": marker,
    }]});
    (marker, serde_json::to_vec(&body).unwrap())
}

fn marker_of(raw: &Value) -> Option<String> {
    raw["marker"].as_str().map(str::to_string)
}

/// Every event `server` has stored from `hq`, oldest first.
async fn stored(server: &Server) -> Vec<Value> {
    server.all_events("&source=hq").await
}

/// Every incident as a comparable line (what it is about, where it stands), sorted.
async fn incidents(server: &Server) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query = match &next {
            Some(cursor) => format!("/incidents?limit=500&cursor={cursor}"),
            None => "/incidents?limit=500".to_string(),
        };
        let page = server.api_ok(&query).await;
        for i in page["items"].as_array().unwrap() {
            out.push(format!(
                "{} {} {} {} opened {} last seen {} resolved {} devices {} suppressed {}",
                i["kind"],
                i["key"],
                i["alarm_type"],
                i["state"],
                i["opened_at"],
                i["last_seen_at"],
                i["resolved_at"],
                i["devices"],
                i["suppressed"]
            ));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    out.sort();
    out
}

/// The markers of every event the webhook received.
fn hook_markers(received: &[Received]) -> BTreeSet<String> {
    received
        .iter()
        .filter(|r| r.path == "/hook")
        .flat_map(|r| r.raw_events())
        .filter_map(|raw| {
            serde_json::from_str::<Value>(&raw)
                .ok()
                .and_then(|v| marker_of(&v))
        })
        .collect()
}

/// Requests of one delivery id that were at the receiver at the same time.
fn overlaps(received: &[Received], header: &str) -> Vec<String> {
    let mut by_id: BTreeMap<&str, Vec<Instant>> = BTreeMap::new();
    for r in received {
        if let Some(id) = r.header(header) {
            by_id.entry(id).or_default().push(r.at);
        }
    }
    let mut found = Vec::new();
    for (id, mut times) in by_id {
        times.sort();
        for pair in times.windows(2) {
            if pair[1] - pair[0] < HOLD {
                found.push(format!("{id}: {:?} apart", pair[1] - pair[0]));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_survive_the_kill_of_the_one_running_every_stage() {
    let cluster = pgtest::Cluster::start();
    let url = cluster.database();
    let rx = Receiver::start().await;
    rx.respond_with(|_| Some(Answer::status(200).delay(HOLD)));
    let config = config(&rx);

    // The first instance takes every lease; the two others start behind it.
    let first = start(&config, &url);
    support::eventually(
        Duration::from_secs(30),
        "the first instance holding every stage",
        || async { (held(&first).await.len() == STAGES.len()).then_some(()) },
    )
    .await;
    let (status, hook, text) = first
        .call(
            "POST",
            &format!("/orgs/{ORG}/webhooks"),
            Some(json!({"url": rx.url("/hook"), "topics": ["device-updowns"]}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let hook = hook["id"].as_str().unwrap().to_string();
    // One event first, so that the first instance also sends to the webhook and the
    // routing target (their lanes' claims are taken by whoever finds work first).
    let (marker, body) = event(1_000_000);
    let sig = signed(SECRET, &body);
    assert_eq!(
        first.ingest("hq", body, &support::headers(&sig)).await.0,
        200
    );
    let lanes = [hook.clone(), "target:audit".to_string()];
    support::eventually(
        Duration::from_secs(30),
        "the first instance sending to both",
        || async { (sends_to(&first, &lanes).await.len() == 2).then_some(()) },
    )
    .await;
    let mut servers = [first, start(&config, &url), start(&config, &url)];
    // Where the clients post: each instance's ingest URL (a restart may change it).
    let urls = Arc::new(std::sync::RwLock::new(
        servers
            .iter()
            .map(|s| s.url("/ingest/hq"))
            .collect::<Vec<_>>(),
    ));

    // Load: four clients, each posting the next event to the next instance in turn; an
    // event whose instance does not answer 200 goes to the next one, as a load balancer
    // retries. Every acknowledged marker is kept.
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::Mutex::new(BTreeSet::from([marker])));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (urls, next, stop, acked) = (urls.clone(), next.clone(), stop.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            let client = support::client();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (marker, body) = event(i);
                let sig = signed(SECRET, &body);
                for attempt in 0..6 {
                    let url = urls.read().unwrap()[(i + attempt) % 3].clone();
                    let mut request = client.post(url).body(body.clone());
                    for (name, value) in support::headers(&sig) {
                        request = request.header(name, value);
                    }
                    if let Ok(r) = request.send().await
                        && r.status() == 200
                    {
                        acked.lock().unwrap().insert(marker);
                        break;
                    }
                }
            }
        }));
    }
    let acked_now = || acked.lock().unwrap().len();
    support::eventually(
        Duration::from_secs(60),
        "300 events acknowledged",
        || async { (acked_now() >= 300).then_some(()) },
    )
    .await;

    // SIGKILL the instance holding every stage, under load.
    servers[0].kill();
    let killed = Instant::now();
    let mut took = BTreeMap::new();
    while took.len() < STAGES.len() + lanes.len() {
        for s in &servers[1..] {
            for stage in held(s).await {
                took.entry(stage.to_string())
                    .or_insert_with(|| killed.elapsed());
            }
            for lane in sends_to(s, &lanes).await {
                took.entry(format!("lane {lane}"))
                    .or_insert_with(|| killed.elapsed());
            }
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "not every stage and lane taken over within 10 s: {took:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("takeover after SIGKILL: {took:?}");
    let at_kill = acked_now();
    support::eventually(
        Duration::from_secs(60),
        "more events acknowledged after the kill",
        || async { (acked_now() >= at_kill + 300).then_some(()) },
    )
    .await;
    // The webhook's lane moves too: what was acknowledged while the killed instance is
    // down reaches the receiver before it comes back.
    let so_far = acked.lock().unwrap().clone();
    rx.wait_until(
        Duration::from_secs(30),
        "the events acknowledged after the kill at the webhook",
        |r| {
            let seen = hook_markers(r);
            so_far.iter().all(|m| seen.contains(m))
        },
    )
    .await;
    eprintln!(
        "every event acknowledged {:?} after the kill delivered by the survivors",
        killed.elapsed()
    );
    servers[0].restart();
    urls.write().unwrap()[0] = servers[0].url("/ingest/hq");
    let at_restart = acked_now();
    support::eventually(
        Duration::from_secs(60),
        "more events acknowledged after the restart",
        || async { (acked_now() >= at_restart + 200).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Every acknowledged event stored exactly once (a client that gave up on an instance
    // may have had its event stored anyway: stored at most once, then).
    let events = stored(&servers[1]).await;
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *count
            .entry(marker_of(&e["raw"]).expect("a marker"))
            .or_default() += 1;
    }
    let missing: Vec<&String> = acked.iter().filter(|m| !count.contains_key(*m)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    let twice: Vec<(&String, &usize)> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");

    // Everything delivered: the webhook got every stored event, and nothing is pending.
    let got = rx
        .wait_until(
            Duration::from_secs(60),
            "every stored event at the webhook",
            |r| {
                let seen = hook_markers(r);
                count.keys().all(|m| seen.contains(m))
            },
        )
        .await;
    for s in servers.iter() {
        s.correlated().await;
    }
    let routed = got.iter().filter(|r| r.path == "/route").count();
    assert!(routed > 0, "no incident change was routed");
    let hook_overlaps = overlaps(
        &got.iter()
            .filter(|r| r.path == "/hook")
            .cloned()
            .collect::<Vec<_>>(),
        "x-mistgate-delivery-id",
    );
    assert!(
        hook_overlaps.is_empty(),
        "sent twice at once: {hook_overlaps:?}"
    );
    let route_overlaps = overlaps(
        &got.iter()
            .filter(|r| r.path == "/route")
            .cloned()
            .collect::<Vec<_>>(),
        "webhook-id",
    );
    assert!(
        route_overlaps.is_empty(),
        "routed twice at once: {route_overlaps:?}"
    );
    // Every batch delivered: none left pending or dead.
    let left = |state: &'static str| {
        let path = format!("/orgs/{ORG}/webhooks/{hook}/deliveries?state={state}");
        let server = &servers[2];
        async move {
            server.api_ok(&path).await["items"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    support::eventually(Duration::from_secs(30), "no batch pending", || async {
        (left("pending").await == 0).then_some(())
    })
    .await;
    assert_eq!(left("dead").await, 0);
    eprintln!(
        "acknowledged {}, stored {}, webhook requests {}, routed {routed}",
        acked.len(),
        events.len(),
        got.iter().filter(|r| r.path == "/hook").count(),
    );

    // Incidents: the same as one instance makes of the same events in the same order.
    let cluster_incidents = incidents(&servers[1]).await;
    assert_eq!(cluster_incidents, incidents(&servers[2]).await);
    let single = Server::start_with(Some(&format!(
        "[[sources]]\nname = \"hq\"\nsecrets = [\"{SECRET}\"]\n"
    )));
    for e in &events {
        let raw = serde_json::to_string(&e["raw"]).unwrap();
        let body = format!(r#"{{"topic":"device-updowns","events":[{raw}]}}"#).into_bytes();
        let sig = signed(SECRET, &body);
        let (status, answer) = single.ingest("hq", body, &support::headers(&sig)).await;
        assert_eq!(status, 200, "{answer}");
    }
    single.correlated().await;
    let alone = incidents(&single).await;
    assert!(!alone.is_empty());
    assert_eq!(
        cluster_incidents, alone,
        "incidents differ from one instance's"
    );
}
