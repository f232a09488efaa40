//! The key that seals the secrets the store keeps (the webhook subscriptions' secrets, see
//! `store::seal`): `MISTGATE_SECRET_KEY` when set, else `secret.key` in the data dir,
//! made at the first start (32 random bytes written as hex, mode 0600).
//!
//! The key is 32 bytes, written as 64 hexadecimal characters (`openssl rand -hex 32`) or
//! as standard base64 (44 characters, `openssl rand -base64 32`); the key file may also
//! hold the 32 bytes themselves. Neither the key nor a malformed value is ever logged or
//! shown in an error.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use store::{Sealer, StoreError};

/// The environment variable that gives the key (it wins over the key file).
pub const ENV: &str = "MISTGATE_SECRET_KEY";
/// The key file's name in the data dir.
pub const FILE: &str = "secret.key";

/// Where the key in use came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `MISTGATE_SECRET_KEY`.
    Env,
    /// The key file; `created` when this start made it.
    File { path: PathBuf, created: bool },
}

/// The key in use, ready to seal.
#[derive(Clone, Debug)]
pub struct SecretKey {
    pub sealer: Sealer,
    pub source: KeySource,
}

/// Why no key could be had. The messages name the variable or the file, never a value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{ENV} must be 32 bytes written as 64 hexadecimal characters or as base64 (44 characters); make one with `openssl rand -hex 32`"
    )]
    BadEnv,
    #[error(
        "the secret key file {0} must hold 32 bytes, as 64 hexadecimal characters, as base64, or as the bytes themselves: restore it from the backup made with the database, or set {ENV}"
    )]
    BadFile(PathBuf),
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the secret key file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The key for the data dir `data_dir`, from `MISTGATE_SECRET_KEY` or the key file (made
/// when missing). Says at start which one is used.
pub fn load(data_dir: &Path) -> Result<SecretKey, KeyError> {
    let env = match std::env::var(ENV) {
        Ok(v) => Some(v).filter(|v| !v.trim().is_empty()),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => return Err(KeyError::BadEnv),
    };
    let key = load_with(env.as_deref(), data_dir)?;
    match &key.source {
        KeySource::Env => {
            let file = data_dir.join(FILE);
            if file.exists() {
                tracing::warn!(file = %file.display(), "secrets are sealed with the key in {ENV}; the key file beside the database is not used");
            } else {
                tracing::info!("secrets are sealed with the key in {ENV}");
            }
        }
        KeySource::File { path, created } if *created => {
            tracing::info!(file = %path.display(), "made a new secret key: secrets are sealed with it; back it up with the database, which cannot be read without it");
        }
        KeySource::File { path, .. } => {
            tracing::info!(file = %path.display(), "secrets are sealed with the key file");
        }
    }
    Ok(key)
}

/// [`load`] with the variable's value given.
pub fn load_with(env: Option<&str>, data_dir: &Path) -> Result<SecretKey, KeyError> {
    if let Some(text) = env {
        let key = parse(text.as_bytes()).ok_or(KeyError::BadEnv)?;
        return Ok(SecretKey {
            sealer: Sealer::new(key),
            source: KeySource::Env,
        });
    }
    let path = data_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => from_file(&path, &bytes, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(source) => Err(KeyError::Read { path, source }),
    }
}

fn from_file(path: &Path, bytes: &[u8], created: bool) -> Result<SecretKey, KeyError> {
    let key = parse(bytes).ok_or_else(|| KeyError::BadFile(path.to_path_buf()))?;
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "the secret key file can be read by other users: make it private (chmod 600)");
        }
    }
    Ok(SecretKey {
        sealer: Sealer::new(key),
        source: KeySource::File {
            path: path.to_path_buf(),
            created,
        },
    })
}

/// Makes the key file: 32 random bytes as hex, 0600, on disk (file and directory
/// entry) before the store seals anything with it.
fn create(path: &Path) -> Result<SecretKey, KeyError> {
    let write_err = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    let key = Sealer::generate_key();
    let mut text = hex::encode(key);
    text.push('\n');
    let mut file = match crate::data_dir::private_file(path) {
        Ok(f) => f,
        // Another process made it meanwhile: that one is the key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            return from_file(path, &bytes, false);
        }
        Err(e) => return Err(write_err(e)),
    };
    file.write_all(text.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
    }
    Ok(SecretKey {
        sealer: Sealer::new(key),
        source: KeySource::File {
            path: path.to_path_buf(),
            created: true,
        },
    })
}

/// The 32 key bytes from 64 hex characters, base64, or (a file's) 32 bytes as they are;
/// surrounding white space (a final newline) is ignored.
fn parse(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let decoded = if text.len() == 64 {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    decoded.try_into().ok()
}

impl SecretKey {
    /// What to tell the operator when the store refuses this key: which key was used and
    /// how to get back the one the database's secrets were sealed with. A key file that
    /// this start made is removed again, so that the one restored from a backup is not
    /// mistaken for it.
    pub fn explain(&self, error: StoreError) -> anyhow::Error {
        if !matches!(
            error,
            StoreError::SecretKeyMismatch { .. } | StoreError::SecretKeyMissing { .. }
        ) {
            return error.into();
        }
        const CANNOT: &str = "without that key the webhook subscriptions' secrets cannot be read (see README, Secrets at rest)";
        let what = match &self.source {
            KeySource::Env => format!(
                "the database's secrets were sealed with another key than the one in {ENV}: set {ENV} to the key used before, or unset it if the key file in the data dir holds that key"
            ),
            KeySource::File {
                path,
                created: true,
            } => {
                let _ = std::fs::remove_file(path);
                format!(
                    "the secret key file {} was missing, and the database's secrets were sealed with a key: restore that file from the backup made with the database, or set {ENV} to the key",
                    path.display()
                )
            }
            KeySource::File { path, .. } => format!(
                "the database's secrets were sealed with another key than the one in {}: restore the key file used before, or set {ENV} to that key",
                path.display()
            ),
        };
        anyhow::Error::new(error).context(format!("{what}; {CANNOT}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn expected() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn keys_are_read_as_hex_base64_or_bytes() {
        assert_eq!(parse(HEX.as_bytes()), Some(expected()));
        assert_eq!(parse(HEX.to_uppercase().as_bytes()), Some(expected()));
        assert_eq!(parse(format!("  {HEX}\n").as_bytes()), Some(expected()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(expected());
        assert_eq!(b64.len(), 44);
        assert_eq!(parse(format!("{b64}\n").as_bytes()), Some(expected()));
        assert_eq!(parse(&expected()), Some(expected()));
        for bad in [
            "",
            "short",
            &HEX[..62],
            &format!("{HEX}00"),
            &HEX.replace('0', "g"),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AA",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", // 30 bytes
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_variable_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let value = "my-Password-Not-A-Key";
        let err = load_with(Some(value), dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(ENV), "{text}");
        assert!(!text.contains(value), "{text}");
        assert!(!dir.path().join(FILE).exists(), "no key file made");
    }

    #[test]
    fn the_variable_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), format!("{}\n", "ff".repeat(32))).unwrap();
        let key = load_with(Some(HEX), dir.path()).unwrap();
        assert_eq!(key.source, KeySource::Env);
        let sealed = Sealer::new(expected()).seal("x", b"a");
        assert_eq!(key.sealer.open(&sealed, b"a").unwrap(), "x");
    }

    #[cfg(unix)]
    #[test]
    fn the_first_start_makes_a_private_key_file_that_later_starts_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = load_with(None, dir.path()).unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(
            first.source,
            KeySource::File {
                path: path.clone(),
                created: true
            }
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64, "hex, usable as {ENV} too");

        let second = load_with(None, dir.path()).unwrap();
        assert_eq!(
            second.source,
            KeySource::File {
                path: path.clone(),
                created: false
            }
        );
        let sealed = first.sealer.seal("x", b"a");
        assert_eq!(second.sealer.open(&sealed, b"a").unwrap(), "x");
        // The file's text is the key as the variable takes it.
        let from_env = load_with(Some(&text), dir.path()).unwrap();
        assert_eq!(from_env.sealer.open(&sealed, b"a").unwrap(), "x");
    }

    #[test]
    fn a_damaged_key_file_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "not-a-key-at-all\n").unwrap();
        let text = load_with(None, dir.path()).unwrap_err().to_string();
        assert!(text.contains(FILE), "{text}");
        assert!(!text.contains("not-a-key"), "{text}");
    }

    #[test]
    fn a_refused_key_is_explained_and_a_new_key_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_with(None, dir.path()).unwrap();
        let mismatch = || StoreError::SecretKeyMismatch {
            path: "mistgate.db".into(),
        };
        let text = format!("{:#}", key.explain(mismatch()));
        assert!(text.contains("was missing"), "{text}");
        assert!(text.contains(ENV), "{text}");
        assert!(!dir.path().join(FILE).exists());

        let env = load_with(Some(HEX), dir.path()).unwrap();
        let text = format!("{:#}", env.explain(mismatch()));
        assert!(
            text.contains(&format!("another key than the one in {ENV}")),
            "{text}"
        );
        assert!(text.contains("cannot be read"), "{text}");
        let other = env.explain(StoreError::WriterGone);
        assert_eq!(other.to_string(), StoreError::WriterGone.to_string());
    }
}
