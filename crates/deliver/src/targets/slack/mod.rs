//! Slack: Block Kit messages through an incoming webhook, or through a bot token with
//! `chat.postMessage`, in which case the later changes of an incident edit its message
//! (`chat.update`) instead of posting new ones.
//!
//! Slack accepts about one message per second per webhook (and per channel for
//! `chat.postMessage`): that is the target's default `rate_limit` ([`DEFAULT_RATE_LIMIT`]),
//! kept by its lane like any target's limit, and a `429` with `Retry-After` is handed to
//! the retry schedule.

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::rate_limit::RateLimit;
use crate::targets::ConfigError;
use std::fmt;

use serde::Deserialize;

pub use encode::{Posted, payload, post_request, update_request, webhook_request};
pub use send::send;

use crate::targets::standard_webhooks::check_url;
use crate::targets::template;

/// Slack's own pace, the `rate_limit` of a Slack target that sets none: about one
/// message per second per webhook, and per channel for `chat.postMessage`.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit::per_second(1);

/// The Web API base.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// `[targets.<name>] type = "slack"`: either `webhook_url`, or `token` and `channel`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// An incoming-webhook URL (`https://hooks.slack.com/services/...`). It is a secret.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// A bot token (`xoxb-...`) with the `chat:write` scope.
    #[serde(default)]
    pub token: Option<String>,
    /// The channel the bot posts to: an id (`C0123456789`) or a name (`#noc`); the bot must
    /// be a member.
    #[serde(default)]
    pub channel: Option<String>,
    /// The Web API base (default [`DEFAULT_API_URL`]).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The header line (see `targets::template`); default `[Opened] <summary> at <site>`.
    #[serde(default)]
    pub title_template: Option<String>,
    /// Body text shown under the facts; without it the message shows the facts only,
    /// and the default text is the notification text.
    #[serde(default)]
    pub text_template: Option<String>,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]). Default [`DEFAULT_RATE_LIMIT`].
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.into()
}

/// How a config reaches Slack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode<'a> {
    /// An incoming webhook: every message is a new post.
    Webhook { url: &'a str },
    /// A bot token: posts, and edits an incident's message on its later changes.
    Bot { token: &'a str, channel: &'a str },
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        match (&self.webhook_url, &self.token) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "webhook_url and token: set one of them, not both".to_string(),
                ));
            }
            (None, None) => {
                return Err(ConfigError(
                    "webhook_url: required (or token and channel for a bot)".to_string(),
                ));
            }
            (Some(url), None) => {
                check_url("webhook_url", url)?;
                if self.channel.is_some() {
                    return Err(
                        "channel: an incoming webhook posts to its own channel; remove it".into(),
                    );
                }
            }
            (None, Some(token)) => {
                if !token.starts_with("xox") {
                    return Err(ConfigError(
                        "token: a Slack token starts with `xoxb-` (bot) or `xoxp-`".to_string(),
                    ));
                }
                match self.channel.as_deref().map(str::trim) {
                    None | Some("") => {
                        return Err(ConfigError("channel: required with a token".to_string()));
                    }
                    Some(_) => {}
                }
                check_url("api_url", &self.api_url)?;
            }
        }
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

    /// How messages go out (the config is checked, so one of the two is set).
    pub fn mode(&self) -> Mode<'_> {
        match (&self.webhook_url, &self.token) {
            (Some(url), _) => Mode::Webhook { url },
            (None, token) => Mode::Bot {
                token: token.as_deref().unwrap_or_default(),
                channel: self.channel.as_deref().unwrap_or_default(),
            },
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The webhook URL is a credential as much as the token is.
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("slack::Config")
            .field("webhook_url", &hidden(&self.webhook_url))
            .field("token", &hidden(&self.token))
            .field("channel", &self.channel)
            .field("api_url", &self.api_url)
            .field("title_template", &self.title_template)
            .field("text_template", &self.text_template)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}
