//! The cloud webhook types Mist offers besides HTTP: `aws-sns` (an SNS `Publish` signed
//! with Signature Version 4) and `google-pubsub` (a Pub/Sub `publish` with a service
//! account's token). Pure: each builds the request (and, for Pub/Sub, the token request)
//! from the webhook's topic, the credentials and the time it is given; the client sends
//! them (`client/cloud.rs`).
//!
//! Mist's webhook object has no credential fields for these types: Mist publishes as its
//! own cloud identity, which the customer grants access to the topic. mistgate likewise
//! publishes as its own identity, from its environment (the names the clouds' own tools
//! read): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and
//! `AWS_ENDPOINT_URL_SNS`/`AWS_ENDPOINT_URL`; `GOOGLE_APPLICATION_CREDENTIALS` (a service
//! account key file) and `MISTGATE_PUBSUB_ENDPOINT`. The webhook's `url` names the topic:
//! an SNS topic ARN, or a Pub/Sub topic (`projects/<project>/topics/<topic>`).

pub mod pubsub;
pub mod sns;

/// The message attribute that carries the delivery id (the HTTP types' header
/// `X-Mistgate-Delivery-Id`): the same on every attempt, to deduplicate on.
pub const DELIVERY_ID_ATTRIBUTE: &str = "mistgate_delivery_id";
