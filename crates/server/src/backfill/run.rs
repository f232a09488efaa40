//! One backfill read of one org: each kind's searches over its window, what is missing
//! stored through the ingest path, and Mist's failed deliveries of the org's webhooks.

use serde_json::Value;
use store::Verdict;

use super::plan::{self, DEVICE_TYPES, Kind, Window};
use super::report::{FailedWebhook, KindReport};
use crate::app_state::AppState;

/// The source backfilled events are stored under.
pub const SOURCE: &str = "mist-api";

/// The most results one search is followed for in one read; a read that reaches it
/// continues from its last result at the next read.
const MAX_RESULTS: usize = 10_000;

/// The most stored events one read compares with (far beyond what a window holds of
/// these three kinds).
const STORED_LIMIT: u32 = 1_000_000;

/// Events per stored request.
const CHUNK: usize = 500;

/// How one kind's read went.
pub struct Outcome {
    pub window: Window,
    pub read: usize,
    pub recovered: u32,
    pub read_until: i64,
}

/// Reads `kind` for `org` over its window and stores what the log lacks.
pub async fn read_kind(
    app: &AppState,
    mist: &mistapi::Client,
    org: &str,
    kind: Kind,
    mark: Option<i64>,
    settings: &super::Settings,
    now: i64,
) -> Result<Outcome, String> {
    let topic = kind.topic();
    let newest = match mark {
        Some(_) => None,
        None => app
            .store
            .newest_event_time(kind.as_str(), org)
            .await
            .map_err(|e| e.to_string())?,
    };
    let window = plan::window(
        mark,
        newest,
        now.saturating_sub(settings.settle_us),
        settings.overlap_us,
        settings.max_age_us,
    );
    let range = window.to_range();
    let mut calls: Vec<Vec<Value>> = Vec::new();
    match kind {
        Kind::Alarms => calls.push(
            mist.alarms(org, range, MAX_RESULTS)
                .await
                .map_err(|e| e.to_string())?,
        ),
        Kind::Audits => calls.push(
            mist.audit_logs(org, range, MAX_RESULTS)
                .await
                .map_err(|e| e.to_string())?,
        ),
        Kind::DeviceEvents => {
            for device_type in DEVICE_TYPES {
                calls.push(
                    mist.device_events(org, device_type, range, MAX_RESULTS)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
        }
    }
    let read_until = calls
        .iter()
        .map(|results| plan::read_until(window, results, results.len() >= MAX_RESULTS))
        .min()
        .unwrap_or(window.end_us);
    let results: Vec<Value> = calls.into_iter().flatten().collect();
    let wide = window.widened();
    let stored: Vec<plan::Stored> = app
        .store
        .kind_events(kind.as_str(), wide.start_us, wide.end_us, STORED_LIMIT)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|e| plan::Stored::of(&topic, e, SOURCE))
        .collect();
    let comparison = plan::compare(&topic, &results, &stored);
    app.backfill
        .remember_late(app.store.as_ref(), &comparison.unclaimed)
        .await;
    let missing = comparison.missing;
    let mut recovered = 0;
    for chunk in missing.chunks(CHUNK) {
        let events: Vec<Vec<u8>> = chunk
            .iter()
            .map(|v| serde_json::to_vec(v).expect("a JSON value serialises"))
            .collect();
        // Their webhook copies, should any still come, are recognised as duplicates:
        // remembered before they are stored, so that a copy coming the moment after is
        // known too (one coming before takes the fingerprint, and the stored read is
        // then its duplicate: once either way).
        let copies: Vec<store::LateCopy> = chunk
            .iter()
            .map(|event| (plan::key(&topic, event), mist::fingerprint(&topic, event).0))
            .collect();
        app.backfill
            .remember_late(app.store.as_ref(), &copies)
            .await;
        let body = mist::write_envelope(topic.wire_name(), &events);
        let answer = crate::ingest::store_read(app, SOURCE, body.into(), Verdict::MistApi)
            .await
            .map_err(|e| format!("storing what was read: {e}"))?;
        recovered += answer.accepted;
    }
    Ok(Outcome {
        window,
        read: results.len(),
        recovered,
        read_until,
    })
}

/// Failed deliveries of the org's webhooks over the last day, newest first.
pub async fn failed_deliveries(
    mist: &mistapi::Client,
    org: &str,
    now: i64,
) -> Result<Vec<FailedWebhook>, String> {
    let scope = mistapi::Scope::Org(org.to_string());
    let hooks = mist.webhooks(&scope).await.map_err(|e| e.to_string())?;
    let day = Window {
        start_us: now - 86_400_000_000,
        end_us: now,
    };
    let mut out = Vec::new();
    for hook in hooks {
        let Some(id) = hook.id.clone() else { continue };
        let failures = mist
            .failed_deliveries(&scope, &id, day.to_range(), FAILURES_SHOWN)
            .await
            .map_err(|e| e.to_string())?;
        if failures.is_empty() {
            continue;
        }
        out.push(FailedWebhook::from_results(hook, &failures, FAILURES_SHOWN));
    }
    Ok(out)
}

/// Failures asked for per webhook: the count shown is "at least" this many beyond it.
pub const FAILURES_SHOWN: usize = 100;

impl KindReport {
    /// The report of a read that went as `outcome` says.
    pub fn after(&mut self, outcome: &Outcome, at: i64, recovered_total: i64) {
        self.last_run_at = Some(at);
        self.window_start = Some(outcome.window.start_us);
        self.window_end = Some(outcome.window.end_us);
        self.read = outcome.read as u64;
        self.recovered = u64::from(outcome.recovered);
        self.recovered_total = recovered_total;
        self.read_until = Some(outcome.read_until);
        self.error = None;
    }
}
