//! `/api/v1/sources`: the sources mistgate accepts webhooks for. Those of the config file
//! are listed read-only; those added here are kept in the database (secrets sealed,
//! never shown again) and take effect at once, with no restart (what `mistgate mist
//! setup` uses).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use store::SourceRow;
use utoipa::ToSchema;

use super::answer::List;
use super::correlation::parse_body;
use crate::access::audit::Before;
use crate::app_state::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::sources::{Origin, Source, StoredSource};
use deliver::clock::now_us;

/// A source as the API shows it: never its secrets.
#[derive(Serialize, ToSchema)]
pub struct SourceView {
    /// `POST /ingest/{name}`.
    name: String,
    /// `config` (the config file: read-only here) or `api`.
    origin: Origin,
    /// How many secrets it has (0: it accepts unsigned webhooks; 2: during a rotation).
    secrets: usize,
    accept_v1_signature: bool,
    /// The addresses that may post (empty: any).
    allow_ips: Vec<String>,
}

impl From<&Source> for SourceView {
    fn from(s: &Source) -> SourceView {
        SourceView {
            name: s.name.clone(),
            origin: s.origin,
            secrets: s.secrets.len(),
            accept_v1_signature: s.accept_v1,
            allow_ips: s.allow_ips.clone(),
        }
    }
}

/// The body of `POST /api/v1/sources`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSourceBody {
    /// 1 to 64 letters, digits, `-`, `_` or `.`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: String,
    /// Zero, one or two shared secrets (two while rotating). Write-only.
    #[serde(default)]
    #[schema(max_items = 2)]
    secrets: Vec<String>,
    /// Also accept `X-Mist-Signature` (HMAC-SHA1) when `-v2` is absent.
    #[serde(default)]
    accept_v1_signature: bool,
    /// Addresses, CIDR blocks and `mist:<cloud>` presets that may post; empty: any.
    #[serde(default)]
    allow_ips: Vec<String>,
}

/// The body of `PUT /api/v1/sources/{name}`: the settings replace the source's; left out,
/// `secrets` keeps the secrets it has.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    /// Write-only; left out: unchanged.
    #[schema(max_items = 2)]
    secrets: Option<Vec<String>>,
    #[serde(default)]
    accept_v1_signature: bool,
    #[serde(default)]
    allow_ips: Vec<String>,
}

/// List sources
///
/// The config file's sources and those added through the API, by name; never secrets.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sources",
    responses(
        (status = 200, description = "Every source.", body = List<SourceView>),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn list(State(app): State<Arc<AppState>>) -> Json<List<SourceView>> {
    let items = app
        .sources
        .all()
        .iter()
        .map(|s| SourceView::from(s.as_ref()))
        .collect();
    Json(List::new(items, None))
}

/// Add a source
///
/// Webhooks are accepted at `POST /ingest/{name}` from the answer on, with no restart.
/// Admin only.
#[utoipa::path(
    post,
    path = "/api/v1/sources",
    tag = "sources",
    request_body(content = NewSourceBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Added.", body = SourceView),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a source of that name exists.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a field breaks its schema, or a rule it cannot state: a secret is empty, an `allow_ips` entry is neither an address, a CIDR block nor a known `mist:<cloud>`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn create(
    State(app): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let body: NewSourceBody = typed(&body)?;
    if body.name == crate::backfill::SOURCE {
        return Err(ApiError::Conflict(format!(
            "`{}` is the name of what backfill reads from Mist's API",
            body.name
        )));
    }
    if app.sources.get(&body.name).is_some() {
        return Err(ApiError::Conflict(format!(
            "a source named `{}` exists",
            body.name
        )));
    }
    let stored = StoredSource {
        secrets: body.secrets,
        accept_v1_signature: body.accept_v1_signature,
        allow_ips: body.allow_ips,
    };
    let source = save(&app, &body.name, stored, None).await?;
    tracing::info!(source = %source.name, "source added through the API");
    Ok((StatusCode::CREATED, Json(source)))
}

/// Change a source
///
/// Replaces a source added through the API (the config file's are read-only: 409).
/// Admin only.
#[utoipa::path(
    put,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    params(("name" = String, Path, description = "The source's name.")),
    request_body(content = SourceBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed.", body = SourceView),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no source of that name.", body = ErrorBody),
        (status = 409, description = "`conflict`: the source is the config file's.", body = ErrorBody),
        (status = 422, description = "`invalid_body`: as when adding one.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn update(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    Extension(before): Extension<Before>,
    body: Bytes,
) -> Result<Json<SourceView>, ApiError> {
    let current = api_source(&app, &name)?;
    before.set(SourceView::from(current.as_ref()));
    let body: SourceBody = typed(&body)?;
    let stored = StoredSource {
        secrets: body.secrets.unwrap_or_else(|| {
            current
                .secrets
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        }),
        accept_v1_signature: body.accept_v1_signature,
        allow_ips: body.allow_ips,
    };
    Ok(Json(save(&app, &name, stored, Some(&current)).await?))
}

/// Remove a source
///
/// Removes a source added through the API: webhooks to it get 404 from then on. The
/// config file's are read-only (409). Admin only.
#[utoipa::path(
    delete,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    params(("name" = String, Path, description = "The source's name.")),
    responses(
        (status = 200, description = "Removed; what it was.", body = SourceView),
        (status = 401, description = "`unauthorized`: no valid API token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the token is not `admin`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no source of that name.", body = ErrorBody),
        (status = 409, description = "`conflict`: the source is the config file's.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_token" = []))
)]
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Path(name): Path<String>,
    Extension(before): Extension<Before>,
) -> Result<Json<SourceView>, ApiError> {
    let current = api_source(&app, &name)?;
    let view = SourceView::from(current.as_ref());
    before.set(&view);
    app.store.delete_source(&name).await?;
    app.sources.remove(&name);
    tracing::info!(source = %name, "source removed through the API");
    Ok(Json(view))
}

/// The source `name` if the API may change it.
fn api_source(app: &AppState, name: &str) -> Result<Arc<Source>, ApiError> {
    let source = app
        .sources
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no source named `{name}`")))?;
    if source.origin == Origin::Config {
        return Err(ApiError::Conflict(format!(
            "source `{name}` is defined in the config file: change it there"
        )));
    }
    Ok(source)
}

fn typed<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_value(parse_body(body)?).map_err(|e| ApiError::InvalidBody {
        detail: e.to_string(),
    })
}

/// Checks, stores (sealed) and puts the source in force.
async fn save(
    app: &AppState,
    name: &str,
    stored: StoredSource,
    previous: Option<&Source>,
) -> Result<SourceView, ApiError> {
    let config = stored.as_config(name);
    config
        .check()
        .map_err(|detail| ApiError::InvalidBody { detail })?;
    let now = now_us();
    let created_at = match previous {
        Some(_) => app
            .store
            .sources()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .map_or(now, |r| r.created_at),
        None => now,
    };
    app.store
        .put_source(SourceRow {
            name: name.to_string(),
            record: serde_json::to_string(&stored).expect("a source serialises"),
            created_at,
            modified_at: now,
        })
        .await?;
    let source = Source::new(&config, Origin::Api);
    let view = SourceView::from(&source);
    app.sources.put(source);
    Ok(view)
}

/// The sources added through the API, read at start (a config file's source of the same
/// name wins, and the stored one is left alone with a warning).
pub async fn load_stored(app: &AppState) -> Result<usize, store::StoreError> {
    let rows = app.store.sources().await?;
    let mut loaded = 0;
    for row in rows {
        let stored: StoredSource = match serde_json::from_str(&row.record) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(source = %row.name, error = %e, "a stored source could not be read; it is not accepted");
                continue;
            }
        };
        let config = stored.as_config(&row.name);
        if let Err(e) = config.check() {
            tracing::warn!(source = %row.name, error = %e, "a stored source breaks a check; it is not accepted");
            continue;
        }
        if app.sources.put(Source::new(&config, Origin::Api)) {
            loaded += 1;
        } else {
            tracing::warn!(source = %row.name, "the config file defines a source of this name: the one added through the API is not used");
        }
    }
    Ok(loaded)
}

/// How often an instance sharing its database reads the sources added at run time again.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Brings the sources added at run time in line with the store's: what another instance
/// on the same database added, changed or removed. A source whose settings did not change
/// is kept as it is (with its counters).
pub async fn sync_stored(app: &AppState) -> Result<(), store::StoreError> {
    let rows = app.store.sources().await?;
    let mut wanted = std::collections::HashSet::new();
    for row in rows {
        let Ok(stored) = serde_json::from_str::<StoredSource>(&row.record) else {
            continue;
        };
        let config = stored.as_config(&row.name);
        if config.check().is_err() {
            continue;
        }
        wanted.insert(row.name.clone());
        match app.sources.get(&row.name) {
            Some(s) if s.origin == Origin::Config || s.same_settings(&config) => {}
            _ => {
                app.sources.put(Source::new(&config, Origin::Api));
            }
        }
    }
    for source in app.sources.all() {
        if source.origin == Origin::Api && !wanted.contains(&source.name) {
            app.sources.remove(&source.name);
        }
    }
    Ok(())
}

/// With several instances on one database (PostgreSQL): keeps this instance's sources in
/// line with the others', every [`SYNC_EVERY`], until shutdown.
pub fn spawn_sync(app: std::sync::Arc<AppState>) {
    let mut stopping = app.stopping.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(SYNC_EVERY) => {}
                _ = stopping.changed() => return,
            }
            if let Err(e) = sync_stored(&app).await {
                tracing::warn!(error = %e, "could not read the sources added at run time; trying again");
            }
        }
    });
}
