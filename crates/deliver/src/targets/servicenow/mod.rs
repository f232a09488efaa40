//! ServiceNow through the Table API: an incident's opening creates a record in
//! `incident` (short description, description, category, impact and urgency from the
//! severity, `correlation_id` from the incident key), its `sys_id` is remembered, later
//! changes add work notes, and the resolution sets state 6 (Resolved) with a close code
//! and close notes. Basic authentication or OAuth (password or client-credentials grant
//! against the instance's `/oauth_token.do`).
//!
//! Impact and urgency (1 high, 2 medium, 3 low) by Mist severity, so that ServiceNow's
//! default priority matrix gives: `critical` 1/1 (P1), `major` 1/2 (P2), `minor` 2/2
//! (P3), `warn` 2/3 (P4), anything else 3/3 (P5).

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use encode::{
    Ticket, correlation_id, create_request, impact_urgency, lookup_request, token_form,
    update_request,
};
pub use send::send;

use crate::targets::standard_webhooks::check_url;
use crate::targets::template;

/// `[targets.<name>] type = "servicenow"`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The instance, `https://<name>.service-now.com`.
    pub url: String,
    /// The table (default `incident`).
    #[serde(default = "default_table")]
    pub table: String,
    /// Basic authentication, or the resource owner for OAuth's password grant.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// OAuth instead of basic authentication.
    #[serde(default)]
    pub oauth: Option<OAuth>,
    /// `category` of created records (default `network`).
    #[serde(default = "default_category")]
    pub category: String,
    /// `assignment_group` of created records (a sys_id or a name).
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// `caller_id` of created records (a user's sys_id or user name).
    #[serde(default)]
    pub caller_id: Option<String>,
    /// `close_code` of resolutions (default `Solution provided`; older instances use
    /// values such as `Solved (Permanently)`).
    #[serde(default = "default_close_code")]
    pub close_code: String,
    /// More fields set on created records (`u_source = "mist"`).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The short description (see `targets::template`); default `<summary> at <site>`.
    #[serde(default)]
    pub title_template: Option<String>,
    /// Text put before the facts in descriptions, work notes and close notes.
    #[serde(default)]
    pub text_template: Option<String>,
    /// Whether the instance's certificate is checked (default true).
    #[serde(default = "yes")]
    pub verify_cert: bool,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

/// `[targets.<name>.oauth]`: with `username` and `password` set the password grant is
/// used, else the client-credentials grant.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    /// Default `<url>/oauth_token.do`.
    #[serde(default)]
    pub token_url: Option<String>,
}

fn default_table() -> String {
    "incident".into()
}

fn default_category() -> String {
    "network".into()
}

fn default_close_code() -> String {
    "Solution provided".into()
}

fn yes() -> bool {
    true
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        check_url("url", &self.url)?;
        if self.table.is_empty()
            || !self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError(format!(
                "table: `{}` is not a table name",
                self.table
            )));
        }
        match (&self.oauth, &self.username, &self.password) {
            (Some(o), _, _) => {
                if o.client_id.is_empty() || o.client_secret.is_empty() {
                    return Err(ConfigError(
                        "oauth: client_id and client_secret are required".to_string(),
                    ));
                }
                if let Some(u) = &o.token_url {
                    check_url("oauth.token_url", u)?;
                }
                if self.username.is_some() != self.password.is_some() {
                    return Err(
                        "password: the password grant needs both username and password".into(),
                    );
                }
            }
            (None, Some(_), Some(_)) => {}
            (None, Some(_), None) => {
                return Err(ConfigError("password: required with username".to_string()));
            }
            (None, None, _) => {
                return Err(ConfigError(
                    "username: required (with password), or set oauth".to_string(),
                ));
            }
        }
        if self.close_code.trim().is_empty() {
            return Err(ConfigError("close_code: may not be empty".to_string()));
        }
        for (field, t) in [
            ("title_template", &self.title_template),
            ("text_template", &self.text_template),
        ] {
            if let Some(t) = t {
                template::check(t).map_err(|e| format!("{field}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Where OAuth tokens come from.
    pub fn token_url(&self) -> String {
        self.oauth
            .as_ref()
            .and_then(|o| o.token_url.clone())
            .unwrap_or_else(|| format!("{}/oauth_token.do", self.url.trim_end_matches('/')))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("servicenow::Config")
            .field("url", &crate::request::shown_url(&self.url))
            .field("table", &self.table)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "oauth",
                &self.oauth.as_ref().map(|o| (&o.client_id, "<redacted>")),
            )
            .field("category", &self.category)
            .field("assignment_group", &self.assignment_group)
            .field("close_code", &self.close_code)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}
