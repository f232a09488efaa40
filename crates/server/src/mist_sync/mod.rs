//! `[mist]`: reads the orgs' sites, devices, maps and wiring from Mist's REST API, and
//! gives the correlation stage (and the routing stage's messages and the API's event
//! views) what they say: names (sites by id, devices by MAC, maps by id) and the topology (each AP's switch and port, from its LLDP
//! neighbour).
//!
//! When: everything at start and every `refresh`; one site's devices and wiring again
//! when its configuration changes (an audit record or a `*_CONFIG_CHANGED_BY_USER`
//! event names it, at most once a minute per site); and one id when an event names a site
//! or device the names do not know (at most once a minute per id). So the calls grow
//! with the org and its changes, never with the events. A failed read keeps what the
//! last good one gave, and says so in the log and metrics.

pub mod hints;
mod known;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::{Mutex, mpsc, watch};

use crate::config::MistConfig;
use crate::correlation_stage::{Command, StageHandle};
use deliver::clock::now_us;
use hints::{Gate, Hint};
pub use known::{Known, Synced};

/// Reads every org of `orgs` into `known`.
pub async fn read(
    mist: &mistapi::Client,
    orgs: &[String],
    known: &mut Known,
) -> Result<(), mistapi::MistError> {
    for org in orgs {
        let sites = mist.sites(org).await?;
        let inventory = mist.inventory(org).await?;
        for id in known::site_ids(&sites) {
            let stats = mist.device_stats(&id).await?;
            let maps = mist.maps(&id).await?;
            known.stats.insert(id.clone(), stats);
            known.maps.insert(id, maps);
        }
        known.orgs.insert(org.clone(), (sites, inventory));
    }
    Ok(())
}

/// Reads again the site `site` (of one of `orgs`): the org's sites and inventory, and
/// the site's device stats and maps. False when the site is in none of them.
async fn read_site(
    mist: &mistapi::Client,
    site: &str,
    known: &mut Known,
) -> Result<bool, mistapi::MistError> {
    let Some(org) = known.org_of(site) else {
        return Ok(false);
    };
    let sites = mist.sites(&org).await?;
    let inventory = mist.inventory(&org).await?;
    let stats = mist.device_stats(site).await?;
    let maps = mist.maps(site).await?;
    known.orgs.insert(org, (sites, inventory));
    known.stats.insert(site.to_string(), stats);
    known.maps.insert(site.to_string(), maps);
    Ok(true)
}

/// Looks up one id the names lack; whether it named something.
async fn look_up(
    mist: &mistapi::Client,
    orgs: &[String],
    hint: &Hint,
    known: &mut Known,
) -> Result<bool, mistapi::MistError> {
    match hint {
        Hint::Site(id) => {
            let site = match mist.site(id).await {
                Ok(site) => site,
                Err(e) if e.status() == Some(404) => return Ok(false),
                Err(e) => return Err(e),
            };
            Ok(known.learn_site(&site))
        }
        Hint::Device(mac) => {
            for org in orgs {
                for device in mist.inventory_by_mac(org, mac).await? {
                    if known.learn_device(&device) {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        }
        Hint::Changed(_) => Ok(false),
    }
}

/// Where the sync hands what it read.
struct Outlets {
    stage: StageHandle,
    routing: deliver::engine::SharedNames,
    /// Several instances on one database: where the others find what this one read.
    shared: Option<Arc<dyn Store>>,
}

impl Outlets {
    /// Hands what was read to this instance's stage and routing, and keeps it for the
    /// other instances.
    async fn publish(&self, known: &Known) -> Synced {
        let synced = known.assemble();
        self.apply(synced.names.clone(), synced.topology.clone())
            .await;
        if let Some(store) = &self.shared {
            shared::keep(store.as_ref(), &synced).await;
        }
        synced
    }

    /// Names and wiring for this instance's correlation stage, routing and API.
    async fn apply(&self, names: mist::Names, topology: correlate::Topology) {
        *self.routing.write().unwrap_or_else(|p| p.into_inner()) = names.clone();
        self.stage
            .ask(|reply| Command::SetNames { names, reply })
            .await;
        self.stage
            .ask(|reply| Command::SetTopology { topology, reply })
            .await;
    }
}

/// At most one look at a site's change, and at one unknown id, per minute.
const ONCE_PER_US: i64 = 60_000_000;

/// Starts the reads of `[mist]`'s orgs (with several instances on one database: on one
/// of them, the others taking what it read from the database).
pub fn spawn(
    config: &MistConfig,
    mist: Option<mistapi::Client>,
    store: Arc<dyn Store>,
    stage: StageHandle,
    routing: deliver::engine::SharedNames,
    hints: mpsc::Receiver<Hint>,
    stopping: watch::Receiver<bool>,
) {
    let Some(mist) = mist else {
        return;
    };
    let several = store.cluster().is_some();
    let outlets = Arc::new(Outlets {
        stage,
        routing,
        shared: several.then(|| store.clone()),
    });
    let reads = Reads {
        mist,
        orgs: config.org_ids.clone(),
        refresh: config.refresh,
        outlets: outlets.clone(),
        hints: Arc::new(Mutex::new(hints)),
    };
    if !several {
        tokio::spawn(reads.run(stopping));
        return;
    }
    tokio::spawn(shared::follow(store.clone(), outlets, stopping.clone()));
    let mut stop = stopping.clone();
    tokio::spawn(deliver::lease::leased(
        store,
        shared::LEASE,
        async move { stopped(&mut stop).await },
        move || reads.clone().run(stopping.clone()),
    ));
}

/// The reads: everything every `refresh`, and what hints ask for.
#[derive(Clone)]
struct Reads {
    mist: mistapi::Client,
    orgs: Vec<String>,
    refresh: Duration,
    outlets: Arc<Outlets>,
    /// Ids the names lack and sites changed, from ingest (whoever runs the reads).
    hints: Arc<Mutex<mpsc::Receiver<Hint>>>,
}

impl Reads {
    /// Reads at once and every `refresh`, and as hinted, until `stopping`, giving each
    /// good read to the outlets.
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        let Reads {
            mist,
            orgs,
            refresh,
            outlets,
            hints,
        } = self;
        let mut hints = hints.lock().await;
        let mut known = Known::default();
        let mut gate = Gate::new(ONCE_PER_US);
        let mut next_full = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_full) => {
                    let mut fresh = Known { looked_up: known.looked_up.clone(), ..Known::default() };
                    match read(&mist, &orgs, &mut fresh).await {
                        Ok(()) => {
                            known = fresh;
                            let synced = outlets.publish(&known).await;
                            tracing::info!(sites = synced.sites, devices = synced.devices, uplinks = synced.uplinks,
                                "read the orgs' sites, devices and wiring from Mist's API");
                            count("ok");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not read the orgs from Mist's API; the names and wiring read before are kept");
                            count("error");
                        }
                    }
                    next_full = tokio::time::Instant::now() + refresh;
                }
                Some(hint) = hints.recv() => {
                    let id = match &hint {
                        Hint::Site(id) => format!("site:{id}"),
                        Hint::Device(mac) => format!("device:{mac}"),
                        Hint::Changed(site) => format!("changed:{site}"),
                    };
                    if !gate.allow(&id, now_us()) {
                        continue;
                    }
                    let result = match &hint {
                        Hint::Changed(site) => read_site(&mist, site, &mut known).await,
                        _ => look_up(&mist, &orgs, &hint, &mut known).await,
                    };
                    match result {
                        Ok(true) => {
                            outlets.publish(&known).await;
                            tracing::debug!(hint = %id, "read again from Mist's API");
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, hint = %id, "could not read from Mist's API"),
                    }
                }
                () = stopped(&mut stopping) => return,
            }
            metrics::gauge!("mistgate_mist_api_calls").set(mist.calls() as f64);
            metrics::gauge!("mistgate_mist_api_calls_last_hour").set(mist.calls_last_hour() as f64);
        }
    }
}

/// Resolves once the process is shutting down.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

fn count(result: &'static str) {
    metrics::counter!("mistgate_mist_api_syncs_total", "result" => result).increment(1);
}

/// The client of `[mist]`, shared by the sync and backfill (so that their calls are
/// counted together against the token's budget); `None` without `[mist]`.
pub fn client(config: &MistConfig) -> anyhow::Result<Option<mistapi::Client>> {
    let (Some(url), Some(token)) = (&config.api_url, &config.api_token) else {
        return Ok(None);
    };
    metrics::gauge!("mistgate_mist_api_budget_per_hour")
        .set(mistapi::budget::CALLS_PER_HOUR as f64);
    Ok(Some(
        mistapi::Client::new(url, token)?.with_retries(2, Duration::from_secs(30)),
    ))
}
