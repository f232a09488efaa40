//! A headless Chromium for the console tests, driven through chromedriver (WebDriver) with
//! fantoccini: Debian's `chromium` and `chromium-driver` (scripts/test.sh installs them).
//!
//! chromedriver starts with `--port=0` and prints the port it took; the browser's console
//! (console.error, uncaught exceptions, CSP violations, failed loads) is read through
//! chromedriver's log command (`POST /session/{id}/se/log`, `{"type": "browser"}`),
//! which returns what was logged since the last read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The accessibility check (returns a list of violations), run in the page.
const A11Y_JS: &str = include_str!("a11y.js");

/// The height every screenshot and check runs at.
pub const HEIGHT: u32 = 900;

/// One chromedriver and the Chromium session it runs; both end when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The browser's main process (chromedriver's `goog:processID`): chromedriver killed
    /// without deleting the session leaves Chromium running, so it is ended by its id.
    chromium: Option<u32>,
    closed: bool,
    _profile: tempfile::TempDir,
}

/// One entry of the browser's log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub level: String,
    pub source: String,
    pub message: String,
}

impl Browser {
    /// A light-mode browser, 1280 × 900.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// With `extra` Chromium arguments (`--force-dark-mode` for a dark system theme).
    pub async fn start_with(extra: &[&str]) -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the console's browser tests need Debian's `chromium` and \
                 `chromium-driver` packages (scripts/test.sh installs them; by hand: \
                 apt-get install chromium chromium-driver)"
            );
        }
        let (driver, port) = start_driver();
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_ready(&webdriver).await;

        let profile = tempfile::tempdir().expect("a temp dir for the browser profile");
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size=1280,{HEIGHT}"),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connected = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(e) => {
                let mut driver = driver;
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("no Chromium session through chromedriver: {e}");
            }
        };
        let chromium = client
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .map(|pid| pid as u32);
        Browser {
            client,
            driver,
            chromium,
            closed: false,
            _profile: profile,
        }
    }

    /// Ends the session (chromedriver quits Chromium) and then chromedriver.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.closed = true;
        }
    }

    /// Opens `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The text of the first element matching `css` (panics when there is none).
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        el.text().await.expect("element text")
    }

    /// Whether an element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
            .is_empty()
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Types `text` into the field matching `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear field");
        el.send_keys(text).await.expect("type into field");
    }

    /// Waits (at most `limit`) until an element matches `css`; whether one did.
    pub async fn wait_for(&self, css: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.has(css).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most `limit`) until the page's path is `path` (query left out).
    pub async fn wait_for_path(&self, path: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.client.current_url().await.expect("current URL");
            if now.path() == path && self.has("body").await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {path}; the browser shows {now}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs `script` (a function body: `return` gives the result) with `args`.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an asynchronous `script`: its last argument is the callback to call with the
    /// result.
    pub async fn run_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// What the browser logged since the last call (every level).
    pub async fn log(&self) -> Vec<LogEntry> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("read the browser log (chromedriver's se/log)");
        entries
            .as_array()
            .unwrap_or_else(|| panic!("the browser log is not a list: {entries}"))
            .iter()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or_default().to_string(),
                source: e["source"].as_str().unwrap_or_default().to_string(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// The errors the browser logged since the last read: `console.error`, uncaught
    /// exceptions, CSP violations, failed requests (level SEVERE).
    pub async fn console_errors(&self) -> Vec<String> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| format!("[{}] {}", e.source, e.message))
            .collect()
    }

    /// The page's accessibility violations (see `a11y.js`).
    pub async fn accessibility(&self) -> Vec<String> {
        let found = self.run(A11Y_JS, vec![]).await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("the accessibility check answered {found}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Sets the window `width` (× `HEIGHT`) and checks that the page's viewport follows.
    pub async fn set_width(&self, width: u32) {
        self.client
            .set_window_size(width, HEIGHT)
            .await
            .expect("set the window size");
        let inner = self.run("return window.innerWidth", vec![]).await;
        assert_eq!(
            inner.as_u64(),
            Some(u64::from(width)),
            "the viewport is {inner} px wide after setting the window to {width}"
        );
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The value of the cookie `name` the browser holds for the page's site.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_string())
    }

    /// The first element matching `css` (panics, naming the page, when there is none).
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path_or_unknown().await),
        }
    }

    async fn path_or_unknown(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "(unknown page)".into(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed
            && let Some(pid) = self.chromium
        {
            // SIGTERM to the browser's main process ends its renderers and helpers too.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver's `POST /session/{id}/se/log` (not part of W3C WebDriver, so not in
/// fantoccini): the browser log's entries since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/se/log"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Starts chromedriver on a port of its choosing (`--port=0`); it and that port, read
/// from the line it prints once it listens.
fn start_driver() -> (Child, u16) {
    let mut child = Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
    let stdout = child.stdout.take().expect("chromedriver stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // "ChromeDriver was started successfully on port 46417."
            if !sent
                && let Some(port) = line
                    .split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
            {
                let _ = tx.send(Ok(port));
                sent = true;
            }
            if !sent {
                seen.push(line);
            }
        }
        if !sent {
            let _ = tx.send(Err(seen.join("\n")));
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(port)) => (child, port),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromedriver did not say which port it listens on: {other:?}");
        }
    }
}

/// Waits (at most 30 s) until chromedriver answers `GET /status` with `ready: true`.
async fn wait_ready(webdriver: &str) {
    let client = super::client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = match client.get(format!("{webdriver}/status")).send().await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if let Some(status) = &ready
            && status["value"]["ready"] == true
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver at {webdriver} not ready within 30 s: {ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
