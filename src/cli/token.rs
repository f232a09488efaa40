//! `mistgate token create|list|revoke`: named API tokens, written straight to the data
//! dir's database, with the server running or not (a running server reads them again
//! within [`server::access::REFRESH`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use server::access::{self, Role};
use store::{NewToken, TokenError};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (to stdout, this once: only its hash is kept).
    Create {
        /// 1 to 64 letters, digits, `-`, `_` or `.`.
        #[arg(long)]
        name: String,
        /// read (every GET), operate (read + acknowledge, resolve, silences, replay,
        /// resend, ping) or admin (everything).
        #[arg(long)]
        role: String,
        /// When it stops working: a duration (90d, 12h) or a time (RFC 3339) [default: never].
        #[arg(long)]
        expires: Option<String>,
        /// The data dir [default: ./mistgate-data].
        #[arg(long, env = "MISTGATE_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List the tokens (never the tokens themselves).
    List {
        #[arg(long, env = "MISTGATE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working (within 2 s on a running server).
    Revoke {
        name: String,
        #[arg(long, env = "MISTGATE_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

pub(crate) fn token(command: TokenCommand) -> Result<ExitCode> {
    let now = server::now_us();
    match command {
        TokenCommand::Create {
            name,
            role,
            expires,
            data_dir,
        } => {
            access::check_name(&name).map_err(anyhow::Error::msg)?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let expires_at = expires
                .as_deref()
                .map(|e| access::parse_expiry(e, now))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--expires: {e}"))?;
            let conn = open(&dir(data_dir), true)?;
            let token = access::new_token().context("making a token")?;
            let new = NewToken {
                name: name.clone(),
                role: role.as_str().into(),
                hash: access::hash(token.as_bytes()),
                created_at: now,
                expires_at,
            };
            match store::sqlite::access::insert_token(&conn, &new) {
                Ok(_) => {}
                Err(TokenError::NameTaken(n)) => {
                    bail!("a token named `{n}` already exists (revoke it first to reuse the name)")
                }
                Err(TokenError::Store(e)) => return Err(e).context("writing the token"),
            }
            eprintln!(
                "created token `{name}` ({role}{}); it is shown only now:",
                expires_at.map_or(String::new(), |at| format!(
                    ", expires {}",
                    server::format_instant(at)
                ))
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { data_dir, json } => {
            let conn = open(&dir(data_dir), false)?;
            let rows = store::sqlite::access::tokens(&conn).context("reading the tokens")?;
            let time = |t: Option<i64>| t.map(server::format_instant);
            if json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "name": t.name, "role": t.role,
                            "created_at": server::format_instant(t.created_at),
                            "expires_at": time(t.expires_at),
                            "last_used_at": time(t.last_used_at),
                            "revoked_at": time(t.revoked_at),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<24} {:<8} {:<8} {:<20} {:<20} {:<20}",
                "NAME", "ROLE", "STATE", "CREATED", "EXPIRES", "LAST USED"
            );
            for t in rows {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|at| at <= now) {
                    "expired"
                } else {
                    "live"
                };
                let short = |t: Option<i64>| {
                    time(t).map_or("-".to_string(), |s| s.chars().take(19).collect())
                };
                println!(
                    "{:<24} {:<8} {:<8} {:<20} {:<20} {:<20}",
                    t.name,
                    t.role,
                    state,
                    short(Some(t.created_at)),
                    short(t.expires_at),
                    short(t.last_used_at)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { name, data_dir } => {
            let conn = open(&dir(data_dir), false)?;
            if !store::sqlite::access::revoke_token(&conn, &name, now)
                .context("revoking the token")?
            {
                bail!("no live token named `{name}`");
            }
            eprintln!("revoked token `{name}`");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn dir(data_dir: Option<PathBuf>) -> PathBuf {
    data_dir.unwrap_or_else(|| server::Config::zero().data_dir)
}

/// The data dir's database; `create` makes (and migrates) it when there is none yet.
fn open(dir: &Path, create: bool) -> Result<store::sqlite::access::Connection> {
    let path = dir.join("mistgate.db");
    if !path.exists() {
        if !create {
            bail!("no mistgate data in {} (use --data-dir)", dir.display());
        }
        server::data_dir::create(dir)
            .with_context(|| format!("creating the data dir {}", dir.display()))?;
    }
    store::sqlite::access::open(&path, true).with_context(|| format!("opening {}", path.display()))
}
