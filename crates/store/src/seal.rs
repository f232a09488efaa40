//! Secrets at rest: what the store keeps that is secret (a webhook subscription's record,
//! with its HMAC secret, Splunk token, OAuth2 credentials and custom headers) is sealed
//! with XChaCha20-Poly1305 before it reaches the database.
//!
//! Pure: no IO, no clock; only the nonce comes from the OS's random source. Where the key
//! comes from (an environment variable, a key file) is the caller's business.
//!
//! A sealed value is text: `mgseal1:` followed by the base64 of the 24-byte nonce, the
//! ciphertext and the 16-byte tag. A random 192-bit nonce per seal cannot repeat in
//! practice (the reason for XChaCha rather than ChaCha's 96-bit nonce, where random
//! nonces are only safe up to a few billion seals). The associated data names where the
//! value belongs (e.g. `subscriptions/<id>`), so a sealed value copied to another row or
//! another purpose does not open.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

/// What every sealed value starts with; the digit is the format's version.
pub const PREFIX: &str = "mgseal1:";

/// The key's length in bytes.
pub const KEY_LEN: usize = 32;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Seals and opens secrets with one key. Cloning shares nothing mutable; the key is
/// wiped from memory when the last copy is dropped, and never printed by `Debug`.
///
/// ```
/// let sealer = store::Sealer::new([7; 32]);
/// let sealed = sealer.seal("hunter2", b"subscriptions/abc");
/// assert!(sealed.starts_with(store::seal::PREFIX));
/// assert_eq!(sealer.open(&sealed, b"subscriptions/abc").unwrap(), "hunter2");
/// assert!(sealer.open(&sealed, b"subscriptions/xyz").is_err());
/// ```
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer { key: <hidden> }")
    }
}

/// Why a value did not open. None of them carries any part of the value or the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The text is not a sealed value (it does not start with [`PREFIX`]).
    #[error("not a sealed value")]
    NotSealed,
    /// It starts like one but is not well formed (bad base64, too short, not UTF-8).
    #[error("a sealed value that is damaged (not well formed)")]
    Malformed,
    /// The tag does not verify: another key, another place (associated data), or altered.
    #[error("a sealed value that does not open with this key (another key, or altered)")]
    WrongKey,
}

impl Sealer {
    /// A sealer with `key` (32 bytes, from a secure random source).
    pub fn new(key: [u8; KEY_LEN]) -> Sealer {
        let mut key = key;
        let cipher = XChaCha20Poly1305::new(&key.into());
        // The caller's copy is theirs; this one need not outlive the cipher's.
        key.fill(0);
        Sealer { cipher }
    }

    /// A new random key, from the OS's random source.
    pub fn generate_key() -> [u8; KEY_LEN] {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).expect("the OS random source");
        key
    }

    /// Seals `plaintext`, bound to `aad` (where the value belongs).
    pub fn seal(&self, plaintext: &str, aad: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source");
        let nonce = XNonce::from(nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad,
        };
        // Only a message over 256 GiB can fail to encrypt.
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .expect("a message under 256 GiB encrypts");
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        let mut text = String::with_capacity(PREFIX.len() + bytes.len().div_ceil(3) * 4);
        text.push_str(PREFIX);
        STANDARD.encode_string(&bytes, &mut text);
        text
    }

    /// Opens a value sealed with this key and the same `aad`.
    pub fn open(&self, text: &str, aad: &[u8]) -> Result<String, SealError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SealError::NotSealed)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(&nonce, Payload { msg: sealed, aad })
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }
}

/// Whether `text` is a sealed value (by its prefix; it may still fail to open).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const AAD: &[u8] = b"subscriptions/w1";

    #[test]
    fn a_sealed_value_opens_with_its_key_and_place() {
        let sealer = Sealer::new([1; KEY_LEN]);
        for plain in [
            "",
            "s3cret",
            "{\"secret\":\"é ☃ \\\" \\n\"}",
            &"x".repeat(10_000),
        ] {
            let sealed = sealer.seal(plain, AAD);
            assert!(is_sealed(&sealed));
            assert!(!sealed.contains(plain) || plain.is_empty());
            assert_eq!(sealer.open(&sealed, AAD).unwrap(), plain);
        }
        // A clone opens what the original sealed.
        let sealed = sealer.seal("v", AAD);
        assert_eq!(sealer.clone().open(&sealed, AAD).unwrap(), "v");
    }

    #[test]
    fn another_key_fails_cleanly() {
        let sealed = Sealer::new([1; KEY_LEN]).seal("s3cret", AAD);
        assert_eq!(
            Sealer::new([2; KEY_LEN]).open(&sealed, AAD),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn another_place_fails() {
        let sealer = Sealer::new([1; KEY_LEN]);
        let sealed = sealer.seal("s3cret", AAD);
        assert_eq!(
            sealer.open(&sealed, b"subscriptions/w2"),
            Err(SealError::WrongKey)
        );
        assert_eq!(sealer.open(&sealed, b""), Err(SealError::WrongKey));
    }

    #[test]
    fn any_altered_byte_fails() {
        let sealer = Sealer::new([1; KEY_LEN]);
        let sealed = sealer.seal("s3cret value", AAD);
        let bytes = STANDARD.decode(&sealed[PREFIX.len()..]).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let text = format!("{PREFIX}{}", STANDARD.encode(&altered));
            assert_eq!(
                sealer.open(&text, AAD),
                Err(SealError::WrongKey),
                "byte {i}"
            );
        }
        // Cut short, or cut to less than a nonce and a tag.
        let cut = format!("{PREFIX}{}", STANDARD.encode(&bytes[..bytes.len() - 1]));
        assert_eq!(sealer.open(&cut, AAD), Err(SealError::WrongKey));
        let stub = format!(
            "{PREFIX}{}",
            STANDARD.encode(&bytes[..NONCE_LEN + TAG_LEN - 1])
        );
        assert_eq!(sealer.open(&stub, AAD), Err(SealError::Malformed));
    }

    #[test]
    fn what_is_not_sealed_is_named() {
        let sealer = Sealer::new([1; KEY_LEN]);
        assert_eq!(
            sealer.open("{\"secret\":\"x\"}", AAD),
            Err(SealError::NotSealed)
        );
        assert_eq!(
            sealer.open("mgseal1:not base64!", AAD),
            Err(SealError::Malformed)
        );
        assert!(!is_sealed("{}"));
    }

    #[test]
    fn every_seal_has_its_own_nonce() {
        let sealer = Sealer::new([1; KEY_LEN]);
        let nonces: HashSet<Vec<u8>> = (0..1_000)
            .map(|_| {
                let sealed = sealer.seal("same", AAD);
                STANDARD.decode(&sealed[PREFIX.len()..]).unwrap()[..NONCE_LEN].to_vec()
            })
            .collect();
        assert_eq!(nonces.len(), 1_000);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = [0xAB; KEY_LEN];
        let shown = format!("{:?}", Sealer::new(key));
        assert!(!shown.to_lowercase().contains("ab, ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
        assert_eq!(shown, "Sealer { key: <hidden> }");
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(Sealer::generate_key(), Sealer::generate_key());
    }
}
