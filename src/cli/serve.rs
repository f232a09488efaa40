//! `mistgate serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{init_logging, load_config, runtime_with};
use crate::LogFormat;

pub(crate) fn serve(
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
            let link = listening.sign_in_path.unwrap_or_default();
            eprintln!(
                "mistgate: demo: a simulated Mist org posts to {target}\n\n  \
                 console: http://{host}/ui/\n  \
                 sign in once with this link (valid 15 minutes, single use):\n    \
                 http://{host}{link}\n  \
                 or with the API token (printed at first start, kept in the data dir's api_token).\n\n  \
                 API: curl -H \"Authorization: Token $TOKEN\" http://{host}/api/v1/incidents\n"
            );
            sim::demo::spawn(sim::demo::DemoSettings {
                secret,
                ..sim::demo::DemoSettings::new(target)
            });
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}
