//! A local webhook receiver for the delivery tests: records every request and answers
//! from a script (status, headers, delay), 200 once the script is used up.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The raw text of each event of a Mist envelope, exactly as sent.
    pub fn raw_events(&self) -> Vec<String> {
        raw_events(&self.body)
            .into_iter()
            .map(|(raw, _)| raw)
            .collect()
    }
}

/// The raw text of each event of a Mist envelope, exactly as in `body`, with its value.
pub fn raw_events(body: &[u8]) -> Vec<(String, serde_json::Value)> {
    use serde_json::value::RawValue;
    let envelope: std::collections::BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(body).expect("a Mist envelope");
    let events: Vec<&RawValue> =
        serde_json::from_str(envelope["events"].get()).expect("an events array");
    events
        .iter()
        .map(|e| (e.get().to_string(), serde_json::from_str(e.get()).unwrap()))
        .collect()
}

/// A planned answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }

    pub fn body(mut self, body: &str) -> Answer {
        self.body = body.into();
        self
    }
}

type Responder = dyn Fn(&Received) -> Option<Answer> + Send + Sync;

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
    responder: Mutex<Option<Arc<Responder>>>,
    changed: Notify,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Receiver {
    /// Starts on a free loopback port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::on(listener)
    }

    /// Starts on a listener the test bound.
    pub fn on(listener: tokio::net::TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        Receiver::serve(listener, addr)
    }

    /// Serves the recording app on `listener` (plain TCP or TLS).
    fn serve<L>(listener: L, addr: SocketAddr) -> Receiver
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let state = Arc::new(State::default());
        let app = axum::Router::new().fallback({
            let state = state.clone();
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(state, method, uri, headers, body).await }
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answers the next requests with `answers`, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    /// Answers with `f` when it returns one (before the script).
    pub fn respond_with(&self, f: impl Fn(&Received) -> Option<Answer> + Send + Sync + 'static) {
        *self.state.responder.lock().unwrap() = Some(Arc::new(f));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) until `done` holds for what was received; returns it.
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let result = tokio::time::timeout(limit, async {
            loop {
                let changed = self.state.changed.notified();
                {
                    let received = self.state.received.lock().unwrap();
                    if done(&received) {
                        return received.clone();
                    }
                }
                changed.await;
            }
        })
        .await;
        match result {
            Ok(received) => received,
            Err(_) => panic!(
                "waited {limit:?} for {what}; received {} requests: {:#?}",
                self.received().len(),
                self.received()
                    .iter()
                    .map(|r| (
                        r.path.clone(),
                        String::from_utf8_lossy(&r.body).into_owned()
                    ))
                    .collect::<Vec<_>>()
            ),
        }
    }
}

async fn handle(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
    };
    let responder = state.responder.lock().unwrap().clone();
    let answer = responder
        .and_then(|f| f(&received))
        .or_else(|| state.script.lock().unwrap().pop_front())
        .unwrap_or_else(|| Answer::status(200).body("ok"));
    state.received.lock().unwrap().push(received);
    state.changed.notify_waiters();
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        answer.body.clone(),
    )
        .into_response();
    for (name, value) in &answer.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// The HMAC of `body` with `secret` as Python's `hmac` module computes it (`sha256` or
/// `sha1`), lowercase hex: an implementation nobody here wrote.
pub fn python_hmac(secret: &str, body: &[u8], digest: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import hmac, hashlib, sys; \
             print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), getattr(hashlib, sys.argv[2])).hexdigest())",
        )
        .arg(secret)
        .arg(digest)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Accepts TLS connections with a certificate of a throwaway CA made for the test (no
/// client trusts it, so only a client that does not verify certificates gets through).
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TlsListener {
    /// Makes the CA and a certificate for 127.0.0.1 with `openssl` in `dir`.
    pub async fn bind(dir: &std::path::Path) -> TlsListener {
        TlsListener {
            tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            acceptor: super::tls::TestCa::new(dir).acceptor,
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses the certificate fails the handshake: wait for the next.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl Receiver {
    /// Starts an HTTPS receiver with a self-signed certificate.
    pub async fn start_tls(dir: &std::path::Path) -> Receiver {
        let listener = TlsListener::bind(dir).await;
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        Receiver::serve(listener, addr)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }
}
