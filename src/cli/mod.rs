//! Subcommand bodies for the `mistgate` binary, and what they share.

mod check_config;
mod migrate;
mod mist;
mod replay;
mod send;
mod serve;
mod sign;
mod simulate;
mod token;

pub(crate) use check_config::check_config;
pub(crate) use migrate::migrate;
pub(crate) use mist::{MistCommand, mist};
pub(crate) use replay::replay;
pub(crate) use send::send;
pub(crate) use serve::{ServeArgs, serve};
pub(crate) use sign::{sign, verify};
pub(crate) use simulate::simulate;
pub(crate) use token::{TokenCommand, token};

use std::path::Path;

use anyhow::{Context, Result};
use server::Config;

use crate::LogFormat;

pub(crate) fn init_logging(format: LogFormat) {
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

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    runtime_with(None)
}

pub(crate) fn runtime_with(workers: Option<usize>) -> Result<tokio::runtime::Runtime> {
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

pub(crate) fn load_config(file: Option<&Path>) -> Result<Config> {
    let mut config = match file {
        Some(path) => Config::from_file(path)?,
        None => Config::zero(),
    };
    config.apply_env(&|name| std::env::var(name).ok())?;
    Ok(config)
}

pub(crate) fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}
