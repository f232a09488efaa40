//! MAC addresses in the one form Mist uses most: twelve lowercase characters, no separators.
//!
//! Most Mist topics send `5c5b350e55c8`, but the raw Wi-Fi topics send `28-f0-76-2d-22-1e`,
//! users paste `AC:23:16:EC:A7:0B` or Cisco-style `5c5b.350e.55c8` into filters, and public
//! Mist samples are redacted as `xxxxxxxxxxxx` or `xx2316ed6axx`. Normalising all of them
//! the same way lets a filter typed by a person match what Mist sent.

/// Normalises a MAC address, or returns `None` if `s` is not one.
///
/// Separators (`:`, `-`, `.`, spaces) are removed and letters lowercased; the result must be
/// exactly 12 ASCII letters or digits. Real MACs are hex, but letters beyond `f` are accepted
/// so that redacted documentation samples (`xxxxxxxxxxxx`) still normalise and filter.
///
/// ```
/// use mist::normalize_mac;
/// assert_eq!(normalize_mac("AC-23-16-EC-A7-0B").as_deref(), Some("ac2316eca70b"));
/// assert_eq!(normalize_mac("5c5b.350e.55c8").as_deref(), Some("5c5b350e55c8"));
/// assert_eq!(normalize_mac("xx2316ed6axx").as_deref(), Some("xx2316ed6axx"));
/// assert_eq!(normalize_mac("string"), None);
/// ```
pub fn normalize_mac(s: &str) -> Option<String> {
    let mut out = String::with_capacity(12);
    for c in s.chars() {
        match c {
            ':' | '-' | '.' | ' ' => {}
            c if c.is_ascii_alphanumeric() && out.len() < 12 => out.push(c.to_ascii_lowercase()),
            _ => return None,
        }
    }
    (out.len() == 12).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_common_spelling() {
        for s in [
            "ac2316eca70b",
            "AC2316ECA70B",
            "ac:23:16:ec:a7:0b",
            "AC-23-16-EC-A7-0B",
            "ac23.16ec.a70b",
            " ac 23 16 ec a7 0b ",
        ] {
            assert_eq!(normalize_mac(s).as_deref(), Some("ac2316eca70b"), "{s}");
        }
    }

    #[test]
    fn accepts_redacted_samples() {
        assert_eq!(
            normalize_mac("xxxxxxxxxxxx").as_deref(),
            Some("xxxxxxxxxxxx")
        );
        assert_eq!(
            normalize_mac("60c78dxxxxxx").as_deref(),
            Some("60c78dxxxxxx")
        );
    }

    #[test]
    fn rejects_what_is_not_twelve_characters() {
        for s in [
            "",
            "string",
            "mac4",
            "5c5b3xxxxxx",
            "ac2316eca70b0",
            "ac2316eca7_0",
            "ac2316eca70é",
            "00000000-0000-0000-1000-5c5b35000001",
        ] {
            assert_eq!(normalize_mac(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn is_idempotent_and_never_panics(s in "\\PC{0,20}") {
            if let Some(mac) = normalize_mac(&s) {
                prop_assert_eq!(mac.len(), 12);
                prop_assert_eq!(normalize_mac(&mac), Some(mac.clone()));
            }
        }

        /// Mirrors the `normalize` fuzz target: case and the separator style never matter.
        #[test]
        fn case_and_separators_do_not_matter(s in "[0-9a-zA-Z:.-]{10,16}") {
            let mac = normalize_mac(&s);
            prop_assert_eq!(normalize_mac(&s.to_ascii_uppercase()), mac.clone());
            if let Some(mac) = mac {
                let pairs: Vec<&str> = (0..6).map(|i| &mac[2 * i..2 * i + 2]).collect();
                prop_assert_eq!(normalize_mac(&pairs.join(":")), Some(mac.clone()));
                let cisco = format!("{}.{}.{}", &mac[..4], &mac[4..8], &mac[8..]);
                prop_assert_eq!(normalize_mac(&cisco), Some(mac.clone()));
            }
        }
    }
}
