//! One event per send. PagerDuty documents what to retry: `202` done; `400` (invalid
//! event: PagerDuty's `message` and `errors` are kept in the error) never; `429` and
//! `5xx` later. Its advice for a `429` is to wait about 30 seconds, so a 429 without
//! `Retry-After` waits that long.
//!
//! The `routing_key` travels in the body: delivery records show it as `<redacted>`.

use super::{Config, encode};
use crate::client::{Exchange, HttpAnswer};
use crate::schedule::Outcome;
use crate::targets::facts::shorten;
use crate::targets::{Context, Message, local_failure};

/// The wait after a 429 that names none.
pub const RATE_LIMIT_WAIT_US: i64 = 30_000_000;

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let Some(message) = messages.first() else {
        return local_failure(Outcome::Success, "an empty batch");
    };
    let request = encode(config, message);
    let (mut exchange, answer) = ctx.client.request(&request, ctx.now_us).await;
    exchange.request_body = recorded(
        &request.body,
        &config.routing_key,
        ctx.client.settings().record_body_bytes,
    );
    if let Some(answer) = answer {
        refine(&mut exchange, &answer);
    }
    exchange
}

/// The body as a delivery record keeps it: the secret hidden, then cut to `limit` bytes.
pub(crate) fn recorded(body: &[u8], secret: &str, limit: usize) -> String {
    let text = String::from_utf8_lossy(body).replace(secret, "<redacted>");
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes in all]", &text[..end], text.len())
}

/// PagerDuty's reason on failures; the documented wait on a bare 429.
pub(crate) fn refine(exchange: &mut Exchange, answer: &HttpAnswer) {
    if let Outcome::Status {
        code: 429,
        retry_after_us: retry_after_us @ None,
    } = &mut exchange.outcome
    {
        *retry_after_us = Some(RATE_LIMIT_WAIT_US);
    }
    if exchange.outcome == Outcome::Success {
        return;
    }
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    if let Ok(body) = serde_json::from_slice::<Body>(&answer.body)
        && !(body.message.is_empty() && body.errors.is_empty())
    {
        let errors = body.errors.join("; ");
        exchange.error = Some(shorten(
            format!("HTTP {}: {} {errors}", answer.status, body.message).trim(),
            500,
        ));
    }
}
