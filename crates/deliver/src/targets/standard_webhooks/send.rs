//! One POST per message; the answer is classified by status (2xx done, 408/429/5xx
//! retried, other 4xx dead).

use super::{Config, encode};
use crate::client::Exchange;
use crate::schedule::Outcome;
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let Some(message) = messages.first() else {
        return local_failure(Outcome::Success, "an empty batch");
    };
    match encode(config, message, ctx.delivery_id, ctx.now_us / 1_000_000) {
        Ok(request) => ctx.client.request(&request, ctx.now_us).await.0,
        Err(e) => local_failure(Outcome::Refused(e.0.clone()), e.0),
    }
}
