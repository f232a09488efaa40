//! The sections of the configuration file, each with its defaults and checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use store::Synchronous;

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
    /// Only these addresses may post to this source: addresses, CIDR blocks, and
    /// `mist:<cloud>` (`mist:global01` ... `mist:apac03`, from
    /// `data/mist-webhook-sources.toml`). Empty: any address.
    #[serde(default)]
    pub allow_ips: Vec<String>,
}

impl SourceConfig {
    /// The checks of one source, in the config file or added through the API.
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(
                "name must be 1 to 64 letters, digits, `-`, `_` or `.` (it is a URL path segment)"
                    .into(),
            );
        }
        if self.secrets.len() > 2 {
            return Err(format!(
                "at most two secrets (the current one and the next, during rotation), found {}",
                self.secrets.len()
            ));
        }
        if self.secrets.iter().any(|k| k.is_empty()) {
            return Err(
                "a secret is empty (is the environment variable it names set to an empty value?)"
                    .into(),
            );
        }
        crate::addresses::IpList::parse(&self.allow_ips, true)
            .map_err(|e| format!("allow_ips: {e}"))?;
        if self
            .silent_after
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err(
                "silent_after must be at least 1s (leave it out to not watch the source)".into(),
            );
        }
        Ok(())
    }
}

impl std::fmt::Debug for SourceConfig {
    // Secrets never reach a log line, not even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("name", &self.name)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("accept_v1_signature", &self.accept_v1_signature)
            .field("silent_after", &self.silent_after)
            .field("allow_ips", &self.allow_ips)
            .finish()
    }
}

/// How the server is reached (`[server]`); `listen` itself stays at the top level.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// PEM certificate chain, leaf first. With `tls_key`, `listen` serves HTTPS only;
    /// the files are read again when they change and on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1, unencrypted).
    pub tls_key: Option<PathBuf>,
    /// A second, plain HTTP address whose every answer is a 308 to the same URL over
    /// HTTPS. Needs `tls_cert` and `tls_key`.
    pub redirect_http: Option<SocketAddr>,
    /// Addresses and CIDR blocks of the load balancers or proxies in front. Only from
    /// them is the client's address taken from `Forwarded` / `X-Forwarded-For` (the
    /// rightmost hop that is not one of them); from anyone else those headers are
    /// ignored.
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// Whether HTTPS is configured.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Checks the section against `listen`; `serve` checks again after its flags.
    pub fn check(&self, listen: SocketAddr) -> Result<(), String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(
                    "[server] tls_cert is set but tls_key is not: give both or neither".into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "[server] tls_key is set but tls_cert is not: give both or neither".into(),
                );
            }
            _ => {}
        }
        crate::addresses::IpList::parse(&self.trusted_proxies, false)
            .map_err(|e| format!("[server] trusted_proxies: {e}"))?;
        if let Some(redirect) = self.redirect_http {
            if !self.tls() {
                return Err(
                    "[server] redirect_http needs tls_cert and tls_key (it redirects to HTTPS)"
                        .into(),
                );
            }
            if redirect == listen && redirect.port() != 0 {
                return Err(format!(
                    "[server] redirect_http {redirect} is the `listen` address"
                ));
            }
        }
        Ok(())
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

/// The store: SQLite in the data dir, or PostgreSQL.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `postgres://user@host:5432/db`: the log on PostgreSQL (the backend is being built:
    /// see the README before relying on it). Anything else or nothing: SQLite in the data
    /// dir.
    pub url: Option<String>,
    /// `full` (fsync on every commit, the default), `normal` or `off`.
    pub synchronous: Synchronous,
    /// Days of requests, events and quarantine kept; 0 keeps everything.
    pub retention_days: u32,
    /// How often the pruner runs.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("url", &self.url.as_deref().map(redacted_url))
            .field("synchronous", &self.synchronous)
            .field("retention_days", &self.retention_days)
            .field("prune_interval", &self.prune_interval)
            .finish()
    }
}

impl StorageConfig {
    /// The PostgreSQL URL, when `url` names one.
    pub fn postgres_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}

/// The URL with any password replaced, for logs and errors.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: None,
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

    pub(super) fn check(&self) -> Result<(), String> {
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

/// Mist's REST API (`[mist]`): with all three keys, mistgate reads the orgs' sites,
/// devices and wiring from it, for names and topology-aware correlation.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MistConfig {
    /// The API of the org's cloud, e.g. `https://api.eu.mist.com`.
    pub api_url: Option<String>,
    /// A token with read access to the orgs (write `"${MIST_API_TOKEN}"`).
    pub api_token: Option<String>,
    pub org_ids: Vec<String>,
    /// How often the sites, devices and wiring are read again.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// Read back from Mist's searches the alarms, device events and audits its webhooks
    /// did not deliver (at start, every `backfill_interval`, and when a source falls
    /// silent or comes back).
    pub backfill: bool,
    #[serde(with = "humantime_serde")]
    pub backfill_interval: Duration,
    /// How far before the last read each read starts again: Mist's searches see an
    /// event some time after it happened, and a webhook can arrive late.
    #[serde(with = "humantime_serde")]
    pub backfill_overlap: Duration,
    /// Events younger than this are left to their webhook (normally seconds behind).
    #[serde(with = "humantime_serde")]
    pub backfill_settle: Duration,
    /// The oldest event time a read goes back to (after a long outage), so that a
    /// restart does not route days of old alarms.
    #[serde(with = "humantime_serde")]
    pub backfill_max_age: Duration,
}

impl Default for MistConfig {
    fn default() -> MistConfig {
        MistConfig {
            api_url: None,
            api_token: None,
            org_ids: Vec::new(),
            refresh: Duration::from_secs(15 * 60),
            backfill: true,
            backfill_interval: Duration::from_secs(15 * 60),
            backfill_overlap: Duration::from_secs(10 * 60),
            backfill_settle: Duration::from_secs(60),
            backfill_max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl std::fmt::Debug for MistConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MistConfig")
            .field("api_url", &self.api_url)
            .field("api_token", &self.api_token.as_ref().map(|_| "<hidden>"))
            .field("org_ids", &self.org_ids)
            .field("refresh", &self.refresh)
            .field("backfill", &self.backfill)
            .field("backfill_interval", &self.backfill_interval)
            .field("backfill_overlap", &self.backfill_overlap)
            .field("backfill_settle", &self.backfill_settle)
            .field("backfill_max_age", &self.backfill_max_age)
            .finish()
    }
}

impl MistConfig {
    /// Whether the API is to be used.
    pub fn enabled(&self) -> bool {
        self.api_url.is_some()
    }

    pub(super) fn check(&self) -> Result<(), String> {
        let set = [
            self.api_url.is_some(),
            self.api_token.is_some(),
            !self.org_ids.is_empty(),
        ];
        if set.iter().any(|s| *s) && !set.iter().all(|s| *s) {
            return Err("[mist] needs api_url, api_token and org_ids together".into());
        }
        if let Some(url) = &self.api_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(format!("[mist] api_url `{url}` is not an http(s) URL"));
        }
        if self.refresh < Duration::from_secs(60) {
            return Err(
                "[mist] refresh must be at least 1m (Mist allows 5,000 calls an hour)".into(),
            );
        }
        if self.backfill_interval < Duration::from_secs(60) {
            return Err(
                "[mist] backfill_interval must be at least 1m (Mist allows 5,000 calls an hour)"
                    .into(),
            );
        }
        if self.backfill_max_age <= self.backfill_overlap {
            return Err("[mist] backfill_max_age must be longer than backfill_overlap".into());
        }
        Ok(())
    }
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
