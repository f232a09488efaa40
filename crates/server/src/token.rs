//! The API token: configured, or generated on first start and kept in the data dir.

use std::io::Write;
use std::path::Path;

use subtle::ConstantTimeEq;

/// The admin token every `/api/v1` request must present.
pub struct ApiToken(String);

/// Where the token came from, so that start-up can say what it did.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    Configured,
    Stored,
    /// Generated now: the only time it is shown.
    Generated,
}

const TOKEN_FILE: &str = "api_token";

impl ApiToken {
    /// The configured token, else the one stored in `data_dir`, else a new one stored there.
    pub fn load_or_create(
        configured: Option<&str>,
        data_dir: &Path,
    ) -> std::io::Result<(ApiToken, TokenOrigin)> {
        if let Some(t) = configured {
            return Ok((ApiToken(t.to_string()), TokenOrigin::Configured));
        }
        let path = data_dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => {
                return Ok((ApiToken(t.trim().to_string()), TokenOrigin::Stored));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let token = format!("mg_{}", hex::encode(bytes));
        std::fs::create_dir_all(data_dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        Ok((ApiToken(token), TokenOrigin::Generated))
    }

    /// The token itself, for the one start-up message that shows a generated token.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Constant-time check of a presented token.
    pub fn accepts(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_stored_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = ApiToken::load_or_create(None, dir.path()).unwrap();
        assert_eq!(origin, TokenOrigin::Generated);
        assert!(first.reveal().len() >= 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = ApiToken::load_or_create(None, dir.path()).unwrap();
        assert_eq!(origin, TokenOrigin::Stored);
        assert!(again.accepts(first.reveal()));
        assert!(!again.accepts("mg_wrong"));
        let (configured, origin) =
            ApiToken::load_or_create(Some("configured-token-123"), dir.path()).unwrap();
        assert_eq!(origin, TokenOrigin::Configured);
        assert!(configured.accepts("configured-token-123"));
        assert!(!configured.accepts(first.reveal()));
    }
}
