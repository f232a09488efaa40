//! `deliver-sink`: the receiver that `bench/deliver.sh` points mistgate's webhooks at.
//!
//! It is meant to cost as little as possible per request: it reads the whole body,
//! counts the request, its bytes and the elements of its top-level `events` array (one
//! pass of serde_json's skipping parser, no allocation per event), and answers
//! `200 {"ok":true}` at once. The same sink then receives the baseline's requests
//! (`deliver-client`), so whatever it costs is paid by both sides of the comparison.
//!
//! Every request is counted per path too (each webhook of the benchmark has its own path),
//! so the script can check that each subscription received every event exactly once.
//!
//! Routes:
//!
//! - `POST <any path>`: a delivery. Counted, kept when `--dump` was given, answered 200.
//! - `GET /count`: `{"requests","events","bytes","bad","first_at_us","last_at_us",
//!   "t10_at_us","t90_at_us","paths":{"/p":{"requests","events"}}}`; times are unix
//!   microseconds of the arrival of the first and last body, and of the bodies that took
//!   the event count past 10 % and 90 % of its current total (for a rate without the
//!   start and the tail; 0 when none); `bad` counts bodies that were not
//!   `{"events":[...]}` objects.
//! - `GET /events`: the `events` figure alone, as plain text.
//! - `GET /wait?events=N&timeout_ms=T`: answers once the sink has at least N events, or
//!   after T ms (default 60000), with the `events` figure as plain text: the script waits
//!   with one request instead of polling.
//! - `POST /_sink/reset`: zero the counters and forget the kept bodies.
//! - `POST /_sink/dump`: write the kept bodies to the `--dump` file (see below).
//!
//! Usage: `deliver-sink [--listen ADDR] [--dump FILE]`. Once bound it prints exactly one
//! line on stdout, `listening on http://<bound addr>`.
//!
//! With `--dump FILE` every body is kept in memory (a reference to the buffer hyper read
//! it into, no copy) and `POST /_sink/dump` writes them to FILE, in arrival order: first
//! one JSON line `{"headers":[[name,value],...]}` with the headers of the first request
//! (without `host` and `content-length`), then per request a line `<path> <length>`
//! followed by the body's bytes and a newline. `deliver-client` posts exactly these
//! bodies again, with those headers; the script checks the events in them.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::watch;

/// Largest body accepted (mistgate's default ingest limit; deliveries are far smaller).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

const USAGE: &str = "usage: deliver-sink [--listen ADDR] [--dump FILE]   (default 127.0.0.1:0)";

struct Args {
    listen: SocketAddr,
    dump: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = String::from("127.0.0.1:0");
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs a value")?,
            "--dump" => dump = Some(PathBuf::from(args.next().ok_or("--dump needs a value")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => {
                if let Some(value) = arg.strip_prefix("--listen=") {
                    listen = value.to_owned();
                } else if let Some(value) = arg.strip_prefix("--dump=") {
                    dump = Some(PathBuf::from(value));
                } else {
                    return Err(format!("unexpected argument {arg:?}"));
                }
            }
        }
    }
    let listen = listen
        .parse()
        .map_err(|e| format!("--listen {listen:?}: {e}"))?;
    Ok(Args { listen, dump })
}

/// Only the length of `events` is wanted: `IgnoredAny` skips each element without
/// building it, and a `Vec` of a zero-sized type never allocates.
#[derive(Deserialize)]
struct Envelope {
    events: Vec<IgnoredAny>,
}

#[derive(Default)]
struct PathCount {
    requests: u64,
    events: u64,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    events: u64,
    bytes: u64,
    bad: u64,
    first_at_us: i64,
    last_at_us: i64,
    /// (arrival, events so far) per body, in arrival order.
    arrivals: Vec<(i64, u64)>,
    paths: BTreeMap<String, PathCount>,
    first_headers: Option<Vec<(String, String)>>,
    kept: Vec<(String, Bytes)>,
}

struct Sink {
    counts: Mutex<Counts>,
    /// The events counter, for `/wait`.
    events: watch::Sender<u64>,
    dump: Option<PathBuf>,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Any POST that is not a control route: a delivery.
async fn deliver(
    State(sink): State<Arc<Sink>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"error":"POST only"}"#.into(),
        );
    }
    let at = now_us();
    let events = serde_json::from_slice::<Envelope>(&body)
        .ok()
        .map(|e| e.events.len() as u64);
    {
        let mut c = sink.counts.lock().expect("counts lock");
        c.requests += 1;
        c.bytes += body.len() as u64;
        match events {
            Some(n) => c.events += n,
            None => c.bad += 1,
        }
        if c.first_at_us == 0 {
            c.first_at_us = at;
        }
        c.last_at_us = c.last_at_us.max(at);
        let so_far = c.events;
        c.arrivals.push((at, so_far));
        if events.is_some() {
            sink.events.send_replace(c.events);
        }
        let path = c.paths.entry(uri.path().to_owned()).or_default();
        path.requests += 1;
        path.events += events.unwrap_or(0);
        if sink.dump.is_some() {
            if c.first_headers.is_none() {
                c.first_headers = Some(
                    headers
                        .iter()
                        .filter(|(n, _)| *n != header::HOST && *n != header::CONTENT_LENGTH)
                        .map(|(n, v)| {
                            (
                                n.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                );
            }
            c.kept.push((uri.path().to_owned(), body));
        }
    }
    json_response(StatusCode::OK, r#"{"ok":true}"#.into())
}

/// When the running event count first reached `percent` % of `total` (0 when never).
fn passed(arrivals: &[(i64, u64)], total: u64, percent: u64) -> i64 {
    let want = (total * percent).div_ceil(100).max(1);
    let i = arrivals.partition_point(|&(_, n)| n < want);
    arrivals.get(i).map_or(0, |&(at, _)| at)
}

async fn count(State(sink): State<Arc<Sink>>) -> Response {
    let c = sink.counts.lock().expect("counts lock");
    let paths: serde_json::Map<String, serde_json::Value> = c
        .paths
        .iter()
        .map(|(p, n)| {
            (
                p.clone(),
                serde_json::json!({"requests": n.requests, "events": n.events}),
            )
        })
        .collect();
    let body = serde_json::json!({
        "requests": c.requests,
        "events": c.events,
        "bytes": c.bytes,
        "bad": c.bad,
        "first_at_us": c.first_at_us,
        "last_at_us": c.last_at_us,
        "t10_at_us": passed(&c.arrivals, c.events, 10),
        "t90_at_us": passed(&c.arrivals, c.events, 90),
        "paths": paths,
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn events(State(sink): State<Arc<Sink>>) -> String {
    sink.counts.lock().expect("counts lock").events.to_string()
}

#[derive(Deserialize)]
struct WaitFor {
    events: u64,
    timeout_ms: Option<u64>,
}

async fn wait(State(sink): State<Arc<Sink>>, Query(want): Query<WaitFor>) -> String {
    let mut events = sink.events.subscribe();
    let limit = Duration::from_millis(want.timeout_ms.unwrap_or(60_000));
    let _ = tokio::time::timeout(limit, events.wait_for(|&n| n >= want.events)).await;
    let n = *events.borrow();
    n.to_string()
}

async fn reset(State(sink): State<Arc<Sink>>) -> Response {
    let mut c = sink.counts.lock().expect("counts lock");
    *c = Counts::default();
    sink.events.send_replace(0);
    drop(c);
    json_response(StatusCode::OK, r#"{"ok":true}"#.into())
}

async fn dump(State(sink): State<Arc<Sink>>) -> Response {
    let Some(file) = sink.dump.clone() else {
        return json_response(
            StatusCode::CONFLICT,
            r#"{"error":"started without --dump FILE"}"#.into(),
        );
    };
    let (headers, kept) = {
        let c = sink.counts.lock().expect("counts lock");
        (c.first_headers.clone().unwrap_or_default(), c.kept.clone())
    };
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        serde_json::to_writer(&mut out, &serde_json::json!({ "headers": headers }))?;
        out.write_all(b"\n")?;
        for (path, body) in &kept {
            writeln!(out, "{path} {}", body.len())?;
            out.write_all(body)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(kept.len())
    })
    .await;
    match written {
        Ok(Ok(n)) => json_response(StatusCode::OK, format!(r#"{{"bodies":{n}}}"#)),
        Ok(Err(e)) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"error": e.to_string()}).to_string(),
        ),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"error": e.to_string()}).to_string(),
        ),
    }
}

fn app(sink: Arc<Sink>) -> Router {
    Router::new()
        .route("/count", get(count))
        .route("/events", get(events))
        .route("/wait", get(wait))
        .route("/_sink/reset", post(reset))
        .route("/_sink/dump", post(dump))
        .fallback(deliver)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(sink)
}

async fn run(args: Args) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let bound = listener.local_addr()?;
    let sink = Arc::new(Sink {
        counts: Mutex::new(Counts::default()),
        events: watch::Sender::new(0),
        dump: args.dump,
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{bound}")?;
        out.flush()?;
    }
    axum::serve(listener, app(sink)).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("deliver-sink: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deliver-sink: {e}");
            ExitCode::FAILURE
        }
    }
}
