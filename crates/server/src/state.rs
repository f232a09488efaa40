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
}

/// The shared state of the HTTP app.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub sources: HashMap<String, Source>,
    pub max_body_bytes: usize,
    /// The duplicate window in microseconds.
    pub dedup_window_us: i64,
    pub token: ApiToken,
    pub metrics: PrometheusHandle,
}

impl AppState {
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
                };
                (s.name.clone(), source)
            })
            .collect();
        AppState {
            store,
            sources,
            max_body_bytes: config.ingest.max_body_bytes,
            dedup_window_us: config.ingest.dedup_window.as_micros().min(i64::MAX as u128) as i64,
            token,
            metrics,
        }
    }
}
