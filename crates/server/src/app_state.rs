//! What every handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::access::Tokens;
use crate::addresses::IpList;
use crate::config::Config;
use crate::correlation_stage::StageHandle;
use crate::sources::Sources;

/// The shared state of the HTTP app.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Who may post: the config file's sources and those added through the API.
    pub sources: Sources,
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
    /// What backfill from Mist's API did (`GET /api/v1/mist/backfill`).
    pub backfill: Arc<crate::backfill::Backfill>,
    /// With `[mist]`: where ingest says which ids the names lack and which sites changed.
    pub mist_hints: Option<crate::mist_sync::hints::Hints>,
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
        let sources = Sources::from_config(&config.sources);
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
            backfill: Default::default(),
            mist_hints: None,
        }
    }
}
