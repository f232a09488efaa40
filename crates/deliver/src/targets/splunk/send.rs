//! One POST per batch. HEC answers with an HTTP status and `{"text", "code"}`: 2xx is
//! done; 400 (bad data, wrong index), 401 and 403 (token missing, invalid or disabled)
//! are dead letters, since the same request fails again until the config changes; 429 and
//! 5xx (busy, queues full, internal error) are retried. The status decides; HEC's text
//! and code are added to the error for the delivery record.

use super::{Config, encode};
use crate::client::Exchange;
use crate::schedule::Outcome;
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    if messages.is_empty() {
        return local_failure(Outcome::Success, "an empty batch");
    }
    let request = match encode(config, messages) {
        Ok(r) => r,
        Err(e) => return local_failure(Outcome::Refused(e.0.clone()), e.0),
    };
    let (mut exchange, answer) = ctx.client.request(&request, ctx.now_us).await;
    if let (Some(answer), Some(error)) = (answer, exchange.error.as_mut())
        && let Some(said) = hec_answer(&answer.body)
    {
        error.push_str(": ");
        error.push_str(&said);
    }
    exchange
}

/// HEC's `{"text": "...", "code": N}` as `text (HEC code N)`.
pub(crate) fn hec_answer(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        text: String,
        code: Option<i64>,
    }
    let a: Answer = serde_json::from_slice(body).ok()?;
    Some(match a.code {
        Some(code) => format!("{} (HEC code {code})", a.text),
        None => a.text,
    })
}
