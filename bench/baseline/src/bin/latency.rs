//! `latency`: how long an alarm takes to come out of mistgate, next to one plain HTTP hop.
//!
//! One process holds the client and the receiver, so every time is read from one
//! monotonic clock. It binds the receiver on port 0, writes a mistgate configuration that
//! routes every incident change (`flow = "incident"`) to a Standard Webhooks target at the
//! receiver, starts `mistgate serve` on it (fresh data dir, port 0), and creates a
//! Mist-format webhook subscription for `alarms` with `single_event_per_message` through
//! the API, to the receiver as well.
//!
//! Then, one at a time, it posts `--alarms` `device_down` alarms, each for a new AP (a
//! down alarm opens a device-down incident at once when no flap hold-down is set), and
//! waits until the receiver holds both the incident's `opened` message and the Mist
//! delivery of the alarm before it posts the next. Right after each alarm, the same
//! client posts the same body straight to the receiver: the baseline, one HTTP hop on
//! the loopback. Reported per path: p50, p99 and max, in milliseconds, of
//!
//! - mistgate's answer: from the send to the 200 (the alarm is committed);
//! - incident route: from the 200 to the receiver holding `opened`;
//! - Mist subscription: from the 200 to the receiver holding the alarm;
//! - baseline: from the send to the receiver holding the body.
//!
//! Afterwards it reads mistgate's CPU time over a few idle seconds from /proc (a stage
//! that woke itself in a loop would show here).
//!
//! Usage: `latency --mistgate PATH [--alarms N] [--warmup N] [--idle-seconds S]`.
//! The report (Markdown) goes to stdout, progress to stderr.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const USAGE: &str =
    "usage: latency --mistgate PATH [--alarms 200] [--warmup 10] [--idle-seconds 5]";
const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const TOKEN: &str = "latency-bench-token-0123456789abcdef";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Longest wait for one alarm's two deliveries.
const WAIT: Duration = Duration::from_secs(10);

/// Which receiver path a body came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Incident,
    Mist,
    Direct,
}

/// A body the receiver holds: on which path, for which AP, when.
type Arrival = (Via, String, Instant);

struct Args {
    mistgate: String,
    alarms: usize,
    warmup: usize,
    idle_seconds: u64,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        mistgate: String::new(),
        alarms: 200,
        warmup: 10,
        idle_seconds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--mistgate" => out.mistgate = value()?,
            "--alarms" => out.alarms = value()?.parse().map_err(|e| format!("--alarms: {e}"))?,
            "--warmup" => out.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--idle-seconds" => {
                out.idle_seconds = value()?
                    .parse()
                    .map_err(|e| format!("--idle-seconds: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if out.mistgate.is_empty() {
        return Err("--mistgate is required".into());
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latency: {e}");
            ExitCode::from(2)
        }
    }
}

/// The AP of an alarm body or a delivery: the first of `aps` in its first event, or the
/// first device of the incident.
fn ap_of(path: Via, body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mac = match path {
        Via::Incident => {
            if v["change"] != "opened" {
                return None;
            }
            &v["incident"]["devices"][0]
        }
        Via::Mist | Via::Direct => &v["events"][0]["aps"][0],
    };
    mac.as_str().map(str::to_string)
}

async fn receive(
    State(tx): State<mpsc::UnboundedSender<Arrival>>,
    Path(path): Path<String>,
    body: Bytes,
) -> &'static str {
    let at = Instant::now();
    let path = match path.as_str() {
        "incident" => Via::Incident,
        "mist" => Via::Mist,
        _ => Via::Direct,
    };
    if let Some(ap) = ap_of(path, &body) {
        let _ = tx.send((path, ap, at));
    }
    "ok"
}

/// `mistgate serve` as a child, killed when dropped.
struct Mistgate {
    child: Child,
    base: String,
    _dir: TempDir,
}

impl Drop for Mistgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start_mistgate(binary: &str, receiver: &str) -> Result<Mistgate, String> {
    let dir = std::env::temp_dir().join(format!("mistgate-latency-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    let dir = TempDir(dir);
    let config = format!(
        r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true

[targets.bench]
type = "webhook"
url = "{receiver}/incident"
secrets = ["{WHSEC}"]

[[routes]]
name = "every incident"
flow = "incident"
targets = ["bench"]
"#
    );
    let config_path = dir.0.join("mistgate.toml");
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    for (k, _) in std::env::vars() {
        if k.starts_with("MISTGATE_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.0.join("data"))
        .arg("--config")
        .arg(&config_path)
        .env("MISTGATE_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {binary}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = match lines.next() {
        Some(Ok(line)) => line,
        _ => {
            let _ = child.kill();
            return Err("mistgate printed no listening line".into());
        }
    };
    // Keep draining so that mistgate never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let Some(addr) = line.strip_prefix("listening on ") else {
        let _ = child.kill();
        return Err(format!("unexpected first line from mistgate: {line}"));
    };
    let base = match addr.starts_with("http://") {
        true => addr.to_string(),
        false => format!("http://{addr}"),
    };
    Ok(Mistgate {
        base,
        child,
        _dir: dir,
    })
}

fn alarm(ap: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    serde_json::to_vec(&json!({"topic": "alarms", "events": [{
        "id": format!("latency-{ap}"),
        "org_id": ORG,
        "site_id": SITE,
        "site_name": "HQ",
        "type": "device_down",
        "group": "infrastructure",
        "severity": "warn",
        "aps": [ap],
        "hostnames": [format!("ap-{ap}")],
        "count": 1,
        "timestamp": now,
        "last_seen": now,
    }]}))
    .expect("an alarm serialises")
}

/// Waits until the receiver holds `ap` on every path of `want`; returns their times.
async fn arrivals(
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    ap: &str,
    want: &[Via],
) -> Result<Vec<Instant>, String> {
    let mut got: Vec<Option<Instant>> = vec![None; want.len()];
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.iter().any(Option::is_none) {
        let (path, mac, at) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| format!("{ap}: not every delivery arrived within {WAIT:?}: {got:?}"))?
            .ok_or("the receiver stopped")?;
        if mac != ap {
            continue;
        }
        if let Some(i) = want.iter().position(|p| *p == path) {
            got[i].get_or_insert(at);
        }
    }
    Ok(got.into_iter().flatten().collect())
}

#[derive(Default)]
struct Series(Vec<Duration>);

impl Series {
    fn row(&mut self, name: &str, goal: &str) -> String {
        self.0.sort();
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        let rank = |p: f64| {
            let i = ((p * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
            self.0[i - 1]
        };
        format!(
            "| {name} | {} | {} | {} | {} | {goal} |",
            self.0.len(),
            ms(rank(0.50)),
            ms(rank(0.99)),
            ms(*self.0.last().expect("a sample")),
        )
    }
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

async fn run(args: Args) -> Result<(), String> {
    // reqwest is built without a default TLS provider (as mistgate's client is).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let receiver = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = Router::new().route("/{path}", post(receive)).with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mistgate = start_mistgate(&args.mistgate, &receiver)?;
    eprintln!(
        "latency: mistgate at {}, receiver at {receiver}",
        mistgate.base
    );
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let created = client
        .post(format!("{}/api/v1/orgs/{ORG}/webhooks", mistgate.base))
        .header("authorization", format!("Token {TOKEN}"))
        .json(
            &json!({"name": "latency", "url": format!("{receiver}/mist"),
            "topics": ["alarms"], "single_event_per_message": true}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !created.status().is_success() {
        let status = created.status();
        let body = created.text().await.unwrap_or_default();
        return Err(format!("creating the webhook: {status} {body}"));
    }

    let ingest = format!("{}/ingest/default", mistgate.base);
    let direct = format!("{receiver}/direct");
    let mut answer = Series::default();
    let mut incident = Series::default();
    let mut mist = Series::default();
    let mut baseline = Series::default();
    let started = Instant::now();
    for i in 0..args.warmup + args.alarms {
        let ap = format!("5c5b35{:06x}", i + 1);
        let body = Bytes::from(alarm(&ap));
        let sent = Instant::now();
        let response = client
            .post(&ingest)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let ok = Instant::now();
        if response.status() != 200 {
            return Err(format!("ingest answered {}", response.status()));
        }
        let _ = response.bytes().await;
        let got = arrivals(&mut rx, &ap, &[Via::Incident, Via::Mist]).await?;

        let direct_sent = Instant::now();
        let response = client
            .post(&direct)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let _ = response.bytes().await;
        let direct_at = arrivals(&mut rx, &ap, &[Via::Direct]).await?[0];
        if i < args.warmup {
            continue;
        }
        answer.0.push(ok - sent);
        incident.0.push(got[0].saturating_duration_since(ok));
        mist.0.push(got[1].saturating_duration_since(ok));
        baseline.0.push(direct_at - direct_sent);
    }
    let elapsed = started.elapsed();

    // Idle: nothing is posted; a stage that woke itself in a loop would burn CPU here.
    let pid = mistgate.child.id();
    let before = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let idle = cpu_seconds(pid)
        .zip(before)
        .map(|(b, a)| (b - a) / args.idle_seconds as f64 * 100.0);

    println!(
        "{} sequential `device_down` alarms, each for a new AP ({} warm-up alarms not counted), {:.1} s\n",
        args.alarms,
        args.warmup,
        elapsed.as_secs_f64()
    );
    println!("| path | n | p50 ms | p99 ms | max ms | goal |");
    println!("|---|---|---|---|---|---|");
    println!("{}", answer.row("ingest: send → 200", ""));
    println!(
        "{}",
        incident.row(
            "incident route (Standard Webhooks): 200 → `opened` at the receiver",
            "p50 ≤ 5, p99 ≤ 20"
        )
    );
    println!(
        "{}",
        mist.row(
            "Mist subscription, `single_event_per_message`: 200 → alarm at the receiver",
            "p99 ≤ 10"
        )
    );
    println!(
        "{}",
        baseline.row("baseline: same client → same receiver, send → arrival", "")
    );
    match idle {
        Some(pct) => println!(
            "\nmistgate idle afterwards: {pct:.2} % of a core over {} s",
            args.idle_seconds
        ),
        None => println!("\nmistgate idle CPU: /proc not readable"),
    }
    Ok(())
}
