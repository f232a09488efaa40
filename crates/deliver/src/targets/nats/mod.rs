//! NATS JetStream: every event published to `mist.<org_id>.<site_id>.<topic>` and every
//! incident change to `mistgate.incidents.<kind>`, mistgate's JSON as the payload, with
//! a `Nats-Msg-Id` the stream deduplicates on. The stream is created when absent; a batch
//! is done only when JetStream has acknowledged every message of it.

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::fmt;
use std::time::Duration;

use async_nats::jetstream::stream::{RetentionPolicy, StorageType};
use serde::Deserialize;

pub use encode::{Publication, encode, msg_id, subject};
pub use send::send;

/// `[targets.<name>] type = "nats"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `nats://host:4222` (or `tls://host:4222` for TLS with the system's roots).
    pub url: String,
    /// A token, for servers that authenticate by token.
    #[serde(default)]
    pub token: Option<String>,
    /// User and password, for servers that authenticate by user.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The stream (default `MISTGATE`).
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The first tokens of event subjects (default `mist`).
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// The first tokens of incident subjects (default `mistgate.incidents`).
    #[serde(default = "default_incident_prefix")]
    pub incident_prefix: String,
    /// Whether the stream is created when absent (default true). An existing stream is
    /// used as it is: its settings belong to whoever made it.
    #[serde(default = "yes")]
    pub create_stream: bool,
    /// The settings of a stream created here: `limits` (default), `interest` or
    /// `workqueue` retention.
    #[serde(default)]
    pub retention: RetentionPolicy,
    /// `file` (default) or `memory`.
    #[serde(default)]
    pub storage: StorageType,
    /// How long messages are kept (default 7 days; `0s` for no limit).
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// Most bytes kept (default -1, no limit).
    #[serde(default = "unlimited")]
    pub max_bytes: i64,
    /// Most messages kept (default -1, no limit).
    #[serde(default = "unlimited")]
    pub max_messages: i64,
    /// Copies in a cluster (default 1).
    #[serde(default = "one")]
    pub replicas: usize,
    /// How long the stream remembers message ids to drop duplicates (default 10 minutes,
    /// which covers the first retries of a batch that was partly acknowledged).
    #[serde(default = "default_duplicate_window", with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("nats::Config")
            .field("url", &crate::request::shown_url(&self.url))
            .field("token", &hidden(&self.token))
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("incident_prefix", &self.incident_prefix)
            .field("create_stream", &self.create_stream)
            .field("retention", &self.retention)
            .field("storage", &self.storage)
            .field("max_age", &self.max_age)
            .field("max_bytes", &self.max_bytes)
            .field("max_messages", &self.max_messages)
            .field("replicas", &self.replicas)
            .field("duplicate_window", &self.duplicate_window)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

fn default_stream() -> String {
    "MISTGATE".into()
}
fn default_subject_prefix() -> String {
    "mist".into()
}
fn default_incident_prefix() -> String {
    "mistgate.incidents".into()
}
fn yes() -> bool {
    true
}
fn default_max_age() -> Duration {
    Duration::from_secs(7 * 86_400)
}
fn unlimited() -> i64 {
    -1
}
fn one() -> usize {
    1
}
fn default_duplicate_window() -> Duration {
    Duration::from_secs(600)
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        server_address(&self.url).map_err(|e| format!("url: {e}"))?;
        if self.token.is_some() && (self.user.is_some() || self.password.is_some()) {
            return Err(ConfigError(
                "token: give a token or a user and password, not both".to_string(),
            ));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(ConfigError(
                "password: a user needs a password, and a password a user".to_string(),
            ));
        }
        // JetStream stream names: no spaces, dots, wildcards or path separators.
        if self.stream.is_empty()
            || self.stream.len() > 255
            || !self
                .stream
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b".*>/\\".contains(&b))
        {
            return Err(ConfigError(format!(
                "stream: `{}` is not a stream name (printable, no . * > / \\)",
                self.stream
            )));
        }
        for (field, prefix) in [
            ("subject_prefix", &self.subject_prefix),
            ("incident_prefix", &self.incident_prefix),
        ] {
            if prefix.is_empty()
                || !prefix
                    .split('.')
                    .all(|t| !t.is_empty() && t == encode::token(t))
            {
                return Err(ConfigError(format!(
                    "{field}: `{prefix}` is not a subject of plain tokens separated by dots"
                )));
            }
        }
        let covers = |a: &str, b: &str| b == a || b.starts_with(&format!("{a}."));
        if covers(&self.subject_prefix, &self.incident_prefix)
            || covers(&self.incident_prefix, &self.subject_prefix)
        {
            return Err(ConfigError(format!(
                "incident_prefix: `{}` and subject_prefix `{}` overlap; the stream needs them apart",
                self.incident_prefix, self.subject_prefix
            )));
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(ConfigError(format!(
                "replicas: {} is not between 1 and 5",
                self.replicas
            )));
        }
        if self.max_bytes == 0 || self.max_bytes < -1 {
            return Err(ConfigError(
                "max_bytes: a positive number, or -1 for no limit".to_string(),
            ));
        }
        if self.max_messages == 0 || self.max_messages < -1 {
            return Err(ConfigError(
                "max_messages: a positive number, or -1 for no limit".to_string(),
            ));
        }
        if self.duplicate_window.is_zero() {
            return Err(ConfigError(
                "duplicate_window: must be longer than 0s, or duplicates are kept".to_string(),
            ));
        }
        if !self.max_age.is_zero() && self.duplicate_window > self.max_age {
            return Err(ConfigError(
                "duplicate_window: longer than max_age".to_string(),
            ));
        }
        Ok(())
    }
}

/// The host and port of a `nats://` or `tls://` URL (port 4222 when not given).
pub(crate) fn server_address(url: &str) -> Result<(String, u16), ConfigError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("`{}` is not a URL: {e}", crate::request::shown_url(url)))?;
    if !matches!(parsed.scheme(), "nats" | "tls") {
        return Err(ConfigError(format!(
            "`{}` is not a nats:// or tls:// URL",
            crate::request::shown_url(url)
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError(
            "credentials go in `user`/`password` or `token`, not in the URL".to_string(),
        ));
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => return Err(ConfigError("the URL has no host".to_string())),
    };
    Ok((host, parsed.port().unwrap_or(4222)))
}
