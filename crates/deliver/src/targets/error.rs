//! Why a target's configuration cannot be used, for a person to read: the message starts
//! with the field it is about (`url: ...`, `secrets[1]: ...`).

use std::ops::Deref;

/// A target configuration (or one of its templates) that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<String> for ConfigError {
    fn from(message: String) -> ConfigError {
        ConfigError(message)
    }
}

impl From<&str> for ConfigError {
    fn from(message: &str) -> ConfigError {
        ConfigError(message.to_string())
    }
}

/// The message, for checks such as `err.starts_with("url")`.
impl Deref for ConfigError {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}
