//! `google-pubsub`: Pub/Sub's REST `publish` for a topic, with an OAuth 2.0 access token
//! that a service account's key obtains (a JWT signed RS256, exchanged at the key's
//! `token_uri` for a bearer token, scope `pubsub`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;

use super::DELIVERY_ID_ATTRIBUTE;
use crate::request::HttpRequest;

/// Pub/Sub's API, unless `MISTGATE_PUBSUB_ENDPOINT` names another.
pub const DEFAULT_ENDPOINT: &str = "https://pubsub.googleapis.com";

/// The OAuth scope publishing needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/pubsub";

/// How long an asserted token request is good for (Google's maximum: one hour).
const ASSERTION_SECONDS: i64 = 3_600;

/// A Pub/Sub topic: `projects/<project>/topics/<topic>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPath(String);

impl fmt::Display for TopicPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TopicPath {
    type Err = String;

    fn from_str(s: &str) -> Result<TopicPath, String> {
        let bad = || format!("{s:?} is not a Pub/Sub topic: projects/<project>/topics/<topic>");
        let parts: Vec<&str> = s.split('/').collect();
        let ["projects", project, "topics", topic] = parts[..] else {
            return Err(bad());
        };
        // Project ids: lowercase letters, digits and `-` (a domain-scoped one has
        // `domain:` before it); topic names: 3 to 255 of letters, digits and `-_.~+%`,
        // starting with a letter.
        let project_ok = !project.is_empty()
            && project.len() <= 100
            && project.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
            });
        let topic_ok = (3..=255).contains(&topic.len())
            && topic.starts_with(|c: char| c.is_ascii_alphabetic())
            && !topic.starts_with("goog")
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~+%".contains(&b));
        (project_ok && topic_ok)
            .then(|| TopicPath(s.to_string()))
            .ok_or_else(bad)
    }
}

/// A service account key (the JSON file Google hands out), its RSA key checked.
#[derive(Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    key_id: Option<String>,
    key: Arc<RsaKeyPair>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default = "google_token_uri")]
    token_uri: String,
}

fn google_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

impl ServiceAccount {
    /// Reads a service account key file's JSON.
    pub fn from_json(text: &str) -> Result<ServiceAccount, String> {
        let file: KeyFile = serde_json::from_str(text)
            .map_err(|e| format!("not a service account key file: {e}"))?;
        let der: String = file
            .private_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(der.trim())
            .map_err(|e| format!("private_key is not PEM: {e}"))?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("private_key is not an RSA PKCS#8 key: {e}"))?;
        Ok(ServiceAccount {
            client_email: file.client_email,
            token_uri: file.token_uri,
            key_id: file.private_key_id,
            key: Arc::new(key),
        })
    }

    /// The JWT asserting this account at `now_s` (unix seconds), for the token request.
    pub fn assertion(&self, now_s: i64) -> Result<String, String> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.clone().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now_s,
            "exp": now_s + ASSERTION_SECONDS,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the key could not sign".to_string())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The token request (OAuth 2.0 JWT bearer grant, RFC 7523) at `now_s`.
    pub fn token_request(&self, now_s: i64) -> Result<HttpRequest, String> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &self.assertion(now_s)?)
            .finish();
        Ok(HttpRequest {
            method: http::Method::POST,
            url: self.token_uri.clone(),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Bytes::from(body),
            verify_cert: true,
            redact: Vec::new(),
        })
    }
}

/// An access token and how many seconds it lasts, from the token endpoint's answer.
pub fn token_answer(body: &[u8]) -> Result<(String, i64), String> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        #[serde(default = "an_hour")]
        expires_in: i64,
    }
    fn an_hour() -> i64 {
        3_600
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("the token answer is unreadable: {e}"))?;
    Ok((answer.access_token, answer.expires_in))
}

/// The `publish` request of `message` (the Mist-format body, as the message's data) to
/// `topic` at `endpoint`, with the delivery id as an attribute.
pub fn publish(
    topic: &TopicPath,
    endpoint: &str,
    token: &str,
    message: &[u8],
    delivery_id: &str,
) -> HttpRequest {
    let body = serde_json::json!({"messages": [{
        "data": STANDARD.encode(message),
        "attributes": {DELIVERY_ID_ATTRIBUTE: delivery_id},
    }]});
    let url = format!("{}/v1/{topic}:publish", endpoint.trim_end_matches('/'));
    HttpRequest::post_json(&url, body.to_string())
        .header("Authorization", format!("Bearer {token}"))
}

#[cfg(test)]
mod tests;
