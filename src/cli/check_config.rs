//! `mistgate check-config`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::load_config;

pub(crate) fn check_config(file: &Path) -> Result<ExitCode> {
    let config = load_config(Some(file))?;
    // What `serve` would refuse at start: a certificate or key it cannot use.
    let tls = match server::tls::TlsFiles::of(&config.server) {
        Some(files) => {
            let loaded = server::tls::load(&files)?;
            let info = loaded
                .info
                .map_or_else(String::new, |info| format!(" ({info})"));
            let redirect = config
                .server
                .redirect_http
                .map_or_else(String::new, |at| format!("\n  redirect http {at} to https"));
            format!("\n  https: {}{info}{redirect}", files.cert.display())
        }
        None => String::new(),
    };
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
    // Where each allow-list lets requests come from, presets expanded.
    let mut allowed = String::new();
    for s in config.sources.iter().filter(|s| !s.allow_ips.is_empty()) {
        let list =
            server::addresses::IpList::parse(&s.allow_ips, true).map_err(anyhow::Error::msg)?;
        let blocks: Vec<String> = list.blocks().collect();
        allowed.push_str(&format!(
            "\n  {} accepts only: {}",
            s.name,
            blocks.join(", ")
        ));
    }
    // The key that seals the API's secrets: a malformed variable would stop `serve`.
    let env_key = std::env::var(server::secret_key::ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    allowed.push_str(&match env_key {
        Some(v) => {
            server::secret_key::load_with(Some(&v), &config.data_dir)?;
            format!("\n  secret key: {} (well formed)", server::secret_key::ENV)
        }
        None => format!(
            "\n  secret key: {} (made at the first start when missing)",
            config.data_dir.join(server::secret_key::FILE).display()
        ),
    });
    if !config.server.trusted_proxies.is_empty() {
        allowed.push_str(&format!(
            "\n  trusted proxies: {}",
            config.server.trusted_proxies.join(", ")
        ));
    }
    println!(
        "{}: ok\n  listen {}{tls}\n  data dir {}\n  sources: {}{allowed}",
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
