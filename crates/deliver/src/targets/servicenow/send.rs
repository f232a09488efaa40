//! One message per send, in up to three requests: find the record (the remembered
//! `sys_id`, else a lookup by `correlation_id`, so that a create whose answer was lost is
//! not made twice), then create it or add to it.
//!
//! - An incident with no record yet is created whatever its change (an update whose
//!   create failed for good still gets a ticket), except a resolution: nothing is
//!   created only to be closed.
//! - Answers: 200/201 done; 400 (a field ServiceNow refuses), 401 (wrong credentials,
//!   after one fresh OAuth token), 403 (ACL), 404 (the record was deleted) dead; 429 with
//!   `Retry-After` and 5xx retried. ServiceNow's `error.message` and `error.detail` are
//!   kept in the error.
//! - OAuth tokens are cached per target until shortly before they expire; a token
//!   request's form (client secret, password) never reaches a delivery record.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::encode::{basic_auth, token_request};
use super::{Config, Ticket, create_request, lookup_request, update_request};
use crate::client::{Exchange, HttpAnswer, HttpRequest};
use crate::schedule::Outcome;
use crate::targets::facts::shorten;
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let Some(message) = messages.first() else {
        return local_failure(Outcome::Success, "an empty batch");
    };
    let mut session = match Session::start(config, ctx).await {
        Ok(s) => s,
        Err(exchange) => return exchange,
    };
    session.deliver(message).await
}

/// Where an incident's record is remembered.
fn state_key(message: &Message) -> Option<String> {
    match message {
        Message::Incident(m) => Some(format!("incident:{}", m.incident.id)),
        Message::Event(_) => None,
    }
}

struct Session<'c, 'x> {
    config: &'c Config,
    ctx: &'c Context<'x>,
    /// The `Authorization` value.
    auth: String,
}

impl<'c, 'x> Session<'c, 'x> {
    async fn start(config: &'c Config, ctx: &'c Context<'x>) -> Result<Self, Exchange> {
        let auth = match config.oauth {
            Some(_) => format!("Bearer {}", token(config, ctx, false).await?),
            None => basic_auth(config),
        };
        Ok(Session { config, ctx, auth })
    }

    /// Sends a request; on a 401 with OAuth, once more with a fresh token.
    async fn call(
        &mut self,
        build: impl Fn(&str) -> HttpRequest,
    ) -> (Exchange, Option<HttpAnswer>) {
        let (exchange, answer) = self
            .ctx
            .client
            .request(&build(&self.auth), self.ctx.now_us)
            .await;
        if exchange.status_code != Some(401) || self.config.oauth.is_none() {
            return (exchange, answer);
        }
        match token(self.config, self.ctx, true).await {
            Ok(t) => self.auth = format!("Bearer {t}"),
            Err(failed) => return (failed, None),
        }
        self.ctx
            .client
            .request(&build(&self.auth), self.ctx.now_us)
            .await
    }

    async fn deliver(&mut self, message: &Message) -> Exchange {
        let (config, ctx) = (self.config, self.ctx);
        let key = state_key(message);
        let mut ticket = None;
        if let Some(key) = &key {
            match ctx.store.target_state(ctx.target, key).await {
                Ok(value) => ticket = value.and_then(|v| serde_json::from_str::<Ticket>(&v).ok()),
                Err(e) => {
                    let error = format!("reading the incident's ServiceNow record: {e}");
                    return local_failure(Outcome::Other(error.clone()), error);
                }
            }
        }
        if ticket.is_none() {
            let (exchange, answer) = self.call(|a| lookup_request(config, message, a)).await;
            let Some(answer) = answer.filter(|_| exchange.outcome == Outcome::Success) else {
                return explained(exchange, None);
            };
            match result_ticket(&answer.body, true) {
                Ok(found) => ticket = found,
                Err(e) => return unreadable(exchange, e),
            }
            if let (Some(found), Some(key)) = (&ticket, &key) {
                let mut ignored = exchange.clone();
                remember(ctx, key, found, &mut ignored).await;
            } else if ticket.is_some() {
                // An event's record already exists: an earlier attempt made it.
                return exchange;
            }
        }
        match (ticket, message) {
            (Some(t), _) => {
                let (exchange, answer) =
                    self.call(|a| update_request(config, message, &t, a)).await;
                explained(exchange, answer.as_ref())
            }
            (None, Message::Incident(m)) if m.change == correlate::Change::Resolved => {
                local_failure(
                    Outcome::Success,
                    "no ServiceNow record to resolve: none was made for this incident",
                )
            }
            (None, _) => {
                let (mut exchange, answer) =
                    self.call(|a| create_request(config, message, a)).await;
                let Some(answer) = answer.filter(|_| exchange.outcome == Outcome::Success) else {
                    return explained(exchange, None);
                };
                match result_ticket(&answer.body, false) {
                    Ok(Some(t)) => {
                        if let Some(key) = &key {
                            remember(ctx, key, &t, &mut exchange).await;
                        }
                        exchange
                    }
                    // Made, most likely: the next attempt's lookup finds it.
                    Ok(None) => unreadable(exchange, "no result.sys_id".into()),
                    Err(e) => unreadable(exchange, e),
                }
            }
        }
    }
}

/// Remembers a record. If that fails the record stands; the next change finds it again
/// by its `correlation_id`.
async fn remember(ctx: &Context<'_>, key: &str, ticket: &Ticket, exchange: &mut Exchange) {
    let value = serde_json::to_string(ticket).expect("strings serialise");
    if let Err(e) = ctx
        .store
        .put_target_state(ctx.target, key, &value, ctx.now_us)
        .await
    {
        tracing::warn!(target_name = ctx.target, error = %e, "a ServiceNow sys_id could not be stored");
        exchange.error = Some(format!("the record's sys_id could not be stored: {e}"));
    }
}

/// The record in a Table API answer: `{"result": {...}}` for a create or an update,
/// `{"result": [...]}` for a query (`list`).
pub(crate) fn result_ticket(body: &[u8], list: bool) -> Result<Option<Ticket>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let result = &value["result"];
    let record = if list {
        match result.as_array() {
            Some(items) => items.first(),
            None => return Err("`result` is not a list".into()),
        }
    } else {
        Some(result)
    };
    Ok(record
        .and_then(|r| serde_json::from_value::<Ticket>(r.clone()).ok())
        .filter(|t| !t.sys_id.is_empty()))
}

fn unreadable(mut exchange: Exchange, why: String) -> Exchange {
    exchange.error = Some(format!("ServiceNow's answer: {why}"));
    exchange.outcome = Outcome::Other(format!("ServiceNow's answer: {why}"));
    exchange
}

/// Adds ServiceNow's `error.message` and `error.detail` to a failed exchange.
pub(crate) fn explained(mut exchange: Exchange, answer: Option<&HttpAnswer>) -> Exchange {
    if exchange.outcome == Outcome::Success {
        return exchange;
    }
    let answer = answer.map(|a| (a.status, a.body.to_vec())).or_else(|| {
        exchange
            .status_code
            .map(|s| (s, exchange.response_body.clone().into_bytes()))
    });
    let Some((status, body)) = answer else {
        return exchange;
    };
    #[derive(serde::Deserialize)]
    struct Body {
        error: Error,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<String>,
    }
    if let Ok(Body { error }) = serde_json::from_slice::<Body>(&body) {
        let detail = error.detail.map(|d| format!(" ({d})")).unwrap_or_default();
        exchange.error = Some(shorten(
            &format!("HTTP {status}: {}{detail}", error.message),
            500,
        ));
    }
    exchange
}

/// Cached OAuth tokens by target, token URL and client.
fn tokens() -> &'static Mutex<HashMap<String, (String, Instant)>> {
    static TOKENS: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

/// An access token, from the cache unless `fresh`. A failure is an exchange that shows
/// the token endpoint's status, never the form that was sent.
async fn token(config: &Config, ctx: &Context<'_>, fresh: bool) -> Result<String, Exchange> {
    let client_id = config.oauth.as_ref().map(|o| o.client_id.as_str());
    let key = format!(
        "{}\u{0}{}\u{0}{}",
        ctx.target,
        config.token_url(),
        client_id.unwrap_or_default()
    );
    if !fresh
        && let Some((token, until)) = tokens().lock().expect("token cache").get(&key)
        && *until > Instant::now()
    {
        return Ok(token.clone());
    }
    let (exchange, answer) = ctx.client.request(&token_request(config), ctx.now_us).await;
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: String,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let parsed = answer
        .as_ref()
        .filter(|_| exchange.outcome == Outcome::Success)
        .map(|a| serde_json::from_slice::<Answer>(&a.body));
    match parsed {
        Some(Ok(a)) => {
            // ServiceNow's tokens last 30 minutes by default; renew a minute early.
            let lifetime = a.expires_in.unwrap_or(1_800).saturating_sub(60).max(1);
            tokens().lock().expect("token cache").insert(
                key,
                (
                    a.access_token.clone(),
                    Instant::now() + Duration::from_secs(lifetime),
                ),
            );
            Ok(a.access_token)
        }
        Some(Err(e)) => Err(token_failure(
            &exchange,
            Outcome::Other("OAuth token answer unreadable".into()),
            format!("OAuth token answer: {e}"),
        )),
        None => Err(token_failure(
            &exchange,
            exchange.outcome.clone(),
            format!(
                "OAuth token request: {}",
                exchange.error.as_deref().unwrap_or("failed")
            ),
        )),
    }
}

fn token_failure(seen: &Exchange, outcome: Outcome, error: String) -> Exchange {
    Exchange {
        outcome,
        status_code: seen.status_code,
        latency: seen.latency,
        error: Some(error),
        request_headers: "{}".into(),
        request_body: String::new(),
        response_headers: "{}".into(),
        response_body: String::new(),
    }
}
