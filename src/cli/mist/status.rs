//! `mist status` and `mist teardown`.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::mistgate::Mistgate;
use super::{Target, TeardownArgs};

/// How far back Mist's delivery results are read.
const WINDOW: &str = "1d";

pub(super) async fn status(target: &Target) -> Result<ExitCode> {
    let mist = target.client()?;
    let scope = target.scope();
    let ours = target.ours(&mist).await?;
    if ours.is_empty() {
        println!("no webhook of {scope} posts to {}", target.hook_url());
        return Ok(ExitCode::FAILURE);
    }
    let mut failing = false;
    for hook in &ours {
        let id = hook.id.clone().unwrap_or_default();
        println!(
            "webhook {id} ({}): {}\n  url: {}\n  topics: {}",
            hook.name.as_deref().unwrap_or("unnamed"),
            if hook.enabled { "enabled" } else { "DISABLED" },
            hook.url,
            hook.topics.join(", ")
        );
        match mist.count_deliveries(&scope, &id, WINDOW, "status").await {
            Ok(count) => {
                let of = |s: &str| {
                    count
                        .counts
                        .iter()
                        .find(|(v, _)| v == s)
                        .map_or(0, |(_, n)| *n)
                };
                let (ok, failed) = (of("success"), of("failure"));
                println!(
                    "  deliveries, last 24 h (Mist's results): {ok} succeeded, {failed} failed"
                );
                if failed > 0 {
                    failing = true;
                    let failures = mist
                        .deliveries(&scope, &id, WINDOW, &[("status", "failure".into())], 5)
                        .await
                        .unwrap_or_default();
                    for f in failures {
                        println!(
                            "  !! FAILED {} {}: {} {}",
                            f["timestamp"],
                            f["topic"].as_str().unwrap_or("?"),
                            f["status_code"],
                            f["error"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Err(e) => println!("  deliveries: Mist's results could not be read: {e}"),
        }
    }
    Ok(if failing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) async fn teardown(args: TeardownArgs) -> Result<ExitCode> {
    let target = &args.target;
    let mist = target.client()?;
    let scope = target.scope();
    let ours = target.ours(&mist).await?;
    for hook in &ours {
        let id = hook.id.clone().unwrap_or_default();
        mist.delete_webhook(&scope, &id)
            .await
            .with_context(|| format!("deleting webhook {id} of {scope}"))?;
        println!("webhook {id}: deleted from {scope}");
    }
    if ours.is_empty() {
        println!("no webhook of {scope} posts to {}", target.hook_url());
    }
    if !args.keep_source {
        let mistgate = Mistgate::new(&target.mistgate(args.mistgate.as_deref())?)?;
        if mistgate.answers().await {
            if mistgate.delete_source(&target.source).await? {
                println!(
                    "source `{}`: removed from {}",
                    target.source,
                    mistgate.base()
                );
            }
        } else {
            println!(
                "source `{}`: left (no mistgate answers at {})",
                target.source,
                mistgate.base()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
