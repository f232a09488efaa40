//! `mistgate send`: post files to a receiver.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{read, runtime};

/// The body to send for a file: an envelope as it is, a bare event wrapped.
pub(crate) fn body_for(file: &Path, topic: Option<&str>) -> Result<Vec<u8>> {
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

pub(crate) fn send(
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
