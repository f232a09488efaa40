//! Shared helpers of the deliver crate's integration tests: a store and an HTTP client
//! to send with, a local HTTP receiver that records requests and answers from a
//! closure, messages built from the Mist samples, a throwaway CA for TLS listeners, and
//! a nats-server with JetStream on a free port. Every helper lives here once.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use correlate::{Change, Incident, IncidentKind, IncidentState};
use deliver::client::{Client, ClientSettings};
use deliver::targets::{Context, EventMessage, IncidentMessage, Message};
use store::{SqliteConfig, SqliteStore};

/// What sends need: a client allowed to reach loopback, and a store in a temp dir.
pub struct Harness {
    pub client: Client,
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A client with a `timeout` per attempt.
    pub fn new(timeout: Duration) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(SqliteConfig::in_data_dir(dir.path())).expect("store");
        let client = Client::new(ClientSettings {
            timeout,
            allow_private_targets: true,
            record_body_bytes: 64 * 1024,
        })
        .expect("client");
        Harness {
            client,
            store,
            _dir: dir,
        }
    }

    /// The context of one attempt of `target`.
    pub fn ctx<'a>(&'a self, target: &'a str, delivery_id: &'a str) -> Context<'a> {
        Context {
            client: &self.client,
            store: &self.store,
            target,
            delivery_id,
            now_us: 1_750_000_000_000_000,
        }
    }
}

/// One HTTP request as a receiver saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);

type Answerer = dyn Fn(&Request) -> Reply + Send + Sync;

/// A local HTTP receiver on a free loopback port: records every request, answers with
/// the closure it was started with.
pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    pub async fn start(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Receiver {
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let answer: Arc<Answerer> = Arc::new(answer);
        let app = axum::Router::new().fallback({
            let requests = requests.clone();
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let requests = requests.clone();
                let answer = answer.clone();
                async move {
                    let request = Request {
                        method,
                        path: uri.path().to_string(),
                        query: uri.query().map(str::to_string),
                        headers,
                        body,
                    };
                    let (status, headers, body) = answer(&request);
                    requests.lock().unwrap().push(request);
                    let mut response = axum::response::Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    response.body(axum::body::Body::from(body)).unwrap()
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// A JSON answer.
pub fn json_reply(status: u16, body: &str) -> Reply {
    (
        status,
        vec![("Content-Type".into(), "application/json".into())],
        body.into(),
    )
}

/// `shared/` beside the repository.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The first event of a Mist sample file (`alarms__device-restarted_lukeroberson.json`),
/// as the routing stage hands it to targets: normalised fields from `mist::normalize`,
/// names from the event itself, `id` the log id it would have.
pub fn sample_event(file: &str, id: i64) -> Message {
    let path = shared_dir().join("mist/samples").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("sample is JSON");
    let topic = mist::Topic::parse(file.split_once("__").expect("topic__name.json").0);
    let raw = match value.get("events") {
        Some(events) => events[0].clone(),
        None => value,
    };
    let n = mist::normalize(&topic, &raw);
    let text = |k: &str| raw.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let received_at = 1_750_000_000_000_000;
    Message::Event(EventMessage {
        id,
        topic: topic.clone(),
        org_id: n.org_id,
        site_id: n.site_id,
        event_type: n.event_type,
        mac: n.mac,
        severity: n.severity,
        time: n.time.map_or(received_at, |t| t.unix_micros),
        received_at,
        source: "default".into(),
        site_name: text("site_name"),
        device_name: text("device_name")
            .or_else(|| text("ap_name"))
            .or_else(|| text("hostname")),
        raw,
    })
}

/// The samples used for the encoders' snapshots: one event of each common topic.
pub const SNAPSHOT_SAMPLES: &[&str] = &[
    "alarms__device-restarted_lukeroberson.json",
    "device-events__sw-disconnected_lukeroberson.json",
    "device-updowns__spec-example_mistapi-go.json",
    "audits__add-webhook_lukeroberson.json",
];

/// A switch-down incident at a change (`opened`, `resolved`, ...).
pub fn incident(change: &str) -> Message {
    let change = Change::parse(change).expect("a change name");
    let resolved = change == Change::Resolved;
    Message::Incident(IncidentMessage {
        change_id: if resolved { 12 } else { 11 },
        change,
        at: if resolved {
            1_749_081_513_000_000
        } else {
            1_749_080_793_000_000
        },
        incident: Incident {
            id: 5,
            key: "device_down:6748cb9b-8e01-4c2a-9e44-0c4e8b6a2f10:60c78d112233".into(),
            kind: IncidentKind::DeviceDown,
            state: if resolved {
                IncidentState::Resolved
            } else {
                IncidentState::Open
            },
            severity: mist::Severity::Critical,
            alarm_type: Some("SW_DISCONNECTED".into()),
            org_id: Some("6748cb9b-8e01-4c2a-9e44-0c4e8b6a2f10".into()),
            site_id: Some("2f3c1a0e-55d4-4e8b-9a6f-7d2b1c0e9a44".into()),
            devices: vec!["60c78d112233".into()],
            opened_at: 1_749_080_793_000_000,
            last_seen_at: 1_749_080_793_000_000,
            resolved_at: resolved.then_some(1_749_081_513_000_000),
            summary: "Switch sw-core-1 is down".into(),
            suppressed: false,
            silenced: false,
            caused_by: None,
            timeline: Vec::new(),
            event_ids: Vec::new(),
            device_names: Default::default(),
        },
        site_name: Some("Ausgrid".into()),
        device_names: [("60c78d112233".to_string(), "sw-core-1".to_string())].into(),
        link: Some("https://mistgate.example.net/api/v1/incidents/5".into()),
    })
}

mod tls;
#[allow(unused_imports)]
pub use tls::TestCa;

mod nats_server;
#[allow(unused_imports)]
pub use nats_server::NatsServer;

/// A loopback address nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The messages every encoder is snapshot-tested with: one sample event of each common
/// topic (named by topic), then an incident opened and resolved.
pub fn snapshot_messages() -> Vec<(String, Message)> {
    let mut all: Vec<(String, Message)> = SNAPSHOT_SAMPLES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.split_once("__").unwrap().0.to_string();
            (name, sample_event(f, 100 + i as i64))
        })
        .collect();
    all.push(("incident-opened".into(), incident("opened")));
    all.push(("incident-resolved".into(), incident("resolved")));
    all
}

/// A request as a snapshot shows it: method and URL, headers, the body (pretty when JSON).
pub fn shown_request(request: &deliver::client::HttpRequest) -> String {
    let headers: String = request
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\n"))
        .collect();
    let body = match serde_json::from_slice::<serde_json::Value>(&request.body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap(),
        Err(_) => String::from_utf8_lossy(&request.body).into_owned(),
    };
    format!("{} {}\n{headers}\n{body}", request.method, request.url)
}

/// Answers to put in place of a fake service's own, for [`Receiver::start`]: the service
/// judges every request (checking it as the real one documents); when it accepts one
/// (2xx), the oldest pushed answer is given instead, if any is waiting (an outage, a rate
/// limit, an answer lost after the service acted).
#[derive(Clone, Default)]
pub struct Overrides(Arc<Mutex<std::collections::VecDeque<Reply>>>);

impl Overrides {
    /// Answers the next accepted request with `reply`.
    pub fn push(&self, reply: Reply) {
        self.0.lock().unwrap().push_back(reply);
    }

    /// The answerer: `service`, overridden.
    pub fn over(
        &self,
        service: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
        let queue = self.0.clone();
        move |request| {
            let judged = service(request);
            if !(200..300).contains(&judged.0) {
                return judged;
            }
            queue.lock().unwrap().pop_front().unwrap_or(judged)
        }
    }
}
