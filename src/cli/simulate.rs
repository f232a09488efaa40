//! `mistgate simulate`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::runtime;
use crate::SimulateArgs;

pub(crate) fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    if args.list_scenarios {
        for s in sim::Scenario::built_in() {
            println!(
                "{}\n  {}\n",
                s.name,
                s.description.trim().replace('\n', "\n  ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.mist_api.is_none() && args.target.is_none() {
        bail!("--target is required (or --mist-api)");
    }
    let target = args.target.clone().unwrap_or_default();
    let topics = (!args.topics.is_empty()).then(|| {
        args.topics
            .iter()
            .map(|t| mist::Topic::parse(t))
            .collect::<Vec<_>>()
    });
    if let Some(unknown) = topics.iter().flatten().find(|t| !t.is_known()) {
        bail!("--topics: `{unknown}` is not a Mist webhook topic");
    }
    let scenarios = args
        .scenario
        .iter()
        .map(|s| sim::Scenario::load(s))
        .collect::<Result<Vec<_>, _>>()?;
    let start_us = match &args.start {
        Some(s) => server::parse_instant(s).with_context(|| format!("--start `{s}`"))?,
        // Whole seconds, so that topics Mist sends in integer seconds get integers.
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            now * 1_000_000
        }
    };
    let org = sim::OrgSpec {
        org_id: args.org.clone(),
        sites: args.sites.max(1),
        aps_per_site: args.aps.max(1),
        clients_per_site: args.clients,
        ..sim::OrgSpec::default()
    };
    let rt = runtime()?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .expect("a valid template"),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = if args.flood {
        let mut spec = org;
        for s in &scenarios {
            s.fit(&mut spec);
        }
        let settings = sim::flood::FloodSettings {
            target,
            secret: args.secret.clone(),
            connections: args.connections.unwrap_or(32),
            duration: args.duration,
            count: args.count,
            topics,
            batch: args.batch,
            seed: args.seed,
            timeout: std::time::Duration::from_secs(30),
        };
        if settings.duration.is_none() && settings.count.is_none() {
            bail!("--flood needs --duration or --count");
        }
        bar.set_message(format!(
            "flooding {} with {} connections",
            settings.target, settings.connections
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let org = std::sync::Arc::new(sim::Org::generate(&spec, args.seed));
        rt.block_on(sim::flood::run(org, &settings))?
    } else {
        let rate = args
            .rate
            .unwrap_or(if scenarios.is_empty() { 20.0 } else { 0.0 });
        let plan = sim::Plan::new(sim::PlanSettings {
            org,
            seed: args.seed,
            start_us,
            speed: args.speed,
            rate,
            duration: args.duration,
            count: args.count,
            topics,
            scenarios,
            ..sim::PlanSettings::default()
        })
        .map_err(anyhow::Error::msg)?;
        if let Some(addr) = args.mist_api {
            let summary = rt.block_on(mist_cloud(&args, addr, plan, &bar))?;
            return finish(&args, summary, bar);
        }
        let settings = sim::send::SendSettings {
            secret: args.secret.clone(),
            connections: args.connections.unwrap_or(1),
            pace: !args.no_wait,
            seed: args.seed,
            ..sim::send::SendSettings::new(target)
        }
        .compress_retries(args.speed);
        rt.block_on(sim::send::run(
            plan,
            &settings,
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
            |s| {
                bar.set_message(format!(
                    "{} messages, {} events sent; {} acknowledged, {} retries, {} failed",
                    s.messages, s.events, s.acknowledged, s.retries, s.failed
                ));
                bar.tick();
            },
        ))?
    };
    finish(&args, summary, bar)
}

fn finish(
    args: &SimulateArgs,
    summary: sim::Summary,
    bar: indicatif::ProgressBar,
) -> Result<ExitCode> {
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{summary}");
    }
    Ok(if summary.failed == 0 && summary.pending == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--mist-api`: serves the simulated cloud's API while the plan's messages go to the
/// webhooks created through it (and to `--target`), serving until `--duration` has
/// passed or Ctrl-C.
async fn mist_cloud(
    args: &SimulateArgs,
    addr: std::net::SocketAddr,
    plan: sim::Plan,
    bar: &indicatif::ProgressBar,
) -> Result<sim::Summary> {
    let token = args.api_token.clone().context("--api-token is required")?;
    let rate_limit = args
        .api_rate_limit
        .parse()
        .map_err(|e| anyhow::anyhow!("--api-rate-limit `{}`: {e}", args.api_rate_limit))?;
    let settings = sim::api::ApiSettings {
        rate_limit,
        retry: sim::send::SendSettings::new("")
            .compress_retries(args.speed)
            .retry,
        seed: args.seed,
        ..sim::api::ApiSettings::new(token)
    };
    let cloud = sim::api::Cloud::new(plan.org().clone(), settings)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--mist-api {addr}"))?;
    // The first line on stdout, for scripts and tests to find the port.
    println!("mist-api listening on http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let started = tokio::time::Instant::now();
    let server = tokio::spawn(sim::api::serve(listener, cloud.clone(), stopped()));
    let target = args.target.clone().map(|url| sim::api::fanout::Target {
        url,
        secret: args.secret.clone(),
    });
    let mut summary =
        sim::api::fanout::run(plan, cloud.clone(), target, !args.no_wait, stopped(), |s| {
            bar.set_message(format!(
                "{} deliveries, {} events; {} acknowledged, {} retries, {} failed",
                s.messages, s.events, s.acknowledged, s.retries, s.failed
            ));
            bar.tick();
        })
        .await;
    // The cloud stays up for the whole --duration (or until Ctrl-C), whenever the
    // traffic ends: clients may still be reading its history.
    match args.duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep_until(started + d) => {}
                _ = stopped() => {}
            }
        }
        None => stopped().await,
    }
    server.abort();
    summary.api_requests = cloud
        .requests()
        .into_iter()
        .map(|(op, n)| (op.to_string(), n))
        .collect();
    Ok(summary)
}
