//! PagerDuty Events API v2: an incident's opening triggers an alert, its acknowledgement
//! acknowledges it, its resolution resolves it, all under one `dedup_key` made from the
//! incident's key and id. Events trigger an alert each (deduplicated on the event id).
//!
//! Mist severities map to PagerDuty's four: `critical` → `critical`, `major` → `error`,
//! `minor` and `warn` → `warning`, anything else → `info`.

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::fmt;

use serde::Deserialize;

pub use encode::{DEFAULT_SUMMARY, SUMMARY_CHARS, dedup_key, encode, pd_severity};
pub use send::send;

use crate::targets::standard_webhooks::check_url;
use crate::targets::template;

/// The Events API v2 endpoint (`https://events.eu.pagerduty.com/v2/enqueue` for EU
/// accounts).
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `[targets.<name>] type = "pagerduty"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The 32-character integration key of an Events API v2 integration (or a ruleset).
    pub routing_key: String,
    /// The endpoint (default [`DEFAULT_URL`]).
    #[serde(default = "default_url")]
    pub url: String,
    /// The alert summary (see `targets::template`); default `<summary> at <site>`.
    #[serde(default)]
    pub summary_template: Option<String>,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

fn default_url() -> String {
    DEFAULT_URL.into()
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.routing_key.len() != 32
            || !self.routing_key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(ConfigError(
                "routing_key: an integration key is 32 letters and digits".to_string(),
            ));
        }
        check_url("url", &self.url)?;
        if let Some(t) = &self.summary_template {
            template::check(t).map_err(|e| format!("summary_template: {e}"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("pagerduty::Config")
            .field("routing_key", &"<redacted>")
            .field("url", &self.url)
            .field("summary_template", &self.summary_template)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}
