//! The signed request, pure: body, headers, signatures.

use crate::targets::ConfigError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Config;
use crate::request::HttpRequest;
use crate::targets::Message;

/// The key bytes of a `whsec_<base64>` secret.
pub(crate) fn secret_key(secret: &str) -> Result<Vec<u8>, ConfigError> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or("a Standard Webhooks secret starts with `whsec_`")?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| format!("the part after `whsec_` is not base64: {e}"))?;
    if key.is_empty() {
        return Err(ConfigError("the secret is empty".to_string()));
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` for one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, ConfigError> {
    let key = secret_key(secret)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The request for one message. `id` is the delivery id (the same on every attempt, as
/// the spec asks), `timestamp` the attempt's time in unix seconds.
pub fn encode(
    config: &Config,
    message: &Message,
    id: &str,
    timestamp: i64,
) -> Result<HttpRequest, ConfigError> {
    let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    let mut request = HttpRequest::post_json(&config.url, body.clone())
        .header("User-Agent", "mistgate")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string());
    if !config.secrets.is_empty() {
        let signatures = config
            .secrets
            .iter()
            .map(|s| sign(s, id, timestamp, &body))
            .collect::<Result<Vec<_>, _>>()?;
        request = request.header("webhook-signature", signatures.join(" "));
    }
    for (name, value) in &config.headers {
        request = request.header(name, value.clone());
        request.redact.push(name.clone());
    }
    request.verify_cert = config.verify_cert;
    Ok(request)
}
