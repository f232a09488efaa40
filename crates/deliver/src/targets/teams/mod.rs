//! The `teams` target (being built: its config, encoder and sender come next).

use serde::Deserialize;

use crate::client::Exchange;
use crate::schedule::Outcome;
use crate::targets::{Context, Message, local_failure};

/// `[targets.<name>] type = "teams"`.
#[derive(Clone, Deserialize)]
pub struct Config {}

impl Config {
    pub fn check(&self) -> Result<(), String> {
        Err("the teams target is not available in this build yet".into())
    }
}

pub async fn send(_config: &Config, _messages: &[Message], _ctx: &Context<'_>) -> Exchange {
    local_failure(
        Outcome::Refused("not built".into()),
        "the teams target is not available in this build yet",
    )
}
