//! `mistgate migrate --from DATA_DIR --to postgres://...`: copies a data dir's SQLite
//! history into a PostgreSQL database (see `store::postgres::import`), with a progress
//! bar, then prints the rows of every table on both sides and exits non-zero when they
//! differ. Running it again after an interruption continues where it stopped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use server::secret_key::{self, KeySource};
use store::postgres::PgStore;
use store::postgres::import::{self, KeyCheck, Options};

pub(crate) fn migrate(from: &Path, to: &str, chunk_rows: usize) -> Result<ExitCode> {
    let db = import::database_in(from);
    if !db.exists() {
        bail!(
            "no mistgate data in {} (--from names the data dir of `mistgate serve`)",
            from.display()
        );
    }
    let shown = server::config::redacted_url(to);
    let key = key(from)?;
    let sealer = key.as_ref().map(|k| k.sealer.clone());
    let source = key.as_ref().map(|k| describe(&k.source));
    match import::check_key(&db, sealer.as_ref()).context("reading the data dir's secrets")? {
        KeyCheck::NothingSealed | KeyCheck::Opens => {}
        KeyCheck::NoKey => bail!(
            "the secrets in {} are sealed and there is no key: the data dir has no {}; set {} to the key they were sealed with",
            db.display(),
            secret_key::FILE,
            secret_key::ENV
        ),
        KeyCheck::DoesNotOpen => bail!(
            "the key from {} does not open the secrets in {}: give the key they were sealed with",
            source.as_deref().unwrap_or("?"),
            db.display()
        ),
    }

    let runtime = super::runtime()?;
    let report = runtime.block_on(async {
        let pg = PgStore::open(to, sealer)
            .await
            .with_context(|| format!("opening the PostgreSQL database {shown}"))?;
        eprintln!("copying {} into {shown}", db.display());
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>16} [{bar:40}] {human_pos}/{human_len} rows ({eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        let options = Options {
            chunk_rows,
            max_chunks: None,
        };
        let progress = |p: import::Progress| {
            bar.set_length(p.total);
            bar.set_position(p.done);
            bar.set_message(p.table);
        };
        let report = import::copy(&db, &pg, &options, &progress).await;
        bar.finish_and_clear();
        report.context("copying the history")
    })?;

    println!(
        "{:<18} {:>12} {:>12} {:>12}",
        "TABLE", "SQLITE", "POSTGRESQL", "COPIED"
    );
    for t in &report.tables {
        let mark = if t.sqlite == t.postgres {
            ""
        } else {
            "  differs"
        };
        println!(
            "{:<18} {:>12} {:>12} {:>12}{mark}",
            t.table, t.sqlite, t.postgres, t.copied
        );
    }
    eprintln!(
        "copied {} rows in {:.1} s",
        report.copied(),
        report.elapsed.as_secs_f64()
    );
    if !report.counts_match() {
        eprintln!("the counts differ: PostgreSQL does not hold this history as SQLite does");
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("the counts match: every table holds in PostgreSQL what it holds in SQLite");
    match source {
        Some(source) => eprintln!(
            "webhook and source secrets were copied sealed with the key from {source}: run every mistgate on {shown} with {} set to that key",
            secret_key::ENV
        ),
        None => eprintln!("no secrets were sealed (no key in the data dir)"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The data dir's key, from `MISTGATE_SECRET_KEY` or its key file; `None` when neither
/// is there (nothing is made: a migration never writes the data dir's key).
fn key(data_dir: &Path) -> Result<Option<secret_key::SecretKey>> {
    let env = std::env::var(secret_key::ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let file: PathBuf = data_dir.join(secret_key::FILE);
    if env.is_none() && !file.exists() {
        return Ok(None);
    }
    Ok(Some(secret_key::load_with(env.as_deref(), data_dir)?))
}

/// Where a key came from, for a person (never the key).
fn describe(source: &KeySource) -> String {
    match source {
        KeySource::Env => secret_key::ENV.to_string(),
        KeySource::File { path, .. } => format!("the file {}", path.display()),
    }
}
