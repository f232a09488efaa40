//! The mistgate side of `mist setup`/`teardown`: the source, through the running
//! server's API, or straight into the data dir when none answers.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A running mistgate's API, with the admin token from `MISTGATE_API_TOKEN`.
pub(super) struct Mistgate {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Mistgate {
    pub(super) fn new(base: &str) -> Result<Mistgate> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Mistgate {
            base: base.trim_end_matches('/').to_string(),
            token: std::env::var("MISTGATE_API_TOKEN").unwrap_or_default(),
            http,
        })
    }

    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// Whether a mistgate answers there at all.
    pub(super) async fn answers(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        if self.token.is_empty() {
            bail!(
                "MISTGATE_API_TOKEN is not set: an admin token of {} is needed (`mistgate token create --role admin`)",
                self.base
            );
        }
        let mut request = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("Token {}", self.token));
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {}/api/v1{path}", self.base))?;
        let status = response.status().as_u16();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// Adds the source with `secret`, or gives the existing one (added through the API)
    /// that secret alone.
    pub(super) async fn put_source(&self, name: &str, secret: &str) -> Result<()> {
        let body = json!({"name": name, "secrets": [secret]});
        let (status, answer) = self
            .call(reqwest::Method::POST, "/sources", Some(body))
            .await?;
        match status {
            201 => Ok(()),
            409 => {
                let path = format!("/sources/{name}");
                let (status, answer) = self
                    .call(
                        reqwest::Method::PUT,
                        &path,
                        Some(json!({"secrets": [secret]})),
                    )
                    .await?;
                if status == 200 {
                    Ok(())
                } else {
                    bail!(
                        "{} could not change source `{name}` ({status}): {}",
                        self.base,
                        detail(&answer)
                    )
                }
            }
            _ => bail!(
                "{} could not add source `{name}` ({status}): {}",
                self.base,
                detail(&answer)
            ),
        }
    }

    /// Removes the source (added through the API); false when there was none.
    pub(super) async fn delete_source(&self, name: &str) -> Result<bool> {
        let (status, answer) = self
            .call(reqwest::Method::DELETE, &format!("/sources/{name}"), None)
            .await?;
        match status {
            200 => Ok(true),
            404 => Ok(false),
            _ => bail!(
                "{} could not remove source `{name}` ({status}): {}",
                self.base,
                detail(&answer)
            ),
        }
    }

    /// Waits (at most `wait`) for a `ping` event from `source` received after `since`
    /// (unix µs); whether it came.
    pub(super) async fn wait_for_ping(
        &self,
        source: &str,
        since: i64,
        wait: Duration,
    ) -> Result<bool> {
        let deadline = Instant::now() + wait;
        let path = format!("/events?topic=ping&source={source}&limit=20");
        loop {
            let (status, answer) = self.call(reqwest::Method::GET, &path, None).await?;
            if status != 200 {
                bail!(
                    "{} answered {status} to the event search: {}",
                    self.base,
                    detail(&answer)
                );
            }
            let arrived = answer["items"].as_array().is_some_and(|items| {
                items.iter().any(|e| {
                    e["received_at"]
                        .as_str()
                        .and_then(|t| server::parse_instant(t).ok())
                        .is_some_and(|at| at >= since)
                })
            });
            if arrived {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            // Waiting on another system (Mist's ping): a poll, not a synchronisation.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn detail(answer: &Value) -> String {
    answer["detail"]
        .as_str()
        .map_or_else(|| answer.to_string(), str::to_string)
}

/// Adds (or replaces) the source in the data dir's database, its secret sealed with the
/// data dir's key, for a server that is not running: it takes the source at its start.
pub(super) fn put_source_offline(data_dir: &Path, name: &str, secret: &str) -> Result<()> {
    server::data_dir::create(data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    let env = std::env::var(server::secret_key::ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let key = server::secret_key::load_with(env.as_deref(), data_dir)?;
    let path = data_dir.join(server::data_dir::DATABASE);
    let conn = store::sqlite::access::open(&path, true)
        .with_context(|| format!("opening {}", path.display()))?;
    let stored = server::sources::StoredSource {
        secrets: vec![secret.to_string()],
        ..Default::default()
    };
    stored
        .as_config(name)
        .check()
        .map_err(|e| anyhow::anyhow!("source `{name}`: {e}"))?;
    let now = server::now_us();
    let existing = store::sqlite::sources::sources(&conn, Some(&key.sealer))?
        .into_iter()
        .find(|r| r.name == name);
    let row = store::SourceRow {
        name: name.to_string(),
        record: serde_json::to_string(&stored)?,
        created_at: existing.map_or(now, |r| r.created_at),
        modified_at: now,
    };
    store::sqlite::sources::put_source(&conn, Some(&key.sealer), &row)?;
    Ok(())
}
