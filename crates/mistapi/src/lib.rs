//! A client for the part of Juniper Mist's REST API that mistgate uses.
//!
//! Mist answers lists as bare JSON arrays paged by `limit`/`page` (with `X-Page-Total`),
//! searches as `{start, end, limit, total, results, next}`, and errors as `{detail}`
//! (404: `{id}`); every token is limited to 5,000 calls an hour and gets 429 beyond.
//! This client speaks that: [`Client::list`] follows the pages, a 429 is retried after
//! a pause (at most [`Client::with_retries`] times), and every error is a [`MistError`]
//! that names the call and what Mist said.
//!
//! ```no_run
//! # async fn run() -> Result<(), mistapi::MistError> {
//! let mist = mistapi::Client::new("https://api.eu.mist.com", "token")?;
//! let hooks = mist.webhooks(&mistapi::Scope::Org("2818e386-...".into())).await?;
//! # Ok(()) }
//! ```

pub mod budget;
mod client;
mod org;
mod search;
mod webhooks;

pub use client::{Client, MistError};
pub use org::{Uplink, uplinks};
pub use search::Range;
pub use webhooks::{DeliveryCount, Scope, Webhook, WebhookTopic};
