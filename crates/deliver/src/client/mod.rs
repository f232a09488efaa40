//! The HTTP side of a delivery attempt: the clients, the SSRF-guarded resolver, the
//! request each webhook type needs, and what the answer was.

mod cloud;
mod oauth;
mod record;
mod resolver;

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::headers::request_headers;
pub use crate::request::{HttpRequest, shown_url};
use crate::schedule::{Outcome, parse_retry_after};
use crate::ssrf::TargetError;
use crate::subscription::{Subscription, WebhookType};

use oauth::Token;
use record::{describe, headers_json, read_prefix, read_whole, shown, truncate};
pub use resolver::reachable;
use resolver::{GuardedResolver, LookupFailed, Refused};

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

/// An answer, with its body (up to [`ANSWER_LIMIT`]).
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
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

    /// Makes one attempt to deliver `body` (already in the subscription's format).
    pub async fn send(
        &self,
        sub: &Subscription,
        body: &Bytes,
        delivery_id: &str,
        now_us: i64,
    ) -> Exchange {
        if matches!(
            sub.webhook_type,
            WebhookType::AwsSns | WebhookType::GooglePubsub
        ) {
            return self.publish(sub, body, delivery_id, now_us).await;
        }
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
            WebhookType::AwsSns | WebhookType::GooglePubsub => {
                unreachable!("published above")
            }
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
