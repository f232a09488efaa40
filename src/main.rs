//! `mistgate`: the command line. It parses arguments and wires the crates; the domain
//! lives in `mist`, `store`, `server` and `sim`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use server::Config;

// The writer thread frees what the HTTP workers allocated (request bodies, events):
// glibc's arenas serialise that on a lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mistgate",
    version,
    about = "A self-hosted gateway for Juniper Mist webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive, verify and store Mist webhooks (zero configuration needed).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]. Port 0 picks a free port.
        #[arg(long, env = "MISTGATE_LISTEN")]
        listen: Option<String>,
        /// Where the database and the generated API token live [default: ./mistgate-data].
        #[arg(long, env = "MISTGATE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A TOML configuration file (sources, secrets, limits, storage).
        #[arg(long, env = "MISTGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Log line format on stderr.
        #[arg(long, env = "MISTGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// HTTP worker threads [default: one per core]. The store's writer has a thread
        /// of its own besides these.
        #[arg(long, env = "MISTGATE_WORKERS")]
        workers: Option<usize>,
        /// Also run a simulated Mist org that posts to this server over HTTP, playing
        /// the built-in scenarios on a loop (outages, a rogue AP, Marvis, occupancy...).
        #[arg(long)]
        demo: bool,
    },
    /// Simulate a Mist org posting webhooks to a receiver: every topic at everyday rates,
    /// scenarios (outages, rogue APs, Marvis actions...), signed and retried like Mist;
    /// or, with --flood, as fast as the connections allow.
    Simulate(SimulateArgs),
    /// Validate a configuration file without starting anything.
    CheckConfig { file: PathBuf },
    /// Print the X-Mist-Signature-v2 and X-Mist-Signature headers for a body.
    Sign {
        #[arg(long, env = "MISTGATE_SECRET", hide_env_values = true)]
        secret: String,
        /// The body, byte for byte as it will be sent.
        file: PathBuf,
    },
    /// Check a signature header value against a body (exit 0 when it matches).
    Verify {
        #[arg(long, env = "MISTGATE_SECRET", hide_env_values = true)]
        secret: String,
        /// The header value (lowercase hex).
        #[arg(long)]
        signature: String,
        /// The signature is X-Mist-Signature (HMAC-SHA1) rather than -v2 (HMAC-SHA256).
        #[arg(long)]
        v1: bool,
        file: PathBuf,
    },
    /// POST Mist webhook bodies to a receiver, signed like Mist signs them, and report
    /// each answer. A bare event (or array of events) is wrapped in an envelope whose
    /// topic is --topic or the file name's prefix before `__` (e.g. `alarms__x.json`).
    Send {
        /// Receiver URL, e.g. http://127.0.0.1:8080/ingest/default
        #[arg(long)]
        to: String,
        #[arg(long, env = "MISTGATE_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Topic for bare events (overrides the file name).
        #[arg(long)]
        topic: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Backtest: run stored history through the correlator with the given settings and
    /// print the incidents that would have opened and resolved. Live state is untouched.
    Replay {
        /// Start of the history, by event time (RFC 3339 or epoch seconds).
        #[arg(long)]
        since: String,
        /// End of the history [default: now].
        #[arg(long)]
        until: Option<String>,
        /// The settings to replay with (its `[correlation]` section).
        #[arg(long, env = "MISTGATE_CONFIG")]
        config: Option<PathBuf>,
        /// The data dir holding the history [default: ./mistgate-data].
        #[arg(long, env = "MISTGATE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Required: replay never writes (the flag says so explicitly).
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Receiver URL, e.g. http://127.0.0.1:8080/ingest/default
    #[arg(long, required_unless_present = "list_scenarios")]
    target: Option<String>,
    /// Shared secret: messages carry X-Mist-Signature-v2 and X-Mist-Signature.
    #[arg(long, env = "MISTGATE_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Topics to send, comma-separated, any spelling [default: all].
    #[arg(long, value_delimiter = ',')]
    topics: Vec<String>,
    /// The org id [default: derived from the seed].
    #[arg(long)]
    org: Option<String>,
    /// Sites in the org.
    #[arg(long, default_value_t = 2)]
    sites: usize,
    /// Access points per site.
    #[arg(long, default_value_t = 6)]
    aps: usize,
    /// Wi-Fi clients per site.
    #[arg(long, default_value_t = 40)]
    clients: usize,
    /// A scenario file, or a built-in scenario's name (see --list-scenarios). Repeatable.
    #[arg(long)]
    scenario: Vec<String>,
    /// Background events per second [default: 20; 0 with --scenario].
    #[arg(long)]
    rate: Option<f64>,
    /// How long background traffic (or --flood) runs, e.g. 30s, 5m [default: until the
    /// scenarios end, or Ctrl-C].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<std::time::Duration>,
    /// Stop after this many events (messages with --flood).
    #[arg(long)]
    count: Option<u64>,
    /// Seed of every id, MAC and value: the same seed gives the same org and messages.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time compression: scenarios, Mist's aggregation window and its retry delays run
    /// this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// The simulated start (RFC 3339 or epoch seconds) [default: now]. Messages due
    /// before now are sent at once.
    #[arg(long)]
    start: Option<String>,
    /// Load generation: send as fast as --connections allow, no pacing, no retries.
    #[arg(long)]
    flood: bool,
    /// Requests in flight [default: 1, which keeps messages in order; 32 with --flood].
    #[arg(long)]
    connections: Option<usize>,
    /// Events per message with --flood.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Send each message as soon as the previous is answered instead of at its time.
    #[arg(long)]
    no_wait: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list_scenarios: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            data_dir,
            config,
            log_format,
            workers,
            demo,
        } => serve(listen, data_dir, config, log_format, workers, demo),
        Command::Simulate(args) => simulate(args),
        Command::CheckConfig { file } => check_config(&file),
        Command::Sign { secret, file } => sign(&secret, &file),
        Command::Verify {
            secret,
            signature,
            v1,
            file,
        } => verify(&secret, &signature, v1, &file),
        Command::Replay {
            since,
            until,
            config,
            data_dir,
            dry_run,
            json,
        } => replay(
            &since,
            until.as_deref(),
            config.as_deref(),
            data_dir,
            dry_run,
            json,
        ),
        Command::Send {
            to,
            secret,
            topic,
            files,
        } => send(&to, secret.as_deref(), topic.as_deref(), &files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mistgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    runtime_with(None)
}

fn runtime_with(workers: Option<usize>) -> Result<tokio::runtime::Runtime> {
    // One TLS crypto provider for the whole process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n.max(1));
    }
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load_config(file: Option<&Path>) -> Result<Config> {
    let mut config = match file {
        Some(path) => Config::from_file(path)?,
        None => Config::zero(),
    };
    config.apply_env(&|name| std::env::var(name).ok())?;
    Ok(config)
}

fn serve(
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    file: Option<PathBuf>,
    format: LogFormat,
    workers: Option<usize>,
    demo: bool,
) -> Result<ExitCode> {
    init_logging(format);
    let mut config = load_config(file.as_deref())?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .with_context(|| format!("--listen `{listen}` is not an address"))?;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    // The demo posts to the first source, signed with its first secret.
    let demo_source = demo.then(|| {
        config
            .sources
            .first()
            .map(|s| (s.name.clone(), s.secrets.first().cloned()))
            .unwrap_or_else(|| ("default".to_string(), None))
    });
    runtime_with(workers)?.block_on(server::serve(config, |addr| {
        // The first line on stdout, for scripts and tests that start with port 0.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
        if let Some((source, secret)) = demo_source {
            let host = if addr.ip().is_unspecified() {
                std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
            } else {
                addr
            };
            let target = format!("http://{host}/ingest/{source}");
            eprintln!(
                "mistgate: demo: a simulated Mist org posts to {target}; watch\n    \
                 curl -H \"Authorization: Token $TOKEN\" http://{host}/api/v1/incidents\n    \
                 curl -H \"Authorization: Token $TOKEN\" http://{host}/api/v1/devices"
            );
            sim::demo::spawn(sim::demo::DemoSettings {
                secret,
                ..sim::demo::DemoSettings::new(target)
            });
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn simulate(args: SimulateArgs) -> Result<ExitCode> {
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
    let target = args.target.clone().context("--target is required")?;
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

fn check_config(file: &Path) -> Result<ExitCode> {
    let config = load_config(Some(file))?;
    let sources: Vec<String> = config
        .sources
        .iter()
        .map(|s| match s.secrets.len() {
            0 => format!("{} (UNSIGNED)", s.name),
            n => format!(
                "{} ({n} secret{}{})",
                s.name,
                if n > 1 { "s" } else { "" },
                if s.accept_v1_signature {
                    ", v1 accepted"
                } else {
                    ""
                }
            ),
        })
        .collect();
    println!(
        "{}: ok\n  listen {}\n  data dir {}\n  sources: {}",
        file.display(),
        config.listen,
        config.data_dir.display(),
        if sources.is_empty() {
            "none".to_string()
        } else {
            sources.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

fn sign(secret: &str, file: &Path) -> Result<ExitCode> {
    let body = read(file)?;
    println!(
        "{}: {}",
        mist::SIGNATURE_V2_HEADER,
        mist::sign_v2(secret.as_bytes(), &body)
    );
    println!(
        "{}: {}",
        mist::SIGNATURE_V1_HEADER,
        mist::sign_v1(secret.as_bytes(), &body)
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(secret: &str, signature: &str, v1: bool, file: &Path) -> Result<ExitCode> {
    let body = read(file)?;
    let (header, ok) = if v1 {
        (
            mist::SIGNATURE_V1_HEADER,
            mist::verify_v1(secret.as_bytes(), &body, signature.as_bytes()),
        )
    } else {
        (
            mist::SIGNATURE_V2_HEADER,
            mist::verify_v2(secret.as_bytes(), &body, signature.as_bytes()),
        )
    };
    if ok {
        println!("valid {header}");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("INVALID {header}: it does not match this body and secret");
        Ok(ExitCode::from(1))
    }
}

/// The body to send for a file: an envelope as it is, a bare event wrapped.
fn body_for(file: &Path, topic: Option<&str>) -> Result<Vec<u8>> {
    let bytes = read(file)?;
    if mist::parse_envelope(&bytes).is_ok() {
        return Ok(bytes);
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let topic = match topic {
        Some(t) => t.to_string(),
        None => match name.split_once("__") {
            Some((prefix, _)) => prefix.to_string(),
            None => bail!(
                "{}: a bare event needs --topic (or a file name like `alarms__x.json`)",
                file.display()
            ),
        },
    };
    mist::wrap_events(&mist::Topic::parse(&topic), &bytes)
        .with_context(|| format!("{}", file.display()))
}

fn send(
    to: &str,
    secret: Option<&str>,
    topic: Option<&str>,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let bodies = files
        .iter()
        .map(|f| body_for(f, topic).map(|b| (f, b)))
        .collect::<Result<Vec<_>>>()?;
    let rt = runtime()?;
    let client = reqwest::Client::builder()
        .user_agent("Mist-webhook")
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut failed = 0;
    rt.block_on(async {
        for (file, body) in bodies {
            let mut request = client
                .post(to)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(secret) = secret {
                request = request
                    .header(
                        mist::SIGNATURE_V2_HEADER,
                        mist::sign_v2(secret.as_bytes(), &body),
                    )
                    .header(
                        mist::SIGNATURE_V1_HEADER,
                        mist::sign_v1(secret.as_bytes(), &body),
                    );
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    println!("{} -> {} {}", file.display(), status.as_u16(), text.trim());
                    if !status.is_success() {
                        failed += 1;
                    }
                }
                Err(e) => {
                    println!("{} -> error: {e}", file.display());
                    failed += 1;
                }
            }
        }
    });
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn replay(
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
