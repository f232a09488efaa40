//! What every handler shares.

use std::collections::HashMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::auth::ApiToken;
use crate::config::Config;

/// A configured sender, ready for signature checks.
pub struct Source {
    pub name: String,
    pub secrets: Vec<Vec<u8>>,
    pub accept_v1: bool,
    /// `mistgate_ingest_requests_total{source, verdict="accepted"}`, registered once: the
    /// hot path does not build labels per request.
    pub accepted: metrics::Counter,
}

/// The shared state of the HTTP app.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub sources: HashMap<String, Source>,
    pub max_body_bytes: usize,
    pub request_timeout: std::time::Duration,
    /// The duplicate window in microseconds.
    pub dedup_window_us: i64,
    pub token: ApiToken,
    pub metrics: PrometheusHandle,
    /// `mistgate_ingest_ack_seconds`: receipt to durable answer.
    pub ack_seconds: metrics::Histogram,
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
        token: ApiToken,
        metrics: PrometheusHandle,
    ) -> AppState {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let source = Source {
                    name: s.name.clone(),
                    secrets: s.secrets.iter().map(|k| k.as_bytes().to_vec()).collect(),
                    accept_v1: s.accept_v1_signature,
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
            token,
            metrics,
            ack_seconds: metrics::histogram!("mistgate_ingest_ack_seconds"),
        }
    }
}
