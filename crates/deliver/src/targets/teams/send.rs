//! One POST per message. The status decides (202 done; 408, 429 with `Retry-After` and
//! 5xx retried; 400, 401, 403, 404 dead: a malformed card, a broken signature or a
//! deleted workflow will not mend by waiting); the workflow's error code is kept in the
//! error (`{"error": {"code": "...", "message": "..."}}`).

use super::{Config, encode};
use crate::client::{Exchange, HttpAnswer};
use crate::schedule::Outcome;
use crate::targets::facts::shorten;
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let Some(message) = messages.first() else {
        return local_failure(Outcome::Success, "an empty batch");
    };
    let (mut exchange, answer) = ctx
        .client
        .request(&encode(config, message), ctx.now_us)
        .await;
    if let Some(answer) = answer {
        explain(&mut exchange, &answer);
    }
    exchange
}

/// Adds the workflow's error code and message to a failed exchange.
pub(crate) fn explain(exchange: &mut Exchange, answer: &HttpAnswer) {
    if exchange.outcome == Outcome::Success {
        return;
    }
    #[derive(serde::Deserialize)]
    struct Body {
        error: Error,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(Body { error }) = serde_json::from_slice::<Body>(&answer.body) {
        exchange.error = Some(format!(
            "HTTP {}: {} {}",
            answer.status,
            error.code,
            shorten(&error.message, 300)
        ));
    }
}
