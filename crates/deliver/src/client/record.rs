//! What an attempt record keeps of a request and its answer: redacted headers, cut
//! bodies, URLs without passwords and error chains on one line.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use bytes::Bytes;

use crate::subscription::Subscription;

/// The error and its causes on one line.
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Headers as Mist's delivery records show them, `{"Name": ["value"]}`, with credentials
/// and custom header values (which often carry API keys) hidden.
pub(super) fn shown(headers: &[(String, String)], sub: &Subscription) -> String {
    headers_json(headers.iter().map(|(name, value)| {
        let hidden = name.eq_ignore_ascii_case("authorization")
            || (sub
                .headers
                .keys()
                .any(|custom| custom.eq_ignore_ascii_case(name))
                && !name.eq_ignore_ascii_case("user-agent"));
        let value = if hidden {
            std::borrow::Cow::Borrowed("<redacted>")
        } else {
            std::borrow::Cow::Borrowed(value.as_str())
        };
        (name.as_str(), value)
    }))
}

pub(super) fn headers_json<'a, V: AsRef<str>>(
    headers: impl Iterator<Item = (&'a str, V)>,
) -> String {
    let mut map: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name)
            .or_default()
            .push(value.as_ref().to_string());
    }
    serde_json::to_string(&map).expect("strings serialise")
}

/// The first `limit` bytes of `body` as text (lossy), marked when cut.
pub(super) fn truncate(body: &[u8], limit: usize) -> String {
    if body.len() <= limit {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut text = String::from_utf8_lossy(&body[..limit]).into_owned();
    text.push_str(&format!("…[{} bytes in all]", body.len()));
    text
}

/// Reads at most `limit` bytes of a response body.
pub(super) async fn read_prefix(
    mut response: reqwest::Response,
    limit: usize,
) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                total += chunk.len();
                if kept.len() < limit {
                    let room = limit - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                if total > limit * 16 {
                    // Enough: do not download a large answer nobody will read.
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return (
                    String::from_utf8_lossy(&kept).into_owned(),
                    Some(describe(&e)),
                );
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if total > kept.len() {
        text.push_str("…[truncated]");
    }
    (text, None)
}

/// Reads up to `limit` bytes of a response body.
pub(super) async fn read_whole(
    mut response: reqwest::Response,
    limit: usize,
) -> (Bytes, Option<String>) {
    let mut kept = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room < chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let e = e.without_url();
                return (Bytes::from(kept), Some(describe(&e)));
            }
        }
    }
    (Bytes::from(kept), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_bodies_are_cut_and_say_so() {
        assert_eq!(truncate(b"abc", 10), "abc");
        assert_eq!(truncate(b"abcdef", 3), "abc…[6 bytes in all]");
    }

    #[test]
    fn shown_headers_hide_credentials_and_custom_values() {
        let mut sub: Subscription = serde_json::from_value(serde_json::json!({
            "id": "w", "org_id": "o", "site_id": null, "for_site": false, "name": null,
            "url": "https://example.com", "enabled": true, "type": "http-post", "topics": ["alarms"],
            "secret": null, "headers": {"X-Api-Key": "k-123"}, "verify_cert": true,
            "splunk_token": null, "oauth2_grant_type": null, "oauth2_client_id": null,
            "oauth2_client_secret": null, "oauth2_username": null, "oauth2_password": null,
            "oauth2_token_url": null, "oauth2_scopes": [], "single_event_per_message": false,
            "assetfilter_ids": [], "created_time": 0.0, "modified_time": 0.0
        }))
        .unwrap();
        sub.splunk_token = Some("hec".into());
        let text = shown(
            &[
                ("Content-Type".into(), "application/json".into()),
                ("X-Api-Key".into(), "k-123".into()),
                ("Authorization".into(), "Splunk hec".into()),
            ],
            &sub,
        );
        assert!(!text.contains("k-123") && !text.contains("hec"), "{text}");
        assert!(
            text.contains(r#""Content-Type":["application/json"]"#),
            "{text}"
        );
    }
}
