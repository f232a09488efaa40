//! The shapes of the webhook subscriptions API, for the OpenAPI document only.
//!
//! The handlers (see `webhooks.rs`) read bodies with `deliver::subscription::parse_request`
//! and answer `Subscription::public_view()`: the Mist `webhook` object, with the write-only
//! secrets replaced by `has_*` booleans. These types mirror that JSON field for field.

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// How deliveries are made: `http-post` (a plain POST of the Mist-format body), `splunk`
/// (a POST to a Splunk HTTP Event Collector with `splunk_token`) or `oauth2` (a POST with a
/// bearer token fetched from `oauth2_token_url`). Mist's `google-pubsub` and `aws-sns` are
/// refused with 422 `unsupported_type`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum WebhookTypeDoc {
    HttpPost,
    Splunk,
    Oauth2,
}

/// The OAuth2 grant used to fetch a token for `oauth2` webhooks: `client_credentials`
/// (needs `oauth2_client_id` and `oauth2_client_secret`) or `password` (needs
/// `oauth2_username` and `oauth2_password`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Oauth2GrantDoc {
    ClientCredentials,
    Password,
}

/// A webhook subscription, as the API shows it: the Mist `webhook` object. The write-only
/// secrets are never returned; `has_secret`, `has_splunk_token`, `has_oauth2_client_secret`
/// and `has_oauth2_password` tell whether each is set.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookDoc {
    /// The webhook's id (a UUID), decided by the server.
    id: String,
    /// The organisation, for org-level webhooks; `null` for site-level ones.
    #[schema(required = true)]
    org_id: Option<String>,
    /// The site, for site-level webhooks; `null` for org-level ones.
    #[schema(required = true)]
    site_id: Option<String>,
    /// Whether this is a site-level webhook.
    for_site: bool,
    /// Display name.
    #[schema(required = true)]
    name: Option<String>,
    /// Where deliveries go (http or https).
    url: String,
    /// Whether deliveries are made.
    enabled: bool,
    /// How deliveries are made.
    #[serde(rename = "type")]
    webhook_type: WebhookTypeDoc,
    /// The topics delivered, canonical names (e.g. `device-events`), without duplicates.
    topics: Vec<String>,
    /// Extra headers sent with each delivery (`http-post` only).
    headers: BTreeMap<String, String>,
    /// Whether the receiver's TLS certificate is verified.
    verify_cert: bool,
    /// The OAuth2 grant (`oauth2` webhooks).
    #[schema(required = true)]
    oauth2_grant_type: Option<Oauth2GrantDoc>,
    /// The OAuth2 client id (client_credentials grant).
    #[schema(required = true)]
    oauth2_client_id: Option<String>,
    /// The OAuth2 user name (password grant).
    #[schema(required = true)]
    oauth2_username: Option<String>,
    /// The OAuth2 token endpoint (`oauth2` webhooks).
    #[schema(required = true)]
    oauth2_token_url: Option<String>,
    /// The OAuth2 scopes asked for.
    oauth2_scopes: Vec<String>,
    /// Whether each message carries a single event.
    single_event_per_message: bool,
    /// Asset filters (only with the `asset-raw-rssi` topic).
    assetfilter_ids: Vec<String>,
    /// When it was created, unix seconds.
    created_time: f64,
    /// When it was last changed, unix seconds.
    modified_time: f64,
    /// Whether `secret` is set.
    has_secret: bool,
    /// Whether `splunk_token` is set.
    has_splunk_token: bool,
    /// Whether `oauth2_client_secret` is set.
    has_oauth2_client_secret: bool,
    /// Whether `oauth2_password` is set.
    has_oauth2_password: bool,
}

/// The body of `POST` (create) and `PUT` (replace) on a webhook: the Mist `webhook`
/// object. Unknown fields are refused (422 `invalid_field`); the read-only ones a client
/// may echo back from a GET (`id`, `org_id`, `site_id`, `for_site`, `created_time`,
/// `modified_time`) are ignored. `null` counts as absent, except for the write-only secrets,
/// where it clears the stored value. A PUT replaces the object, but a secret the body
/// leaves out keeps its previous value.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookRequestDoc {
    /// Display name.
    name: Option<String>,
    /// Where deliveries go: an http or https URL with a host.
    url: String,
    /// Whether deliveries are made; `true` when left out.
    enabled: Option<bool>,
    /// How deliveries are made; `http-post` when left out.
    #[serde(rename = "type")]
    webhook_type: Option<WebhookTypeDoc>,
    /// At least one topic. Names are matched ignoring case and `_`/`-`, and stored
    /// canonical and deduplicated. Location and raw-RSSI topics (`asset-raw`,
    /// `asset-raw-rssi`, `discovered-raw-rssi`, `location*`, `rssizone`, ...) are allowed on
    /// site webhooks only.
    topics: Vec<String>,
    /// HMAC secret for `X-Mist-Signature` and `X-Mist-Signature-v2`. Write-only: never
    /// returned; `null` clears it, an empty string is refused.
    #[schema(nullable = true)]
    secret: Option<String>,
    /// Extra headers, string values (`http-post` only): valid header names, no control
    /// characters, names and values together under 1000 bytes.
    headers: Option<BTreeMap<String, String>>,
    /// Whether to verify the receiver's TLS certificate; `true` when left out.
    verify_cert: Option<bool>,
    /// Splunk HEC token, required for `splunk`. Write-only, as `secret`.
    #[schema(nullable = true)]
    splunk_token: Option<String>,
    /// The OAuth2 grant, required for `oauth2`.
    oauth2_grant_type: Option<Oauth2GrantDoc>,
    /// The OAuth2 client id, required for the client_credentials grant.
    oauth2_client_id: Option<String>,
    /// The OAuth2 client secret, required for the client_credentials grant. Write-only, as
    /// `secret`.
    #[schema(nullable = true)]
    oauth2_client_secret: Option<String>,
    /// The OAuth2 user name, required for the password grant.
    oauth2_username: Option<String>,
    /// The OAuth2 password, required for the password grant. Write-only, as `secret`.
    #[schema(nullable = true)]
    oauth2_password: Option<String>,
    /// The OAuth2 token endpoint (http or https), required for `oauth2`.
    oauth2_token_url: Option<String>,
    /// The OAuth2 scopes to ask for.
    oauth2_scopes: Option<Vec<String>>,
    /// Send one event per message; `false` when left out.
    single_event_per_message: Option<bool>,
    /// Asset filters; only allowed with the `asset-raw-rssi` topic.
    assetfilter_ids: Option<Vec<String>>,
}

/// The answer of a `DELETE`: an empty object, `{}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EmptyDoc {}

/// One delivery attempt: Mist's `webhook_delivery` object, plus mistgate's fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeliveryDoc {
    /// The attempt's id.
    id: i64,
    org_id: Option<String>,
    site_id: Option<String>,
    webhook_id: String,
    /// Canonical topic, or `ping`.
    topic: String,
    /// `success` (a 2xx answer) or `failure`.
    status: String,
    /// The answer's HTTP status; null when there was no answer (timeout, refused connection).
    status_code: Option<u16>,
    /// When the request was sent, epoch seconds.
    timestamp: f64,
    req_url: String,
    /// Request headers as JSON text, `{"Name": ["value"]}`; credentials and custom header
    /// values are redacted.
    req_headers: String,
    /// The request body, truncated to `[delivery] record_body_bytes`.
    req_payload: String,
    resp_headers: String,
    /// The answer's body, truncated.
    resp_body: String,
    /// What went wrong, if anything.
    error: Option<String>,
    /// 1 for the message's first attempt.
    attempt: u32,
    latency_ms: f64,
    /// The message (outbox batch) this attempt sent.
    batch_id: i64,
    /// The message's state after this attempt: `pending` (a retry follows), `delivered`, `dead`.
    batch_state: String,
    /// When the retry is due, for `pending`.
    next_attempt_at: Option<String>,
}

/// A page of delivery results.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeliverySearchDoc {
    results: Vec<DeliveryDoc>,
    /// The time filter, epoch seconds.
    start: Option<f64>,
    end: Option<f64>,
    limit: u32,
    /// Pass as `cursor` for the next page; null at the end.
    next_cursor: Option<String>,
}

/// Delivery results counted by one field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeliveryCountDoc {
    /// The field counted by.
    distinct: String,
    /// `{"<distinct>": value, "count": n}`, largest first.
    results: Vec<serde_json::Value>,
    start: Option<f64>,
    end: Option<f64>,
    total: i64,
}

/// The answer of a ping.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PingDoc {
    /// The message queued; see `/deliveries` and `/events/search`.
    batch_id: i64,
}

/// One message of a webhook's outbox.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchDoc {
    id: i64,
    webhook_id: String,
    topic: String,
    /// `pending`, `delivered` or `dead`.
    state: String,
    event_count: u32,
    /// The events of the log it carries.
    event_ids: Vec<i64>,
    /// The `X-Mistgate-Delivery-Id` header it is sent with (the same on every attempt).
    delivery_id: String,
    created_at: String,
    next_attempt_at: Option<String>,
    attempts: u32,
    last_attempt_at: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
}

/// A page of outbox messages.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchListDoc {
    items: Vec<BatchDoc>,
    next_cursor: Option<String>,
}

/// The messages a replay queued again.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReplayedDoc {
    replayed: Vec<i64>,
}

/// A routing target (its settings and secrets are not shown).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TargetDoc {
    /// The name of `[targets.<name>]`.
    name: String,
    /// `webhook`, `slack`, `teams`, `pagerduty`, `servicenow`, `splunk`, `syslog`, `nats`.
    #[schema(rename = "type")]
    kind: String,
}
