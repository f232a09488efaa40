//! A generic HTTP POST of mistgate's own event and incident JSON, signed per the
//! Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64>`; `whsec_` secrets; several during rotation).

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::collections::BTreeMap;

use serde::Deserialize;

pub use encode::{encode, sign};
pub use send::send;

/// `[targets.<name>] type = "webhook"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to POST.
    pub url: String,
    /// `whsec_<base64>` secrets; the first signs, all are sent during a rotation.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whether the receiver's certificate is checked (default true).
    #[serde(default = "yes")]
    pub verify_cert: bool,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

fn yes() -> bool {
    true
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url)?;
        for (i, s) in self.secrets.iter().enumerate() {
            encode::secret_key(s).map_err(|e| format!("secrets[{i}]: {e}"))?;
        }
        Ok(())
    }
}

/// An http or https URL with a host.
pub(crate) fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(ConfigError(format!(
            "{field}: `{url}` is not an http(s) URL with a host"
        ))),
        Err(e) => Err(ConfigError(format!("{field}: `{url}` is not a URL: {e}"))),
    }
}
