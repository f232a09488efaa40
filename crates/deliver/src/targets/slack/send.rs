//! One message per send, the answer classified. Slack's one message per second is kept
//! by the lane, as the target's default `rate_limit` (see [`super::DEFAULT_RATE_LIMIT`]).
//!
//! Incoming webhooks answer with a status and a short text (`ok`; `400 invalid_payload`,
//! `403 action_prohibited`, `404 channel_not_found`, `410 channel_is_archived`,
//! `429` with `Retry-After`, `500 rollup_error`): the status decides, the text is kept
//! in the error. The Web API answers `200` with `{"ok": false, "error": ...}` for most
//! failures: `ratelimited` waits like a 429, Slack's own transient errors are retried,
//! every other error (`channel_not_found`, `not_in_channel`, `invalid_auth`, ...) would
//! fail again and goes to the dead letters.
//!
//! With a bot token, an incident's message is remembered (its channel id and `ts`, under
//! `incident:<id>` in the target's state) when it is posted, and its later changes edit
//! it with `chat.update`. A change with no message to edit (the post failed for good, or
//! the incident opened before the target existed) posts a new message and remembers
//! that one; so does an edit Slack refuses because the message is gone.

use super::encode::{post_request, update_request, webhook_request};
use super::{Config, Mode, Posted};
use crate::client::{Exchange, HttpAnswer};
use crate::schedule::{Outcome, parse_retry_after};
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let Some(message) = messages.first() else {
        return local_failure(Outcome::Success, "an empty batch");
    };
    match config.mode() {
        Mode::Webhook { url } => {
            let request = webhook_request(url, config, message);
            let (mut exchange, answer) = ctx.client.request(&request, ctx.now_us).await;
            if let Some(answer) = answer {
                explain_webhook(&mut exchange, &answer);
            }
            exchange
        }
        Mode::Bot { .. } => send_bot(config, message, ctx).await,
    }
}

/// Adds Slack's error text (`channel_not_found`, ...) to a failed webhook exchange.
fn explain_webhook(exchange: &mut Exchange, answer: &HttpAnswer) {
    if exchange.outcome == Outcome::Success {
        return;
    }
    let text = String::from_utf8_lossy(&answer.body);
    let text = text.trim();
    if !text.is_empty() && text.len() <= 200 {
        exchange.error = Some(format!("HTTP {}: {text}", answer.status));
    }
}

/// Where an incident's message is remembered.
fn state_key(message: &Message) -> Option<String> {
    match message {
        Message::Incident(m) => Some(format!("incident:{}", m.incident.id)),
        Message::Event(_) => None,
    }
}

async fn send_bot(config: &Config, message: &Message, ctx: &Context<'_>) -> Exchange {
    let key = state_key(message);
    let posted = match &key {
        Some(key) => match ctx.store.target_state(ctx.target, key).await {
            Ok(value) => value.and_then(|v| serde_json::from_str::<Posted>(&v).ok()),
            Err(e) => {
                let error = format!("reading the incident's Slack message: {e}");
                return local_failure(Outcome::Other(error.clone()), error);
            }
        },
        None => None,
    };
    let is_opening =
        matches!(message, Message::Incident(m) if m.change == correlate::Change::Opened);
    let update = posted.filter(|_| !is_opening);
    let request = match &update {
        Some(p) => update_request(config, message, p),
        None => post_request(config, message),
    };
    let (mut exchange, answer) = ctx.client.request(&request, ctx.now_us).await;
    let Some(answer) = answer else {
        return exchange;
    };
    match api_answer(&mut exchange, &answer, ctx.now_us) {
        ApiAnswer::Done(p) if update.is_none() => {
            if let (Some(key), Some(p)) = (&key, p) {
                remember(ctx, key, &p, &mut exchange).await;
            }
        }
        ApiAnswer::Done(_) | ApiAnswer::Failed => {}
        ApiAnswer::Gone => {
            // The message was deleted (or may not be edited any more): post a new one.
            let (mut again, answer) = ctx
                .client
                .request(&post_request(config, message), ctx.now_us)
                .await;
            if let Some(answer) = answer
                && let ApiAnswer::Done(Some(p)) = api_answer(&mut again, &answer, ctx.now_us)
                && let Some(key) = &key
            {
                remember(ctx, key, &p, &mut again).await;
            }
            return again;
        }
    }
    exchange
}

/// Remembers a posted message. If that fails the post stands (posting again would
/// duplicate it); later changes then post new messages instead of editing.
async fn remember(ctx: &Context<'_>, key: &str, posted: &Posted, exchange: &mut Exchange) {
    let value = serde_json::to_string(posted).expect("strings serialise");
    if let Err(e) = ctx
        .store
        .put_target_state(ctx.target, key, &value, ctx.now_us)
        .await
    {
        tracing::warn!(target_name = ctx.target, error = %e, "a Slack message id could not be stored");
        exchange.error = Some(format!(
            "posted, but its id could not be stored (later changes post anew): {e}"
        ));
    }
}

/// What a Web API answer meant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ApiAnswer {
    /// `ok: true`, with the message's channel and `ts` when Slack gave them.
    Done(Option<Posted>),
    /// The message to edit does not exist (any more) or may not be edited.
    Gone,
    /// The exchange says why.
    Failed,
}

/// Slack's transient Web API errors: worth another try later.
const TRANSIENT: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// Reads a Web API answer and sets the exchange's outcome from it.
pub(crate) fn api_answer(exchange: &mut Exchange, answer: &HttpAnswer, now_us: i64) -> ApiAnswer {
    #[derive(serde::Deserialize)]
    struct Body {
        ok: bool,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        ts: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(&answer.body).ok();
    if exchange.outcome != Outcome::Success {
        // A 429 or a 5xx: the status already decides; name Slack's error if it gave one.
        if let Some(error) = parsed.and_then(|b| b.error) {
            exchange.error = Some(format!("HTTP {}: {error}", answer.status));
        }
        return ApiAnswer::Failed;
    }
    let Some(body) = parsed else {
        exchange.outcome = Outcome::Other("Slack answered with something else than JSON".into());
        exchange.error = Some("the answer is not Slack's JSON".into());
        return ApiAnswer::Failed;
    };
    if body.ok {
        let posted = body
            .channel
            .zip(body.ts)
            .map(|(channel, ts)| Posted { channel, ts });
        return ApiAnswer::Done(posted);
    }
    let error = body.error.unwrap_or_else(|| "unknown_error".into());
    exchange.error = Some(format!("Slack API error: {error}"));
    exchange.outcome = if error == "ratelimited" {
        let retry_after_us = answer
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now_us));
        Outcome::Status {
            code: 429,
            retry_after_us,
        }
    } else if TRANSIENT.contains(&error.as_str()) {
        Outcome::Other(format!("Slack API error: {error}"))
    } else {
        Outcome::Refused(format!("Slack API error: {error}"))
    };
    if matches!(
        error.as_str(),
        "message_not_found" | "cant_update_message" | "edit_window_closed"
    ) {
        return ApiAnswer::Gone;
    }
    ApiAnswer::Failed
}
