//! The mistgate server: ingest, the query API, health and metrics, and the background
//! stages, wired over one [`store::Store`].
//!
//! Handlers are thin: they read their inputs through extractors, call the pure crates
//! (`mist`) and the store, and fail through one [`ApiError`] type.

pub mod access;
pub mod addresses;
mod api;
mod app_state;
mod auth;
pub mod backfill;
pub mod config;
mod console;
mod correlation_stage;
pub mod data_dir;
mod error;
mod health;
mod ingest;
mod listen;
pub mod mist_sync;
mod peer;
mod pruner;
mod redirect;
pub mod replay;
pub mod secret_key;
pub mod sources;
mod stages;
mod telemetry;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, post};
use store::{SqliteConfig, SqliteStore, Store};

pub use app_state::AppState;
pub use config::Config;
pub use error::ApiError;

/// Parses a time as the API does: RFC 3339, or epoch seconds. Returns unix µs.
pub fn parse_instant(value: &str) -> Result<i64, ApiError> {
    api::params::instant("time", Some(value))?.ok_or_else(|| ApiError::InvalidQuery {
        detail: "an empty time".into(),
    })
}

/// A correlation record (device, incident, silence) as the API shows it: its unix-µs
/// time fields as RFC 3339.
pub fn present(record: serde_json::Value) -> serde_json::Value {
    api::correlation::with_times(record)
}

/// Now, in unix µs (the clock every stamp mistgate writes comes from).
pub fn now_us() -> i64 {
    deliver::clock::now_us()
}

/// Unix µs as the API shows times: RFC 3339 UTC with microseconds.
pub fn format_instant(us: i64) -> String {
    api::params::rfc3339(us)
}

/// The whole HTTP app over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let api = api::routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::guard,
    ));
    Router::new()
        .route("/ingest/{source}", post(ingest::ingest))
        .merge(console::routes())
        .nest("/api/v1", api)
        // Outside the token layer: the document is open, like health and metrics.
        .route("/api/v1/openapi.json", get(api::openapi::document))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}

/// What `serve` tells its caller once it listens.
pub struct Listening {
    /// The bound address.
    pub addr: SocketAddr,
    /// The path and query of a one-time console sign-in link (`/ui/login?key=...`), when
    /// `console_sign_in_link` was asked for.
    pub sign_in_path: Option<String>,
    /// Whether `addr` serves HTTPS (`[server] tls_cert`).
    pub tls: bool,
    /// The bound address of `[server] redirect_http`.
    pub redirect_addr: Option<SocketAddr>,
}

/// Opens the store, prepares the token, binds, calls `on_listening` with the bound
/// address, and serves until SIGINT or SIGTERM.
pub async fn serve(config: Config, on_listening: impl FnOnce(Listening)) -> anyhow::Result<()> {
    let tls = listen::load_tls(&config)?;
    let metrics = telemetry::install();
    let made = if config.storage.postgres_url().is_some() {
        data_dir::create_dir(&config.data_dir)
    } else {
        data_dir::create(&config.data_dir)
    };
    made.with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
    let key = secret_key::load(&config.data_dir)?;
    let store: Arc<dyn Store> = match config.storage.postgres_url() {
        Some(url) => {
            let shown = config::redacted_url(url);
            tracing::info!(database = %shown, "the log is kept in PostgreSQL");
            Arc::new(
                store::postgres::PgStore::open(url, Some(key.sealer.clone()))
                    .await
                    .with_context(|| format!("opening the store in {shown}"))?,
            )
        }
        None => {
            let mut sqlite = SqliteConfig::in_data_dir(&config.data_dir);
            sqlite.synchronous = config.storage.synchronous;
            sqlite.sealer = Some(key.sealer.clone());
            Arc::new(
                SqliteStore::open(sqlite)
                    .map_err(|e| key.explain(e))
                    .with_context(|| {
                        format!("opening the store in {}", config.data_dir.display())
                    })?,
            )
        }
    };
    let tokens = start_tokens(&config, store.clone()).await?;
    if config.zero_config {
        tracing::warn!(
            "no --config given: source `default` (POST /ingest/default) accepts UNSIGNED webhooks; \
             configure a source with a secret before exposing this server"
        );
    } else {
        for s in config.sources.iter().filter(|s| s.secrets.is_empty()) {
            tracing::warn!(source = %s.name, "source has no secret: it accepts unsigned webhooks");
        }
    }
    let stages = deliver::supervise::Stages::new();
    if let Some(cluster) = store.cluster() {
        // What other instances commit wakes this one's stages and event streams.
        let mut commits = cluster
            .commits()
            .await
            .context("listening for the other instances' commits")?;
        let wakes = stages.wakes().clone();
        tokio::spawn(async move {
            while let Some(committed) = commits.recv().await {
                wakes.committed(match committed {
                    store::Committed::Events => deliver::tail::Log::Events,
                    store::Committed::Incidents => deliver::tail::Log::Incidents,
                });
            }
        });
    }
    pruner::spawn(
        store.clone(),
        config.storage.retention_days,
        config.ingest.dedup_window,
        config.storage.prune_interval,
        stages.clone(),
    );
    let stage = if config.correlation.enabled {
        config
            .correlation
            .settings()
            .validate()
            .context("[correlation] settings")?;
        correlation_stage::spawn(
            store.clone(),
            config.correlation.settings(),
            mist::Names::with_sites(config.routing.site_names.clone()),
            stages.clone(),
            config.silence_watches(),
        )
        .await
        .context("starting the correlation stage")?
    } else {
        tracing::info!("correlation is turned off: only the log is kept");
        correlation_stage::disabled()
    };
    // Names from Mist's API (`[mist]`), for the messages of the routing stage.
    let api_names = deliver::engine::SharedNames::default();
    let delivery = if config.delivery.enabled {
        let mut settings = config.engine_settings().context("[[routes]]")?;
        settings.routing.api_names = api_names.clone();
        let engine = deliver::Engine::start(store.clone(), settings, stages.clone())
            .await
            .context("starting the delivery engine")?;
        Some(Arc::new(engine))
    } else {
        tracing::info!("delivery is turned off: webhooks and routes are kept but nothing is sent");
        None
    };
    let mut state = AppState::new(
        &config,
        store,
        tokens.clone(),
        metrics,
        stage,
        delivery,
        stages,
    );
    state.site_names =
        console::SiteNames::with_api(config.routing.site_names.clone(), api_names.clone());
    let mist = mist_sync::client(&config.mist).context("[mist]")?;
    let (hints, hints_rx) = mist_sync::hints::Hints::channel(api_names.clone());
    state.mist_hints = mist.is_some().then_some(hints);
    let state = Arc::new(state);
    tokens.spawn_upkeep(state.stopping.subscribe());
    mist_sync::spawn(
        &config.mist,
        mist.clone(),
        state.store.clone(),
        state.stage.clone(),
        api_names,
        hints_rx,
        state.stopping.subscribe(),
    );
    backfill::spawn(&config.mist, mist, state.clone());
    let added = api::sources::load_stored(&state)
        .await
        .context("reading the sources added through the API")?;
    if added > 0 {
        tracing::info!(
            sources = added,
            "sources added through the API are accepted too"
        );
    }
    if config.storage.postgres_url().is_some() {
        // Other instances on the database may add, change or remove sources.
        api::sources::spawn_sync(state.clone());
    }
    let bound = listen::bind(&config, tls).await?;
    let addr = bound.addr();
    tracing::info!(%addr, tls = bound.tls(), data_dir = %config.data_dir.display(), sources = config.sources.len(), "mistgate is serving");
    let sign_in_path = if config.console_sign_in_link {
        let key = state
            .sessions
            .issue_one_time(deliver::clock::now_us())
            .context("making a console sign-in link")?;
        Some(format!("/ui/login?key={key}"))
    } else {
        None
    };
    on_listening(Listening {
        addr,
        sign_in_path,
        tls: bound.tls(),
        redirect_addr: bound.redirect_addr(),
    });
    listen::serve(bound, state.clone()).await?;
    // Every acknowledged request is committed. The stages write their cursors and what
    // they buffered, then the database is closed cleanly (no WAL left to replay).
    if !state.stages.stop(STAGES_GRACE).await {
        tracing::warn!(grace = ?STAGES_GRACE, "a stage did not stop in time; it resumes from its last commit");
    }
    state.store.close().await.context("closing the store")?;
    tracing::info!("stopped");
    Ok(())
}

/// How long a shutdown waits for the stages, after the requests in flight
/// ([`listen::SHUTDOWN_GRACE`]).
const STAGES_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The API tokens: the first start makes the `admin` token (shown once), unless
/// `api_token` is configured; then the registry, kept fresh until shutdown.
async fn start_tokens(
    config: &Config,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<access::Tokens>> {
    let now = deliver::clock::now_us();
    let configured = config.api_token.as_deref();
    match access::bootstrap(store.as_ref(), configured.is_some(), &config.data_dir, now)
        .await
        .context("preparing the API tokens")?
    {
        access::Bootstrap::Generated(token) => eprintln!(
            "\nmistgate: generated the admin API token (kept only as a hash; shown this once):\n\n    {token}\n\n  use it as `Authorization: Token <key>`, and to sign in to the console at /ui/;\n  more tokens: `mistgate token create --name NAME --role read|operate|admin`\n"
        ),
        access::Bootstrap::Imported => tracing::info!(
            "the api_token file of an earlier version is now the `admin` token, kept as a hash; the file is removed"
        ),
        access::Bootstrap::Nothing => {}
    }
    let tokens = Arc::new(
        access::Tokens::load(store, configured)
            .await
            .context("reading the API tokens")?,
    );
    Ok(tokens)
}
