//! `mistgate check-config`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::load_config;

pub(crate) fn check_config(file: &Path) -> Result<ExitCode> {
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
