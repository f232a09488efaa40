//! The configuration: a TOML file (optional), `MISTGATE_*` environment variables, and
//! `${VAR}` references inside the file.
//!
//! Precedence, strongest first: command-line flag, environment variable, file, default.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// True when no file was given: the built-in `default` source takes unsigned traffic.
    #[serde(skip)]
    pub zero_config: bool,
}

/// One sender of webhooks, reachable at `POST /ingest/{name}`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    /// Zero, one or two (two while rotating) shared secrets.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Also accept `X-Mist-Signature` (HMAC-SHA1) when `-v2` is absent.
    #[serde(default)]
    pub accept_v1_signature: bool,
    /// Open a `source_silent` incident when no request has arrived for this long (any
    /// humantime: `15m`, `2h`); absent, the source is not watched.
    #[serde(default, with = "humantime_serde")]
    pub silent_after: Option<Duration>,
}

impl std::fmt::Debug for SourceConfig {
    // Secrets never reach a log line, not even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("name", &self.name)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("accept_v1_signature", &self.accept_v1_signature)
            .field("silent_after", &self.silent_after)
            .finish()
    }
}

/// Limits and duplicate handling of `POST /ingest/{source}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// The same event seen again within this window is stored once. `0s` turns
    /// duplicate detection off (every event is stored).
    #[serde(with = "humantime_serde")]
    pub dedup_window: Duration,
    /// A request not answered within this time (slow sender, stalled disk) gets 408.
    /// Mist gives a receiver 30 s before it counts a delivery as failed.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 16 * 1024 * 1024,
            dedup_window: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The embedded store.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `full` (fsync on every commit, the default), `normal` or `off`.
    pub synchronous: Synchronous,
    /// Days of requests, events and quarantine kept; 0 keeps everything.
    pub retention_days: u32,
    /// How often the pruner runs.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            synchronous: Synchronous::Full,
            retention_days: 30,
            prune_interval: Duration::from_secs(3600),
        }
    }
}

/// Outbound delivery to webhook subscribers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Run the delivery stage. Off, webhooks can be managed but nothing is sent.
    pub enabled: bool,
    /// SSRF guard: loopback, private and link-local target URLs are refused unless true.
    pub allow_private_targets: bool,
    /// How long events of one webhook and topic are gathered into one message.
    #[serde(with = "humantime_serde")]
    pub aggregation_window: Duration,
    /// Most events in one message.
    pub max_batch_events: usize,
    /// Time allowed for one request (at most 30 s, Mist's own limit).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Requests in flight per webhook; 1 keeps a healthy receiver's messages in order.
    pub max_in_flight: usize,
    /// Base delays after the 1st, 2nd, ... failed attempt (full jitter); the last repeats.
    #[serde(with = "humantime_serde_list")]
    pub retry_delays: Vec<Duration>,
    /// The shortest wait between two attempts of a batch.
    #[serde(with = "humantime_serde")]
    pub retry_min_delay: Duration,
    /// A batch still failing this long after its first attempt goes to the dead letters.
    #[serde(with = "humantime_serde")]
    pub retry_max_age: Duration,
    /// `Retry-After` answers are honoured up to this long.
    #[serde(with = "humantime_serde")]
    pub retry_after_max: Duration,
    /// Consecutive failures that pause a webhook (circuit breaker).
    pub breaker_failures: u32,
    /// The first pause; it doubles with each failed probe.
    #[serde(with = "humantime_serde")]
    pub breaker_pause: Duration,
    /// The longest pause.
    #[serde(with = "humantime_serde")]
    pub breaker_max_pause: Duration,
    /// Bytes of request and response bodies kept in each delivery result.
    pub record_body_bytes: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let retry = deliver::RetryPolicy::default();
        let breaker = deliver::BreakerPolicy::default();
        let d = |us: i64| Duration::from_micros(us as u64);
        DeliveryConfig {
            enabled: true,
            allow_private_targets: false,
            aggregation_window: Duration::from_secs(1),
            max_batch_events: 100,
            timeout: Duration::from_secs(10),
            max_in_flight: 1,
            retry_delays: retry.delays_us.iter().map(|&us| d(us)).collect(),
            retry_min_delay: d(retry.min_delay_us),
            retry_max_age: d(retry.max_age_us),
            retry_after_max: d(retry.retry_after_max_us),
            breaker_failures: breaker.failures_to_open,
            breaker_pause: d(breaker.open_for_us),
            breaker_max_pause: d(breaker.max_open_for_us),
            record_body_bytes: 4_096,
        }
    }
}

impl DeliveryConfig {
    /// The engine's settings.
    pub fn settings(&self) -> deliver::EngineSettings {
        let us = |d: Duration| d.as_micros().min(i64::MAX as u128) as i64;
        let defaults = deliver::RetryPolicy::default();
        deliver::EngineSettings {
            aggregation_window: self.aggregation_window,
            max_batch_events: self.max_batch_events,
            max_in_flight: self.max_in_flight,
            retry: deliver::RetryPolicy {
                delays_us: self.retry_delays.iter().map(|&d| us(d)).collect(),
                max_age_us: us(self.retry_max_age),
                min_delay_us: us(self.retry_min_delay),
                retry_after_min_us: defaults.retry_after_min_us.min(us(self.retry_after_max)),
                retry_after_max_us: us(self.retry_after_max),
            },
            breaker: deliver::BreakerPolicy {
                failures_to_open: self.breaker_failures,
                open_for_us: us(self.breaker_pause),
                max_open_for_us: us(self.breaker_max_pause),
            },
            client: deliver::ClientSettings {
                timeout: self.timeout,
                allow_private_targets: self.allow_private_targets,
                record_body_bytes: self.record_body_bytes,
            },
            ..deliver::EngineSettings::default()
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(30) {
            return Err(
                "[delivery] timeout must be above 0 and at most 30s (Mist's own limit)".into(),
            );
        }
        if self.max_batch_events == 0 {
            return Err("[delivery] max_batch_events must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("[delivery] max_in_flight must be at least 1".into());
        }
        if self.retry_delays.is_empty() || self.retry_delays.iter().any(|d| d.is_zero()) {
            return Err(
                "[delivery] retry_delays must list at least one delay, none of them 0".into(),
            );
        }
        if self.breaker_failures == 0
            || self.breaker_pause.is_zero()
            || self.breaker_max_pause < self.breaker_pause
        {
            return Err("[delivery] breaker_failures must be at least 1, breaker_pause above 0 and breaker_max_pause at least breaker_pause".into());
        }
        Ok(())
    }
}

/// `humantime` for a list of durations (`["5s", "30s", "2m"]`).
mod humantime_serde_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| humantime::parse_duration(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Settings of routing beside routes and targets.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// The base URL people reach mistgate at; notifications link to incidents under it.
    pub public_url: Option<String>,
    /// Site names by site id, for sites whose events do not name them.
    pub site_names: BTreeMap<String, String>,
}

/// How device-down incidents are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// One incident per device (an alarm naming three APs opens three).
    #[default]
    Device,
    /// One incident per alarm, with all the devices it names.
    Alarm,
}

/// Device state and incident rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationConfig {
    /// Run the correlation stage (device states, incidents). Off, mistgate only keeps
    /// the log; the device and incident API then answers empty lists.
    pub enabled: bool,
    pub grouping: Grouping,
    /// A down and up inside this window is a flap, not an incident. `0s`: off.
    #[serde(with = "humantime_serde")]
    pub flap_hold_down: Duration,
    /// A security incident resolves after this long without a new alarm.
    #[serde(with = "humantime_serde")]
    pub security_quiet_period: Duration,
    /// A security incident never lives longer than this; then a new one starts.
    #[serde(with = "humantime_serde")]
    pub security_max_lifetime: Duration,
    /// AP-down incidents starting this soon after their site's gateway or switch went
    /// down are linked to it and suppressed.
    #[serde(with = "humantime_serde")]
    pub inhibition_window: Duration,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            enabled: true,
            grouping: Grouping::Device,
            flap_hold_down: Duration::ZERO,
            security_quiet_period: Duration::from_secs(24 * 3600),
            security_max_lifetime: Duration::from_secs(7 * 24 * 3600),
            inhibition_window: Duration::from_secs(600),
        }
    }
}

impl CorrelationConfig {
    /// The pure core's settings.
    pub fn settings(&self) -> correlate::Settings {
        let us = |d: Duration| d.as_micros().min(i64::MAX as u128) as i64;
        correlate::Settings {
            grouping: match self.grouping {
                Grouping::Device => correlate::Grouping::PerDevice,
                Grouping::Alarm => correlate::Grouping::PerAlarm,
            },
            flap_hold_down_us: us(self.flap_hold_down),
            security_quiet_us: us(self.security_quiet_period),
            security_max_lifetime_us: us(self.security_max_lifetime),
            inhibition_window_us: us(self.inhibition_window),
        }
    }
}

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
            sources: Vec::new(),
            ingest: IngestConfig::default(),
            storage: StorageConfig::default(),
            delivery: DeliveryConfig::default(),
            correlation: CorrelationConfig::default(),
            targets: BTreeMap::new(),
            routes: Vec::new(),
            routing: RoutingConfig::default(),
            zero_config: false,
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

    /// Parses `text` (named `origin` in errors), expanding `${VAR}` with `env`.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let expanded = expand_vars(text, origin, env)?;
        let config: Config = toml::from_str(&expanded).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        config.check_routing(&expanded, origin)?;
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
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(format!(
                    "{place}: name must be non-empty letters, digits, `-`, `_` or `.` (it is a URL path segment)"
                )));
            }
            if !names.insert(&s.name) {
                return Err(invalid(format!(
                    "{place}: a source of that name is already defined"
                )));
            }
            if s.secrets.len() > 2 {
                return Err(invalid(format!(
                    "{place}: at most two secrets (the current one and the next, during rotation), found {}",
                    s.secrets.len()
                )));
            }
            if s.secrets.iter().any(|k| k.is_empty()) {
                return Err(invalid(format!(
                    "{place}: a secret is empty (is the environment variable it names set to an empty value?)"
                )));
            }
            if s.silent_after.is_some_and(|d| d < Duration::from_secs(1)) {
                return Err(invalid(format!(
                    "{place}: silent_after must be at least 1s (leave it out to not watch the source)"
                )));
            }
        }
        self.delivery.check().map_err(invalid)?;
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

/// Replaces every `${NAME}` with the variable's value; a missing variable is an error
/// naming the line, so that a secret never silently becomes the empty string.
fn expand_vars(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        // A `#` comment may mention ${VAR} without it being needed.
        let code_end = comment_start(line).unwrap_or(line.len());
        let mut consumed = 0;
        while let Some(start) = rest.find("${") {
            if consumed + start >= code_end {
                break;
            }
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + 2 + len];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            let value = env(name).ok_or_else(|| ConfigError::MissingVar {
                path: origin.to_string(),
                line: n + 1,
                name: name.to_string(),
            })?;
            out.push_str(&rest[..start]);
            out.push_str(&value);
            consumed += start + 3 + len;
            rest = &rest[start + 3 + len..];
        }
        out.push_str(rest);
    }
    Ok(out)
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
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "MIST_SECRET" => Some("s3cret-value".into()),
            "NEXT" => Some("next-secret".into()),
            _ => None,
        }
    }

    #[test]
    fn the_design_example_loads_with_secrets_expanded() {
        let text = r#"
listen = "127.0.0.1:9090"
data_dir = "/var/lib/mistgate"

[[sources]]
name = "hq"
secrets = ["${MIST_SECRET}", "${NEXT}"]   # rotation: ${UNSET} in a comment is fine
accept_v1_signature = true

[delivery]
allow_private_targets = false
"#;
        let c = Config::from_toml(text, "test.toml", &env).unwrap();
        assert_eq!(c.listen.port(), 9090);
        assert_eq!(c.sources[0].secrets, vec!["s3cret-value", "next-secret"]);
        assert!(c.sources[0].accept_v1_signature);
        assert_eq!(c.ingest.max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(c.ingest.dedup_window, Duration::from_secs(86_400));
        assert!(
            !format!("{:?}", c).contains("s3cret"),
            "secrets must not show in Debug"
        );
    }

    #[test]
    fn a_missing_variable_names_its_line() {
        let err = Config::from_toml(
            "\n[[sources]]\nname = \"a\"\nsecrets = [\"${NOPE}\"]\n",
            "f.toml",
            &env,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.toml:4: environment variable NOPE is not set"
        );
    }

    #[test]
    fn delivery_settings_are_read_and_checked() {
        let c = Config::from_toml(
            "[delivery]\nretry_delays = [\"1s\", \"1m\"]\ntimeout = \"30s\"\nmax_in_flight = 2\n",
            "f.toml",
            &env,
        )
        .unwrap();
        let settings = c.delivery.settings();
        assert_eq!(settings.retry.delays_us, [1_000_000, 60_000_000]);
        assert_eq!(settings.client.timeout, Duration::from_secs(30));
        assert_eq!(settings.max_in_flight, 2);
        assert!(
            !settings.client.allow_private_targets,
            "the SSRF guard is on by default"
        );
        let defaults = DeliveryConfig::default().settings();
        assert_eq!(defaults.retry, deliver::RetryPolicy::default());
        assert_eq!(defaults.breaker, deliver::BreakerPolicy::default());
        for (bad, needle) in [
            ("timeout = \"31s\"", "at most 30s"),
            ("timeout = \"0s\"", "at most 30s"),
            ("max_batch_events = 0", "max_batch_events"),
            ("max_in_flight = 0", "max_in_flight"),
            ("retry_delays = []", "retry_delays"),
            ("retry_delays = [\"soon\"]", "soon"),
            ("breaker_failures = 0", "breaker_failures"),
        ] {
            let err = Config::from_toml(&format!("[delivery]\n{bad}\n"), "f.toml", &env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_say_where() {
        let err =
            Config::from_toml("[ingest]\nmax_body_bytes = \"big\"\n", "f.toml", &env).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        let err = Config::from_toml(
            "[[sources]]\nname = \"a\"\nsecret = \"x\"\n",
            "f.toml",
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `secret`"), "{err}");
        let three = "[[sources]]\nname = \"a\"\nsecrets = [\"a\", \"b\", \"c\"]\n";
        assert!(
            Config::from_toml(three, "f", &env)
                .unwrap_err()
                .to_string()
                .contains("at most two")
        );
        let dup = "[[sources]]\nname = \"a\"\n[[sources]]\nname = \"a\"\n";
        assert!(
            Config::from_toml(dup, "f", &env)
                .unwrap_err()
                .to_string()
                .contains("already defined")
        );
        let bad_name = "[[sources]]\nname = \"a/b\"\n";
        assert!(
            Config::from_toml(bad_name, "f", &env)
                .unwrap_err()
                .to_string()
                .contains("URL path")
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c = Config::from_toml("[ingest]\ndedup_window = \"1h\"\n", "f", &env).unwrap();
        let vars = |name: &str| match name {
            "MISTGATE_DEDUP_WINDOW" => Some("0s".to_string()),
            "MISTGATE_MAX_BODY_BYTES" => Some("1024".to_string()),
            "MISTGATE_SYNCHRONOUS" => Some("normal".to_string()),
            _ => None,
        };
        c.apply_env(&vars).unwrap();
        assert_eq!(c.ingest.dedup_window, Duration::ZERO);
        assert_eq!(c.ingest.max_body_bytes, 1024);
        assert_eq!(c.storage.synchronous, Synchronous::Normal);
        let bad = |name: &str| (name == "MISTGATE_SYNCHRONOUS").then(|| "sometimes".to_string());
        assert!(
            c.apply_env(&bad)
                .unwrap_err()
                .to_string()
                .contains("MISTGATE_SYNCHRONOUS")
        );
    }
}
