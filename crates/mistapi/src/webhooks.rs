//! Mist's webhooks: org and site scope, create/update/delete, ping, delivery results,
//! and the topic list.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Client, MistError};

/// Where a webhook lives in Mist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Org(String),
    Site(String),
}

impl Scope {
    fn path(&self) -> String {
        match self {
            Scope::Org(id) => format!("orgs/{id}/webhooks"),
            Scope::Site(id) => format!("sites/{id}/webhooks"),
        }
    }

    pub fn is_org(&self) -> bool {
        matches!(self, Scope::Org(_))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Org(id) => write!(f, "org {id}"),
            Scope::Site(id) => write!(f, "site {id}"),
        }
    }
}

/// A Mist `webhook` object: the fields mistgate reads, and the rest kept as they came.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Webhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Write-only where Mist hides it; sent when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn enabled() -> bool {
    true
}

/// One topic of `GET /api/v1/const/webhook_topics`.
#[derive(Clone, Debug, Deserialize)]
pub struct WebhookTopic {
    pub key: String,
    #[serde(default)]
    pub for_org: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub has_delivery_results: bool,
}

/// `events/count` with `distinct`: how many deliveries per value.
#[derive(Clone, Debug, Default)]
pub struct DeliveryCount {
    pub total: u64,
    /// (value, count), as Mist answered them.
    pub counts: Vec<(String, u64)>,
}

impl Client {
    /// The webhooks of `scope`.
    pub async fn webhooks(&self, scope: &Scope) -> Result<Vec<Webhook>, MistError> {
        self.list(&scope.path(), &[]).await
    }

    pub async fn create_webhook(
        &self,
        scope: &Scope,
        hook: &Webhook,
    ) -> Result<Webhook, MistError> {
        let body = serde_json::to_value(hook).expect("a webhook serialises");
        self.call(Method::POST, &scope.path(), &[], Some(&body))
            .await
    }

    pub async fn update_webhook(
        &self,
        scope: &Scope,
        id: &str,
        hook: &Webhook,
    ) -> Result<Webhook, MistError> {
        let mut body = serde_json::to_value(hook).expect("a webhook serialises");
        if let Some(map) = body.as_object_mut() {
            map.remove("id");
        }
        self.call(
            Method::PUT,
            &format!("{}/{id}", scope.path()),
            &[],
            Some(&body),
        )
        .await
    }

    pub async fn delete_webhook(&self, scope: &Scope, id: &str) -> Result<(), MistError> {
        self.send(Method::DELETE, &format!("{}/{id}", scope.path()), &[], None)
            .await
            .map(|_| ())
    }

    /// Asks Mist to send the webhook a `ping` event.
    pub async fn ping_webhook(&self, scope: &Scope, id: &str) -> Result<(), MistError> {
        self.send(
            Method::POST,
            &format!("{}/{id}/ping", scope.path()),
            &[],
            None,
        )
        .await
        .map(|_| ())
    }

    /// Mist's delivery results of a webhook over `duration` (`1d`, `1h`), newest first:
    /// the raw result objects (`status`, `status_code`, `error`, `topic`, `timestamp`...).
    pub async fn deliveries(
        &self,
        scope: &Scope,
        id: &str,
        duration: &str,
        query: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<Value>, MistError> {
        let mut q = query.to_vec();
        q.push(("duration", duration.to_string()));
        self.search_deliveries(scope, id, q, limit).await
    }

    /// Mist's failed deliveries of a webhook whose time is within `range`, newest first,
    /// at most `limit` (delivery searches have no further pages).
    pub async fn failed_deliveries(
        &self,
        scope: &Scope,
        id: &str,
        range: crate::Range,
        limit: usize,
    ) -> Result<Vec<Value>, MistError> {
        let mut q = range.query();
        q.push(("status", "failure".to_string()));
        self.search_deliveries(scope, id, q, limit).await
    }

    /// One page of a webhook's delivery results for `query`, newest first, at most
    /// `limit` (delivery searches have no further pages).
    async fn search_deliveries(
        &self,
        scope: &Scope,
        id: &str,
        mut query: Vec<(&str, String)>,
        limit: usize,
    ) -> Result<Vec<Value>, MistError> {
        query.push(("limit", limit.to_string()));
        query.push(("sort", "-timestamp".to_string()));
        let answer: Value = self
            .call(
                Method::GET,
                &format!("{}/{id}/events/search", scope.path()),
                &query,
                None,
            )
            .await?;
        Ok(answer
            .get("results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Mist's delivery results of a webhook over `duration`, counted per `distinct`
    /// (`status`, `status_code`, `topic`).
    pub async fn count_deliveries(
        &self,
        scope: &Scope,
        id: &str,
        duration: &str,
        distinct: &str,
    ) -> Result<DeliveryCount, MistError> {
        let q = [
            ("duration", duration.to_string()),
            ("distinct", distinct.to_string()),
        ];
        let answer: Value = self
            .call(
                Method::GET,
                &format!("{}/{id}/events/count", scope.path()),
                &q,
                None,
            )
            .await?;
        let counts = answer
            .get("results")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let value = r
                            .get(distinct)
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                            .unwrap_or_default();
                        let count = r.get("count").and_then(Value::as_u64).unwrap_or(0);
                        (value, count)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(DeliveryCount {
            total: answer.get("total").and_then(Value::as_u64).unwrap_or(0),
            counts,
        })
    }

    /// The topics Mist offers, with which may be used at org level.
    pub async fn webhook_topics(&self) -> Result<Vec<WebhookTopic>, MistError> {
        self.call(Method::GET, "const/webhook_topics", &[], None)
            .await
    }
}
