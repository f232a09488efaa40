//! Backfill: what Mist produced but its webhooks never delivered (mistgate was down, the
//! webhook was disabled, a delivery failed) is read back from Mist's API and stored.
//!
//! For each org of `[mist]`, at start, every `backfill_interval`, and when a source falls
//! silent or comes back (a `source_silent` incident opens or resolves), the alarms,
//! device events and audit log are read for the time since the last complete read (less
//! `backfill_overlap`, for events Mist's search sees late; at most `backfill_max_age`
//! back). What the log lacks is stored through the ingest path as source `mist-api`:
//! alarms, audits and device events are fingerprinted on the identity fields both forms
//! share (`mist::identity`), so an event is stored once whether its webhook came before,
//! after or never. The org's webhooks' failed deliveries (Mist keeps delivery results for
//! alarms, audits, device-updowns and occupancy-alerts) are read too and reported.

mod late;
mod plan;
pub mod report;
mod run;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{BackfillMark, LateCopy, Store};

use crate::app_state::AppState;
use crate::config::MistConfig;
use deliver::clock::now_us;
use plan::Kind;
use report::{BackfillReport, KindReport, OrgReport};

pub use run::SOURCE;

/// The reads' timing, from `[mist]`.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub interval: Duration,
    /// Events younger than this are left to their webhook.
    pub settle_us: i64,
    pub overlap_us: i64,
    pub max_age_us: i64,
}

impl Settings {
    fn from_config(config: &MistConfig) -> Settings {
        let us = |d: Duration| d.as_micros().min(i64::MAX as u128) as i64;
        Settings {
            interval: config.backfill_interval,
            settle_us: us(config.backfill_settle),
            overlap_us: us(config.backfill_overlap),
            max_age_us: us(config.backfill_max_age),
        }
    }
}

/// Backfill's report, shared with the API.
#[derive(Debug, Default)]
pub struct Backfill {
    report: Mutex<BackfillReport>,
    /// Backfilled events whose webhook copy has not come.
    pub late: late::LateCopies,
}

impl Backfill {
    /// The report as it stands on this instance.
    pub fn report(&self) -> BackfillReport {
        self.lock().clone()
    }

    /// The report as it stands where backfill runs: with several instances on one
    /// database, the one the instance running it last kept there, when that is another.
    pub async fn current(&self, store: &dyn Store) -> BackfillReport {
        let here = self.report();
        let Some(cluster) = store.cluster() else {
            return here;
        };
        if !here.enabled || deliver::lease::held_here(LEASE) {
            return here;
        }
        match cluster.report_get(LEASE, 0).await {
            Ok(Some((body, _))) => serde_json::from_str(&body).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the backfill report another instance kept cannot be read; showing this instance's");
                here
            }),
            Ok(None) => here,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the backfill report of the instance running backfill; showing this instance's");
                here
            }
        }
    }

    /// Several instances: keeps this instance's report (it runs backfill) for the others.
    async fn publish(&self, store: &dyn Store) {
        let Some(cluster) = store.cluster() else {
            return;
        };
        let body = serde_json::to_string(&self.report()).expect("a report serialises");
        if let Err(e) = cluster.report_put(LEASE, &body, now_us()).await {
            tracing::warn!(error = %e, "cannot keep the backfill report for the other instances; they show their own until the next read");
        }
    }

    /// Gives each webhook event that repeats an event backfill stored (its webhook copy
    /// coming after) that event's fingerprint, so that it is stored as its duplicate.
    /// With several instances the stored events are looked up in the database; when it
    /// cannot be read the copies are stored as new events (and said so). Returns what it
    /// took, for [`Backfill::remember_late`] should the copies not be stored.
    pub async fn claim_late_copies(
        &self,
        store: &dyn Store,
        body: &[u8],
        split: &mut mist::Split,
    ) -> Vec<LateCopy> {
        if !Kind::ALL.iter().any(|k| k.topic() == split.topic) {
            return Vec::new();
        }
        let cluster = store.cluster();
        let waiting = match cluster {
            // Several instances: they wait in the database whenever backfill is on.
            Some(_) => self.lock().enabled,
            None => !self.late.is_empty(),
        };
        if !waiting {
            return Vec::new();
        }
        let keys: Vec<Option<[u8; 16]>> = split
            .events
            .iter()
            .map(|event| {
                serde_json::from_slice::<serde_json::Value>(&body[event.span.clone()])
                    .ok()
                    .map(|value| plan::key(&split.topic, &value))
            })
            .collect();
        let mut taken: HashMap<[u8; 16], Vec<[u8; 16]>> = HashMap::new();
        match cluster {
            None => {
                for key in keys.iter().flatten() {
                    if let Some(fp) = self.late.claim(*key) {
                        taken.entry(*key).or_default().push(fp);
                    }
                }
            }
            Some(cluster) => {
                let asked: Vec<[u8; 16]> = keys.iter().flatten().copied().collect();
                match cluster.late_claim(&asked).await {
                    Ok(pairs) => {
                        for (key, fp) in pairs {
                            taken.entry(key).or_default().push(fp);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot look up the backfilled events in the database: webhook copies of them are stored as new events")
                    }
                }
            }
        }
        let mut claimed = Vec::new();
        for (event, key) in split.events.iter_mut().zip(keys) {
            let Some(key) = key else { continue };
            let fp = taken
                .get_mut(&key)
                .and_then(|fps| (!fps.is_empty()).then(|| fps.remove(0)));
            if let Some(fp) = fp {
                event.fingerprint = mist::Fingerprint(fp);
                claimed.push((key, fp));
            }
        }
        claimed
    }

    /// Remembers backfilled events whose webhook copy has not come: in the database when
    /// several instances share it (the copy may reach any of them), here otherwise.
    pub async fn remember_late(&self, store: &dyn Store, copies: &[LateCopy]) {
        let Some(cluster) = store.cluster() else {
            for (key, fp) in copies {
                self.late.remember(*key, *fp);
            }
            return;
        };
        match cluster.late_remember(copies, now_us()).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, events = copies.len(), "cannot remember backfilled events in the database: their webhook copies, should they still come, are stored as new events")
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BackfillReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The shortest time between two reads that a silent source asks for.
const MIN_GAP: Duration = Duration::from_secs(30);

/// Starts backfill for `[mist]`'s orgs when it is configured and not turned off.
pub fn spawn(config: &MistConfig, mist: Option<mistapi::Client>, app: Arc<AppState>) {
    let Some(mist) = mist.filter(|_| config.backfill) else {
        return;
    };
    let settings = Settings::from_config(config);
    {
        let mut report = app.backfill.lock();
        report.enabled = true;
        report.interval_seconds = settings.interval.as_secs();
        report.overlap_seconds = config.backfill_overlap.as_secs();
        report.max_age_seconds = config.backfill_max_age.as_secs();
        report.orgs = config
            .org_ids
            .iter()
            .map(|org| OrgReport {
                org_id: org.clone(),
                kinds: Kind::ALL
                    .iter()
                    .map(|k| KindReport {
                        kind: k.as_str().to_string(),
                        ..KindReport::default()
                    })
                    .collect(),
                ..OrgReport::default()
            })
            .collect();
    }
    let orgs = config.org_ids.clone();
    let mut stopping = app.stopping.subscribe();
    // Several instances on one database read back under one lease: one at a time.
    let store = app.store.clone();
    let stop = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    tokio::spawn(deliver::lease::leased(store, LEASE, stop, move || {
        reads(app.clone(), mist.clone(), orgs.clone(), settings)
    }));
}

/// The lease backfill runs under.
const LEASE: &str = "backfill";

/// Reads at once, then every interval or when a source falls silent or comes back.
async fn reads(app: Arc<AppState>, mist: mistapi::Client, orgs: Vec<String>, settings: Settings) {
    let mut incidents = app.stages.wakes().waiter(&[deliver::tail::Log::Incidents]);
    let mut cursor = app.store.last_incident_change().await.unwrap_or(0);
    let mut known_failures = KnownFailures::default();
    loop {
        if let Some(cluster) = app.store.cluster() {
            // A copy coming after the duplicate window would not be recognised anyway.
            let before = app.dedup_since(now_us());
            if let Err(e) = cluster.late_prune(before).await {
                tracing::warn!(error = %e, "cannot forget old backfilled events waiting for their webhook copy; trying again at the next read");
            }
        }
        read_all(&app, &mist, &orgs, &settings, &mut known_failures).await;
        app.backfill.publish(app.store.as_ref()).await;
        metrics::gauge!("mistgate_mist_api_calls_last_hour").set(mist.calls_last_hour() as f64);
        let next = tokio::time::Instant::now() + settings.interval;
        let earliest = tokio::time::Instant::now() + MIN_GAP;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => break,
                () = incidents.changed() => {
                    if silence_changed(&app, &mut cursor).await {
                        tracing::info!("a source fell silent or came back: reading back from Mist's API");
                        tokio::time::sleep_until(earliest).await;
                        break;
                    }
                }
            }
        }
    }
}

/// Whether a `source_silent` incident opened or resolved since `cursor` (moved on).
async fn silence_changed(app: &AppState, cursor: &mut i64) -> bool {
    let mut found = false;
    loop {
        let Ok(changes) = app.store.incident_changes(*cursor, 500).await else {
            return found;
        };
        let Some(last) = changes.last() else {
            return found;
        };
        *cursor = last.id;
        found |= changes.iter().any(|c| {
            matches!(c.change.as_str(), "opened" | "resolved")
                && serde_json::from_str::<serde_json::Value>(&c.record)
                    .is_ok_and(|r| r["kind"] == "source_silent")
        });
        if changes.len() < 500 {
            return found;
        }
    }
}

/// Mist's delivery ids of failures already counted, per org (the last 10,000).
#[derive(Default)]
struct KnownFailures {
    orgs: HashMap<String, (HashSet<String>, VecDeque<String>)>,
}

impl KnownFailures {
    /// Counts the ids not seen before; remembers them.
    fn new_ones(&mut self, org: &str, ids: &[String]) -> usize {
        let (set, order) = self.orgs.entry(org.to_string()).or_default();
        let mut new = 0;
        for id in ids {
            if set.insert(id.clone()) {
                order.push_back(id.clone());
                new += 1;
                if order.len() > 10_000
                    && let Some(old) = order.pop_front()
                {
                    set.remove(&old);
                }
            }
        }
        new
    }
}

/// One read of every org and kind, and of the org's delivery failures.
async fn read_all(
    app: &AppState,
    mist: &mistapi::Client,
    orgs: &[String],
    settings: &Settings,
    known: &mut KnownFailures,
) {
    let marks: HashMap<(String, String), BackfillMark> = match app.store.backfill_marks().await {
        Ok(marks) => marks
            .into_iter()
            .map(|m| ((m.org_id.clone(), m.kind.clone()), m))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "backfill could not read how far it had read; it tries again at the next read");
            return;
        }
    };
    for (o, org) in orgs.iter().enumerate() {
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let mark = marks.get(&(org.clone(), kind.as_str().to_string()));
            let now = now_us();
            let result = run::read_kind(
                app,
                mist,
                org,
                kind,
                mark.map(|m| m.read_until),
                settings,
                now,
            )
            .await;
            let label = kind.as_str();
            match result {
                Ok(outcome) => {
                    let recovered_total =
                        mark.map_or(0, |m| m.recovered) + i64::from(outcome.recovered);
                    let saved = app
                        .store
                        .put_backfill_mark(BackfillMark {
                            org_id: org.clone(),
                            kind: label.to_string(),
                            read_until: outcome.read_until,
                            recovered: recovered_total,
                        })
                        .await;
                    if let Err(e) = saved {
                        tracing::warn!(error = %e, org = %org, kind = label, "backfill could not record how far it read; the next read covers the window again");
                    }
                    if outcome.recovered > 0 {
                        tracing::info!(org = %org, kind = label, recovered = outcome.recovered, read = outcome.read, "backfill stored events Mist's webhooks had not delivered");
                    }
                    metrics::counter!("mistgate_mist_backfill_recovered_total", "kind" => label)
                        .increment(u64::from(outcome.recovered));
                    metrics::counter!("mistgate_mist_backfill_reads_total", "kind" => label, "result" => "ok")
                        .increment(1);
                    let mut report = app.backfill.lock();
                    report.recovered_since_start += u64::from(outcome.recovered);
                    report.orgs[o].kinds[k].after(&outcome, now_us(), recovered_total);
                }
                Err(e) => {
                    tracing::warn!(error = %e, org = %org, kind = label, "backfill could not read from Mist's API; the next read covers this window too");
                    metrics::counter!("mistgate_mist_backfill_reads_total", "kind" => label, "result" => "error")
                        .increment(1);
                    let mut report = app.backfill.lock();
                    let kind_report = &mut report.orgs[o].kinds[k];
                    kind_report.last_run_at = Some(now_us());
                    kind_report.error = Some(e);
                }
            }
        }
        let now = now_us();
        match run::failed_deliveries(mist, org, now).await {
            Ok(failing) => {
                for hook in &failing {
                    let new = known.new_ones(org, &hook.ids);
                    if new > 0 {
                        tracing::warn!(org = %org, webhook = %hook.webhook_id, url = %hook.url, new, last_error = hook.last_error.as_deref().unwrap_or(""), "Mist reports failed deliveries of a webhook");
                        metrics::counter!("mistgate_mist_webhook_failed_deliveries_total")
                            .increment(new as u64);
                    }
                }
                let mut report = app.backfill.lock();
                let d = &mut report.orgs[o].deliveries;
                d.checked_at = Some(now);
                d.failing = failing;
                d.error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, org = %org, "could not read Mist's delivery results of the org's webhooks");
                let mut report = app.backfill.lock();
                let d = &mut report.orgs[o].deliveries;
                d.checked_at = Some(now);
                d.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_late_copy_not_stored_gives_its_backfilled_event_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = store::SqliteStore::open(store::SqliteConfig::in_data_dir(dir.path())).unwrap();
        let backfill = Backfill::default();
        let body = br#"{"topic":"alarms","events":[{"id":"a-1","type":"device_down","site_name":"HQ","timestamp":1765000000}]}"#;
        let event: serde_json::Value =
            serde_json::from_slice::<serde_json::Value>(body).unwrap()["events"][0].clone();
        let key = plan::key(&mist::Topic::Alarms, &event);
        backfill.remember_late(&store, &[(key, [7; 16])]).await;
        let mut split = mist::split(body).unwrap();
        let claimed = backfill.claim_late_copies(&store, body, &mut split).await;
        assert_eq!(claimed, vec![(key, [7; 16])]);
        assert_eq!(split.events[0].fingerprint, mist::Fingerprint([7; 16]));
        // Taken once: a second copy is not matched.
        let mut again = mist::split(body).unwrap();
        assert!(
            backfill
                .claim_late_copies(&store, body, &mut again)
                .await
                .is_empty()
        );
        // The first copy was not stored (its append failed): given back, its retry matches.
        backfill.remember_late(&store, &claimed).await;
        let mut retry = mist::split(body).unwrap();
        assert_eq!(
            backfill.claim_late_copies(&store, body, &mut retry).await,
            claimed
        );
        assert_eq!(retry.events[0].fingerprint, mist::Fingerprint([7; 16]));
    }
}
