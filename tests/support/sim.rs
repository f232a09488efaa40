//! `mistgate simulate --mist-api 127.0.0.1:0`: the simulated Mist cloud as a child
//! process, its address read from the first line it prints, and calls to its API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The API token every simulated cloud of the tests accepts.
pub const SIM_TOKEN: &str = "sim-api-token-0123456789";

/// A running simulated cloud.
pub struct Sim {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The simulated org's id.
    pub org_id: String,
    /// Its site ids, in order.
    pub site_ids: Vec<String>,
    pub client: reqwest::Client,
    _stdout: mpsc::Receiver<String>,
}

/// An answer: status, headers and body (JSON, or `Null` when empty).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Sim {
    /// Starts `mistgate simulate --mist-api 127.0.0.1:0 --api-token SIM_TOKEN ARGS`.
    pub async fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mistgate"))
            .args([
                "simulate",
                "--mist-api",
                "127.0.0.1:0",
                "--api-token",
                SIM_TOKEN,
            ])
            .args(args)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mistgate simulate");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the simulator did not print its address within 60 s");
        let base = line
            .strip_prefix("mist-api listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        let mut sim = Sim {
            child,
            base,
            org_id: String::new(),
            site_ids: Vec::new(),
            client: super::client(),
            _stdout: rx,
        };
        // From the simulator's own status, so that no API call is counted before the test's.
        let status = sim.status().await;
        sim.org_id = status["org_id"].as_str().expect("org_id").to_string();
        sim.site_ids = status["site_ids"]
            .as_array()
            .expect("site_ids")
            .iter()
            .map(|s| s.as_str().expect("site id").to_string())
            .collect();
        sim
    }

    /// Calls the API with `token` (none: no `Authorization` header).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("call the simulated cloud");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: {status}, not JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Calls the API with the right token.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.call_as(Some(SIM_TOKEN), method, path, body).await
    }

    /// GET with the right token.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// GET that must answer 200; its body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.body
    }

    /// `/__sim/status`: messages recorded, whether the plan ended, history sizes.
    pub async fn status(&self) -> Value {
        self.call_as(None, Method::GET, "/__sim/status", None)
            .await
            .body
    }

    /// `/__sim/requests`: calls per operation id.
    pub async fn requests(&self) -> Value {
        self.call_as(None, Method::GET, "/__sim/requests", None)
            .await
            .body
    }

    /// What the simulated cloud calls site `site`.
    pub async fn site_name(&self, site: &str) -> String {
        self.get_ok(&format!("/api/v1/sites/{site}")).await["name"]
            .as_str()
            .expect("a site name")
            .to_string()
    }

    /// The MAC and name of the first AP of site `site` in the org's inventory.
    pub async fn first_ap(&self, site: &str) -> (String, String) {
        let inventory = self
            .get_ok(&format!(
                "/api/v1/orgs/{}/inventory?site_id={site}&type=ap",
                self.org_id
            ))
            .await;
        let text = |field: &str| inventory[0][field].as_str().expect(field).to_string();
        (text("mac"), text("name"))
    }

    /// Waits until every message of the plan has been recorded (a plan with an end).
    pub async fn settled(&self) -> Value {
        super::eventually(
            Duration::from_secs(30),
            "the simulator's plan to end",
            || async {
                let s = self.status().await;
                s["plan_finished"].as_bool().unwrap_or(false).then_some(s)
            },
        )
        .await
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
