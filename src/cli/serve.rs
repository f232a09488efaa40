//! `mistgate serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{init_logging, load_config, runtime_with};
use crate::LogFormat;

/// `serve`'s flags.
pub(crate) struct ServeArgs {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub database_url: Option<String>,
    pub workers: Option<usize>,
    pub demo: bool,
}

pub(crate) fn serve(args: ServeArgs, format: LogFormat) -> Result<ExitCode> {
    init_logging(format);
    let ServeArgs {
        listen,
        data_dir,
        file,
        tls_cert,
        tls_key,
        database_url,
        workers,
        demo,
    } = args;
    let mut config = load_config(file.as_deref())?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .with_context(|| format!("--listen `{listen}` is not an address"))?;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if tls_cert.is_some() {
        config.server.tls_cert = tls_cert;
    }
    if tls_key.is_some() {
        config.server.tls_key = tls_key;
    }
    if database_url.is_some() {
        config.storage.url = database_url;
    }
    config
        .server
        .check(config.listen)
        .map_err(anyhow::Error::msg)?;
    config.console_sign_in_link = demo;
    // The demo posts to the first source, signed with its first secret.
    let demo_source = demo.then(|| {
        config
            .sources
            .first()
            .map(|s| (s.name.clone(), s.secrets.first().cloned()))
            .unwrap_or_else(|| ("default".to_string(), None))
    });
    runtime_with(workers)?.block_on(server::serve(config, |listening| {
        let addr = listening.addr;
        let scheme = if listening.tls { "https" } else { "http" };
        // The first line on stdout, for scripts and tests that start with port 0; the
        // redirect listener's address, when there is one, on the second.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        if let Some(redirect) = listening.redirect_addr {
            let _ = writeln!(out, "redirecting http://{redirect} to https");
        }
        let _ = out.flush();
        if let Some((source, secret)) = demo_source {
            let host = if addr.ip().is_unspecified() {
                std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
            } else {
                addr
            };
            let target = format!("{scheme}://{host}/ingest/{source}");
            let link = listening.sign_in_path.unwrap_or_default();
            eprintln!(
                "mistgate: demo: a simulated Mist org posts to {target}\n\n  \
                 console: {scheme}://{host}/ui/\n  \
                 sign in once with this link (valid 15 minutes, single use):\n    \
                 {scheme}://{host}{link}\n  \
                 or with an API token (the admin token printed at first start, or\n    \
                 TOKEN=$(mistgate token create --name me --role read)).\n\n  \
                 API: curl -H \"Authorization: Token $TOKEN\" {scheme}://{host}/api/v1/incidents\n"
            );
            sim::demo::spawn(sim::demo::DemoSettings {
                secret,
                ..sim::demo::DemoSettings::new(target)
            });
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}
