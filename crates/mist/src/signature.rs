//! Mist webhook signatures.
//!
//! When a webhook has a `secret`, Mist adds two headers computed over the raw request body
//! (Mist `webhook` schema, `secret` field):
//! - `X-Mist-Signature-v2`: HMAC-SHA256(secret, body), lowercase hex;
//! - `X-Mist-Signature`: HMAC-SHA1(secret, body), lowercase hex.
//!
//! Verification compares in constant time and accepts only lowercase hex, which is what
//! Mist sends; anything else is treated as a wrong signature.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the HMAC-SHA256 signature.
pub const SIGNATURE_V2_HEADER: &str = "X-Mist-Signature-v2";
/// The header carrying the legacy HMAC-SHA1 signature.
pub const SIGNATURE_V1_HEADER: &str = "X-Mist-Signature";

/// Signs `body` as Mist does for `X-Mist-Signature-v2`: lowercase hex HMAC-SHA256.
///
/// ```
/// let sig = mist::sign_v2(b"key", b"The quick brown fox jumps over the lazy dog");
/// assert_eq!(sig, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
/// ```
pub fn sign_v2(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret, body))
}

/// Signs `body` as Mist does for `X-Mist-Signature`: lowercase hex HMAC-SHA1.
///
/// ```
/// let sig = mist::sign_v1(b"key", b"The quick brown fox jumps over the lazy dog");
/// assert_eq!(sig, "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
/// ```
pub fn sign_v1(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sha1(secret, body))
}

/// Checks an `X-Mist-Signature-v2` header value against `body`.
///
/// Surrounding whitespace in the header is ignored; uppercase hex, a wrong length or any
/// other difference gives `false`. The comparison takes the same time wherever the first
/// difference is.
///
/// ```
/// let body = br#"{"topic":"ping","events":[]}"#;
/// let header = mist::sign_v2(b"secret", body);
/// assert!(mist::verify_v2(b"secret", body, header.as_bytes()));
/// assert!(!mist::verify_v2(b"secret", body, header.to_uppercase().as_bytes()));
/// ```
pub fn verify_v2(secret: &[u8], body: &[u8], header_value: &[u8]) -> bool {
    matches_hex(&hmac_sha256(secret, body), header_value)
}

/// Checks an `X-Mist-Signature` (HMAC-SHA1) header value against `body`, with the same
/// rules as [`verify_v2`].
pub fn verify_v1(secret: &[u8], body: &[u8], header_value: &[u8]) -> bool {
    matches_hex(&hmac_sha1(secret, body), header_value)
}

fn hmac_sha256(secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn hmac_sha1(secret: &[u8], body: &[u8]) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn matches_hex(expected: &[u8], header_value: &[u8]) -> bool {
    let given = header_value.trim_ascii();
    let expected_hex = hex::encode(expected);
    // The length of a signature is public (it depends only on the algorithm), so checking
    // it first leaks nothing.
    given.len() == expected_hex.len() && bool::from(given.ct_eq(expected_hex.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"topic":"ping","events":[]}"#;
    // Computed with Python: hmac.new(b"mist-secret", BODY, hashlib.sha256 / sha1).hexdigest()
    const V2: &str = "054c057e42af38d4a92777bfd54eae5bc501300158847607c24790836205dd44";
    const V1: &str = "eadd63a474675d52e994ff25ee077138ac11f315";

    #[test]
    fn known_answers() {
        assert_eq!(sign_v2(b"mist-secret", BODY), V2);
        assert_eq!(sign_v1(b"mist-secret", BODY), V1);
        assert!(verify_v2(b"mist-secret", BODY, V2.as_bytes()));
        assert!(verify_v1(b"mist-secret", BODY, V1.as_bytes()));
    }

    #[test]
    fn whitespace_around_the_header_is_ignored() {
        assert!(verify_v2(
            b"mist-secret",
            BODY,
            format!("  {V2}\r\n").as_bytes()
        ));
        assert!(verify_v1(
            b"mist-secret",
            BODY,
            format!("\t{V1} ").as_bytes()
        ));
    }

    #[test]
    fn uppercase_hex_is_rejected() {
        assert!(!verify_v2(
            b"mist-secret",
            BODY,
            V2.to_uppercase().as_bytes()
        ));
        assert!(!verify_v1(
            b"mist-secret",
            BODY,
            V1.to_uppercase().as_bytes()
        ));
    }

    #[test]
    fn tampering_wrong_secret_and_wrong_length_fail() {
        assert!(!verify_v2(
            b"mist-secret",
            br#"{"topic":"ping","events":[{}]}"#,
            V2.as_bytes()
        ));
        assert!(!verify_v2(b"other-secret", BODY, V2.as_bytes()));
        assert!(!verify_v2(b"mist-secret", BODY, &V2.as_bytes()[..63]));
        assert!(!verify_v2(
            b"mist-secret",
            BODY,
            format!("{V2}0").as_bytes()
        ));
        assert!(!verify_v2(b"mist-secret", BODY, b""));
        assert!(!verify_v2(b"mist-secret", BODY, V1.as_bytes()));
        assert!(!verify_v1(b"mist-secret", BODY, V2.as_bytes()));
        assert!(!verify_v2(
            b"mist-secret",
            BODY,
            format!("sha256={V2}").as_bytes()
        ));
    }

    #[test]
    fn header_names() {
        assert_eq!(SIGNATURE_V2_HEADER, "X-Mist-Signature-v2");
        assert_eq!(SIGNATURE_V1_HEADER, "X-Mist-Signature");
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(secret in proptest::collection::vec(any::<u8>(), 0..100),
                                        body in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert!(verify_v2(&secret, &body, sign_v2(&secret, &body).as_bytes()));
            prop_assert!(verify_v1(&secret, &body, sign_v1(&secret, &body).as_bytes()));
        }

        #[test]
        fn any_flipped_body_bit_fails(body in proptest::collection::vec(any::<u8>(), 1..200),
                                      index in any::<prop::sample::Index>(), bit in 0u8..8) {
            let header = sign_v2(b"s", &body);
            let mut tampered = body.clone();
            tampered[index.index(body.len())] ^= 1 << bit;
            prop_assert!(!verify_v2(b"s", &tampered, header.as_bytes()));
        }

        #[test]
        fn arbitrary_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = verify_v2(b"s", b"body", &header);
            let _ = verify_v1(b"s", b"body", &header);
        }
    }
}
