//! Outbound delivery of mistgate: the pure cores.
//!
//! The pure cores are sans-IO: time arrives as an argument (unix microseconds, `i64`),
//! randomness is passed in, and nothing touches the network, the database or the clock.
//! The IO shell that sends requests and stores the outbox wires these together.
//!
//! - [`schedule`]: classify an attempt's outcome and decide when (or whether) to retry.
//! - [`aggregate`]: batch events per (subscription, topic) into Mist-format bodies.
//! - [`breaker`]: pause a subscription whose receiver keeps failing.
//! - [`headers`]: the headers of a Mist-format webhook request, signatures included.
//! - [`hec`]: Splunk HTTP Event Collector bodies (Mist-format `splunk` webhooks and the
//!   Splunk target).
//! - [`rate_limit`]: at most N requests per period to one destination, spread evenly.
//! - [`ssrf`]: refuse targets on loopback, private and link-local addresses.
//! - [`subscription`]: the Mist `webhook` object of the subscriptions API, parsed and checked.
//! - [`supervise`]: background stages restarted after a panic, and their status.
//! - [`tail`]: what wakes the stages that tail the log, and the loop they share.

pub mod aggregate;
pub mod breaker;
pub mod client;
pub mod clock;
pub mod engine;
pub mod headers;
pub mod hec;
pub mod lease;
pub mod publish;
pub mod rate_limit;
pub mod registry;
pub mod request;
pub mod route;
pub mod schedule;
pub mod ssrf;
pub mod subscription;
pub mod supervise;
pub mod tail;
pub mod targets;

pub use aggregate::{AggregationPolicy, Aggregator, Batch, BatchKey, Pending};
pub use breaker::{Breaker, BreakerPolicy, BreakerState};
pub use client::ClientSettings;
pub use engine::{Engine, EngineSettings, StartError};
pub use headers::{DELIVERY_ID_HEADER, request_headers};
pub use rate_limit::{Limiter, RateLimit};
pub use registry::Registry;
pub use schedule::{
    Class, DeadReason, Decision, Outcome, RetryPolicy, classify, next_attempt, parse_retry_after,
};
pub use ssrf::{AddressKind, TargetError, check_target};
pub use subscription::{Invalid, Oauth2Grant, Scope, Subscription, WebhookType, parse_request};
