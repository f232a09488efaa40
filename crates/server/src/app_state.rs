//! What every handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::access::Tokens;
use crate::addresses::IpList;
use crate::config::Config;
use crate::correlation_stage::StageHandle;

/// A configured sender, ready for signature checks.
pub struct Source {
    pub name: String,
    pub secrets: Vec<Vec<u8>>,
    pub accept_v1: bool,
    /// `mistgate_ingest_requests_total{source, verdict="accepted"}`, registered once: the
    /// hot path does not build labels per request.
    pub accepted: metrics::Counter,
    /// Warnings about unauthenticated requests: a flood of bad signatures must not flood
    /// the log too.
    pub rejections: Warnings,
    /// Unauthenticated requests since the process started (the console shows them).
    pub rejected_total: std::sync::atomic::AtomicU64,
    /// `allow_ips`: the only addresses that may post; `None` lets any address post.
    pub allow: Option<IpList>,
    /// Warnings about requests refused for their address.
    pub refusals: Warnings,
}

impl Source {
    /// Counts an unauthenticated request; returns how many to report when a warning is
    /// due (at most one per `every_us`), `None` otherwise.
    pub fn rejection_to_report(&self, now_us: i64, every_us: i64) -> Option<u64> {
        self.rejected_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.rejections.count(now_us, every_us)
    }
}

/// Occurrences since the last warning about them, and when (unix µs) that warning was
/// logged: at most one warning per period, counting what it skipped.
pub struct Warnings {
    since_warning: std::sync::atomic::AtomicU64,
    last_warning: std::sync::atomic::AtomicI64,
}

impl Default for Warnings {
    fn default() -> Warnings {
        Warnings {
            since_warning: Default::default(),
            last_warning: std::sync::atomic::AtomicI64::new(i64::MIN / 2),
        }
    }
}

impl Warnings {
    /// Counts one; returns how many to report when a warning is due (at most one per
    /// `every_us`), `None` otherwise.
    pub fn count(&self, now_us: i64, every_us: i64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
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

/// The shared state of the HTTP app.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub sources: HashMap<String, Source>,
    pub max_body_bytes: usize,
    pub request_timeout: std::time::Duration,
    /// The duplicate window in microseconds.
    pub dedup_window_us: i64,
    /// The API tokens accepted.
    pub tokens: Arc<Tokens>,
    /// `[server] trusted_proxies`: only their forwarded client addresses are believed.
    pub trusted_proxies: IpList,
    pub metrics: PrometheusHandle,
    /// `mistgate_ingest_ack_seconds`: receipt to durable answer.
    pub ack_seconds: metrics::Histogram,
    /// The correlation stage, for manual actions.
    pub stage: StageHandle,
    /// The delivery engine (webhook subscribers); `None` when `[delivery] enabled = false`.
    pub delivery: Option<Arc<deliver::Engine>>,
    /// The routing targets' names and types.
    pub targets: Vec<(String, &'static str)>,
    /// The background stages' positions and restarts (readiness, metrics).
    pub stages: Arc<deliver::supervise::Stages>,
    /// The console's signed-in browsers.
    pub sessions: crate::console::Sessions,
    /// Whether the console's cookie is marked `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// Site names for the console: `[routing] site_names`, then what events say.
    pub site_names: crate::console::SiteNames,
    /// True once the server is shutting down: answers that would never end by themselves
    /// (`GET /api/v1/stream`) end then, so that the graceful shutdown does not wait for
    /// them.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// The start of the duplicate window for a request received at `received_at`.
    /// A zero window turns detection off: no stored event is recent enough.
    pub fn dedup_since(&self, received_at: i64) -> i64 {
        if self.dedup_window_us == 0 {
            i64::MAX
        } else {
            received_at.saturating_sub(self.dedup_window_us)
        }
    }

    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        tokens: Arc<Tokens>,
        metrics: PrometheusHandle,
        stage: StageHandle,
        delivery: Option<Arc<deliver::Engine>>,
        stages: Arc<deliver::supervise::Stages>,
    ) -> AppState {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let source = Source {
                    name: s.name.clone(),
                    secrets: s.secrets.iter().map(|k| k.as_bytes().to_vec()).collect(),
                    accept_v1: s.accept_v1_signature,
                    rejections: Warnings::default(),
                    rejected_total: Default::default(),
                    allow: (!s.allow_ips.is_empty()).then(|| {
                        IpList::parse(&s.allow_ips, true).expect("allow_ips checked at load")
                    }),
                    refusals: Warnings::default(),
                    accepted: metrics::counter!(
                        "mistgate_ingest_requests_total",
                        "source" => s.name.clone(),
                        "verdict" => "accepted"
                    ),
                };
                (s.name.clone(), source)
            })
            .collect();
        AppState {
            store,
            sources,
            max_body_bytes: config.ingest.max_body_bytes,
            request_timeout: config.ingest.request_timeout,
            dedup_window_us: config.ingest.dedup_window.as_micros().min(i64::MAX as u128) as i64,
            tokens,
            trusted_proxies: IpList::parse(&config.server.trusted_proxies, false)
                .expect("trusted_proxies checked at load"),
            metrics,
            ack_seconds: metrics::histogram!("mistgate_ingest_ack_seconds"),
            stage,
            delivery,
            targets: config
                .targets
                .iter()
                .map(|(name, t)| (name.clone(), t.kind()))
                .collect(),
            stages,
            sessions: Default::default(),
            secure_cookies: config.server.tls(),
            site_names: crate::console::SiteNames::new(config.routing.site_names.clone()),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_warnings_are_rate_limited_and_count_what_they_skipped() {
        let source = Source {
            name: "hq".into(),
            secrets: vec![],
            accept_v1: false,
            accepted: metrics::Counter::noop(),
            rejections: Warnings::default(),
            rejected_total: Default::default(),
            allow: None,
            refusals: Warnings::default(),
        };
        assert_eq!(source.rejection_to_report(1_000, 100), Some(1));
        assert_eq!(source.rejection_to_report(1_050, 100), None);
        assert_eq!(source.rejection_to_report(1_090, 100), None);
        assert_eq!(source.rejection_to_report(1_100, 100), Some(3));
    }
}
