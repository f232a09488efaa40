//! The HTTP part: the token, paging, 429, and Mist's error bodies.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A failed call, naming it (method and path) and what Mist answered.
#[derive(Debug, thiserror::Error)]
pub enum MistError {
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
    #[error("{call}: {source}")]
    Http {
        call: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call}: Mist answered {status}: {detail}")]
    Status {
        call: String,
        status: u16,
        detail: String,
    },
    #[error("{call}: the token's rate limit was reached (429) and stayed reached")]
    RateLimited { call: String },
    #[error("{call}: the answer is not what Mist documents: {detail}")]
    Shape { call: String, detail: String },
}

impl MistError {
    /// The HTTP status Mist answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            MistError::Status { status, .. } => Some(*status),
            MistError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// A Mist API client for one cloud (`https://api.mist.com`, `https://api.eu.mist.com`, or
/// a simulated one) and one token.
#[derive(Clone)]
pub struct Client {
    base: Url,
    token: String,
    http: reqwest::Client,
    retries: u32,
    pause: Duration,
    /// Calls sent (retries included): what Mist counts against the token's budget.
    calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The same calls per minute over the last hour.
    window: std::sync::Arc<std::sync::Mutex<crate::budget::Window>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &"<hidden>")
            .finish()
    }
}

/// Minutes since the epoch, by the system clock.
fn minute_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// The most items one list page asks for.
const PAGE: usize = 100;

impl Client {
    /// A client of `api_url` (its origin; `/api/v1` is added) with `token`.
    pub fn new(api_url: &str, token: &str) -> Result<Client, MistError> {
        let mut base = Url::parse(api_url.trim_end_matches('/'))
            .map_err(|_| MistError::BadUrl(api_url.into()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(MistError::BadUrl(api_url.into()));
        }
        base.set_path("/api/v1/");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("mistgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| MistError::Http {
                call: "building the HTTP client".into(),
                source,
            })?;
        Ok(Client {
            base,
            token: token.to_string(),
            http,
            retries: 3,
            pause: Duration::from_secs(10),
            calls: Default::default(),
            window: Default::default(),
        })
    }

    /// How often a 429 is retried, and the pause before the first retry (doubled each
    /// time). Mist documents no `Retry-After`; one sent is used instead.
    pub fn with_retries(mut self, retries: u32, pause: Duration) -> Client {
        self.retries = retries;
        self.pause = pause;
        self
    }

    /// How many calls this client (and its clones) sent.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many calls this client (and its clones) sent in the last hour, against Mist's
    /// [`crate::budget::CALLS_PER_HOUR`].
    pub fn calls_last_hour(&self) -> u64 {
        self.window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_hour(minute_now())
    }

    /// The API's base, `…/api/v1/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("a relative API path joins the base")
    }

    /// Sends one call; the answer's status, headers and body, after 429 retries.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(reqwest::header::HeaderMap, Value), MistError> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.send_url(method, url, body).await
    }

    /// Sends one call to `url` (on this client's host); after 429 retries.
    pub(crate) async fn send_url(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(reqwest::header::HeaderMap, Value), MistError> {
        let call = format!("{method} {}", url.path());
        let mut pause = self.pause;
        for attempt in 0..=self.retries {
            let url = url.clone();
            let mut request = self
                .http
                .request(method.clone(), url)
                .header("authorization", format!("Token {}", self.token));
            if let Some(b) = body {
                request = request.json(b);
            }
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.window
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(minute_now());
            let response = request.send().await.map_err(|source| MistError::Http {
                call: call.clone(),
                source,
            })?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                if attempt == self.retries {
                    return Err(MistError::RateLimited { call });
                }
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map_or(pause, Duration::from_secs);
                tracing::warn!(call = %call, wait = ?wait, "Mist's rate limit for this token is reached; waiting");
                tokio::time::sleep(wait).await;
                pause *= 2;
                continue;
            }
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(|source| MistError::Http {
                call: call.clone(),
                source,
            })?;
            let value: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            };
            if !status.is_success() {
                let detail = value
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| value.get("id").map(|id| format!("not found: {id}")))
                    .unwrap_or_else(|| value.to_string());
                return Err(MistError::Status {
                    call,
                    status: status.as_u16(),
                    detail,
                });
            }
            return Ok((headers, value));
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// One call, its answer as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, MistError> {
        let call = format!("{method} /api/v1/{}", path.trim_start_matches('/'));
        let (_, value) = self.send(method, path, query, body).await?;
        serde_json::from_value(value).map_err(|e| MistError::Shape {
            call,
            detail: e.to_string(),
        })
    }

    /// Every item of a paged list: `page` goes up until `X-Page-Total` items came, or a
    /// short page.
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, MistError> {
        let mut all = Vec::new();
        for page in 1.. {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            q.push(("page", page.to_string()));
            let (headers, value) = self.send(Method::GET, path, &q, None).await?;
            let items: Vec<T> = serde_json::from_value(value).map_err(|e| MistError::Shape {
                call: format!("GET /api/v1/{path}"),
                detail: e.to_string(),
            })?;
            let got = items.len();
            all.extend(items);
            let total = headers
                .get("x-page-total")
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
            let done = match total {
                Some(t) => all.len() >= t || got == 0,
                None => got < PAGE,
            };
            if done {
                break;
            }
        }
        Ok(all)
    }
}
