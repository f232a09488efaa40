//! What the webhook subscriptions API answers and takes: [`WebhookView`], the Mist
//! `webhook` object with the write-only secrets replaced by `has_*` booleans (the
//! handlers return it; the OpenAPI document is generated from it), and the schema of the
//! request bodies, which `deliver::subscription::parse_request` reads field by field.

use std::collections::BTreeMap;

use deliver::rate_limit::{self, RateLimit};
use deliver::subscription::{Oauth2Grant, Subscription, WebhookType};
use mist::Topic;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, Array, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::super::params::pattern_string;

/// The canonical names of the topics a webhook may take: every known one on site
/// webhooks, those Mist offers on both levels on org webhooks.
fn topic_names(for_site: bool) -> Vec<&'static str> {
    Topic::KNOWN
        .iter()
        .filter(|t| for_site || !t.is_site_only())
        .map(Topic::as_str)
        .collect()
}

/// A topic's name: a known one (canonical), or a topic Mist added after this release.
fn topics_schema(for_site: bool) -> ArrayBuilder {
    let known = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(topic_names(for_site)));
    let new = pattern_string(deliver::subscription::NEW_TOPIC_PATTERN).max_length(Some(64));
    let name = AnyOfBuilder::new().item(known).item(new);
    ArrayBuilder::new().items(name).min_items(Some(1))
}

/// `topics` of a webhook as it answers.
fn stored_topics() -> Array {
    topics_schema(true)
        .description(Some(
            "The topics delivered, canonical names (e.g. `device-events`; a topic mistgate \
             does not know yet in its normal form: lowercase, `-` for `_`), without \
             duplicates.",
        ))
        .build()
}

/// `topics` in a webhook's body (site webhooks; see [`OrgWebhookBody`]).
fn requested_topics(for_site: bool) -> Array {
    let only = if for_site {
        "Every topic is allowed on site webhooks."
    } else {
        "Org webhooks take only the topics Mist offers on org webhooks (`alarms`, `audits`, \
         `client-info`, `client-join`, `client-sessions`, `device-events`, \
         `device-updowns`, `mxedge-events`, `nac-events`, `ping`); the site-only ones \
         (`nac-accounting`, `occupancy-alerts`, `client-latency`, `asset-raw-rssi`, \
         `location*`, the raw and zone topics, ...) are refused with 422 `invalid_field`, \
         in any spelling."
    };
    topics_schema(for_site)
        .description(Some(format!(
            "At least one topic. A known topic is taken in any spelling (case and `_`/`-` \
             are ignored); a name mistgate does not know (a topic Mist added later) is taken \
             as words of letters and digits joined by `-` or `_`. The names are stored \
             canonical and deduplicated; `GET /api/v1/const/webhook_topics` lists the known \
             ones. {only}"
        )))
        .build()
}

fn site_topics() -> Array {
    requested_topics(true)
}

/// Extra headers: names are HTTP tokens, values have no CR, LF or NUL.
fn headers_schema() -> Object {
    let values = pattern_string("^[^\\r\\n\\u0000]*$");
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Extra headers, string values (`http-post` only): names are HTTP tokens, values \
             have no CR, LF or NUL, names and values together under 1000 bytes.",
        ))
        .property_names(Some(
            pattern_string("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$").build(),
        ))
        .additional_properties(Some(values))
        .build()
}

/// `rate_limit`, mistgate's extension of the Mist object (`null`: no limit).
fn rate_limit_schema(in_body: bool) -> Object {
    let absent = if in_body {
        "Left out or `null`: no limit."
    } else {
        "`null`: no limit."
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(rate_limit::PATTERN))
        .examples([serde_json::json!("30/min")])
        .description(Some(format!(
            "mistgate's extension, not a Mist field: at most this many messages per second \
             (`/s`, `/sec`, `/second`), minute (`/min`, `/minute`) or hour (`/h`, `/hour`), \
             spread evenly (`30/min` is one every 2 s), so that every window of one period \
             holds at most that many. Messages beyond it wait their turn; none is dropped. \
             Shown with the short unit. {absent}"
        )))
        .build()
}

fn stored_rate_limit() -> Object {
    rate_limit_schema(false)
}

fn requested_rate_limit() -> Object {
    rate_limit_schema(true)
}

/// A field the server decides: accepted in a body (a client may echo a GET back) and
/// ignored, whatever its value.
pub(crate) fn ignored() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("Read-only: ignored in a body."))
        .build()
}

/// A webhook subscription, as the API shows it: the Mist `webhook` object. The write-only
/// secrets are never returned; `has_secret`, `has_splunk_token`, `has_oauth2_client_secret`
/// and `has_oauth2_password` tell whether each is set.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    /// The webhook's id (a UUID), decided by the server.
    #[schema(format = "uuid")]
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
    webhook_type: WebhookType,
    #[schema(schema_with = stored_topics)]
    topics: Vec<String>,
    /// Extra headers sent with each delivery (`http-post` only).
    headers: BTreeMap<String, String>,
    /// Whether the receiver's TLS certificate is verified.
    verify_cert: bool,
    /// The OAuth2 grant (`oauth2` webhooks).
    #[schema(required = true)]
    oauth2_grant_type: Option<Oauth2Grant>,
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
    /// Ids of the asset filters that select the events of the asset topics.
    assetfilter_ids: Vec<String>,
    #[schema(schema_with = stored_rate_limit, required = true)]
    rate_limit: Option<RateLimit>,
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

impl From<&Subscription> for WebhookView {
    fn from(s: &Subscription) -> WebhookView {
        WebhookView {
            id: s.id.clone(),
            org_id: s.org_id.clone(),
            site_id: s.site_id.clone(),
            for_site: s.for_site,
            name: s.name.clone(),
            url: s.url.clone(),
            enabled: s.enabled,
            webhook_type: s.webhook_type,
            topics: s.topics.clone(),
            headers: s.headers.clone(),
            verify_cert: s.verify_cert,
            oauth2_grant_type: s.oauth2_grant_type,
            oauth2_client_id: s.oauth2_client_id.clone(),
            oauth2_username: s.oauth2_username.clone(),
            oauth2_token_url: s.oauth2_token_url.clone(),
            oauth2_scopes: s.oauth2_scopes.clone(),
            single_event_per_message: s.single_event_per_message,
            assetfilter_ids: s.assetfilter_ids.clone(),
            rate_limit: s.rate_limit,
            created_time: s.created_time,
            modified_time: s.modified_time,
            has_secret: s.secret.is_some(),
            has_splunk_token: s.splunk_token.is_some(),
            has_oauth2_client_secret: s.oauth2_client_secret.is_some(),
            has_oauth2_password: s.oauth2_password.is_some(),
        }
    }
}

/// The body of `POST` (create) on a webhook: the Mist `webhook` object. Unknown fields
/// are refused (422 `invalid_field`); the read-only ones a client may echo back from a GET
/// (`id`, `org_id`, `site_id`, `for_site`, `created_time`, `modified_time`, the `has_*`
/// flags) are ignored. `null` counts as absent, except for the write-only secrets, where
/// it clears the stored value. A `PUT` takes the same fields, none required (see
/// [`WebhookPatch`]).
///
/// Rules between fields that a schema cannot state are checked by the server and answered
/// 422 `invalid_field` naming the field: `url` (and for `oauth2`, `oauth2_token_url`) must
/// parse as an http or https URL with a host (for `aws-sns` an SNS topic ARN, for
/// `google-pubsub` a Pub/Sub topic); `headers` only with `http-post`, names and values
/// together under 1000 bytes; `splunk` needs `splunk_token`; `oauth2` needs
/// `oauth2_token_url`, `oauth2_grant_type` and that grant's id and secret (or user name
/// and password); `assetfilter_ids` only with an asset topic (`asset-raw`,
/// `asset-raw-rssi`, `location-asset`), each the id of an asset filter of this org or site
/// (a site webhook may name its org's). `rate_limit` is
/// mistgate's own field; a Mist client that leaves it out has no limit.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WebhookBody {
    /// Display name.
    name: Option<String>,
    /// Where deliveries go: an http or https URL with a host; for `aws-sns` the SNS topic's
    /// ARN (`arn:aws:sns:<region>:<account>:<topic>`), for `google-pubsub` the topic
    /// (`projects/<project>/topics/<topic>`).
    #[schema(pattern = "^([Hh][Tt][Tt][Pp][Ss]?://|arn:|projects/)")]
    url: String,
    /// Whether deliveries are made; `true` when left out.
    enabled: Option<bool>,
    /// How deliveries are made; `http-post` when left out. `aws-sns` and `google-pubsub`
    /// publish the Mist-format body as mistgate's own cloud identity (from its
    /// environment: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
    /// `GOOGLE_APPLICATION_CREDENTIALS`), as Mist publishes as its own.
    #[serde(rename = "type")]
    webhook_type: Option<WebhookType>,
    #[schema(schema_with = site_topics)]
    topics: Vec<String>,
    /// HMAC secret for `X-Mist-Signature` and `X-Mist-Signature-v2`. Write-only: never
    /// returned; `null` clears it, an empty string is refused.
    #[schema(nullable = true, min_length = 1)]
    secret: Option<String>,
    #[schema(schema_with = headers_schema)]
    headers: Option<BTreeMap<String, String>>,
    /// Whether to verify the receiver's TLS certificate; `true` when left out.
    verify_cert: Option<bool>,
    /// Splunk HEC token, required for `splunk`. Write-only, as `secret`.
    #[schema(nullable = true, min_length = 1)]
    splunk_token: Option<String>,
    /// The OAuth2 grant, required for `oauth2`.
    oauth2_grant_type: Option<Oauth2Grant>,
    /// The OAuth2 client id, required for the client_credentials grant.
    oauth2_client_id: Option<String>,
    /// The OAuth2 client secret, required for the client_credentials grant. Write-only, as
    /// `secret`.
    #[schema(nullable = true, min_length = 1)]
    oauth2_client_secret: Option<String>,
    /// The OAuth2 user name, required for the password grant.
    oauth2_username: Option<String>,
    /// The OAuth2 password, required for the password grant. Write-only, as `secret`.
    #[schema(nullable = true, min_length = 1)]
    oauth2_password: Option<String>,
    /// The OAuth2 token endpoint (http or https), required for `oauth2`.
    oauth2_token_url: Option<String>,
    /// The OAuth2 scopes to ask for.
    oauth2_scopes: Option<Vec<String>>,
    /// Send one event per message; `false` when left out.
    single_event_per_message: Option<bool>,
    /// Ids of asset filters (`/assetfilters` of this org or site): events of the asset
    /// topics (`asset-raw`, `asset-raw-rssi`, `location-asset`) are delivered only when
    /// one of them matches. Only with an asset topic.
    assetfilter_ids: Option<Vec<String>>,
    #[schema(schema_with = requested_rate_limit)]
    rate_limit: Option<String>,
    #[schema(schema_with = ignored)]
    id: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    org_id: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    site_id: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    for_site: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    created_time: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    modified_time: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    has_secret: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    has_splunk_token: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    has_oauth2_client_secret: Option<serde_json::Value>,
    #[schema(schema_with = ignored)]
    has_oauth2_password: Option<serde_json::Value>,
}

/// The body's schema: [`WebhookBody`] with the topics of `for_site`, every field optional
/// when `partial` (a `PUT`).
fn body_schema(for_site: bool, partial: bool) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut body)) = WebhookBody::schema() else {
        unreachable!("a struct's schema is an object")
    };
    if !for_site {
        let topics = requested_topics(false);
        body.properties.insert("topics".into(), topics.into());
    }
    if partial {
        body.required.clear();
        body.description = Some(
            "A partial update of the Mist `webhook` object, as Mist's `PUT` takes it: the \
             fields of the body as when adding one, none required. A field left out keeps \
             its value; `null` puts a field back to its default and clears a write-only \
             secret. The result is checked as a whole, with the rules of a new webhook."
                .into(),
        );
    }
    RefOr::T(Schema::Object(body))
}

/// The body of `POST` on an org webhook: as [`WebhookBody`], with the topics Mist offers
/// on org webhooks (the site-only ones are refused with 422).
pub struct OrgWebhookBody;

impl PartialSchema for OrgWebhookBody {
    fn schema() -> RefOr<Schema> {
        body_schema(false, false)
    }
}

impl ToSchema for OrgWebhookBody {}

/// The body of `PUT` on a site webhook: a partial update, every field of [`WebhookBody`]
/// optional.
pub struct WebhookPatch;

impl PartialSchema for WebhookPatch {
    fn schema() -> RefOr<Schema> {
        body_schema(true, true)
    }
}

impl ToSchema for WebhookPatch {}

/// The body of `PUT` on an org webhook: a partial update with the org topics.
pub struct OrgWebhookPatch;

impl PartialSchema for OrgWebhookPatch {
    fn schema() -> RefOr<Schema> {
        body_schema(false, true)
    }
}

impl ToSchema for OrgWebhookPatch {}

#[cfg(test)]
mod tests {
    use deliver::subscription::{Scope, parse_request};

    use super::*;

    /// The view is what `Subscription::public_view` shows, value for value: every field
    /// but the write-only secrets, which become `has_*`.
    #[test]
    fn the_view_is_the_public_view() {
        for body in [
            r#"{"url": "https://example.com/h", "topics": ["alarms"], "secret": "s",
                "headers": {"x-a": "1"}, "name": "n"}"#,
            r#"{"url": "https://example.com/h", "topics": ["alarms"], "rate_limit": "5/second"}"#,
            r#"{"url": "https://example.com/h", "topics": ["audits"], "type": "oauth2",
                "oauth2_grant_type": "password", "oauth2_username": "u",
                "oauth2_password": "p", "oauth2_token_url": "https://example.com/t",
                "oauth2_scopes": ["a"]}"#,
        ] {
            let scope = Scope::Site("s".into());
            let sub = parse_request(body.as_bytes(), &scope, "id", 1.5, None).unwrap();
            let view = serde_json::to_value(WebhookView::from(&sub)).unwrap();
            assert_eq!(view, sub.public_view(), "{body}");
        }
    }
}
