//! Syslog (RFC 5424) for collectors that speak nothing else: one message per event or
//! incident change, over UDP (RFC 5426, one datagram each), TCP (RFC 6587 octet
//! counting) or TLS (RFC 5425, the same framing).

mod encode;
mod send;
#[cfg(test)]
mod tests;

use crate::targets::ConfigError;
use std::path::PathBuf;

use serde::Deserialize;

pub use encode::{encode, facility_code, frame, line, syslog_severity};
pub use send::send;
pub(crate) use send::{guarded_addrs, recorded};

/// How messages travel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One datagram per message (RFC 5426): nothing says it arrived.
    #[default]
    Udp,
    /// A TCP connection per batch, octet-counted frames (RFC 6587).
    Tcp,
    /// TCP with TLS (RFC 5425), octet-counted frames.
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// `[targets.<name>] type = "syslog"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `host:port` of the collector (`[v6 address]:port` for an IPv6 literal).
    pub address: String,
    /// `udp` (default), `tcp` or `tls`.
    #[serde(default)]
    pub transport: Transport,
    /// A facility name (`local0` … `local7`, `daemon`, `user`, …) or number 0–23
    /// (default `local0`).
    #[serde(default = "default_facility")]
    pub facility: String,
    /// The HOSTNAME field (default `mistgate`).
    #[serde(default = "default_name")]
    pub hostname: String,
    /// The APP-NAME field (default `mistgate`).
    #[serde(default = "default_name")]
    pub app_name: String,
    /// The SD-ID of the structured data element, `name@<private enterprise number>`.
    /// The default uses 32473, the number RFC 5612 reserves for examples; an operator
    /// with an own number may put it here.
    #[serde(default = "default_sd_id")]
    pub sd_id: String,
    /// A template for MSG (see `targets::template`); the default title when unset.
    #[serde(default)]
    pub template: Option<String>,
    /// Longest message in bytes before framing; MSG is cut to fit (default 2048 on UDP,
    /// the size RFC 5426 says receivers should take, 8192 on TCP and TLS).
    #[serde(default)]
    pub max_message_bytes: Option<usize>,
    /// TLS only: a PEM file of the certificates to trust instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// At most this many requests per period (`"30/min"`, `/s`, `/h`); more wait their
    /// turn (see [`crate::rate_limit`]).
    #[serde(default)]
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
}

fn default_facility() -> String {
    "local0".into()
}

fn default_name() -> String {
    "mistgate".into()
}

fn default_sd_id() -> String {
    "mistgate@32473".into()
}

/// The largest UDP payload over IPv4.
const UDP_MAX: usize = 65_507;

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        split_address(&self.address).map_err(|e| format!("address: {e}"))?;
        facility_code(&self.facility).ok_or_else(|| {
            format!(
                "facility: `{}` is not a syslog facility (a name such as local0 or a number 0-23)",
                self.facility
            )
        })?;
        header_field("hostname", &self.hostname, 255)?;
        header_field("app_name", &self.app_name, 48)?;
        check_sd_id(&self.sd_id).map_err(|e| format!("sd_id: {e}"))?;
        if let Some(t) = &self.template {
            crate::targets::template::check(t).map_err(|e| format!("template: {e}"))?;
        }
        let max = self.max_bytes();
        let limit = if self.transport == Transport::Udp {
            UDP_MAX
        } else {
            1 << 20
        };
        if !(480..=limit).contains(&max) {
            return Err(ConfigError(format!(
                "max_message_bytes: {max} is not between 480 (what every receiver takes) and {limit}"
            )));
        }
        if let Some(path) = &self.ca_file {
            if self.transport != Transport::Tls {
                return Err(ConfigError(
                    "ca_file: only used with transport = \"tls\"".to_string(),
                ));
            }
            send::read_roots(path).map_err(|e| format!("ca_file: {e}"))?;
        }
        Ok(())
    }

    /// The message size limit in force.
    pub fn max_bytes(&self) -> usize {
        self.max_message_bytes
            .unwrap_or(if self.transport == Transport::Udp {
                2_048
            } else {
                8_192
            })
    }
}

/// `host:port` → (host, port); brackets around an IPv6 literal are removed.
pub(crate) fn split_address(address: &str) -> Result<(String, u16), ConfigError> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("`{address}` is not host:port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty()
        || host.contains(['/', ' '])
        || (host.contains(':') && !address.starts_with('['))
    {
        return Err(ConfigError(format!("`{address}` is not host:port")));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host.to_string(), p)),
        _ => Err(ConfigError(format!("`{port}` is not a port"))),
    }
}

/// A header field: printable US-ASCII without spaces, 1 to `max` characters (RFC 5424).
fn header_field(field: &str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(ConfigError(format!(
            "{field}: `{value}` is not 1 to {max} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

/// An SD-ID of RFC 5424 section 6.3.2 for private use: `name@digits`, at most 32
/// characters, none of `=`, space, `]`, `"`.
fn check_sd_id(id: &str) -> Result<(), ConfigError> {
    let bad = |c: u8| !(33..=126).contains(&c) || matches!(c, b'=' | b']' | b'"');
    let valid = id.len() <= 32
        && !id.bytes().any(bad)
        && id.split_once('@').is_some_and(|(name, number)| {
            !name.is_empty()
                && !number.is_empty()
                && !name.contains('@')
                && number.bytes().all(|b| b.is_ascii_digit())
        });
    if valid {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "`{id}` is not name@<enterprise number> of at most 32 printable characters without =, ] or \""
        )))
    }
}
