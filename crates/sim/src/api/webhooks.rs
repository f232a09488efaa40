//! Org and site webhooks: create, list, get, update (Mist merges the fields sent), delete,
//! with Mist's checks (an org webhook takes only the org-level topics). A webhook created
//! here receives the simulator's traffic ([`super::fanout`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use deliver::subscription::{Oauth2Grant, Subscription, WebhookType};
use mist::Topic;
use serde::Deserialize;
use serde_json::{Value, json};

use super::consts::ORG_TOPICS;
use super::query::{Page, Params};
use super::{ApiError, Cloud, lock};
use crate::topics::wire_name;

/// Where a webhook hangs: the org (every site's events) or one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `/orgs/{org_id}/webhooks`.
    Org,
    /// `/sites/{site_id}/webhooks`: that site's events only.
    Site(String),
}

/// A webhook as the simulated cloud keeps it.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Org or site.
    pub scope: Scope,
    /// The subscription the delivery client sends with (url, type, secret, headers, ...).
    pub sub: Subscription,
    /// The topics, parsed.
    pub topics: Vec<Topic>,
    /// `created_time`, epoch seconds.
    pub created_s: f64,
    /// `modified_time`, epoch seconds.
    pub modified_s: f64,
}

impl Webhook {
    /// Whether an event of `topic` at `site_id` goes to this webhook.
    pub fn wants(&self, topic: &Topic, site_id: Option<&str>) -> bool {
        self.sub.enabled
            && self.topics.contains(topic)
            && match &self.scope {
                Scope::Org => true,
                Scope::Site(s) => site_id == Some(s.as_str()),
            }
    }

    /// The `webhook` object, with the spec's field names (the secret is returned: the
    /// spec's schema does not mark it write-only).
    pub fn view(&self, org_id: &str) -> Value {
        let s = &self.sub;
        let mut v = json!({
            "id": self.id,
            "org_id": org_id,
            "name": s.name,
            "url": s.url,
            "type": s.webhook_type.as_str(),
            "topics": self.topics.iter().map(wire_name).collect::<Vec<_>>(),
            "enabled": s.enabled,
            "verify_cert": s.verify_cert,
            "single_event_per_message": s.single_event_per_message,
            "headers": s.headers,
            "assetfilter_ids": s.assetfilter_ids,
            "for_site": matches!(self.scope, Scope::Site(_)),
            "created_time": self.created_s,
            "modified_time": self.modified_s,
        });
        let optional = [
            ("secret", &s.secret),
            ("splunk_token", &s.splunk_token),
            ("oauth2_client_id", &s.oauth2_client_id),
            ("oauth2_client_secret", &s.oauth2_client_secret),
            ("oauth2_username", &s.oauth2_username),
            ("oauth2_password", &s.oauth2_password),
            ("oauth2_token_url", &s.oauth2_token_url),
        ];
        for (k, value) in optional {
            if let Some(value) = value {
                v[k] = Value::from(value.clone());
            }
        }
        if s.webhook_type == WebhookType::Oauth2 {
            v["oauth2_scopes"] = json!(s.oauth2_scopes);
            if let Some(g) = s.oauth2_grant_type {
                v["oauth2_grant_type"] = serde_json::to_value(g).unwrap_or_default();
            }
        }
        if let Scope::Site(site) = &self.scope {
            v["site_id"] = Value::from(site.clone());
        }
        // `name` is nullable in the spec, but a missing name is what Mist answers.
        if let Some(m) = v.as_object_mut()
            && m.get("name").is_some_and(Value::is_null)
        {
            m.remove("name");
        }
        v
    }
}

/// A request body: every field optional (an update sends only what changes), read-only
/// fields (`id`, `for_site`, times) ignored as Mist ignores them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Body {
    name: Option<Option<String>>,
    url: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    topics: Option<Vec<String>>,
    enabled: Option<bool>,
    secret: Option<Option<String>>,
    headers: Option<Option<BTreeMap<String, String>>>,
    verify_cert: Option<bool>,
    single_event_per_message: Option<bool>,
    assetfilter_ids: Option<Vec<String>>,
    splunk_token: Option<Option<String>>,
    oauth2_grant_type: Option<String>,
    oauth2_client_id: Option<String>,
    oauth2_client_secret: Option<String>,
    oauth2_username: Option<String>,
    oauth2_password: Option<String>,
    oauth2_token_url: Option<String>,
    oauth2_scopes: Option<Vec<String>>,
}

fn refuse(detail: impl Into<String>, reason: &str) -> ApiError {
    ApiError::BadWebhook {
        detail: detail.into(),
        reason: reason.to_string(),
    }
}

/// Applies `body` to `hook` and checks the result as Mist does.
fn apply(hook: &mut Webhook, body: Body) -> Result<(), ApiError> {
    let s = &mut hook.sub;
    if let Some(v) = body.name {
        s.name = v;
    }
    if let Some(v) = body.url {
        s.url = v;
    }
    if let Some(kind) = body.kind {
        s.webhook_type = match kind.as_str() {
            "http-post" => WebhookType::HttpPost,
            "splunk" => WebhookType::Splunk,
            "oauth2" => WebhookType::Oauth2,
            "aws-sns" | "google-pubsub" => {
                return Err(refuse(
                    format!("type `{kind}` is not simulated: use http-post, splunk or oauth2"),
                    "type",
                ));
            }
            other => {
                return Err(refuse(
                    format!("type `{other}` is not a webhook type"),
                    "type",
                ));
            }
        };
    }
    if let Some(topics) = body.topics {
        let parsed: Vec<Topic> = topics.iter().map(|t| Topic::parse(t)).collect();
        if let Some((text, _)) = topics.iter().zip(&parsed).find(|(_, t)| !t.is_known()) {
            return Err(refuse(
                format!("topic `{text}` is not a webhook topic"),
                "topics",
            ));
        }
        hook.topics = parsed;
    }
    if let Some(v) = body.enabled {
        s.enabled = v;
    }
    if let Some(v) = body.secret {
        s.secret = v.filter(|v| !v.is_empty());
    }
    if let Some(v) = body.headers {
        s.headers = v.unwrap_or_default();
    }
    if let Some(v) = body.verify_cert {
        s.verify_cert = v;
    }
    if let Some(v) = body.single_event_per_message {
        s.single_event_per_message = v;
    }
    if let Some(v) = body.assetfilter_ids {
        s.assetfilter_ids = v;
    }
    if let Some(v) = body.splunk_token {
        s.splunk_token = v;
    }
    if let Some(g) = body.oauth2_grant_type {
        s.oauth2_grant_type = Some(
            serde_json::from_value::<Oauth2Grant>(Value::from(g.clone())).map_err(|_| {
                refuse(
                    format!("oauth2_grant_type `{g}` is unknown"),
                    "oauth2_grant_type",
                )
            })?,
        );
    }
    let texts = [
        (body.oauth2_client_id, &mut s.oauth2_client_id),
        (body.oauth2_client_secret, &mut s.oauth2_client_secret),
        (body.oauth2_username, &mut s.oauth2_username),
        (body.oauth2_password, &mut s.oauth2_password),
        (body.oauth2_token_url, &mut s.oauth2_token_url),
    ];
    for (given, field) in texts {
        if let Some(v) = given {
            *field = Some(v);
        }
    }
    if let Some(v) = body.oauth2_scopes {
        s.oauth2_scopes = v;
    }
    if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
        return Err(refuse("url: an http:// or https:// URL is required", "url"));
    }
    if hook.topics.is_empty() {
        return Err(refuse("topics: at least one topic is required", "topics"));
    }
    if hook.scope == Scope::Org
        && let Some(t) = hook.topics.iter().find(|t| !ORG_TOPICS.contains(t))
    {
        return Err(refuse(
            format!("topic `{}` is only allowed for site webhooks", wire_name(t)),
            "topics",
        ));
    }
    if s.webhook_type == WebhookType::Splunk && s.splunk_token.is_none() {
        return Err(refuse(
            "splunk_token: required for type splunk",
            "splunk_token",
        ));
    }
    if s.webhook_type == WebhookType::Oauth2 && s.oauth2_token_url.is_none() {
        return Err(refuse(
            "oauth2_token_url: required for type oauth2",
            "oauth2_token_url",
        ));
    }
    s.topics = hook
        .topics
        .iter()
        .map(|t| wire_name(t).to_string())
        .collect();
    Ok(())
}

fn parse_body(bytes: &[u8]) -> Result<Body, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| refuse(format!("body: {e}"), "body"))
}

/// The scope named by the path: `org_id` (checked) or `site_id` (checked).
pub(super) fn scope_of(
    cloud: &Cloud,
    params: &BTreeMap<String, String>,
) -> Result<Scope, ApiError> {
    if let Some(org) = params.get("org_id") {
        cloud.check_org(org)?;
        Ok(Scope::Org)
    } else {
        let site = params
            .get("site_id")
            .map(String::as_str)
            .unwrap_or_default();
        cloud.site(site)?;
        Ok(Scope::Site(site.to_string()))
    }
}

/// The webhook `webhook_id` of the path's scope (404 `{id}` when another scope has it).
pub(super) fn find(cloud: &Cloud, params: &BTreeMap<String, String>) -> Result<Webhook, ApiError> {
    let scope = scope_of(cloud, params)?;
    let id = params.get("webhook_id").cloned().unwrap_or_default();
    lock(&cloud.inner.webhooks)
        .get(&id)
        .filter(|w| w.scope == scope)
        .cloned()
        .ok_or(ApiError::NotFound(id))
}

pub(super) async fn list(
    State(cloud): State<Cloud>,
    Path(params): Path<BTreeMap<String, String>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let scope = scope_of(&cloud, &params)?;
    let page = Page::from(&Params::parse(q.as_deref()))?;
    let org_id = &cloud.org().id;
    let items: Vec<Value> = lock(&cloud.inner.webhooks)
        .values()
        .filter(|w| w.scope == scope)
        .map(|w| w.view(org_id))
        .collect();
    Ok(page.answer(items))
}

pub(super) async fn create(
    State(cloud): State<Cloud>,
    Path(params): Path<BTreeMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let scope = scope_of(&cloud, &params)?;
    let hook = add(&cloud, scope, &body)?;
    Ok(Json(hook.view(&cloud.org().id)))
}

/// Creates a webhook in `scope` from a request body.
pub(super) fn add(cloud: &Cloud, scope: Scope, body: &[u8]) -> Result<Webhook, ApiError> {
    let body = parse_body(body)?;
    let now = crate::send::now_us() as f64 / 1e6;
    let id = cloud.new_id();
    let mut sub = crate::send::subscription("", None, true);
    sub.id = id.clone();
    sub.name = None;
    sub.org_id = Some(cloud.org().id.clone());
    if let Scope::Site(site) = &scope {
        sub.site_id = Some(site.clone());
        sub.for_site = true;
    }
    let mut hook = Webhook {
        id: id.clone(),
        scope,
        sub,
        topics: Vec::new(),
        created_s: now,
        modified_s: now,
    };
    apply(&mut hook, body)?;
    lock(&cloud.inner.webhooks).insert(id, hook.clone());
    Ok(hook)
}

pub(super) async fn get_one(
    State(cloud): State<Cloud>,
    Path(params): Path<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&cloud, &params)?.view(&cloud.org().id)))
}

pub(super) async fn update(
    State(cloud): State<Cloud>,
    Path(params): Path<BTreeMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut hook = find(&cloud, &params)?;
    apply(&mut hook, parse_body(&body)?)?;
    hook.modified_s = crate::send::now_us() as f64 / 1e6;
    let view = hook.view(&cloud.org().id);
    lock(&cloud.inner.webhooks).insert(hook.id.clone(), hook);
    Ok(Json(view))
}

pub(super) async fn delete(
    State(cloud): State<Cloud>,
    Path(params): Path<BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    let hook = find(&cloud, &params)?;
    lock(&cloud.inner.webhooks).remove(&hook.id);
    Ok(())
}
