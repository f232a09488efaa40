//! The demo: a simulated org playing every built-in scenario on a loop against a
//! receiver, with light background traffic, so that a new user of `mistgate serve --demo`
//! sees device states and incidents open and resolve within seconds.

use std::time::Duration;

use crate::plan::{Plan, PlanSettings};
use crate::scenario::Scenario;
use crate::send::{self, SendSettings, now_us};

/// How the demo runs.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    /// Where the simulated org posts (`http://127.0.0.1:8080/ingest/default`).
    pub target: String,
    /// The source's secret, if it has one.
    pub secret: Option<String>,
    /// Time compression of the scenarios: at 20, a ten-minute outage takes 30 s.
    pub speed: f64,
    /// Background events per second.
    pub rate: f64,
    /// Seed of the org.
    pub seed: u64,
}

impl DemoSettings {
    /// The defaults for `target`.
    pub fn new(target: impl Into<String>) -> DemoSettings {
        DemoSettings {
            target: target.into(),
            secret: None,
            speed: 20.0,
            rate: 5.0,
            seed: 1,
        }
    }
}

/// Starts the demo on the current tokio runtime. It runs until the runtime stops.
pub fn spawn(settings: DemoSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(settings))
}

async fn run(settings: DemoSettings) {
    let scenarios = Scenario::built_in();
    let send = SendSettings {
        secret: settings.secret.clone(),
        ..SendSettings::new(settings.target.clone())
    }
    .compress_retries(settings.speed);
    for round in 1u64.. {
        for scenario in &scenarios {
            let plan = Plan::new(PlanSettings {
                seed: settings.seed,
                start_us: now_us(),
                speed: settings.speed,
                rate: settings.rate,
                scenarios: vec![scenario.clone()],
                ..PlanSettings::default()
            });
            let plan = match plan {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::error!(error = %e, "demo scenario does not fit");
                    continue;
                }
            };
            tracing::info!(round, scenario = %scenario.name, "demo: playing");
            match send::run(plan, &send, std::future::pending::<()>(), |_| {}).await {
                Ok(summary) => tracing::info!(
                    scenario = %scenario.name,
                    messages = summary.messages,
                    acknowledged = summary.acknowledged,
                    failed = summary.failed,
                    "demo: played"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "demo: cannot send");
                    return;
                }
            }
        }
        // A breath between rounds.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
