//! The HTTP side of a delivery attempt: the clients, the SSRF-guarded resolver, the
//! request each webhook type needs, and what the answer was.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::headers::request_headers;
use crate::schedule::{Outcome, parse_retry_after};
use crate::ssrf::{TargetError, address_kind, check_target};
use crate::subscription::{Oauth2Grant, Subscription, WebhookType};

/// The HTTP settings of deliveries.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Whole-request timeout of one attempt (Mist gives receivers 30 s).
    pub timeout: Duration,
    /// Whether targets on loopback, private and link-local addresses may be reached.
    pub allow_private_targets: bool,
    /// How much of a request or response body an attempt record keeps.
    pub record_body_bytes: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: Duration::from_secs(10),
            allow_private_targets: false,
            record_body_bytes: 4_096,
        }
    }
}

/// A target refused by the SSRF guard: reported by the resolver, found again in the
/// error chain so that the attempt fails for good instead of being retried.
#[derive(Debug)]
struct Refused(TargetError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused by the SSRF guard: {}", self.0)
    }
}

impl StdError for Refused {}

/// A name lookup that failed.
#[derive(Debug)]
struct LookupFailed(String);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DNS lookup failed: {}", self.0)
    }
}

impl StdError for LookupFailed {}

/// Resolves with the system resolver, then refuses the whole answer if any address is
/// one deliveries may not reach. The connection uses exactly the addresses checked, so a
/// DNS answer that changes between check and connect (rebinding) cannot slip past.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> Box<dyn StdError + Send + Sync> {
                    Box::new(LookupFailed(format!("{host}: {e}")))
                })?
                .collect();
            if addrs.is_empty() {
                let failed = LookupFailed(format!("{host}: no addresses"));
                return Err(Box::new(failed) as Box<dyn StdError + Send + Sync>);
            }
            for a in &addrs {
                if let Some(kind) = address_kind(a.ip())
                    && !(allow_private && kind.allowed_when_private_allowed())
                {
                    let refused = Refused(TargetError::Forbidden { addr: a.ip(), kind });
                    return Err(Box::new(refused) as Box<dyn StdError + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// What one attempt saw, for the attempt record.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    pub request_headers: String,
    pub request_body: String,
    pub response_headers: String,
    pub response_body: String,
}

/// Most bytes of an answer a routing target may read.
pub const ANSWER_LIMIT: usize = 1 << 20;

/// One HTTP request a routing target wants sent.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Whether the receiver's certificate is checked.
    pub verify_cert: bool,
    /// Header names whose values are hidden in delivery results (`Authorization` always is).
    pub redact: Vec<String>,
}

impl HttpRequest {
    /// A JSON POST to `url` with certificate checks on.
    pub fn post_json(url: &str, body: impl Into<Bytes>) -> HttpRequest {
        HttpRequest {
            method: reqwest::Method::POST,
            url: url.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            verify_cert: true,
            redact: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// An answer, with its body (up to [`ANSWER_LIMIT`]).
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

/// A cached OAuth2 access token.
struct Token {
    value: String,
    expires: Instant,
}

/// Sends delivery requests.
pub struct Client {
    verified: reqwest::Client,
    unverified: reqwest::Client,
    settings: ClientSettings,
    tokens: Mutex<HashMap<String, Token>>,
}

impl Client {
    /// Builds the two HTTP clients (certificate checks on and off), both behind the guard.
    pub fn new(settings: ClientSettings) -> Result<Client, reqwest::Error> {
        let build = |verify: bool| {
            reqwest::Client::builder()
                .timeout(settings.timeout)
                .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(GuardedResolver {
                    allow_private: settings.allow_private_targets,
                }))
                .pool_max_idle_per_host(16)
                .tcp_nodelay(true)
                .tls_danger_accept_invalid_certs(!verify)
                .build()
        };
        Ok(Client {
            verified: build(true)?,
            unverified: build(false)?,
            settings,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    fn http(&self, sub: &Subscription) -> &reqwest::Client {
        if sub.verify_cert {
            &self.verified
        } else {
            &self.unverified
        }
    }

    /// Refuses URLs whose host is an address literal the guard forbids (host names are
    /// checked by the resolver when they are looked up).
    fn check_literal(&self, url: &str) -> Result<(), TargetError> {
        match check_target(url, &[], self.settings.allow_private_targets) {
            Err(TargetError::NoAddresses) => Ok(()),
            other => other,
        }
    }

    /// Makes one attempt to deliver `body` (already in the subscription's format).
    pub async fn send(
        &self,
        sub: &Subscription,
        body: &Bytes,
        delivery_id: &str,
        now_us: i64,
    ) -> Exchange {
        let started = Instant::now();
        let mut headers = request_headers(
            body,
            sub.secret.as_deref(),
            if sub.webhook_type == WebhookType::HttpPost {
                &sub.headers
            } else {
                &EMPTY
            },
            delivery_id,
        );
        let shown_headers = shown(&headers, sub);
        let request_body = truncate(body, self.settings.record_body_bytes);
        let refused = |e: TargetError, headers: String| Exchange {
            outcome: Outcome::Refused(e.to_string()),
            status_code: None,
            latency: started.elapsed(),
            error: Some(Refused(e).to_string()),
            request_headers: headers,
            request_body: request_body.clone(),
            response_headers: "{}".into(),
            response_body: String::new(),
        };
        if let Err(e) = self.check_literal(&sub.url) {
            return refused(e, shown_headers);
        }
        match sub.webhook_type {
            WebhookType::HttpPost => {}
            WebhookType::Splunk => {
                let token = sub.splunk_token.as_deref().unwrap_or_default();
                headers.push(("Authorization".into(), format!("Splunk {token}")));
            }
            WebhookType::Oauth2 => match self.token(sub, false).await {
                Ok(token) => headers.push(("Authorization".into(), format!("Bearer {token}"))),
                Err(e) => return self.failed(e, started, shown_headers, request_body, now_us),
            },
        }
        let mut result = self.post(sub, &headers, body).await;
        if sub.webhook_type == WebhookType::Oauth2
            && matches!(&result, Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED)
        {
            // The token may have been revoked or expired early: fetch a fresh one, once.
            match self.token(sub, true).await {
                Ok(token) => {
                    headers.retain(|(n, _)| n != "Authorization");
                    headers.push(("Authorization".into(), format!("Bearer {token}")));
                    result = self.post(sub, &headers, body).await;
                }
                Err(e) => return self.failed(e, started, shown_headers, request_body, now_us),
            }
        }
        match result {
            Ok(response) => {
                let code = response.status().as_u16();
                let retry_after_us = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now_us));
                let response_headers = headers_json(
                    response
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v.as_bytes()))),
                );
                let (response_body, body_error) =
                    read_prefix(response, self.settings.record_body_bytes).await;
                let outcome = if (200..300).contains(&code) {
                    Outcome::Success
                } else {
                    Outcome::Status {
                        code,
                        retry_after_us,
                    }
                };
                Exchange {
                    error: match (&outcome, body_error) {
                        (Outcome::Success, _) => None,
                        (_, Some(e)) => Some(format!("HTTP {code}; reading the answer: {e}")),
                        (_, None) => Some(format!("HTTP {code}")),
                    },
                    outcome,
                    status_code: Some(code),
                    latency: started.elapsed(),
                    request_headers: shown_headers,
                    request_body,
                    response_headers,
                    response_body,
                }
            }
            Err(e) => self.failed(e, started, shown_headers, request_body, now_us),
        }
    }

    /// Sends one request for a routing target. The answer's body is kept whole up to
    /// [`ANSWER_LIMIT`] bytes, for targets that read ids from it (a Slack message
    /// timestamp, a ServiceNow `sys_id`); the exchange is classified by status only
    /// (2xx success), which a target may refine.
    pub async fn request(&self, req: &HttpRequest, now_us: i64) -> (Exchange, Option<HttpAnswer>) {
        let started = Instant::now();
        let shown_headers = headers_json(req.headers.iter().map(|(name, value)| {
            let hidden = name.eq_ignore_ascii_case("authorization")
                || req.redact.iter().any(|r| r.eq_ignore_ascii_case(name));
            (
                name.as_str(),
                if hidden { "<redacted>" } else { value.as_str() },
            )
        }));
        let request_body = truncate(&req.body, self.settings.record_body_bytes);
        if let Err(e) = self.check_literal(&req.url) {
            let exchange = Exchange {
                outcome: Outcome::Refused(e.to_string()),
                status_code: None,
                latency: started.elapsed(),
                error: Some(Refused(e).to_string()),
                request_headers: shown_headers,
                request_body,
                response_headers: "{}".into(),
                response_body: String::new(),
            };
            return (exchange, None);
        }
        let http = if req.verify_cert {
            &self.verified
        } else {
            &self.unverified
        };
        let mut builder = http
            .request(req.method.clone(), &req.url)
            .body(req.body.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                return (
                    self.failed(e, started, shown_headers, request_body, now_us),
                    None,
                );
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let retry_after_us = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now_us));
        let response_headers = headers_json(
            headers
                .iter()
                .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v.as_bytes()))),
        );
        let (body, body_error) = read_whole(response, ANSWER_LIMIT).await;
        let outcome = if (200..300).contains(&status) {
            Outcome::Success
        } else {
            Outcome::Status {
                code: status,
                retry_after_us,
            }
        };
        let exchange = Exchange {
            error: match (&outcome, &body_error) {
                (Outcome::Success, _) => None,
                (_, Some(e)) => Some(format!("HTTP {status}; reading the answer: {e}")),
                (_, None) => Some(format!("HTTP {status}")),
            },
            outcome,
            status_code: Some(status),
            latency: started.elapsed(),
            request_headers: shown_headers,
            request_body,
            response_headers,
            response_body: truncate(&body, self.settings.record_body_bytes),
        };
        (
            exchange,
            Some(HttpAnswer {
                status,
                headers,
                body,
            }),
        )
    }

    async fn post(
        &self,
        sub: &Subscription,
        headers: &[(String, String)],
        body: &Bytes,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self.http(sub).post(&sub.url).body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send().await
    }

    fn failed(
        &self,
        e: reqwest::Error,
        started: Instant,
        request_headers: String,
        request_body: String,
        _now_us: i64,
    ) -> Exchange {
        // The URL may carry credentials in its user info; errors are shown by the API.
        let e = e.without_url();
        let outcome = transport_outcome(&e);
        Exchange {
            error: Some(describe(&e)),
            outcome,
            status_code: None,
            latency: started.elapsed(),
            request_headers,
            request_body,
            response_headers: "{}".into(),
            response_body: String::new(),
        }
    }

    /// An OAuth2 access token for `sub`, from the cache unless `fresh` or expired.
    async fn token(&self, sub: &Subscription, fresh: bool) -> Result<String, reqwest::Error> {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            sub.id,
            sub.oauth2_token_url.as_deref().unwrap_or_default(),
            sub.oauth2_client_id.as_deref().unwrap_or_default()
        );
        if !fresh
            && let Some(t) = self.tokens.lock().expect("token cache").get(&key)
            && t.expires > Instant::now()
        {
            return Ok(t.value.clone());
        }
        let url = sub.oauth2_token_url.as_deref().unwrap_or_default();
        let form = token_form(sub);
        let response = self
            .http(sub)
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(form)
            .send()
            .await?
            .error_for_status()?;
        #[derive(serde::Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let answer: Answer = response.json().await?;
        // Refresh a little before the server's expiry; an answer without one lasts an hour.
        let lifetime = answer.expires_in.unwrap_or(3_600).saturating_sub(30).max(1);
        self.tokens.lock().expect("token cache").insert(
            key,
            Token {
                value: answer.access_token.clone(),
                expires: Instant::now() + Duration::from_secs(lifetime),
            },
        );
        Ok(answer.access_token)
    }
}

/// The form of a token request for the subscription's grant.
fn token_form(sub: &Subscription) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match sub.oauth2_grant_type {
        Some(Oauth2Grant::Password) => {
            form.append_pair("grant_type", "password");
            form.append_pair("username", sub.oauth2_username.as_deref().unwrap_or(""));
            form.append_pair("password", sub.oauth2_password.as_deref().unwrap_or(""));
        }
        _ => {
            form.append_pair("grant_type", "client_credentials");
        }
    }
    if let Some(id) = &sub.oauth2_client_id {
        form.append_pair("client_id", id);
    }
    if let Some(secret) = &sub.oauth2_client_secret {
        form.append_pair("client_secret", secret);
    }
    if !sub.oauth2_scopes.is_empty() {
        form.append_pair("scope", &sub.oauth2_scopes.join(" "));
    }
    form.finish()
}

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

/// What a transport error means for the retry schedule.
fn transport_outcome(e: &reqwest::Error) -> Outcome {
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(Refused(t)) = s.downcast_ref::<Refused>() {
            return Outcome::Refused(t.to_string());
        }
        if s.downcast_ref::<LookupFailed>().is_some() {
            return Outcome::Dns;
        }
        source = s.source();
    }
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Connect
    } else {
        Outcome::Other(describe(e))
    }
}

/// The error and its causes on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Headers as Mist's delivery records show them, `{"Name": ["value"]}`, with credentials
/// and custom header values (which often carry API keys) hidden.
fn shown(headers: &[(String, String)], sub: &Subscription) -> String {
    headers_json(headers.iter().map(|(name, value)| {
        let hidden = name.eq_ignore_ascii_case("authorization")
            || (sub
                .headers
                .keys()
                .any(|custom| custom.eq_ignore_ascii_case(name))
                && !name.eq_ignore_ascii_case("user-agent"));
        let value = if hidden {
            std::borrow::Cow::Borrowed("<redacted>")
        } else {
            std::borrow::Cow::Borrowed(value.as_str())
        };
        (name.as_str(), value)
    }))
}

fn headers_json<'a, V: AsRef<str>>(headers: impl Iterator<Item = (&'a str, V)>) -> String {
    let mut map: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name)
            .or_default()
            .push(value.as_ref().to_string());
    }
    serde_json::to_string(&map).expect("strings serialise")
}

/// The first `limit` bytes of `body` as text (lossy), marked when cut.
fn truncate(body: &[u8], limit: usize) -> String {
    if body.len() <= limit {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut text = String::from_utf8_lossy(&body[..limit]).into_owned();
    text.push_str(&format!("…[{} bytes in all]", body.len()));
    text
}

/// Reads at most `limit` bytes of a response body.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                total += chunk.len();
                if kept.len() < limit {
                    let room = limit - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                if total > limit * 16 {
                    // Enough: do not download a large answer nobody will read.
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return (
                    String::from_utf8_lossy(&kept).into_owned(),
                    Some(describe(&e)),
                );
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if total > kept.len() {
        text.push_str("…[truncated]");
    }
    (text, None)
}

/// `url` as delivery results show it: a password in its user info is replaced by `***`.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Reads up to `limit` bytes of a response body.
async fn read_whole(mut response: reqwest::Response, limit: usize) -> (Bytes, Option<String>) {
    let mut kept = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room < chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let e = e.without_url();
                return (Bytes::from(kept), Some(describe(&e)));
            }
        }
    }
    (Bytes::from(kept), None)
}

/// Whether `ip` may be reached under these settings (for callers checking literals).
pub fn reachable(ip: IpAddr, allow_private: bool) -> bool {
    address_kind(ip).is_none_or(|k| allow_private && k.allowed_when_private_allowed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_hide_passwords() {
        assert_eq!(
            shown_url("https://noc:s3cret@hooks.example.net/mist?x=1"),
            "https://noc:***@hooks.example.net/mist?x=1"
        );
        assert_eq!(
            shown_url("https://hooks.example.net/a"),
            "https://hooks.example.net/a"
        );
    }

    #[test]
    fn recorded_bodies_are_cut_and_say_so() {
        assert_eq!(truncate(b"abc", 10), "abc");
        assert_eq!(truncate(b"abcdef", 3), "abc…[6 bytes in all]");
    }

    #[test]
    fn shown_headers_hide_credentials_and_custom_values() {
        let mut sub: Subscription = serde_json::from_value(serde_json::json!({
            "id": "w", "org_id": "o", "site_id": null, "for_site": false, "name": null,
            "url": "https://example.com", "enabled": true, "type": "http-post", "topics": ["alarms"],
            "secret": null, "headers": {"X-Api-Key": "k-123"}, "verify_cert": true,
            "splunk_token": null, "oauth2_grant_type": null, "oauth2_client_id": null,
            "oauth2_client_secret": null, "oauth2_username": null, "oauth2_password": null,
            "oauth2_token_url": null, "oauth2_scopes": [], "single_event_per_message": false,
            "assetfilter_ids": [], "created_time": 0.0, "modified_time": 0.0
        }))
        .unwrap();
        sub.splunk_token = Some("hec".into());
        let text = shown(
            &[
                ("Content-Type".into(), "application/json".into()),
                ("X-Api-Key".into(), "k-123".into()),
                ("Authorization".into(), "Splunk hec".into()),
            ],
            &sub,
        );
        assert!(!text.contains("k-123") && !text.contains("hec"), "{text}");
        assert!(
            text.contains(r#""Content-Type":["application/json"]"#),
            "{text}"
        );
    }
}
