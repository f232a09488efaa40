//! `mistgate mist setup|status|teardown`: connect a Mist org (or site) to this mistgate
//! through Mist's REST API, see how Mist's deliveries to it go, and disconnect it.

mod mistgate;
mod setup;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mistapi::Scope;

#[derive(Subcommand)]
pub(crate) enum MistCommand {
    /// Create (or update) the Mist webhook that posts to this mistgate, with a fresh
    /// secret, and the matching source here; ping it and wait for the ping.
    Setup(SetupArgs),
    /// The webhooks Mist has for this mistgate, and Mist's own delivery results.
    Status(Target),
    /// Remove the webhooks Mist has for this mistgate (and the source here).
    Teardown(TeardownArgs),
}

/// Which Mist, which org or site, and which mistgate.
#[derive(Args, Clone)]
pub(crate) struct Target {
    /// Mist's API for your cloud, e.g. https://api.mist.com or https://api.eu.mist.com.
    #[arg(long, env = "MIST_API_URL")]
    api_url: String,
    /// The org's id.
    #[arg(long)]
    org: String,
    /// A site's id: the webhook is the site's (every topic) instead of the org's.
    #[arg(long)]
    site: Option<String>,
    /// The URL Mist reaches this mistgate at, e.g. https://gate.example.net.
    #[arg(long)]
    public_url: String,
    /// The source's name here: Mist posts to <public-url>/ingest/<source>.
    #[arg(long, default_value = "mist")]
    source: String,
    /// A file holding the Mist API token [default: the MIST_API_TOKEN variable].
    #[arg(long)]
    api_token_file: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct SetupArgs {
    #[command(flatten)]
    target: Target,
    /// Topics, comma-separated [default: every topic the scope allows].
    #[arg(long, value_delimiter = ',')]
    topics: Vec<String>,
    /// The running mistgate to add the source to [default: the origin of --public-url].
    /// Its admin token comes from MISTGATE_API_TOKEN.
    #[arg(long)]
    mistgate: Option<String>,
    /// When no mistgate answers: the data dir to add the source to (the server takes it
    /// when it starts) [default: ./mistgate-data].
    #[arg(long, env = "MISTGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// How long to wait for Mist's ping to arrive.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    wait: std::time::Duration,
}

#[derive(Args)]
pub(crate) struct TeardownArgs {
    #[command(flatten)]
    target: Target,
    /// The running mistgate to remove the source from [default: the origin of
    /// --public-url].
    #[arg(long)]
    mistgate: Option<String>,
    /// Leave the source here (only Mist's webhooks are removed).
    #[arg(long)]
    keep_source: bool,
}

pub(crate) fn mist(command: MistCommand) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async {
        match command {
            MistCommand::Setup(args) => setup::setup(args).await,
            MistCommand::Status(target) => status::status(&target).await,
            MistCommand::Teardown(args) => status::teardown(args).await,
        }
    })
}

impl Target {
    fn scope(&self) -> Scope {
        match &self.site {
            Some(site) => Scope::Site(site.clone()),
            None => Scope::Org(self.org.clone()),
        }
    }

    /// The URL Mist posts to.
    fn hook_url(&self) -> String {
        format!(
            "{}/ingest/{}",
            self.public_url.trim_end_matches('/'),
            self.source
        )
    }

    fn client(&self) -> Result<mistapi::Client> {
        let token = match &self.api_token_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the Mist API token from {}", file.display()))?
                .trim()
                .to_string(),
            None => std::env::var("MIST_API_TOKEN").unwrap_or_default(),
        };
        if token.is_empty() {
            bail!("no Mist API token: set MIST_API_TOKEN or give --api-token-file");
        }
        Ok(mistapi::Client::new(&self.api_url, &token)?)
    }

    /// The webhooks of the scope that post to this mistgate's source.
    async fn ours(&self, mist: &mistapi::Client) -> Result<Vec<mistapi::Webhook>> {
        let url = self.hook_url();
        let all = mist
            .webhooks(&self.scope())
            .await
            .with_context(|| format!("listing the webhooks of {}", self.scope()))?;
        Ok(all.into_iter().filter(|h| h.url == url).collect())
    }

    /// The mistgate to talk to: `explicit`, else the origin of --public-url.
    fn mistgate(&self, explicit: Option<&str>) -> Result<String> {
        if let Some(m) = explicit {
            return Ok(m.trim_end_matches('/').to_string());
        }
        let url = reqwest::Url::parse(&self.public_url)
            .with_context(|| format!("--public-url `{}` is not a URL", self.public_url))?;
        Ok(url.origin().ascii_serialization())
    }
}
