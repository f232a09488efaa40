//! Routing targets: where events and incident changes go besides Mist-format webhooks.
//!
//! Every target is a folder with the same parts:
//! - `Config`: what `[targets.<name>]` in the config file says, checked at load
//!   (`check`), secrets never in `Debug`;
//! - `encode`: messages (and what the target remembers, e.g. a Slack message id) to the
//!   request(s) it sends, pure, snapshot-tested;
//! - `send`: does the IO through the shared [`Client`] (SSRF guard, timeouts, attempt
//!   records) and classifies the answer (which ones are retried).
//!
//! The routing stage puts messages in the outbox per target; the target's lane sends them
//! with the retries, breaker, dead letters, replay and rate limit (`rate_limit`, on every
//! target) of the delivery engine.

mod error;
pub mod facts;
pub mod message;
pub mod nats;
pub mod pagerduty;
pub mod servicenow;
pub mod slack;
pub mod splunk;
pub mod standard_webhooks;
pub mod syslog;
pub mod teams;
pub mod template;

use std::fmt;

use serde::Deserialize;
use store::Store;

pub use error::ConfigError;
pub use message::{EventMessage, IncidentMessage, Message};

use crate::client::{Client, Exchange};
use crate::rate_limit::RateLimit;

/// The outbox id prefix of target lanes (webhook subscriptions use their bare id).
pub const DESTINATION_PREFIX: &str = "target:";

/// One `[targets.<name>]` entry.
#[derive(Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetConfig {
    /// A generic HTTP POST of mistgate's JSON, signed per the Standard Webhooks spec.
    Webhook(standard_webhooks::Config),
    /// Slack: incoming webhook, or a bot token with `chat.postMessage`/`chat.update`.
    Slack(slack::Config),
    /// Microsoft Teams: a Workflows webhook with an Adaptive Card.
    Teams(teams::Config),
    /// PagerDuty Events API v2.
    Pagerduty(pagerduty::Config),
    /// ServiceNow Table API (`incident`).
    Servicenow(servicenow::Config),
    /// Splunk HTTP Event Collector.
    Splunk(splunk::Config),
    /// Syslog (RFC 5424) over UDP, TCP or TLS.
    Syslog(syslog::Config),
    /// NATS JetStream: every message published, deduplicated by the stream.
    Nats(nats::Config),
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Configs hold secrets; only the kind is shown.
        write!(f, "TargetConfig::{}", self.kind())
    }
}

/// How the routing stage groups a target's messages into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// One message per batch (chat messages, pages, tickets).
    One,
    /// Up to this many messages per batch, gathered over the aggregation window.
    Many(usize),
}

/// What a send needs besides the messages.
pub struct Context<'a> {
    /// The HTTP client (SSRF guard, timeouts, attempt records).
    pub client: &'a Client,
    /// Where targets keep what they must remember (see [`Store::target_state`]).
    pub store: &'a dyn Store,
    /// The target's name.
    pub target: &'a str,
    /// Names this batch on every attempt; receivers may deduplicate on it.
    pub delivery_id: &'a str,
    /// Now, unix µs.
    pub now_us: i64,
}

impl TargetConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetConfig::Webhook(_) => "webhook",
            TargetConfig::Slack(_) => "slack",
            TargetConfig::Teams(_) => "teams",
            TargetConfig::Pagerduty(_) => "pagerduty",
            TargetConfig::Servicenow(_) => "servicenow",
            TargetConfig::Splunk(_) => "splunk",
            TargetConfig::Syslog(_) => "syslog",
            TargetConfig::Nats(_) => "nats",
        }
    }

    /// Checks the settings; the message names the field.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self {
            TargetConfig::Webhook(c) => c.check(),
            TargetConfig::Slack(c) => c.check(),
            TargetConfig::Teams(c) => c.check(),
            TargetConfig::Pagerduty(c) => c.check(),
            TargetConfig::Servicenow(c) => c.check(),
            TargetConfig::Splunk(c) => c.check(),
            TargetConfig::Syslog(c) => c.check(),
            TargetConfig::Nats(c) => c.check(),
        }
    }

    /// The limit its lane keeps: the configured `rate_limit`, or for Slack, which takes
    /// about one message per second per webhook or channel, [`slack::DEFAULT_RATE_LIMIT`].
    pub fn rate_limit(&self) -> Option<RateLimit> {
        match self {
            TargetConfig::Webhook(c) => c.rate_limit,
            TargetConfig::Slack(c) => Some(c.rate_limit.unwrap_or(slack::DEFAULT_RATE_LIMIT)),
            TargetConfig::Teams(c) => c.rate_limit,
            TargetConfig::Pagerduty(c) => c.rate_limit,
            TargetConfig::Servicenow(c) => c.rate_limit,
            TargetConfig::Splunk(c) => c.rate_limit,
            TargetConfig::Syslog(c) => c.rate_limit,
            TargetConfig::Nats(c) => c.rate_limit,
        }
    }

    /// How its messages are batched.
    pub fn batching(&self) -> Batching {
        match self {
            TargetConfig::Splunk(c) => Batching::Many(c.batch_size),
            TargetConfig::Syslog(_) => Batching::Many(100),
            TargetConfig::Nats(_) => Batching::Many(500),
            _ => Batching::One,
        }
    }

    /// Sends one batch; the exchange says what happened (and decides the retry).
    pub async fn send(&self, messages: &[Message], ctx: &Context<'_>) -> Exchange {
        match self {
            TargetConfig::Webhook(c) => standard_webhooks::send(c, messages, ctx).await,
            TargetConfig::Slack(c) => slack::send(c, messages, ctx).await,
            TargetConfig::Teams(c) => teams::send(c, messages, ctx).await,
            TargetConfig::Pagerduty(c) => pagerduty::send(c, messages, ctx).await,
            TargetConfig::Servicenow(c) => servicenow::send(c, messages, ctx).await,
            TargetConfig::Splunk(c) => splunk::send(c, messages, ctx).await,
            TargetConfig::Syslog(c) => syslog::send(c, messages, ctx).await,
            TargetConfig::Nats(c) => nats::send(c, messages, ctx).await,
        }
    }
}

/// A target with its name.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub config: TargetConfig,
}

impl Target {
    /// The lane/outbox id of this target.
    pub fn destination(&self) -> String {
        format!("{DESTINATION_PREFIX}{}", self.name)
    }
}

/// An exchange for a failure before any request was made (bad batch, missing state).
pub fn local_failure(outcome: crate::schedule::Outcome, error: impl Into<String>) -> Exchange {
    Exchange {
        outcome,
        status_code: None,
        latency: std::time::Duration::ZERO,
        error: Some(error.into()),
        request_headers: "{}".into(),
        request_body: String::new(),
        response_headers: "{}".into(),
        response_body: String::new(),
    }
}

/// Reads the messages of a batch body (`{"topic": ..., "events": [<message>...]}`).
pub fn messages_of(body: &[u8]) -> Result<Vec<Message>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Batch {
        events: Vec<Message>,
    }
    Ok(serde_json::from_slice::<Batch>(body)?.events)
}
