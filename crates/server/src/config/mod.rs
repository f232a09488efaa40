//! The configuration: a TOML file (optional), `MISTGATE_*` environment variables, and
//! `${VAR}` references inside the file.
//!
//! Precedence, strongest first: command-line flag, environment variable, file, default.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use store::Synchronous;
use thiserror::Error;

/// The largest `[ingest] max_body_bytes` allowed.
pub const MAX_BODY_LIMIT: usize = 1 << 30;

/// Everything `mistgate serve` needs to know.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The admin token of the API; generated and kept in the data dir when absent.
    #[serde(default)]
    pub api_token: Option<String>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub correlation: CorrelationConfig,
    /// Routing targets by name (`[targets.<name>]`).
    #[serde(default)]
    pub targets: BTreeMap<String, deliver::targets::TargetConfig>,
    /// Routes to the targets, tried in order (`[[routes]]`).
    #[serde(default)]
    pub routes: Vec<deliver::route::RouteConfig>,
    #[serde(default)]
    pub routing: RoutingConfig,
    /// Mist's REST API, for names and the wiring (`[mist]`).
    #[serde(default)]
    pub mist: MistConfig,
    /// True when no file was given: the built-in `default` source takes unsigned traffic.
    #[serde(skip)]
    pub zero_config: bool,
    /// Issue a one-time console sign-in link at start (`serve --demo`); not from the file.
    #[serde(skip)]
    pub console_sign_in_link: bool,
}

mod expand;
mod sections;

pub use sections::*;

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./mistgate-data")
}

/// The 1-based line of the `nth` (0-based) header `[name]` (or `[[routes]]` for
/// `"[routes]"`) in `text`, if it is written as a table header.
fn table_line(text: &str, name: &str, nth: usize) -> Option<usize> {
    let wanted = format!("[{name}]");
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim();
            line == wanted || line.replace(['"', '\''], "") == wanted
        })
        .nth(nth)
        .map(|(i, _)| i + 1)
}

/// Why a configuration cannot be used. The message says where.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: environment variable {name} is not set")]
    MissingVar {
        path: String,
        line: usize,
        name: String,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data_dir: default_data_dir(),
            api_token: None,
            server: ServerConfig::default(),
            sources: Vec::new(),
            ingest: IngestConfig::default(),
            storage: StorageConfig::default(),
            delivery: DeliveryConfig::default(),
            correlation: CorrelationConfig::default(),
            targets: BTreeMap::new(),
            routes: Vec::new(),
            routing: RoutingConfig::default(),
            mist: MistConfig::default(),
            zero_config: false,
            console_sign_in_link: false,
        }
    }
}

impl Config {
    /// The sources watched for silence: name and `silent_after` in µs.
    pub fn silence_watches(&self) -> Vec<(String, i64)> {
        self.sources
            .iter()
            .filter_map(|s| {
                let after = s.silent_after?;
                Some((
                    s.name.clone(),
                    after.as_micros().min(i64::MAX as u128) as i64,
                ))
            })
            .collect()
    }

    /// The configuration used when no file is given: one unsigned source, `default`.
    pub fn zero() -> Config {
        Config {
            sources: vec![SourceConfig {
                name: "default".into(),
                secrets: Vec::new(),
                accept_v1_signature: false,
                silent_after: None,
                allow_ips: Vec::new(),
            }],
            zero_config: true,
            ..Config::default()
        }
    }

    /// Reads, expands and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text, &path.display().to_string(), &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parses `text` (named `origin` in errors), then expands `${VAR}` with `env` inside
    /// its string values. An error quotes the file as written, never a variable's value.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: origin.to_string(),
            message,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let subs = expand::expand_table(&mut table, text, origin, env)?;
        let config: Config = match toml::Value::Table(table).try_into() {
            Ok(config) => config,
            Err(expanded) => {
                // The file as written names the line, when the mistake is in it and not in
                // a variable's value.
                if let Err(written) = toml::from_str::<Config>(text)
                    && !written.to_string().contains("${")
                {
                    return Err(parse(written.to_string()));
                }
                return Err(parse(subs.scrub(&expanded.to_string())));
            }
        };
        let scrubbed = |e: ConfigError| match e {
            ConfigError::Invalid { path, message } => ConfigError::Invalid {
                path,
                message: subs.scrub(&message),
            },
            other => other,
        };
        config.validate(origin).map_err(scrubbed)?;
        config.check_routing(text, origin).map_err(scrubbed)?;
        Ok(config)
    }

    /// Checks targets and routes; an error names the line of the table it is about.
    fn check_routing(&self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let at = |line: Option<usize>, message: String| ConfigError::Invalid {
            path: match line {
                Some(n) => format!("{origin}:{n}"),
                None => origin.to_string(),
            },
            message,
        };
        for (name, target) in &self.targets {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(at(
                    table_line(text, &format!("targets.{name}"), 0),
                    format!("targets.{name}: a target name is letters, digits, `-` and `_`"),
                ));
            }
            target.check().map_err(|e| {
                at(
                    table_line(text, &format!("targets.{name}"), 0),
                    format!("[targets.{name}] ({}): {e}", target.kind()),
                )
            })?;
        }
        self.compiled_routes()
            .map_err(|e| at(table_line(text, "[routes]", e.index), e.to_string()))?;
        if let Some(url) = &self.routing.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(at(
                table_line(text, "routing", 0),
                format!("[routing] public_url `{url}` is not an http(s) URL"),
            ));
        }
        Ok(())
    }

    /// The routes, checked against the targets.
    pub fn compiled_routes(&self) -> Result<deliver::route::Routes, deliver::route::RouteError> {
        let names: Vec<&str> = self.targets.keys().map(String::as_str).collect();
        deliver::route::Routes::compile(&self.routes, &names)
    }

    /// Everything the delivery engine needs: delivery settings, targets, routes.
    pub fn engine_settings(&self) -> Result<deliver::EngineSettings, deliver::route::RouteError> {
        let mut settings = self.delivery.settings();
        settings.routes = self.compiled_routes()?;
        settings.targets = self
            .targets
            .iter()
            .map(|(name, config)| deliver::targets::Target {
                name: name.clone(),
                config: config.clone(),
            })
            .collect();
        settings.routing = deliver::engine::RoutingSettings {
            public_url: self.routing.public_url.clone(),
            site_names: self.routing.site_names.clone(),
            api_names: Default::default(),
        };
        Ok(settings)
    }

    /// Applies `MISTGATE_*` variables over what the file said.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.into(),
                message: e.to_string(),
            })
        }
        let duration = |name: &str, value: &str| {
            humantime::parse_duration(value).map_err(|e| ConfigError::Env {
                name: name.into(),
                message: e.to_string(),
            })
        };
        if let Some(v) = env("MISTGATE_LISTEN") {
            self.listen = parse("MISTGATE_LISTEN", &v)?;
        }
        if let Some(v) = env("MISTGATE_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("MISTGATE_API_TOKEN").filter(|v| !v.is_empty()) {
            self.api_token = Some(v);
        }
        if let Some(v) = env("MISTGATE_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.storage.url = Some(v);
        }
        if let Some(v) = env("MISTGATE_TLS_CERT").filter(|v| !v.is_empty()) {
            self.server.tls_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = env("MISTGATE_TLS_KEY").filter(|v| !v.is_empty()) {
            self.server.tls_key = Some(PathBuf::from(v));
        }
        if let Some(v) = env("MISTGATE_MAX_BODY_BYTES") {
            self.ingest.max_body_bytes = parse("MISTGATE_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("MISTGATE_DEDUP_WINDOW") {
            self.ingest.dedup_window = duration("MISTGATE_DEDUP_WINDOW", &v)?;
        }
        if let Some(v) = env("MISTGATE_RETENTION_DAYS") {
            self.storage.retention_days = parse("MISTGATE_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = env("MISTGATE_SYNCHRONOUS") {
            self.storage.synchronous = match v.to_ascii_lowercase().as_str() {
                "full" => Synchronous::Full,
                "normal" => Synchronous::Normal,
                "off" => Synchronous::Off,
                other => {
                    return Err(ConfigError::Env {
                        name: "MISTGATE_SYNCHRONOUS".into(),
                        message: format!("`{other}` is not one of full, normal, off"),
                    });
                }
            };
        }
        if let Some(v) = env("MISTGATE_ALLOW_PRIVATE_TARGETS") {
            self.delivery.allow_private_targets = parse("MISTGATE_ALLOW_PRIVATE_TARGETS", &v)?;
        }
        if let Some(v) = env("MISTGATE_AGGREGATION_WINDOW") {
            self.delivery.aggregation_window = duration("MISTGATE_AGGREGATION_WINDOW", &v)?;
        }
        self.validate("environment")
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        };
        let mut names = HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let place = format!("sources[{i}] (`{}`)", s.name);
            if !names.insert(&s.name) {
                return Err(invalid(format!(
                    "{place}: a source of that name is already defined"
                )));
            }
            if s.name == crate::backfill::SOURCE {
                return Err(invalid(format!(
                    "{place}: `{}` is the name of what backfill reads from Mist's API; choose another",
                    crate::backfill::SOURCE
                )));
            }
            s.check().map_err(|e| invalid(format!("{place}: {e}")))?;
        }
        self.delivery.check().map_err(invalid)?;
        self.mist.check().map_err(invalid)?;
        self.server.check(self.listen).map_err(invalid)?;
        // Events are stored as byte ranges of their body, with 32-bit offsets.
        if self.ingest.max_body_bytes == 0 || self.ingest.max_body_bytes > MAX_BODY_LIMIT {
            return Err(invalid(format!(
                "ingest.max_body_bytes must be between 1 and {MAX_BODY_LIMIT} (1 GiB)"
            )));
        }
        if matches!(&self.api_token, Some(t) if t.len() < 16) {
            return Err(invalid("api_token must be at least 16 characters".into()));
        }
        Ok(())
    }
}

/// Where a TOML comment starts on a line, ignoring `#` inside basic strings.
fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    None
}

#[cfg(test)]
mod tests;
