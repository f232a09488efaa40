//! Who may do what: named API tokens with roles, and the audit log of every change.
//!
//! - `role.rs`: the roles and the pure table of which route needs which role;
//! - `registry.rs`: the tokens the server accepts, in memory by hash;
//! - `audit.rs`: the middleware that records every state-changing request, secrets
//!   redacted.

pub mod audit;
mod registry;
mod role;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use registry::{CONFIGURED, Principal, REFRESH, Tokens, create};
pub use role::{Role, required};

/// The SHA-256 a token is kept as.
pub fn hash(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// A new token: `mg_` and 192 random bits in hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("mg_{}", hex::encode(bytes)))
}

/// Checks a token's name: 1 to 64 letters, digits, `-`, `_` or `.`, so that it reads
/// well in logs and URLs.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok && name != CONFIGURED {
        Ok(())
    } else if name == CONFIGURED {
        Err(format!(
            "`{CONFIGURED}` is the name of the configured api_token"
        ))
    } else {
        Err(format!(
            "a token's name is 1 to 64 letters, digits, `-`, `_` or `.`; got `{name}`"
        ))
    }
}

/// The grammar of an expiry given as a duration: 1 to 6 digits, not starting with 0, and
/// a unit (seconds, minutes, hours, days, weeks).
pub const DURATION_PATTERN: &str = "^[1-9][0-9]{0,5}[smhdw]$";

/// An expiry given as a duration from `now` ([`DURATION_PATTERN`]: `90d`, `12h`) or a
/// time (RFC 3339 or epoch seconds), in the future; unix µs.
pub fn parse_expiry(value: &str, now: i64) -> Result<i64, String> {
    // The unit is the last character, whatever its width (any text may come in).
    let cut = value.char_indices().last().map_or(0, |(i, _)| i);
    let (digits, unit) = value.split_at(cut);
    let duration = (!digits.is_empty()
        && digits.len() <= 6
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then(|| digits.parse::<i64>().ok())
    .flatten()
    .and_then(|n| {
        let unit_s = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return None,
        };
        Some(n * unit_s * 1_000_000)
    });
    if let Some(us) = duration {
        return Ok(now.saturating_add(us));
    }
    let at = crate::parse_instant(value).map_err(|_| {
        format!("`{value}` is neither a duration (90d, 12h) nor a time (RFC 3339 or epoch seconds)")
    })?;
    if at <= now {
        return Err(format!("the expiry `{value}` is in the past"));
    }
    Ok(at)
}

/// How the server's first token came to be, so that start-up can say so.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Tokens existed already, or `api_token` is configured.
    Nothing,
    /// The token of an earlier version (the data dir's `api_token` file) is now the
    /// `admin` token, kept as a hash; the file is removed.
    Imported,
    /// A new `admin` token: the only time it is shown.
    Generated(String),
}

/// The legacy file an earlier version kept its token in.
const LEGACY_FILE: &str = "api_token";

/// Makes sure someone can use the API: on a first start without a configured token, an
/// `admin` token is generated (or the earlier version's token file is taken over).
pub async fn bootstrap(
    store: &dyn store::Store,
    configured: bool,
    data_dir: &Path,
    now: i64,
) -> anyhow::Result<Bootstrap> {
    if configured || !store.tokens().await?.is_empty() {
        return Ok(Bootstrap::Nothing);
    }
    let legacy = data_dir.join(LEGACY_FILE);
    match std::fs::read_to_string(&legacy) {
        Ok(t) if !t.trim().is_empty() => {
            store
                .create_token(store::NewToken {
                    name: "admin".into(),
                    role: Role::Admin.as_str().into(),
                    hash: hash(t.trim().as_bytes()),
                    created_at: now,
                    expires_at: None,
                })
                .await?;
            std::fs::remove_file(&legacy)?;
            return Ok(Bootstrap::Imported);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let (token, _) = create(store, "admin", Role::Admin, None, now).await?;
    Ok(Bootstrap::Generated(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_expiries_are_checked() {
        assert!(check_name("ci-reader.2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(CONFIGURED).is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        let now = 1_700_000_000_000_000;
        assert_eq!(parse_expiry("90d", now), Ok(now + 90 * 86_400_000_000));
        assert_eq!(
            parse_expiry("2030-01-01T00:00:00Z", now),
            Ok(1_893_456_000_000_000)
        );
        assert!(
            parse_expiry("2001-01-01T00:00:00Z", now)
                .unwrap_err()
                .contains("past")
        );
        assert!(parse_expiry("soon", now).is_err());
        assert_eq!(parse_expiry("2w", now), Ok(now + 14 * 86_400_000_000));
        for bad in [
            "", "0d", "01d", "1 h", "1y", "1234567d", "d", "-1d", "\u{80}", "1é", "é",
        ] {
            assert!(parse_expiry(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("mg_") && a.len() == 51);
        assert_eq!(hash(a.as_bytes()), hash(a.as_bytes()));
        assert_ne!(hash(a.as_bytes()), hash(b.as_bytes()));
    }
}
