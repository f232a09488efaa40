//! Subscriptions: the Mist `webhook` object as mistgate's subscriptions API takes and returns it.
//!
//! Field names, defaults and validation follow `components.schemas.webhook` of the Mist
//! OpenAPI description. [`parse_request`] turns a client's POST/PUT body into a checked
//! [`Subscription`]; [`Subscription::public_view`] is what the API shows back, with the
//! write-only secrets replaced by `has_*` booleans.
//!
//! Choices worth knowing:
//! - Unknown fields are rejected, except the read-only ones a client may echo back from a GET
//!   (`id`, `org_id`, `site_id`, `for_site`, `created_time`, `modified_time` and the
//!   `has_*` flags), which are ignored: the server decides them.
//! - `null` counts as absent for every field, except the write-only secrets where `null`
//!   explicitly clears the stored value.
//! - On PUT the body is a partial update, as Mist takes it: a field the body leaves out
//!   keeps its stored value, a field set to `null` goes back to its default (a write-only
//!   secret is cleared), and the result is checked as a whole, as when creating one.
//! - `aws-sns` and `google-pubsub` take the topic in `url` (an SNS topic ARN, a Pub/Sub
//!   `projects/<project>/topics/<topic>`) and publish as mistgate's own cloud identity,
//!   as Mist publishes as its own (see [`crate::publish`]).
//! - `rate_limit` (`"30/min"`, see [`crate::rate_limit`]) is mistgate's own field, not
//!   Mist's: optional (`null` when unset), so a Mist client that never sends it has no
//!   limit, and one that echoes a GET back keeps the limit.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use mist::Topic;
use serde::{Deserialize, Serialize};

use self::fields::{take, take_bool, take_string, take_string_list};
use crate::rate_limit::RateLimit;
use serde_json::{Map, Value};

pub mod assetfilter;
mod fields;

/// Where a subscription lives: the org or site id of the request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// An org-level webhook (`/orgs/{org_id}/webhooks`).
    Org(String),
    /// A site-level webhook (`/sites/{site_id}/webhooks`).
    Site(String),
}

/// How deliveries are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum WebhookType {
    /// `http-post`: a plain POST of the Mist-format body (the default).
    HttpPost,
    /// `splunk`: a POST to a Splunk HTTP Event Collector with `splunk_token`.
    Splunk,
    /// `oauth2`: a POST with a bearer token fetched from `oauth2_token_url`.
    Oauth2,
    /// `aws-sns`: the body published to the SNS topic whose ARN is `url` (see
    /// [`crate::publish`]).
    AwsSns,
    /// `google-pubsub`: the body published to the Pub/Sub topic `url`
    /// (`projects/<project>/topics/<topic>`).
    GooglePubsub,
}

impl WebhookType {
    /// The name, as Mist writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookType::HttpPost => "http-post",
            WebhookType::Splunk => "splunk",
            WebhookType::Oauth2 => "oauth2",
            WebhookType::AwsSns => "aws-sns",
            WebhookType::GooglePubsub => "google-pubsub",
        }
    }
}

/// The OAuth2 grant used to fetch a token for `oauth2` webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Oauth2Grant {
    /// `client_credentials`: needs `oauth2_client_id` and `oauth2_client_secret`.
    ClientCredentials,
    /// `password`: needs `oauth2_username` and `oauth2_password`.
    Password,
}

/// Why a request body was refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// 400 when the body is not JSON or not an object, 422 when the object is invalid.
    pub status: u16,
    /// `"malformed_json"` or `"invalid_field"`.
    pub code: &'static str,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// A human-readable explanation.
    pub detail: String,
}

impl Invalid {
    fn malformed(detail: impl Into<String>) -> Self {
        Invalid {
            status: 400,
            code: "malformed_json",
            field: None,
            detail: detail.into(),
        }
    }

    fn field(field: &str, detail: impl Into<String>) -> Self {
        Invalid {
            status: 422,
            code: "invalid_field",
            field: Some(field.to_string()),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {}: {}", self.code, field, self.detail),
            None => write!(f, "{}: {}", self.code, self.detail),
        }
    }
}

impl std::error::Error for Invalid {}

/// A checked webhook subscription, secrets included (this is the stored form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Server-assigned id.
    pub id: String,
    /// The org, for org-level webhooks.
    pub org_id: Option<String>,
    /// The site, for site-level webhooks.
    pub site_id: Option<String>,
    /// Whether this is a site-level webhook.
    pub for_site: bool,
    /// Optional display name.
    pub name: Option<String>,
    /// Target URL (http or https, with a host).
    pub url: String,
    /// Whether deliveries are made (default true).
    pub enabled: bool,
    /// Delivery type (default `http-post`).
    #[serde(rename = "type")]
    pub webhook_type: WebhookType,
    /// Canonical topic names, deduplicated, at least one.
    pub topics: Vec<String>,
    /// HMAC secret for `X-Mist-Signature(-v2)`. Write-only.
    pub secret: Option<String>,
    /// Extra headers (`http-post` only); names and values total under 1000 bytes.
    pub headers: BTreeMap<String, String>,
    /// Whether to verify the receiver's TLS certificate (default true).
    pub verify_cert: bool,
    /// Splunk HEC token, required for `splunk`. Write-only.
    pub splunk_token: Option<String>,
    /// OAuth2 grant, required for `oauth2`.
    pub oauth2_grant_type: Option<Oauth2Grant>,
    /// OAuth2 client id (client_credentials).
    pub oauth2_client_id: Option<String>,
    /// OAuth2 client secret (client_credentials). Write-only.
    pub oauth2_client_secret: Option<String>,
    /// OAuth2 user name (password grant).
    pub oauth2_username: Option<String>,
    /// OAuth2 password (password grant). Write-only.
    pub oauth2_password: Option<String>,
    /// OAuth2 token endpoint, required for `oauth2`.
    pub oauth2_token_url: Option<String>,
    /// OAuth2 scopes for the token request.
    pub oauth2_scopes: Vec<String>,
    /// Send one event per message (default false).
    pub single_event_per_message: bool,
    /// Asset filters (ids), only with an asset topic: events of the asset topics go
    /// only when one of them matches (see [`assetfilter`]).
    pub assetfilter_ids: Vec<String>,
    /// At most this many messages per period; more wait their turn (mistgate's extension).
    /// Absent from records stored before it existed.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Creation time, unix seconds.
    pub created_time: f64,
    /// Last modification time, unix seconds.
    pub modified_time: f64,
}

/// The write-only fields and the boolean that replaces each in [`Subscription::public_view`].
const WRITE_ONLY: [(&str, &str); 4] = [
    ("secret", "has_secret"),
    ("splunk_token", "has_splunk_token"),
    ("oauth2_client_secret", "has_oauth2_client_secret"),
    ("oauth2_password", "has_oauth2_password"),
];

/// Server-decided fields a client may echo back from a GET; they are ignored.
const READ_ONLY: [&str; 10] = [
    "id",
    "org_id",
    "site_id",
    "for_site",
    "created_time",
    "modified_time",
    "has_secret",
    "has_splunk_token",
    "has_oauth2_client_secret",
    "has_oauth2_password",
];

/// Header names and values together must stay under this many bytes.
const HEADERS_MAX_BYTES: usize = 1000;

impl Subscription {
    /// The object as the API shows it: every field except the write-only secrets, which
    /// become `has_secret`, `has_splunk_token`, `has_oauth2_client_secret` and
    /// `has_oauth2_password`.
    pub fn public_view(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("a subscription always serializes");
        let map = value
            .as_object_mut()
            .expect("a subscription serializes to an object");
        for (field, flag) in WRITE_ONLY {
            let set = !matches!(map.remove(field), None | Some(Value::Null));
            map.insert(flag.to_string(), Value::Bool(set));
        }
        value
    }
}

/// A write-only field in a body: absent (keep the previous value), `null` (clear) or a value.
enum Secret {
    Absent,
    Clear,
    Set(String),
}

/// Parses and checks a POST/PUT body for the webhook `id` in `scope`.
///
/// `previous` is the stored object on PUT (`None` on POST): every field the body leaves
/// out keeps its value there (a partial update, as Mist's PUT), `created_time` too.
pub fn parse_request(
    body: &[u8],
    scope: &Scope,
    id: &str,
    now_s: f64,
    previous: Option<&Subscription>,
) -> Result<Subscription, Invalid> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Invalid::malformed(format!("body is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(Invalid::malformed("body must be a JSON object"));
    };

    // Unknown fields first, so a typo is reported as such rather than as a missing field.
    for key in obj.keys() {
        if !is_known_field(key) {
            return Err(Invalid::field(key, "unknown field"));
        }
    }
    for key in READ_ONLY {
        obj.remove(key);
    }
    if let Some(previous) = previous {
        obj = merged(previous, obj);
    }

    let webhook_type = match take_string(&mut obj, "type")?.as_deref() {
        None | Some("http-post") => WebhookType::HttpPost,
        Some("splunk") => WebhookType::Splunk,
        Some("oauth2") => WebhookType::Oauth2,
        Some("aws-sns") => WebhookType::AwsSns,
        Some("google-pubsub") => WebhookType::GooglePubsub,
        Some(other) => {
            return Err(Invalid::field(
                "type",
                format!(
                    "unknown type {other:?}; expected http-post, splunk, oauth2, aws-sns or \
                     google-pubsub"
                ),
            ));
        }
    };

    let url = take_string(&mut obj, "url")?.ok_or_else(|| Invalid::field("url", "required"))?;
    match webhook_type {
        WebhookType::AwsSns => {
            url.parse::<crate::publish::sns::TopicArn>()
                .map_err(|e| Invalid::field("url", e))?;
        }
        WebhookType::GooglePubsub => {
            url.parse::<crate::publish::pubsub::TopicPath>()
                .map_err(|e| Invalid::field("url", e))?;
        }
        _ => check_url("url", &url)?,
    }

    let for_site = matches!(scope, Scope::Site(_));
    let topics = check_topics(take_string_list(&mut obj, "topics")?, for_site)?;
    let headers = check_headers(take_headers(&mut obj)?, webhook_type)?;

    let prev_secret = |f: fn(&Subscription) -> &Option<String>| previous.and_then(|p| f(p).clone());
    let secret = resolve_secret(take_secret(&mut obj, "secret")?, prev_secret(|p| &p.secret));
    let splunk_token = resolve_secret(
        take_secret(&mut obj, "splunk_token")?,
        prev_secret(|p| &p.splunk_token),
    );
    let oauth2_client_secret = resolve_secret(
        take_secret(&mut obj, "oauth2_client_secret")?,
        prev_secret(|p| &p.oauth2_client_secret),
    );
    let oauth2_password = resolve_secret(
        take_secret(&mut obj, "oauth2_password")?,
        prev_secret(|p| &p.oauth2_password),
    );

    let oauth2_grant_type = match take_string(&mut obj, "oauth2_grant_type")?.as_deref() {
        None => None,
        Some("client_credentials") => Some(Oauth2Grant::ClientCredentials),
        Some("password") => Some(Oauth2Grant::Password),
        Some(other) => {
            return Err(Invalid::field(
                "oauth2_grant_type",
                format!("unknown grant {other:?}; expected client_credentials or password"),
            ));
        }
    };
    let oauth2_client_id = take_string(&mut obj, "oauth2_client_id")?;
    let oauth2_username = take_string(&mut obj, "oauth2_username")?;
    let oauth2_token_url = take_string(&mut obj, "oauth2_token_url")?;
    let oauth2_scopes = take_string_list(&mut obj, "oauth2_scopes")?;

    match webhook_type {
        WebhookType::Splunk if splunk_token.is_none() => {
            return Err(Invalid::field(
                "splunk_token",
                "required when type is splunk",
            ));
        }
        WebhookType::Oauth2 => {
            let Some(token_url) = &oauth2_token_url else {
                return Err(Invalid::field(
                    "oauth2_token_url",
                    "required when type is oauth2",
                ));
            };
            check_url("oauth2_token_url", token_url)?;
            let required: [(&str, bool); 2] = match oauth2_grant_type {
                None => {
                    return Err(Invalid::field(
                        "oauth2_grant_type",
                        "required when type is oauth2",
                    ));
                }
                Some(Oauth2Grant::ClientCredentials) => [
                    ("oauth2_client_id", oauth2_client_id.is_some()),
                    ("oauth2_client_secret", oauth2_client_secret.is_some()),
                ],
                Some(Oauth2Grant::Password) => [
                    ("oauth2_username", oauth2_username.is_some()),
                    ("oauth2_password", oauth2_password.is_some()),
                ],
            };
            if let Some((field, _)) = required.iter().find(|(_, present)| !present) {
                return Err(Invalid::field(field, "required for this oauth2_grant_type"));
            }
        }
        _ => {}
    }

    let mut seen = BTreeSet::new();
    let mut assetfilter_ids = take_string_list(&mut obj, "assetfilter_ids")?;
    assetfilter_ids.retain(|id| seen.insert(id.clone()));
    if !assetfilter_ids.is_empty() && !topics.iter().any(|t| assetfilter::is_asset_topic(t)) {
        return Err(Invalid::field(
            "assetfilter_ids",
            "only allowed with an asset topic (asset-raw, asset-raw-rssi, location-asset)",
        ));
    }

    let rate_limit = take_string(&mut obj, "rate_limit")?
        .map(|text| text.parse::<RateLimit>())
        .transpose()
        .map_err(|e| Invalid::field("rate_limit", e.to_string()))?;
    let name = take_string(&mut obj, "name")?;
    let enabled = take_bool(&mut obj, "enabled")?.unwrap_or(true);
    let verify_cert = take_bool(&mut obj, "verify_cert")?.unwrap_or(true);
    let single_event_per_message =
        take_bool(&mut obj, "single_event_per_message")?.unwrap_or(false);
    debug_assert!(obj.is_empty(), "every known field is taken: {obj:?}");

    let (org_id, site_id) = match scope {
        Scope::Org(org) => (Some(org.clone()), None),
        Scope::Site(site) => (None, Some(site.clone())),
    };
    Ok(Subscription {
        id: id.to_string(),
        org_id,
        site_id,
        for_site,
        name,
        url,
        enabled,
        webhook_type,
        topics,
        secret,
        headers,
        verify_cert,
        splunk_token,
        oauth2_grant_type,
        oauth2_client_id,
        oauth2_client_secret,
        oauth2_username,
        oauth2_password,
        oauth2_token_url,
        oauth2_scopes,
        single_event_per_message,
        assetfilter_ids,
        rate_limit,
        created_time: previous.map_or(now_s, |p| p.created_time),
        modified_time: now_s,
    })
}

/// A partial update: the stored object's fields (the secrets stay out: absent, they are
/// kept by [`resolve_secret`]) with the body's laid over them, `null` included.
fn merged(previous: &Subscription, body: Map<String, Value>) -> Map<String, Value> {
    let Value::Object(mut stored) = previous.public_view() else {
        unreachable!("a subscription's view is an object")
    };
    for key in READ_ONLY {
        stored.remove(key);
    }
    stored.extend(body);
    stored
}

fn is_known_field(key: &str) -> bool {
    READ_ONLY.contains(&key)
        || WRITE_ONLY.iter().any(|(f, _)| *f == key)
        || matches!(
            key,
            "name"
                | "url"
                | "enabled"
                | "type"
                | "topics"
                | "headers"
                | "verify_cert"
                | "oauth2_grant_type"
                | "oauth2_client_id"
                | "oauth2_username"
                | "oauth2_token_url"
                | "oauth2_scopes"
                | "single_event_per_message"
                | "assetfilter_ids"
                | "rate_limit"
        )
}

fn take_headers(obj: &mut Map<String, Value>) -> Result<BTreeMap<String, String>, Invalid> {
    match take(obj, "headers") {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(v) => Ok((name, v)),
                _ => Err(Invalid::field(
                    "headers",
                    format!("value of {name:?} must be a string"),
                )),
            })
            .collect(),
        Some(_) => Err(Invalid::field("headers", "must be an object of strings")),
    }
}

fn take_secret(obj: &mut Map<String, Value>, field: &str) -> Result<Secret, Invalid> {
    match obj.remove(field) {
        None => Ok(Secret::Absent),
        Some(Value::Null) => Ok(Secret::Clear),
        Some(Value::String(s)) if s.is_empty() => Err(Invalid::field(
            field,
            "must not be empty (use null to clear it)",
        )),
        Some(Value::String(s)) => Ok(Secret::Set(s)),
        Some(_) => Err(Invalid::field(field, "must be a string or null")),
    }
}

fn resolve_secret(given: Secret, previous: Option<String>) -> Option<String> {
    match given {
        Secret::Absent => previous,
        Secret::Clear => None,
        Secret::Set(s) => Some(s),
    }
}

fn check_url(field: &str, raw: &str) -> Result<(), Invalid> {
    let parsed =
        url::Url::parse(raw).map_err(|e| Invalid::field(field, format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Invalid::field(field, "scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::field(field, "URL must have a host"));
    }
    Ok(())
}

fn check_topics(raw: Vec<String>, for_site: bool) -> Result<Vec<String>, Invalid> {
    let mut seen = BTreeSet::new();
    let mut topics = Vec::new();
    for name in raw {
        // A topic Mist adds later is taken as it comes: no release needed to subscribe.
        let topic = Topic::parse(&name);
        if !topic.is_known() && !is_new_topic_name(&name) {
            return Err(Invalid::field(
                "topics",
                format!(
                    "unknown topic {name:?} is not a topic name: words of ASCII letters and \
                     digits joined by `-` or `_`, at most 64 bytes"
                ),
            ));
        }
        if topic.is_site_only() && !for_site {
            return Err(Invalid::field(
                "topics",
                format!(
                    "topic {:?} is only available on site webhooks",
                    topic.as_str()
                ),
            ));
        }
        let canonical = topic.as_str().to_string();
        if seen.insert(canonical.clone()) {
            topics.push(canonical);
        }
    }
    if topics.is_empty() {
        return Err(Invalid::field("topics", "at least one topic is required"));
    }
    Ok(topics)
}

/// The name of a topic mistgate does not know yet, by [`NEW_TOPIC_PATTERN`].
fn is_new_topic_name(name: &str) -> bool {
    name.len() <= 64
        && name
            .split(['-', '_'])
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The grammar of a topic name mistgate does not know yet (a topic Mist adds later).
pub const NEW_TOPIC_PATTERN: &str = "^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$";

fn check_headers(
    headers: BTreeMap<String, String>,
    webhook_type: WebhookType,
) -> Result<BTreeMap<String, String>, Invalid> {
    if headers.is_empty() {
        return Ok(headers);
    }
    if webhook_type != WebhookType::HttpPost {
        return Err(Invalid::field(
            "headers",
            "only allowed when type is http-post",
        ));
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (name, value) in &headers {
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(Invalid::field(
                "headers",
                format!("invalid header name {name:?}"),
            ));
        }
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(Invalid::field(
                "headers",
                format!("value of {name:?} contains a control character"),
            ));
        }
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total >= HEADERS_MAX_BYTES {
        return Err(Invalid::field(
            "headers",
            format!("names and values total {total} bytes; must be under {HEADERS_MAX_BYTES}"),
        ));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests;
