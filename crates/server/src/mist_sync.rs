//! `[mist]`: reads the orgs' sites, devices and wiring from Mist's REST API at start and
//! every `refresh`, and gives the correlation stage (and the routing stage's messages)
//! what they say: names (sites by id, devices by MAC) and the topology (each AP's switch and port, from its LLDP neighbour).
//! A failed read keeps what the last good one gave, and says so in the log and metrics.

use std::time::Duration;

use correlate::Topology;
use mist::Names;

use crate::config::MistConfig;
use crate::correlation_stage::{Command, StageHandle};

/// What one read of the API gave.
#[derive(Debug, Default)]
pub struct Synced {
    pub names: Names,
    pub topology: Topology,
    pub sites: usize,
    pub devices: usize,
    pub uplinks: usize,
}

/// Reads every org of `orgs` once.
pub async fn read(mist: &mistapi::Client, orgs: &[String]) -> Result<Synced, mistapi::MistError> {
    let mut synced = Synced::default();
    for org in orgs {
        let sites = mist.sites(org).await?;
        for site in &sites {
            let (Some(id), Some(name)) = (site["id"].as_str(), site["name"].as_str()) else {
                continue;
            };
            synced.names.name_site(id, name);
            synced.sites += 1;
        }
        for device in mist.inventory(org).await? {
            if let (Some(mac), Some(name)) = (device["mac"].as_str(), device["name"].as_str()) {
                synced.names.name_device(mac, name);
                synced.devices += 1;
            }
        }
        for site in &sites {
            let Some(id) = site["id"].as_str() else {
                continue;
            };
            let stats = mist.device_stats(id).await?;
            for d in &stats {
                if let (Some(mac), Some(name)) = (d["mac"].as_str(), d["name"].as_str()) {
                    synced.names.name_device(mac, name);
                }
            }
            for up in mistapi::uplinks(&stats) {
                synced
                    .topology
                    .wire_ap(&up.ap_mac, &up.switch_mac, &up.port_id);
                synced.uplinks += 1;
            }
        }
    }
    Ok(synced)
}

/// Runs the reads until `stopping`, giving each good one to the stage.
pub fn spawn(
    config: &MistConfig,
    mist: Option<mistapi::Client>,
    stage: StageHandle,
    routing: deliver::engine::SharedNames,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let Some(mist) = mist else {
        return;
    };
    let orgs = config.org_ids.clone();
    let refresh = config.refresh;
    tokio::spawn(async move {
        loop {
            match read(&mist, &orgs).await {
                Ok(synced) => {
                    tracing::info!(
                        sites = synced.sites,
                        devices = synced.devices,
                        uplinks = synced.uplinks,
                        "read the orgs' sites, devices and wiring from Mist's API"
                    );
                    metrics::counter!("mistgate_mist_api_syncs_total", "result" => "ok")
                        .increment(1);
                    let (names, topology) = (synced.names, synced.topology);
                    *routing.write().unwrap_or_else(|p| p.into_inner()) = names.clone();
                    stage.ask(|reply| Command::SetNames { names, reply }).await;
                    stage
                        .ask(|reply| Command::SetTopology { topology, reply })
                        .await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the orgs from Mist's API; the names and wiring read before are kept");
                    metrics::counter!("mistgate_mist_api_syncs_total", "result" => "error")
                        .increment(1);
                }
            }
            metrics::gauge!("mistgate_mist_api_calls").set(mist.calls() as f64);
            metrics::gauge!("mistgate_mist_api_calls_last_hour").set(mist.calls_last_hour() as f64);
            tokio::select! {
                () = tokio::time::sleep(refresh) => {}
                _ = stopping.changed() => return,
            }
        }
    });
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
