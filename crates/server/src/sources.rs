//! Who may post to `/ingest/{name}`: the config file's sources (read-only) and those
//! added at run time through `/api/v1/sources` (kept in the database, secrets sealed).
//! Ingest looks a source up on every request; changes swap one entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::addresses::IpList;
use crate::config::SourceConfig;

/// Where a source is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The config file: changed by editing it and restarting.
    Config,
    /// `/api/v1/sources` (or `mistgate mist setup`): kept in the database.
    Api,
}

/// What a source added at run time is made of, as the database keeps it (sealed) and the
/// API takes it. `silent_after` is for the config file's sources only.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSource {
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub accept_v1_signature: bool,
    #[serde(default)]
    pub allow_ips: Vec<String>,
}

impl StoredSource {
    /// As a source of the config file would be written, for the shared checks.
    pub fn as_config(&self, name: &str) -> SourceConfig {
        SourceConfig {
            name: name.to_string(),
            secrets: self.secrets.clone(),
            accept_v1_signature: self.accept_v1_signature,
            silent_after: None,
            allow_ips: self.allow_ips.clone(),
        }
    }
}

/// A sender, ready for signature checks.
pub struct Source {
    pub name: String,
    pub origin: Origin,
    pub secrets: Vec<Vec<u8>>,
    pub accept_v1: bool,
    /// `allow_ips` as written, for the API.
    pub allow_ips: Vec<String>,
    /// `allow_ips`: the only addresses that may post; `None` lets any address post.
    pub allow: Option<IpList>,
    /// `mistgate_ingest_requests_total{source, verdict="accepted"}`, registered once: the
    /// hot path does not build labels per request.
    pub accepted: metrics::Counter,
    /// Warnings about unauthenticated requests: a flood of bad signatures must not flood
    /// the log too.
    pub rejections: Warnings,
    /// Unauthenticated requests since the process started (the console shows them).
    pub rejected_total: AtomicU64,
    /// Warnings about requests refused for their address.
    pub refusals: Warnings,
}

impl Source {
    /// A source from its (checked) settings.
    pub fn new(config: &SourceConfig, origin: Origin) -> Source {
        Source {
            name: config.name.clone(),
            origin,
            secrets: config
                .secrets
                .iter()
                .map(|k| k.as_bytes().to_vec())
                .collect(),
            accept_v1: config.accept_v1_signature,
            allow_ips: config.allow_ips.clone(),
            allow: (!config.allow_ips.is_empty())
                .then(|| IpList::parse(&config.allow_ips, true).expect("allow_ips checked")),
            accepted: metrics::counter!(
                "mistgate_ingest_requests_total",
                "source" => config.name.clone(),
                "verdict" => "accepted"
            ),
            rejections: Warnings::default(),
            rejected_total: AtomicU64::new(0),
            refusals: Warnings::default(),
        }
    }

    /// Whether `config` says what this source already does (secrets, signature versions
    /// and addresses), so that it can be kept with its counters.
    pub fn same_settings(&self, config: &SourceConfig) -> bool {
        self.accept_v1 == config.accept_v1_signature
            && self.allow_ips == config.allow_ips
            && self.secrets.len() == config.secrets.len()
            && self
                .secrets
                .iter()
                .zip(&config.secrets)
                .all(|(a, b)| a.as_slice() == b.as_bytes())
    }

    /// Counts an unauthenticated request; returns how many to report when a warning is
    /// due (at most one per `every_us`), `None` otherwise.
    pub fn rejection_to_report(&self, now_us: i64, every_us: i64) -> Option<u64> {
        self.rejected_total.fetch_add(1, Relaxed);
        self.rejections.count(now_us, every_us)
    }
}

/// The sources, by name.
#[derive(Default)]
pub struct Sources(RwLock<HashMap<String, Arc<Source>>>);

impl Sources {
    pub fn from_config(configs: &[SourceConfig]) -> Sources {
        let map = configs
            .iter()
            .map(|c| (c.name.clone(), Arc::new(Source::new(c, Origin::Config))))
            .collect();
        Sources(RwLock::new(map))
    }

    pub fn get(&self, name: &str) -> Option<Arc<Source>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every source, by name.
    pub fn all(&self) -> Vec<Arc<Source>> {
        let mut all: Vec<_> = self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Adds or replaces a source added at run time; a config file's source of that name
    /// is never replaced (false then).
    pub fn put(&self, source: Source) -> bool {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&source.name)
            .is_some_and(|s| s.origin == Origin::Config)
        {
            return false;
        }
        map.insert(source.name.clone(), Arc::new(source));
        true
    }

    /// Removes a source added at run time; what was removed.
    pub fn remove(&self, name: &str) -> Option<Arc<Source>> {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        match map.get(name) {
            Some(s) if s.origin == Origin::Api => map.remove(name),
            _ => None,
        }
    }
}

/// Occurrences since the last warning about them, and when (unix µs) that warning was
/// logged: at most one warning per period, counting what it skipped.
pub struct Warnings {
    since_warning: AtomicU64,
    last_warning: AtomicI64,
}

impl Default for Warnings {
    fn default() -> Warnings {
        Warnings {
            since_warning: AtomicU64::new(0),
            last_warning: AtomicI64::new(i64::MIN / 2),
        }
    }
}

impl Warnings {
    /// Counts one; returns how many to report when a warning is due (at most one per
    /// `every_us`), `None` otherwise.
    pub fn count(&self, now_us: i64, every_us: i64) -> Option<u64> {
        self.since_warning.fetch_add(1, Relaxed);
        let last = self.last_warning.load(Relaxed);
        if now_us - last < every_us
            || self
                .last_warning
                .compare_exchange(last, now_us, Relaxed, Relaxed)
                .is_err()
        {
            return None;
        }
        Some(self.since_warning.swap(0, Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> SourceConfig {
        StoredSource::default().as_config(name)
    }

    #[test]
    fn warnings_are_rate_limited_and_count_what_they_skipped() {
        let w = Warnings::default();
        assert_eq!(w.count(1_000, 100), Some(1));
        assert_eq!(w.count(1_050, 100), None);
        assert_eq!(w.count(1_090, 100), None);
        assert_eq!(w.count(1_100, 100), Some(3));
    }

    #[test]
    fn config_sources_are_never_replaced_or_removed() {
        let sources = Sources::from_config(&[config("hq")]);
        assert!(!sources.put(Source::new(&config("hq"), Origin::Api)));
        assert_eq!(sources.get("hq").unwrap().origin, Origin::Config);
        assert!(sources.remove("hq").is_none());
        assert!(sources.put(Source::new(&config("branch"), Origin::Api)));
        assert!(
            sources.put(Source::new(&config("branch"), Origin::Api)),
            "replaced"
        );
        let names: Vec<String> = sources.all().iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, ["branch", "hq"]);
        assert!(sources.remove("branch").is_some());
        assert!(sources.get("branch").is_none());
    }
}
