//! The HTTP headers of an outbound Mist-format webhook request.
//!
//! Receivers written for Mist check `X-Mist-Signature-v2` (HMAC-SHA256, lowercase hex) and
//! sometimes the older `X-Mist-Signature` (HMAC-SHA1) over the exact body bytes, and some
//! look at `User-Agent: Mist-webhook`; mistgate sends all of them so it can stand in for Mist.

use std::collections::BTreeMap;

/// The header that names one delivery, so receivers can drop a retried duplicate.
pub const DELIVERY_ID_HEADER: &str = "X-Mistgate-Delivery-Id";

/// The `User-Agent` Mist itself sends.
pub const USER_AGENT: &str = "Mist-webhook";

/// Headers a subscription's custom headers may not set, compared case-insensitively.
///
/// `Content-Type`, the signatures and the delivery id are what the receiver relies on to
/// read and trust the body; `Content-Length`, `Host` and `Transfer-Encoding` belong to the
/// HTTP client. `User-Agent` is deliberately absent: a custom value replaces `Mist-webhook`.
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "x-mist-signature",
    "x-mist-signature-v2",
    "x-mistgate-delivery-id",
];

/// Builds the request headers for `body`, in a fixed order.
///
/// In order: `Content-Type: application/json`, `User-Agent` (custom value if given, else
/// `Mist-webhook`), `X-Mist-Signature-v2` and `X-Mist-Signature` when `secret` is set, the
/// remaining custom headers in name order, and [`DELIVERY_ID_HEADER`]. Custom headers named
/// in [`RESERVED_HEADERS`], and any whose name is not an HTTP token or whose value holds a
/// control character other than tab, are dropped rather than sent (config validation should
/// have reported them already; this is the last line against header injection).
///
/// ```
/// use std::collections::BTreeMap;
/// let headers = deliver::headers::request_headers(b"{}", None, &BTreeMap::new(), "d-1");
/// assert_eq!(headers[0], ("Content-Type".to_string(), "application/json".to_string()));
/// ```
pub fn request_headers(
    body: &[u8],
    secret: Option<&str>,
    custom: &BTreeMap<String, String>,
    delivery_id: &str,
) -> Vec<(String, String)> {
    let usable: Vec<(&String, &String)> = custom
        .iter()
        .filter(|(name, value)| {
            is_token(name)
                && !is_reserved(name)
                && !value.chars().any(|c| c.is_control() && c != '\t')
        })
        .collect();
    let user_agent = usable
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
        .map_or(USER_AGENT, |(_, value)| value.as_str());

    let mut out = Vec::with_capacity(usable.len() + 5);
    out.push(("Content-Type".to_owned(), "application/json".to_owned()));
    out.push(("User-Agent".to_owned(), user_agent.to_owned()));
    if let Some(secret) = secret {
        out.push((
            mist::SIGNATURE_V2_HEADER.to_owned(),
            mist::sign_v2(secret.as_bytes(), body),
        ));
        out.push((
            mist::SIGNATURE_V1_HEADER.to_owned(),
            mist::sign_v1(secret.as_bytes(), body),
        ));
    }
    for (name, value) in usable {
        if !name.eq_ignore_ascii_case("user-agent") {
            out.push((name.clone(), value.clone()));
        }
    }
    out.push((DELIVERY_ID_HEADER.to_owned(), delivery_id.to_owned()));
    out
}

fn is_reserved(name: &str) -> bool {
    RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// RFC 9110 `token`: the characters a header field name may contain.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"topic":"alarms","events":[{"id":1}]}"#;

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn signatures_match_known_answers() {
        // Computed once with python3: hmac.new(b"s3cret", BODY, hashlib.sha256 / sha1).
        let headers = request_headers(BODY, Some("s3cret"), &BTreeMap::new(), "d-1");
        assert_eq!(
            get(&headers, "X-Mist-Signature-v2"),
            ["aef9f2a9ba0b737e599964d8ec3eb9457b51be860e5ac9c5fa5f36df89e4ecc4"]
        );
        assert_eq!(
            get(&headers, "X-Mist-Signature"),
            ["c207677976dcfe44a517873604e88b982fb8158f"]
        );
    }

    #[test]
    fn without_secret_there_are_no_signatures() {
        let headers = request_headers(BODY, None, &BTreeMap::new(), "d-7");
        assert_eq!(
            headers,
            [
                ("Content-Type".to_string(), "application/json".to_string()),
                ("User-Agent".to_string(), "Mist-webhook".to_string()),
                ("X-Mistgate-Delivery-Id".to_string(), "d-7".to_string()),
            ]
        );
    }

    #[test]
    fn custom_headers_cannot_override_reserved_ones() {
        let custom: BTreeMap<String, String> = [
            ("content-type", "text/plain"),
            ("X-MIST-SIGNATURE-V2", "forged"),
            ("x-mist-signature", "forged"),
            ("x-mistgate-delivery-id", "forged"),
            ("Host", "evil.example"),
            ("Authorization", "Bearer abc"),
            ("X-Team", "noc"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let headers = request_headers(BODY, Some("s3cret"), &custom, "d-2");
        assert_eq!(get(&headers, "content-type"), ["application/json"]);
        assert_eq!(get(&headers, "x-mist-signature-v2").len(), 1);
        assert_ne!(get(&headers, "x-mist-signature-v2"), ["forged"]);
        assert_ne!(get(&headers, "x-mist-signature"), ["forged"]);
        assert_eq!(get(&headers, "x-mistgate-delivery-id"), ["d-2"]);
        assert!(get(&headers, "host").is_empty());
        assert_eq!(get(&headers, "authorization"), ["Bearer abc"]);
        assert_eq!(get(&headers, "x-team"), ["noc"]);
    }

    #[test]
    fn custom_user_agent_replaces_the_default() {
        let custom = BTreeMap::from([("user-agent".to_owned(), "probe/1".to_owned())]);
        let headers = request_headers(BODY, None, &custom, "d");
        assert_eq!(get(&headers, "user-agent"), ["probe/1"]);
    }

    #[test]
    fn malformed_custom_headers_are_dropped() {
        let custom = BTreeMap::from([
            ("X-Inject".to_owned(), "a\r\nX-Evil: 1".to_owned()),
            ("Bad Name".to_owned(), "v".to_owned()),
            ("".to_owned(), "v".to_owned()),
            ("X-Tab".to_owned(), "a\tb".to_owned()),
        ]);
        let headers = request_headers(BODY, None, &custom, "d");
        assert!(get(&headers, "x-inject").is_empty());
        assert!(get(&headers, "bad name").is_empty());
        assert!(get(&headers, "").is_empty());
        assert_eq!(get(&headers, "x-tab"), ["a\tb"]);
    }
}
