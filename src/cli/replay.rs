//! `mistgate replay`: re-run correlation over stored events (dry run only).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{load_config, runtime};

pub(crate) fn replay(
    since: &str,
    until: Option<&str>,
    file: Option<&Path>,
    data_dir: Option<PathBuf>,
    dry_run: bool,
    json: bool,
) -> Result<ExitCode> {
    if !dry_run {
        bail!(
            "replay only runs with --dry-run: it shows what would have happened and never changes live state"
        );
    }
    let mut config = load_config(file)?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    let since_us = server::parse_instant(since).with_context(|| format!("--since `{since}`"))?;
    let until_us = until
        .map(|u| server::parse_instant(u).with_context(|| format!("--until `{u}`")))
        .transpose()?;
    let path = config.data_dir.join("mistgate.db");
    if !path.exists() {
        bail!(
            "no mistgate data in {} (use --data-dir)",
            config.data_dir.display()
        );
    }
    let rt = runtime()?;
    let incidents = rt.block_on(async {
        let store: std::sync::Arc<dyn store::Store> = std::sync::Arc::new(
            store::SqliteStore::open_read_only(store::SqliteConfig::in_data_dir(&config.data_dir))?,
        );
        let total = store
            .stats()
            .await?
            .rows
            .iter()
            .map(|r| r.events)
            .sum::<i64>()
            .max(0) as u64;
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events ({eta})")
                .expect("a valid template"),
        );
        let end = until_us.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0)
        });
        let result = server::replay::replay(
            store,
            config.correlation.settings(),
            mist::Names::with_sites(config.routing.site_names.clone()),
            Some(since_us),
            until_us,
            end,
            |n| bar.set_position(n),
        )
        .await;
        bar.finish_and_clear();
        anyhow::Ok(result?)
    })?;
    let mut out = std::io::stdout().lock();
    if json {
        let shown: Vec<serde_json::Value> = incidents
            .iter()
            .map(|i| server::present(serde_json::to_value(i).expect("an incident serialises")))
            .collect();
        serde_json::to_writer_pretty(&mut out, &shown)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>5}  {:<12}  {:<12}  {:<27}  {:<27}  summary",
        "id", "kind", "state", "opened", "resolved"
    )?;
    for i in &incidents {
        let v = serde_json::to_value(i)?;
        writeln!(
            out,
            "{:>5}  {:<12}  {:<12}  {:<27}  {:<27}  {}",
            i.id,
            v["kind"].as_str().unwrap_or(""),
            v["state"].as_str().unwrap_or(""),
            server::format_instant(i.opened_at),
            i.resolved_at
                .map(server::format_instant)
                .unwrap_or_else(|| "-".into()),
            i.summary
        )?;
    }
    let resolved = incidents.iter().filter(|i| i.resolved_at.is_some()).count();
    writeln!(
        out,
        "{} incidents: {} resolved, {} still open",
        incidents.len(),
        resolved,
        incidents.len() - resolved
    )?;
    Ok(ExitCode::SUCCESS)
}
