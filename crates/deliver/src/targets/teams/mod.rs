//! Microsoft Teams through a Workflows webhook ("When a Teams webhook request is
//! received", e.g. the "Send webhook alerts to a channel" template): one message with an
//! Adaptive Card attachment per event or incident change. The retired Office 365
//! connectors and their MessageCard format are not used.
//!
//! A Workflows webhook answers `202 Accepted` once the flow is triggered; whether the
//! flow then posts is the flow's business (its run history shows it). Teams keeps no
//! handle for an edit, so every incident change is a new card.

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::fmt;

use serde::Deserialize;

pub use encode::{MAX_BODY_BYTES, card, encode};
pub use send::send;

use crate::targets::standard_webhooks::check_url;
use crate::targets::template;

/// `[targets.<name>] type = "teams"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The workflow's HTTP POST URL. Its `sig` parameter is a credential.
    pub url: String,
    /// The card's title (see `targets::template`).
    #[serde(default)]
    pub title_template: Option<String>,
    /// Text shown under the facts; without it the card shows the facts only.
    #[serde(default)]
    pub text_template: Option<String>,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url)?;
        for (field, t) in [
            ("title_template", &self.title_template),
            ("text_template", &self.text_template),
        ] {
            if let Some(t) = t {
                template::check(t).map_err(|e| format!("{field}: {e}"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("teams::Config")
            .field("url", &"<redacted>")
            .field("title_template", &self.title_template)
            .field("text_template", &self.text_template)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}
