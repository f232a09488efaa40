//! Binding and serving: plain HTTP or HTTPS on `listen`, the redirect listener, each
//! connection's peer address for the handlers, and the graceful shutdown.

use std::convert::Infallible;
use std::future::{IntoFuture, Ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::middleware::AddExtension;
use axum::serve::{IncomingStream, Listener};
use tokio::net::TcpListener;
use tower::{Layer, Service};

use crate::app_state::AppState;
use crate::config::Config;
use crate::tls::{Hangups, Tls, TlsFiles, TlsListener};

/// How long a shutdown waits for requests in flight: with the stages and the close after
/// it, well inside the 10 s that service managers give before SIGKILL.
pub(crate) const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(6);

/// What `listen` serves on.
enum Main {
    Plain(TcpListener),
    Tls(TlsListener, Arc<Tls>),
}

/// The bound listeners, before anything is served.
pub(crate) struct Bound {
    main: Main,
    addr: SocketAddr,
    redirect: Option<(TcpListener, SocketAddr)>,
    hangups: Hangups,
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn tls(&self) -> bool {
        matches!(self.main, Main::Tls(..))
    }

    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(|(_, addr)| *addr)
    }
}

/// The certificate and key of `[server]`, loaded and checked, when it names them.
pub(crate) fn load_tls(config: &Config) -> anyhow::Result<Option<Arc<Tls>>> {
    Ok(TlsFiles::of(&config.server)
        .map(Tls::new)
        .transpose()?
        .map(Arc::new))
}

/// Binds `listen` (HTTPS with `tls`) and the redirect address, and takes SIGHUP over
/// from its default (ending the process).
pub(crate) async fn bind(config: &Config, tls: Option<Arc<Tls>>) -> anyhow::Result<Bound> {
    let hangups = Hangups::register().context("handling SIGHUP")?;
    let tcp = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = tcp.local_addr()?;
    let main = match tls {
        Some(tls) => Main::Tls(TlsListener::new(tcp, tls.acceptor()), tls),
        None => Main::Plain(tcp),
    };
    let redirect = match config.server.redirect_http {
        Some(at) => {
            let tcp = TcpListener::bind(at)
                .await
                .with_context(|| format!("binding [server] redirect_http {at}"))?;
            let addr = tcp.local_addr()?;
            Some((tcp, addr))
        }
        None => None,
    };
    Ok(Bound {
        main,
        addr,
        redirect,
        hangups,
    })
}

/// Serves until SIGINT or SIGTERM, then lets the requests in flight finish (at most
/// [`SHUTDOWN_GRACE`]); `state.stopping` turns true as the shutdown begins.
pub(crate) async fn serve(bound: Bound, state: Arc<AppState>) -> anyhow::Result<()> {
    let Bound {
        main,
        addr,
        redirect,
        hangups,
    } = bound;
    let tls = match &main {
        Main::Tls(_, tls) => Some(tls.clone()),
        Main::Plain(_) => None,
    };
    let reloader = crate::tls::spawn_reloader(tls, hangups);
    let redirect = redirect.map(|(listener, _)| {
        tokio::spawn(crate::redirect::serve(
            listener,
            addr.port(),
            state.stopping.subscribe(),
        ))
    });
    let signalled = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let (signalled, state) = (signalled.clone(), state.clone());
        async move {
            shutdown_signal().await;
            state.stopping.send_replace(true);
            signalled.notify_one();
        }
    };
    let app = WithPeer(crate::router(state));
    let served = match main {
        Main::Plain(listener) => {
            until_drained(
                axum::serve(listener, app).with_graceful_shutdown(shutdown),
                &signalled,
            )
            .await
        }
        Main::Tls(listener, _) => {
            until_drained(
                axum::serve(listener, app).with_graceful_shutdown(shutdown),
                &signalled,
            )
            .await
        }
    };
    reloader.abort();
    if let Some(redirect) = redirect {
        redirect.abort();
    }
    served
}

async fn until_drained(
    serving: impl IntoFuture<Output = std::io::Result<()>>,
    signalled: &tokio::sync::Notify,
) -> anyhow::Result<()> {
    let serving = serving.into_future();
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => served.context("serving HTTP")?,
        () = signalled.notified() => {
            // No new connections from here; requests in flight get a few seconds to
            // be committed and answered.
            tracing::info!("shutting down: finishing the requests in flight");
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut serving).await {
                Ok(served) => served.context("serving HTTP")?,
                Err(_) => tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still open after the grace period are dropped unanswered (nothing of them was acknowledged)"),
            }
        }
    }
    Ok(())
}

/// Gives every request of a connection its peer address as `ConnectInfo<SocketAddr>`,
/// whichever listener accepted it (axum's `into_make_service_with_connect_info` knows
/// only its own).
#[derive(Clone)]
struct WithPeer(Router);

impl<L> Service<IncomingStream<'_, L>> for WithPeer
where
    L: Listener<Addr = SocketAddr>,
{
    type Response = AddExtension<Router, ConnectInfo<SocketAddr>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, connection: IncomingStream<'_, L>) -> Self::Future {
        let peer = ConnectInfo(*connection.remote_addr());
        std::future::ready(Ok(axum::Extension(peer).layer(self.0.clone())))
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
