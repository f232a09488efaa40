//! The audit log: every state-changing request to the API (and so every console action,
//! which goes through the API), with who, from where, what, to what, the answer's
//! status and a before/after with secrets redacted.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::Value;
use store::AuditRecord;

use super::Principal;
use crate::app_state::AppState;

/// The most of an answer kept as the record's `after`.
const AFTER_LIMIT: usize = 64 * 1024;

/// What a handler saw before it changed something, for the audit record. The guard puts
/// an empty one in every state-changing request; a handler that loads the old state fills
/// it with [`Before::set`].
#[derive(Clone, Default)]
pub struct Before(Arc<Mutex<Option<Value>>>);

impl Before {
    pub fn set(&self, value: impl serde::Serialize) {
        if let Ok(v) = serde_json::to_value(value) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        }
    }

    fn take(&self) -> Option<Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What an audit record says of the request, known before it runs.
pub struct Pending {
    pub principal: Principal,
    pub client: String,
    /// `METHOD /route/{template}` under `/api/v1`.
    pub action: String,
    /// The path under `/api/v1` the action was done to.
    pub target: String,
    pub before: Before,
}

/// Records `pending` with `response`'s status and (for a success) its JSON body as the
/// `after`, and gives the response back unchanged.
pub async fn record(app: &AppState, pending: Pending, response: Response) -> Response {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "an answer's body could not be read for the audit log");
            Bytes::new()
        }
    };
    let after = if status.is_success() && bytes.len() <= AFTER_LIMIT {
        serde_json::from_slice::<Value>(&bytes).ok().map(redacted)
    } else {
        None
    };
    let before = pending.before.take();
    write(app, pending, status, before, after).await;
    Response::from_parts(parts, Body::from(bytes))
}

/// Records an action with its status alone: one refused before it ran (a token without
/// the role), or a console sign-in.
pub async fn note(app: &AppState, pending: Pending, status: http::StatusCode) {
    write(app, pending, status, None, None).await;
}

async fn write(
    app: &AppState,
    pending: Pending,
    status: http::StatusCode,
    before: Option<Value>,
    after: Option<Value>,
) {
    let record = AuditRecord {
        at: deliver::clock::now_us(),
        token: pending.principal.name,
        client: pending.client,
        action: pending.action,
        target: pending.target,
        status: status.as_u16(),
        before: before.map(|v| redacted(v).to_string()),
        after: after.map(|v| v.to_string()),
    };
    if let Err(e) = app.store.append_audit(record).await {
        tracing::error!(error = %e, "an action could not be written to the audit log");
    }
}

/// `value` with every secret replaced by `"[redacted]"`: the values of keys that name a
/// secret (secret, password, token, authorization, key, credential), at any depth; every
/// value of a webhook's custom `headers` (they carry API keys under any name: the attempt
/// records hide them too); and the password of a URL (`https://user:pw@host`).
/// Booleans and nulls stay (`has_secret: true` says nothing secret).
pub fn redacted(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let hide = secret_key(&k) && !matches!(v, Value::Bool(_) | Value::Null);
                    let v = match v {
                        _ if hide => Value::String("[redacted]".into()),
                        Value::Object(headers) if k.eq_ignore_ascii_case("headers") => {
                            Value::Object(
                                headers
                                    .into_iter()
                                    .map(|(name, _)| (name, Value::String("[redacted]".into())))
                                    .collect(),
                            )
                        }
                        v => redacted(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted).collect()),
        Value::String(text) => Value::String(without_url_password(text)),
        other => other,
    }
}

/// `text` with the user information of an `http(s)://` URL hidden.
fn without_url_password(text: String) -> String {
    let Some(scheme_end) = ["https://", "http://"]
        .iter()
        .find(|s| {
            text.get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        })
        .map(|s| s.len())
    else {
        return text;
    };
    let rest = &text[scheme_end..];
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!(
            "{}[redacted]{}",
            &text[..scheme_end],
            &text[scheme_end + at..]
        ),
        None => text,
    }
}

fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "password",
        "token",
        "authorization",
        "api_key",
        "apikey",
        "credential",
        "private_key",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_flags_stay() {
        let v = json!({
            "name": "pd",
            "secret": "s3cret",
            "has_secret": true,
            "oauth2_client_secret": null,
            "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k-42"},
            "url": "https://noc:pw-1@hooks.example/in?x=@y",
            "items": [{"splunk_token": "tok", "url": "https://x"}],
            "token": "mg_abc",
        });
        let r = redacted(v);
        assert_eq!(r["secret"], "[redacted]");
        assert_eq!(r["has_secret"], true);
        assert_eq!(r["oauth2_client_secret"], Value::Null);
        assert_eq!(r["headers"]["Authorization"], "[redacted]");
        assert_eq!(r["headers"]["X-Api-Key"], "[redacted]");
        assert_eq!(r["url"], "https://[redacted]@hooks.example/in?x=@y");
        assert_eq!(r["items"][0]["splunk_token"], "[redacted]");
        assert_eq!(r["items"][0]["url"], "https://x");
        assert_eq!(
            without_url_password("HTTP://a@b:1/@".into()),
            "HTTP://[redacted]@b:1/@"
        );
        assert_eq!(without_url_password("mailto:a@b".into()), "mailto:a@b");
        assert_eq!(without_url_password("http:/ééé".into()), "http:/ééé");
        assert_eq!(r["token"], "[redacted]");
        assert!(!r.to_string().contains("s3cret"));
    }
}
