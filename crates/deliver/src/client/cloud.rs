//! Publishing to the cloud webhook types (`aws-sns`, `google-pubsub`; see
//! [`crate::publish`]): mistgate's credentials from its environment, read at each attempt
//! so that a rotation needs no restart; Pub/Sub's access token cached until shortly before
//! it expires; the request sent through the same guarded client as every other.

use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;

use super::oauth::Token;
use super::{Client, Exchange};
use crate::publish::pubsub::{self, ServiceAccount, TopicPath};
use crate::publish::sns::{self, AwsCredentials, TopicArn};
use crate::schedule::Outcome;
use crate::subscription::{Subscription, WebhookType};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// mistgate's AWS credentials, from the variables AWS's own tools read.
fn aws_credentials() -> Result<AwsCredentials, String> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN"),
        }),
        _ => Err(
            "aws-sns needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in mistgate's \
                  environment"
                .into(),
        ),
    }
}

/// mistgate's Google service account, from the key file `GOOGLE_APPLICATION_CREDENTIALS`
/// names.
fn service_account() -> Result<ServiceAccount, String> {
    let path = env("GOOGLE_APPLICATION_CREDENTIALS").ok_or(
        "google-pubsub needs GOOGLE_APPLICATION_CREDENTIALS (a service account key file) in \
         mistgate's environment",
    )?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("GOOGLE_APPLICATION_CREDENTIALS {path}: {e}"))?;
    ServiceAccount::from_json(&text)
        .map_err(|e| format!("GOOGLE_APPLICATION_CREDENTIALS {path}: {e}"))
}

/// An attempt that could not be made: retried, as the cause may be fixed meanwhile.
fn not_sent(error: String, started: Instant, body: &Bytes, keep: usize) -> Exchange {
    Exchange {
        outcome: Outcome::Other(error.clone()),
        status_code: None,
        latency: started.elapsed(),
        error: Some(error),
        request_headers: "{}".into(),
        request_body: super::record::truncate(body, keep),
        response_headers: "{}".into(),
        response_body: String::new(),
    }
}

impl Client {
    /// Makes one attempt to publish `body` to the topic of `sub` (`aws-sns` or
    /// `google-pubsub`).
    pub(super) async fn publish(
        &self,
        sub: &Subscription,
        body: &Bytes,
        delivery_id: &str,
        now_us: i64,
    ) -> Exchange {
        let started = Instant::now();
        let keep = self.settings.record_body_bytes;
        let request = match sub.webhook_type {
            WebhookType::AwsSns => sns_request(sub, body, delivery_id, now_us),
            _ => {
                self.pubsub_request(sub, body, delivery_id, now_us, false)
                    .await
            }
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => return not_sent(e, started, body, keep),
        };
        let (mut exchange, _) = self.request(&request, now_us).await;
        if sub.webhook_type == WebhookType::GooglePubsub && exchange.status_code == Some(401) {
            // The token may have been revoked or expired early: a fresh one, once.
            match self
                .pubsub_request(sub, body, delivery_id, now_us, true)
                .await
            {
                Ok(request) => exchange = self.request(&request, now_us).await.0,
                Err(e) => return not_sent(e, started, body, keep),
            }
        }
        exchange
    }

    async fn pubsub_request(
        &self,
        sub: &Subscription,
        body: &Bytes,
        delivery_id: &str,
        now_us: i64,
        fresh: bool,
    ) -> Result<crate::request::HttpRequest, String> {
        let topic: TopicPath = sub.url.parse()?;
        let account = service_account()?;
        let token = self.pubsub_token(&account, now_us, fresh).await?;
        let endpoint = env("MISTGATE_PUBSUB_ENDPOINT").unwrap_or(pubsub::DEFAULT_ENDPOINT.into());
        Ok(pubsub::publish(
            &topic,
            &endpoint,
            &token,
            body,
            delivery_id,
        ))
    }

    /// The account's access token, from the cache unless `fresh` or expiring.
    async fn pubsub_token(
        &self,
        account: &ServiceAccount,
        now_us: i64,
        fresh: bool,
    ) -> Result<String, String> {
        let key = format!(
            "pubsub\u{0}{}\u{0}{}",
            account.client_email, account.token_uri
        );
        if !fresh
            && let Some(t) = self.tokens.lock().expect("token cache").get(&key)
            && t.expires > Instant::now()
        {
            return Ok(t.value.clone());
        }
        let request = account.token_request(now_us.div_euclid(1_000_000))?;
        let (exchange, answer) = self.request(&request, now_us).await;
        let answer = match answer {
            Some(a) if (200..300).contains(&a.status) => a,
            _ => {
                return Err(format!(
                    "the token request to {} failed: {}",
                    account.token_uri,
                    exchange.error.unwrap_or_default()
                ));
            }
        };
        let (token, expires_in) = pubsub::token_answer(&answer.body)?;
        let lifetime = u64::try_from(expires_in.saturating_sub(60))
            .unwrap_or(0)
            .max(1);
        self.tokens.lock().expect("token cache").insert(
            key,
            Token {
                value: token.clone(),
                expires: Instant::now() + Duration::from_secs(lifetime),
            },
        );
        Ok(token)
    }
}

fn sns_request(
    sub: &Subscription,
    body: &Bytes,
    delivery_id: &str,
    now_us: i64,
) -> Result<crate::request::HttpRequest, String> {
    let topic: TopicArn = sub.url.parse()?;
    let credentials = aws_credentials()?;
    let endpoint = env("AWS_ENDPOINT_URL_SNS")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| topic.default_endpoint());
    sns::publish(
        &topic,
        &endpoint,
        &credentials,
        body,
        delivery_id,
        UNIX_EPOCH + Duration::from_micros(u64::try_from(now_us).unwrap_or(0)),
    )
}
