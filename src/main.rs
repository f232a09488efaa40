//! `mistgate`: the command line. It parses arguments and wires the crates; the domain
//! lives in `mist`, `store`, `server` and `sim`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod cli;

use cli::{ServeArgs, check_config, replay, send, serve, sign, simulate, verify};

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
        /// Serve HTTPS with this PEM certificate chain (with --tls-key); reloaded when
        /// the file changes and on SIGHUP.
        #[arg(long, env = "MISTGATE_TLS_CERT")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "MISTGATE_TLS_KEY")]
        tls_key: Option<PathBuf>,
        /// Keep the log in PostgreSQL (`postgres://user@host:5432/db`) instead of SQLite
        /// in the data dir ([storage] url).
        #[arg(long, env = "MISTGATE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
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
    /// Connect a Mist org or site through Mist's API: setup, status, teardown.
    #[command(subcommand)]
    Mist(cli::MistCommand),
    /// Named API tokens with roles: create, list, revoke (on the data dir, with the
    /// server running or not).
    #[command(subcommand)]
    Token(cli::TokenCommand),
    /// Copy a data dir's SQLite history into PostgreSQL (requests, events, quarantine,
    /// devices, incidents, subscriptions, the outbox, tokens, audit, sources...), with
    /// their ids; run it again after an interruption to continue. Prints the rows of every
    /// table on both sides and exits non-zero when they differ.
    Migrate {
        /// The data dir of `mistgate serve` (stopped) holding the history.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database (`postgres://user@host:5432/db`).
        #[arg(long, env = "MISTGATE_DATABASE_URL", hide_env_values = true)]
        to: String,
        /// Rows per transaction.
        #[arg(long, default_value_t = 5_000)]
        chunk_rows: usize,
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
    /// Receiver URL, e.g. http://127.0.0.1:8080/ingest/default (optional with
    /// --mist-api: the webhooks created through its API receive the traffic).
    #[arg(long, required_unless_present_any = ["list_scenarios", "mist_api"])]
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
    /// Also be the org's Mist cloud: serve Mist's REST API subset at this address (e.g.
    /// 127.0.0.1:0; the first line printed says where), whose webhooks receive the
    /// traffic. Runs until --duration or Ctrl-C.
    #[arg(long, requires = "api_token", conflicts_with = "flood")]
    mist_api: Option<std::net::SocketAddr>,
    /// The API token the simulated cloud accepts (`Authorization: Token ...`).
    #[arg(long, requires = "mist_api")]
    api_token: Option<String>,
    /// Calls per API token before the simulated cloud answers 429, e.g. 5000/h, 10/min.
    #[arg(long, default_value = "5000/h", requires = "mist_api")]
    api_rate_limit: String,
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
            tls_cert,
            tls_key,
            database_url,
            demo,
        } => serve(
            ServeArgs {
                listen,
                data_dir,
                file: config,
                tls_cert,
                tls_key,
                database_url,
                workers,
                demo,
            },
            log_format,
        ),
        Command::Simulate(args) => simulate(args),
        Command::Token(command) => cli::token(command),
        Command::Mist(command) => cli::mist(command),
        Command::Migrate {
            from,
            to,
            chunk_rows,
        } => cli::migrate(&from, &to, chunk_rows),
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
