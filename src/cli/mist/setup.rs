//! `mist setup`: the webhook in Mist, the source here, and the ping between them.

use std::process::ExitCode;

use anyhow::{Context, Result};
use mistapi::{Scope, Webhook};

use super::SetupArgs;
use super::mistgate::{Mistgate, put_source_offline};

pub(super) async fn setup(args: SetupArgs) -> Result<ExitCode> {
    let target = &args.target;
    let scope = target.scope();
    let mist = target.client()?;
    let topics = if args.topics.is_empty() {
        default_topics(&mist, &scope).await
    } else {
        args.topics.clone()
    };
    let secret = new_secret()?;
    // Mist is asked first: a wrong token or org changes nothing here.
    let url = target.hook_url();
    let existing = target.ours(&mist).await?;

    // The source first: Mist's ping (and its traffic) must find it.
    let mistgate = Mistgate::new(&target.mistgate(args.mistgate.as_deref())?)?;
    let running = mistgate.answers().await;
    if running {
        mistgate.put_source(&target.source, &secret).await?;
        println!(
            "source `{}`: set in the mistgate at {} (a new secret)",
            target.source,
            mistgate.base()
        );
    } else {
        let dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| server::Config::zero().data_dir);
        put_source_offline(&dir, &target.source, &secret)?;
        println!(
            "source `{}`: no mistgate answers at {}; written to the data dir {} (the server takes it when it starts)",
            target.source,
            mistgate.base(),
            dir.display()
        );
    }

    let hook = Webhook {
        name: Some(format!("mistgate {}", target.source)),
        url: url.clone(),
        topics: topics.clone(),
        enabled: true,
        secret: Some(secret.clone()),
        kind: Some("http-post".into()),
        ..Default::default()
    };
    let (verb, saved) = match existing.first().and_then(|h| h.id.clone()) {
        Some(id) => (
            "updated",
            mist.update_webhook(&scope, &id, &hook)
                .await
                .with_context(|| format!("updating webhook {id} in {scope}"))?,
        ),
        None => (
            "created",
            mist.create_webhook(&scope, &hook)
                .await
                .with_context(|| format!("creating the webhook in {scope}"))?,
        ),
    };
    let id = saved.id.clone().unwrap_or_default();
    println!(
        "webhook {id}: {verb} in {scope}, posting to {url}\n  topics: {}",
        saved.topics.join(", ")
    );
    for extra in existing.iter().skip(1) {
        println!(
            "  note: webhook {} also posts here; `mist teardown` removes every one",
            extra.id.as_deref().unwrap_or("?")
        );
    }

    let since = server::now_us();
    mist.ping_webhook(&scope, &id)
        .await
        .with_context(|| format!("asking Mist to ping webhook {id}"))?;
    if !running {
        println!("ping: sent; start the server to receive Mist's webhooks");
        return Ok(ExitCode::SUCCESS);
    }
    if mistgate
        .wait_for_ping(&target.source, since, args.wait)
        .await?
    {
        println!(
            "ping: arrived at {}, signed: Mist's webhooks reach this mistgate",
            mistgate.base()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "ping: not arrived within {:?}. Check that Mist reaches {url} (firewall, TLS \
             certificate, allow_ips), then `mistgate mist status` for Mist's delivery results",
            args.wait
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Every topic the scope allows, from Mist's own list (or the documented one).
async fn default_topics(mist: &mistapi::Client, scope: &Scope) -> Vec<String> {
    match mist.webhook_topics().await {
        Ok(topics) => topics
            .into_iter()
            .filter(|t| !t.internal && (!scope.is_org() || t.for_org))
            .map(|t| t.key)
            .collect(),
        // Mist's documented topics for the scope (a ping is not subscribed to).
        Err(e) => {
            eprintln!("note: Mist's topic list could not be read ({e}); using the documented ones");
            mist::Topic::KNOWN
                .iter()
                .filter(|t| !(scope.is_org() && t.is_site_only()) && t.as_str() != "ping")
                .map(|t| t.as_str().to_string())
                .collect()
        }
    }
}

/// A new shared secret: 256 random bits in hex.
fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}
