//! Splunk HTTP Event Collector (HEC): messages batched into one POST to
//! `/services/collector/event`, as concatenated event objects with `time` from the
//! event, the configured `index`/`source`/`sourcetype`/`host`, and indexed `fields`
//! for the site and the severity.

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::fmt;

use serde::Deserialize;

pub use encode::{encode, endpoint, push_message};
pub use send::send;

/// The HEC path events are posted to.
pub const EVENT_PATH: &str = "/services/collector/event";

/// Most messages one request carries (HEC's own default `max_content_length` is 1 MB;
/// a Mist event is rarely above 2 KB).
pub const MAX_BATCH: usize = 500;

/// `[targets.<name>] type = "splunk"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The collector: `https://splunk.example.net:8088` (the event path is added), or the
    /// full URL ending in `/services/collector/event`.
    pub url: String,
    /// The HEC token (sent as `Authorization: Splunk <token>`).
    pub token: String,
    /// The index; the token's default index when unset.
    #[serde(default)]
    pub index: Option<String>,
    /// The source (default `mistgate`).
    #[serde(default = "default_source")]
    pub source: String,
    /// The sourcetype; when unset, `mist:<topic>` for events and `mistgate:incident` for
    /// incident changes.
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// The host field; HEC's own (the collector's host) when unset.
    #[serde(default)]
    pub host: Option<String>,
    /// Messages per request (default 100, at most [`MAX_BATCH`]).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Whether the collector's certificate is checked (default true).
    #[serde(default = "yes")]
    pub verify_cert: bool,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("splunk::Config")
            .field("url", &crate::request::shown_url(&self.url))
            .field("token", &"<redacted>")
            .field("index", &self.index)
            .field("source", &self.source)
            .field("sourcetype", &self.sourcetype)
            .field("host", &self.host)
            .field("batch_size", &self.batch_size)
            .field("verify_cert", &self.verify_cert)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

fn default_source() -> String {
    "mistgate".into()
}

fn default_batch_size() -> usize {
    100
}

fn yes() -> bool {
    true
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        crate::targets::standard_webhooks::check_url("url", &self.url)?;
        let path = url::Url::parse(&self.url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        if !path.is_empty() && path != EVENT_PATH {
            return Err(ConfigError(format!(
                "url: the path must be empty (it is then `{EVENT_PATH}`) or `{EVENT_PATH}`, not `{path}`"
            )));
        }
        if self.token.trim().is_empty() {
            return Err(ConfigError("token: the HEC token is empty".to_string()));
        }
        if self.token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ConfigError(
                "token: the HEC token holds spaces or control characters".to_string(),
            ));
        }
        for (field, value) in [
            ("index", self.index.as_deref()),
            ("source", Some(self.source.as_str())),
            ("sourcetype", self.sourcetype.as_deref()),
            ("host", self.host.as_deref()),
        ] {
            if let Some(v) = value
                && v.trim().is_empty()
            {
                return Err(ConfigError(format!(
                    "{field}: empty (leave it out for Splunk's default)"
                )));
            }
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH {
            return Err(ConfigError(format!(
                "batch_size: {} is not between 1 and {MAX_BATCH}",
                self.batch_size
            )));
        }
        Ok(())
    }
}
