//! OAuth2 access tokens: the per-subscription cache and the token request of each grant.

use std::time::{Duration, Instant};

use crate::subscription::{Oauth2Grant, Subscription};

use super::Client;

/// A cached OAuth2 access token.
pub(super) struct Token {
    pub(super) value: String,
    pub(super) expires: Instant,
}

impl Client {
    /// An OAuth2 access token for `sub`, from the cache unless `fresh` or expired.
    pub(super) async fn token(
        &self,
        sub: &Subscription,
        fresh: bool,
    ) -> Result<String, reqwest::Error> {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            sub.id,
            sub.oauth2_token_url.as_deref().unwrap_or_default(),
            sub.oauth2_client_id.as_deref().unwrap_or_default()
        );
        if !fresh
            && let Some(t) = self.tokens.lock().expect("token cache").get(&key)
            && t.expires > Instant::now()
        {
            return Ok(t.value.clone());
        }
        let url = sub.oauth2_token_url.as_deref().unwrap_or_default();
        let form = token_form(sub);
        let response = self
            .http(sub)
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(form)
            .send()
            .await?
            .error_for_status()?;
        #[derive(serde::Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let answer: Answer = response.json().await?;
        // Refresh a little before the server's expiry; an answer without one lasts an hour.
        let lifetime = answer.expires_in.unwrap_or(3_600).saturating_sub(30).max(1);
        self.tokens.lock().expect("token cache").insert(
            key,
            Token {
                value: answer.access_token.clone(),
                expires: Instant::now() + Duration::from_secs(lifetime),
            },
        );
        Ok(answer.access_token)
    }
}

/// The form of a token request for the subscription's grant.
fn token_form(sub: &Subscription) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match sub.oauth2_grant_type {
        Some(Oauth2Grant::Password) => {
            form.append_pair("grant_type", "password");
            form.append_pair("username", sub.oauth2_username.as_deref().unwrap_or(""));
            form.append_pair("password", sub.oauth2_password.as_deref().unwrap_or(""));
        }
        _ => {
            form.append_pair("grant_type", "client_credentials");
        }
    }
    if let Some(id) = &sub.oauth2_client_id {
        form.append_pair("client_id", id);
    }
    if let Some(secret) = &sub.oauth2_client_secret {
        form.append_pair("client_secret", secret);
    }
    if !sub.oauth2_scopes.is_empty() {
        form.append_pair("scope", &sub.oauth2_scopes.join(" "));
    }
    form.finish()
}
