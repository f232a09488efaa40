//! `deliver-client`: the floor that mistgate's delivery throughput is measured against.
//!
//! A plain loop of the HTTP client mistgate delivers with: reqwest 0.13 on rustls with the
//! ring provider, built with the same settings as `deliver::client::Client::new`
//! (whole-request and connect timeouts, no redirects, at most 16 idle connections per
//! host, `TCP_NODELAY`), on a multi-threaded tokio runtime with mimalloc, as in
//! `mistgate serve`. mistgate's client also has a resolver that refuses forbidden
//! addresses; for an address literal such as `127.0.0.1` reqwest resolves nothing, so it
//! is left out here.
//!
//! It reads a file of requests written by `deliver-sink --dump` (the bodies mistgate
//! delivered, in order, with the headers of the first one) and posts them to the same
//! sink, each to its original path, with `--concurrency` loops that each have one
//! request in flight at a time, as mistgate's lanes do with `max_in_flight = 1`. Nothing
//! else happens per request: the headers are built once, the body is shared, nothing is
//! signed or recorded. It reads each answer whole and counts non-2xx answers.
//!
//! Usage:
//!   deliver-client --url http://HOST:PORT --bodies FILE --concurrency C
//!                  [--requests N] [--timeout-ms MS]
//!
//! `--requests` defaults to the number of bodies in the file (more cycles through them).
//! Prints one JSON line on stdout:
//!   {"requests":N,"ok":N,"non2xx":N,"errors":N,"bytes":N,"elapsed_us":N,"requests_per_s":X,
//!    "concurrency":C}
//! Exit status: 0 when every request got a 2xx answer, 1 otherwise, 2 on bad arguments.

use std::io::{BufRead, Read};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: deliver-client --url http://HOST:PORT --bodies FILE --concurrency C \
                     [--requests N] [--timeout-ms MS]";

struct Args {
    url: String,
    bodies: String,
    concurrency: usize,
    requests: Option<usize>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut bodies = None;
    let mut concurrency = None;
    let mut requests = None;
    // mistgate's default `[delivery] timeout`.
    let mut timeout = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    let number = |name: &str, v: Option<String>| -> Result<usize, String> {
        let v = v.ok_or(format!("{name} needs a value"))?;
        v.parse::<usize>().map_err(|e| format!("{name} {v:?}: {e}"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = Some(args.next().ok_or("--url needs a value")?),
            "--bodies" => bodies = Some(args.next().ok_or("--bodies needs a value")?),
            "--concurrency" => concurrency = Some(number("--concurrency", args.next())?),
            "--requests" => requests = Some(number("--requests", args.next())?),
            "--timeout-ms" => {
                timeout = Duration::from_millis(number("--timeout-ms", args.next())? as u64)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let concurrency = concurrency.ok_or("--concurrency is required")?;
    if concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if timeout.is_zero() {
        return Err("--timeout-ms must be above 0".into());
    }
    Ok(Args {
        url: url
            .ok_or("--url is required")?
            .trim_end_matches('/')
            .to_owned(),
        bodies: bodies.ok_or("--bodies is required")?,
        concurrency,
        requests,
        timeout,
    })
}

/// The headers and the (path, body) list of a `deliver-sink --dump` file.
fn read_dump(file: &str) -> Result<(HeaderMap, Vec<(String, Bytes)>), String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{file}: {e}"))?;
    let mut r = std::io::BufReader::new(f);
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("{file}: {e}"))?;
    #[derive(serde::Deserialize)]
    struct First {
        headers: Vec<(String, String)>,
    }
    let first: First =
        serde_json::from_str(&line).map_err(|e| format!("{file}: first line: {e}"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in first.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("{file}: header {name:?}: {e}"))?;
        let value =
            HeaderValue::from_str(&value).map_err(|e| format!("{file}: header {name}: {e}"))?;
        headers.append(name, value);
    }
    let mut requests = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| format!("{file}: {e}"))? == 0 {
            break;
        }
        let (path, len) = line
            .trim_end()
            .rsplit_once(' ')
            .ok_or_else(|| format!("{file}: bad record line {line:?}"))?;
        let len: usize = len
            .parse()
            .map_err(|e| format!("{file}: bad length in {line:?}: {e}"))?;
        let mut body = vec![0; len + 1];
        r.read_exact(&mut body)
            .map_err(|e| format!("{file}: truncated body: {e}"))?;
        if body.pop() != Some(b'\n') {
            return Err(format!("{file}: a body is not followed by a newline"));
        }
        requests.push((path.to_owned(), Bytes::from(body)));
    }
    if requests.is_empty() {
        return Err(format!("{file}: no bodies"));
    }
    Ok((headers, requests))
}

/// The same builder settings as mistgate's `deliver::client::Client::new` (certificate
/// checks on, as for a webhook with `verify_cert: true`, Mist's default).
fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(16)
        .tcp_nodelay(true)
        .tls_danger_accept_invalid_certs(false)
        .build()
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    non2xx: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
}

async fn run(args: Args) -> Result<bool, String> {
    let (headers, requests) = read_dump(&args.bodies)?;
    let total = args.requests.unwrap_or(requests.len());
    let urls: Vec<String> = requests
        .iter()
        .map(|(path, _)| format!("{}{path}", args.url))
        .collect();
    let http = client(args.timeout).map_err(|e| format!("building the client: {e}"))?;
    let shared = Arc::new((requests, urls, headers));
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Tally::default());
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let started = Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, shared, next, tally, first_error) = (
            http.clone(),
            shared.clone(),
            next.clone(),
            tally.clone(),
            first_error.clone(),
        );
        loops.spawn(async move {
            let (requests, urls, headers) = &*shared;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let k = i % requests.len();
                let body = requests[k].1.clone();
                let len = body.len() as u64;
                let sent = http
                    .post(&urls[k])
                    .headers(headers.clone())
                    .body(body)
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status.is_success() => Ok(true),
                            Ok(_) => Ok(false),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(true) => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        tally.bytes.fetch_add(len, Ordering::Relaxed);
                    }
                    Ok(false) => {
                        tally.non2xx.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().expect("error lock").get_or_insert(e);
                    }
                }
            }
        });
    }
    while let Some(done) = loops.join_next().await {
        done.map_err(|e| format!("a loop failed: {e}"))?;
    }
    let elapsed = started.elapsed();
    let ok = tally.ok.load(Ordering::Relaxed);
    let non2xx = tally.non2xx.load(Ordering::Relaxed);
    let errors = tally.errors.load(Ordering::Relaxed);
    if let Some(e) = first_error.lock().expect("error lock").take() {
        eprintln!("deliver-client: {errors} requests failed; the first: {e}");
    }
    let line = serde_json::json!({
        "requests": total,
        "ok": ok,
        "non2xx": non2xx,
        "errors": errors,
        "bytes": tally.bytes.load(Ordering::Relaxed),
        "elapsed_us": elapsed.as_micros() as u64,
        "requests_per_s": total as f64 / elapsed.as_secs_f64(),
        "concurrency": args.concurrency,
    });
    println!("{line}");
    Ok(non2xx == 0 && errors == 0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("deliver-client: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // One TLS crypto provider for the whole process, as mistgate installs it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("deliver-client: {e}");
            ExitCode::FAILURE
        }
    }
}
