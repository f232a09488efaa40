//! Signatures: a secret, a body and a header value, all from the fuzzer's bytes.
//!
//! Layout: one byte for the secret's length (0..=95, so that secrets longer than the HMAC
//! block are hashed first), one for a position, one for how long the header is, then the
//! secret, the header bytes and the body.
//!
//! Asserts, for both `X-Mist-Signature-v2` (HMAC-SHA256) and `X-Mist-Signature`
//! (HMAC-SHA1): sign then verify is true, also with whitespace around the header; a flipped
//! body byte, a flipped secret bit, a flipped header character or the other algorithm's
//! header is false; an arbitrary header never panics and verifies only if it is the
//! signature.

#![no_main]

use fuzz_support::Cursor;
use libfuzzer_sys::fuzz_target;
use mist::{sign_v1, sign_v2, verify_v1, verify_v2};

type Sign = fn(&[u8], &[u8]) -> String;
type Verify = fn(&[u8], &[u8], &[u8]) -> bool;

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let secret_len = usize::from(input.byte() % 96);
    let position = usize::from(input.byte());
    let header_len = usize::from(input.byte() % 72);
    let secret = input.take(secret_len);
    let header = input.take(header_len);
    let body = input.rest();

    for (sign, verify, other) in [
        (sign_v2 as Sign, verify_v2 as Verify, sign_v1 as Sign),
        (sign_v1, verify_v1, sign_v2),
    ] {
        check(sign, verify, other, secret, body, header, position);
    }
});

fn check(
    sign: Sign,
    verify: Verify,
    other: Sign,
    secret: &[u8],
    body: &[u8],
    header: &[u8],
    position: usize,
) {
    let signature = sign(secret, body);
    assert!(
        verify(secret, body, signature.as_bytes()),
        "sign then verify failed"
    );
    assert!(verify(secret, body, format!(" {signature}\r\n").as_bytes()));
    assert!(
        !verify(secret, body, other(secret, body).as_bytes()),
        "the other algorithm verified"
    );

    if !body.is_empty() {
        let mut flipped = body.to_vec();
        flipped[position % body.len()] ^= 0x01;
        assert!(
            !verify(secret, &flipped, signature.as_bytes()),
            "a changed body verified"
        );
    }

    // HMAC pads short keys with zero bytes, so `k` and `k\0` are the same key; a flipped
    // bit is always another key.
    let mut other_secret = secret.to_vec();
    if other_secret.is_empty() {
        other_secret.push(1);
    } else {
        let at = position % other_secret.len();
        other_secret[at] ^= 0x80;
    }
    assert!(
        !verify(&other_secret, body, signature.as_bytes()),
        "another secret verified"
    );

    let mut bad = signature.clone().into_bytes();
    let at = position % bad.len();
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    assert!(!verify(secret, body, &bad), "a changed signature verified");

    if verify(secret, body, header) {
        assert_eq!(
            header.trim_ascii(),
            signature.as_bytes(),
            "a wrong header verified"
        );
    }
}
