//! Test support for the end-to-end tests: start the real `mistgate` binary on a free
//! loopback port, talk HTTP to it, sign bodies, load the Mist samples. Every helper
//! lives here once.

#![allow(dead_code)]

pub mod browser;
pub mod receiver;
pub mod sim;
pub mod sse;

#[path = "../../crates/deliver/tests/support/nats_server.rs"]
pub mod nats_server;

#[path = "../../crates/deliver/tests/support/tls.rs"]
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The API token every test server runs with.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A running `mistgate serve` with its own data dir.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    config: Option<PathBuf>,
    /// More arguments for `serve` (e.g. `--demo`), kept for restarts.
    serve_args: Vec<String>,
    /// Where its stderr goes, when the test reads its log (`start_logged`).
    log: Option<PathBuf>,
    /// Its stdout after the listening line.
    stdout: Option<mpsc::Receiver<String>>,
    /// More environment variables, kept for restarts (a test may change them between).
    pub envs: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts with no config file (source `default`, unsigned).
    pub fn start() -> Server {
        Server::start_with(None)
    }

    /// Starts with the given config file contents (TOML), if any.
    pub fn start_with(config: Option<&str>) -> Server {
        Server::start_with_args(config, &[])
    }

    /// Starts with a config file (if any) and more arguments for `serve`.
    pub fn start_with_args(config: Option<&str>, serve_args: &[&str]) -> Server {
        Server::start_full(config, serve_args, None, false)
    }

    /// As `start_with_args`, with its stderr kept for [`Server::log`] instead of shown.
    pub fn start_logged(config: Option<&str>, serve_args: &[&str]) -> Server {
        Server::start_full(config, serve_args, None, true)
    }

    /// Starts with a config file (if any) and more environment variables.
    pub fn start_env(config: Option<&str>, envs: &[(&str, &str)]) -> Server {
        let mut server = Server::start_unlaunched(config, &[], None, false);
        server.envs = envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        server.launch();
        server
    }

    /// Starts with its data dir at `data_dir` (on a filesystem the test made, say).
    pub fn start_in(data_dir: PathBuf, config: Option<&str>) -> Server {
        Server::start_full(config, &[], Some(data_dir), false)
    }

    fn start_full(
        config: Option<&str>,
        serve_args: &[&str],
        data_dir: Option<PathBuf>,
        logged: bool,
    ) -> Server {
        let mut server = Server::start_unlaunched(config, serve_args, data_dir, logged);
        server.launch();
        server
    }

    fn start_unlaunched(
        config: Option<&str>,
        serve_args: &[&str],
        data_dir: Option<PathBuf>,
        logged: bool,
    ) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config.map(|text| {
            let path = dir.path().join("mistgate.toml");
            std::fs::write(&path, text).expect("write config");
            path
        });
        let data_dir = data_dir.unwrap_or_else(|| dir.path().join("data"));
        Server {
            child: None,
            base: String::new(),
            data_dir,
            config,
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
            log: logged.then(|| dir.path().join("stderr.log")),
            stdout: None,
            envs: Vec::new(),
            _dir: dir,
            client: client(),
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    pub fn launch(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mistgate"));
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("MISTGATE_API_TOKEN", TOKEN)
            // Warnings only, unless `MISTGATE_TEST_LOG` asks for more (a filter such as
            // `info,deliver=debug`) while looking into a test.
            .env(
                "RUST_LOG",
                std::env::var("MISTGATE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(&self.serve_args);
        if let Some(log) = &self.log {
            let file = std::fs::File::options()
                .create(true)
                .append(true)
                .open(log)
                .expect("open the log file");
            cmd.stderr(file);
        }
        let mut child = cmd.spawn().expect("spawn mistgate");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining so the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("mistgate did not print its listening line within 60 s");
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        self.base = addr.to_string();
        self.child = Some(child);
        self.stdout = Some(rx);
    }

    /// The next line the server prints on stdout after its listening line (at most
    /// `limit` away).
    pub fn stdout_line(&self, limit: Duration) -> String {
        self.stdout
            .as_ref()
            .expect("the server runs")
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("no line on mistgate's stdout within {limit:?}"))
    }

    /// What the server logged so far (started with `start_logged`).
    pub fn log(&self) -> String {
        let path = self.log.as_ref().expect("started with start_logged");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Sends the signal `name` (`HUP`, `TERM`...) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("the server runs")
            .id()
            .to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
        assert!(sent.expect("run kill").success(), "kill -{name} {pid}");
    }

    /// Kills the process with SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill mistgate");
            child.wait().expect("reap mistgate");
        }
    }

    /// Sends SIGTERM and waits at most `limit` for the process to exit; its exit status.
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server runs");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success(), "kill -TERM {pid}");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("mistgate did not exit within {limit:?} of SIGTERM"))
            .expect("reap mistgate")
    }

    /// Starts the binary again on the same data dir (on a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs `body` to `/ingest/{source}` with a JSON content type and `headers`.
    pub async fn ingest(
        &self,
        source: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(&format!("/ingest/{source}")))
            .header("content-type", "application/json")
            .body(body.into());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().await.expect("POST ingest")).await
    }

    /// GET under `/api/v1` with the token; returns status and JSON.
    pub async fn api(&self, path_and_query: &str) -> (u16, Value) {
        let req = self
            .client
            .get(self.url(&format!("/api/v1{path_and_query}")))
            .header("authorization", format!("Token {TOKEN}"));
        answer(req.send().await.expect("GET api")).await
    }

    /// Any method under `/api/v1` with the token and an optional JSON body; returns the
    /// status, the JSON answer (null when not JSON) and the answer's text.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> (u16, Value, String) {
        let mut req = self
            .client
            .request(
                method.parse().expect("an HTTP method"),
                self.url(&format!("/api/v1{path}")),
            )
            .header("authorization", format!("Token {TOKEN}"));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let response = req.send().await.expect("API request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("API answer");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    /// GET under `/api/v1` expecting 200; returns the JSON.
    pub async fn api_ok(&self, path_and_query: &str) -> Value {
        let (status, body) = self.api(path_and_query).await;
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        body
    }

    /// Every event of the log, oldest first, following the cursor to the end.
    pub async fn all_events(&self, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("/events?order=asc&limit=1000{query}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = self.api_ok(&q).await;
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// A console page's HTML, signed in with the test token (a fresh session).
    pub async fn console_page(&self, path: &str) -> String {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let cookie = self.console_sign_in(&browser).await;
        let page = browser
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET page");
        assert_eq!(page.status(), 200, "{path}");
        page.text().await.expect("page text")
    }

    /// Signs in to the console with the test token; the session cookie (`name=value`).
    pub async fn console_sign_in(&self, browser: &reqwest::Client) -> String {
        let r = browser
            .post(self.url("/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={TOKEN}&next=%2Fui%2F"))
            .send()
            .await
            .expect("sign in");
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("mistgate_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    /// GET `path` and return the body as text, with the token when `token` is true.
    pub async fn text(&self, path: &str, token: bool) -> String {
        let mut req = self.client.get(self.url(path));
        if token {
            req = req.header("authorization", format!("Token {TOKEN}"));
        }
        req.send().await.expect("GET").text().await.expect("body")
    }

    pub async fn stats(&self) -> Value {
        self.api_ok("/stats").await
    }

    /// Waits (up to 30 s) until the correlation stage has handled every event stored so
    /// far of the topics it reads (its cursor moves only over those).
    pub async fn correlated(&self) {
        let mut last = 0;
        for topic in [
            "alarms",
            "device-events",
            "device-updowns",
            "mxedge-events",
            "occupancy-alerts",
        ] {
            let newest = self
                .api_ok(&format!("/events?order=desc&limit=1&topic={topic}"))
                .await;
            last = last.max(newest["items"][0]["id"].as_i64().unwrap_or(0));
        }
        self.correlated_up_to(last).await;
    }

    /// Waits (up to 30 s) until the correlation stage's cursor has reached `event_id`.
    pub async fn correlated_up_to(&self, event_id: i64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let stats = self.stats().await;
            if stats["stages"]["correlate"]["cursor"].as_i64().unwrap_or(0) >= event_id {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "stage stuck: {stats}");
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client for the tests (the ring TLS provider installed once per process).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Status and JSON body of a response (the body must be JSON).
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("response body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, json)
}

/// The two signature headers Mist would send for `body`.
pub fn signed(secret: &str, body: &[u8]) -> [(&'static str, String); 2] {
    [
        (
            mist::SIGNATURE_V2_HEADER,
            mist::sign_v2(secret.as_bytes(), body),
        ),
        (
            mist::SIGNATURE_V1_HEADER,
            mist::sign_v1(secret.as_bytes(), body),
        ),
    ]
}

/// Borrowed header pairs, as `Server::ingest` takes them.
pub fn headers<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The shared Mist data, beside the repository.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// One sample file of `shared/mist/samples`, as it would be posted.
pub struct Sample {
    pub file: String,
    /// The topic named by the file name (before `__`).
    pub topic: String,
    /// The body to post: the file itself when it is an envelope, else the file wrapped.
    pub body: Vec<u8>,
    /// The events as the file holds them.
    pub events: Vec<Value>,
}

/// Every sample, sorted by file name.
pub fn samples() -> Vec<Sample> {
    let dir = shared_dir().join("mist/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("SOURCES")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            let topic = file
                .split_once("__")
                .expect("topic__name.json")
                .0
                .to_string();
            let bytes = std::fs::read(&path).expect("read sample");
            let value: Value = serde_json::from_slice(&bytes).expect("sample is JSON");
            let is_envelope = value.get("topic").is_some() && value.get("events").is_some();
            let (body, events) = if is_envelope {
                (bytes, value["events"].as_array().unwrap().clone())
            } else {
                let wrapped = mist::wrap_events(&mist::Topic::parse(&topic), &bytes)
                    .expect("wrap bare event");
                let events = match value {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                (wrapped, events)
            };
            Sample {
                file,
                topic,
                body,
                events,
            }
        })
        .collect()
}

/// A small valid alarms envelope with a distinguishing marker.
pub fn alarm_body(marker: &str) -> Vec<u8> {
    format!(
        r#"{{"topic":"alarms","events":[{{"id":"{marker}","org_id":"2818e386-8dec-2562-9ede-5b8a0fbbdc71","site_id":"4ac1dcf4-9d8b-7211-65c4-057819f0862b","type":"device_down","severity":"warn","aps":["5c5b350e55c8"],"hostnames":["ap-lobby"],"count":1,"last_seen":1749998077,"timestamp":1749998077.5}}]}}"#
    )
    .into_bytes()
}

/// Sends raw bytes as an HTTP/1.1 request to the server and returns the status and the
/// body (for requests a normal client would not send: chunked bodies, lying headers).
pub fn raw_http(base: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may answer (413) before the whole body is written; that is fine.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// An alarms envelope with one alarm of `kind` for `aps` (named `ap-<mac>`) at `t`
/// (epoch seconds) in `org`/`site` ("HQ"), with `extra` fields merged in.
pub fn site_alarm(
    org: &str,
    site: &str,
    kind: &str,
    aps: &[&str],
    t: f64,
    extra: Value,
) -> Vec<u8> {
    let mut event = serde_json::json!({
        "id": format!("{kind}-{t}"),
        "org_id": org,
        "site_id": site,
        "site_name": "HQ",
        "type": kind,
        "group": "infrastructure",
        "severity": "warn",
        "aps": aps,
        "hostnames": aps.iter().map(|m| format!("ap-{m}")).collect::<Vec<_>>(),
        "count": aps.len(),
        "timestamp": t,
        "last_seen": t,
    });
    if let (Value::Object(e), Value::Object(x)) = (&mut event, extra) {
        e.extend(x);
    }
    serde_json::to_vec(&serde_json::json!({"topic": "alarms", "events": [event]})).unwrap()
}

/// The index of the one instance (of several on one database) a probe holds for, when it
/// holds for exactly one: the one running a stage, sending to a destination.
pub fn only_one(probes: &[bool]) -> Option<usize> {
    let mut holding = probes.iter().enumerate().filter(|(_, p)| **p);
    match (holding.next(), holding.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Runs `mistgate serve` on `data_dir` expecting it to refuse to start: waits (at most
/// 30 s) for it to exit and returns its exit status, what it printed on stdout and on
/// stderr.
pub fn serve_refused(data_dir: &Path) -> (std::process::ExitStatus, String, String) {
    serve_refused_with(data_dir, &[])
}

/// As `serve_refused`, with more arguments for `serve`.
pub fn serve_refused_with(
    data_dir: &Path,
    args: &[&std::ffi::OsStr],
) -> (std::process::ExitStatus, String, String) {
    serve_refused_env(data_dir, args, &[])
}

/// As `serve_refused_with`, with more environment variables.
pub fn serve_refused_env(
    data_dir: &Path,
    args: &[&std::ffi::OsStr],
    envs: &[(&str, &str)],
) -> (std::process::ExitStatus, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("MISTGATE_API_TOKEN", TOKEN)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mistgate");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("mistgate serve did not exit within 30 s")
        .expect("wait for mistgate");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asks `probe` until it answers `Some` (at most `limit`): for state the server reaches on
/// its own time (delivery results written after the answer, a stream filling). This
/// polls, it does not wait a fixed time: the first answer that satisfies returns, and the
/// pause between asks only leaves the two cores to the server.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {limit:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
