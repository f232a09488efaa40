//! `baseline-server`: the floor that mistgate's ingest throughput is measured against.
//!
//! It runs the same stack as `mistgate serve` (a multi-threaded tokio runtime, axum 0.8,
//! hyper underneath) and accepts `POST /ingest/{source}` the same way, reading the whole
//! body, but then does nothing with it: no signature check, no JSON parsing, no storage.
//! It answers `200 {"ok":true}` at once.
//!
//! `bench/ingest.sh` loads this server and mistgate with the same bodies, the same load
//! generator and the same connection count in one run, on the same machine, and prints
//! mistgate's figures as a ratio of this one's. The absolute numbers depend on the host
//! (and here the load generator shares the cores with the server); the ratio says how
//! much verifying, parsing and durably storing a webhook costs on top of merely
//! receiving it over HTTP.
//!
//! Usage: `baseline-server [--listen ADDR]` (default `127.0.0.1:0`, a free port). Once
//! bound it prints exactly one line on stdout, `listening on http://<bound addr>`, which
//! the script waits for to learn the port.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use bytes::Bytes;

/// Largest body accepted, as in mistgate's default.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

const USAGE: &str = "usage: baseline-server [--listen ADDR]   (default 127.0.0.1:0)";

fn parse_args() -> Result<SocketAddr, String> {
    let mut listen = String::from("127.0.0.1:0");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            listen = args.next().ok_or("--listen needs a value")?;
        } else if let Some(value) = arg.strip_prefix("--listen=") {
            listen = value.to_owned();
        } else if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    listen
        .parse()
        .map_err(|e| format!("--listen {listen:?}: {e}"))
}

/// Takes the body whole (like mistgate, which must have every byte to check the HMAC)
/// and throws it away.
async fn ingest(Path(_source): Path<String>, body: Bytes) -> impl IntoResponse {
    std::hint::black_box(body.len());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

fn app() -> Router {
    Router::new()
        .route("/ingest/{source}", post(ingest))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{bound}")?;
        out.flush()?;
    }
    axum::serve(listener, app()).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("baseline-server: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline-server: {e}");
            ExitCode::FAILURE
        }
    }
}
