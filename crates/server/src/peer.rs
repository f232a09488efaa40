//! The client's address as handlers see it: the connection's peer, or behind a trusted
//! proxy the client it forwards for (see [`crate::addresses::client_ip`]).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;

use crate::addresses::client_ip;
use crate::app_state::AppState;

/// The client's address; `None` when the server was not given the connection's peer (an
/// app driven without a socket, in tests).
#[derive(Clone, Copy, Debug)]
pub struct Client(pub Option<IpAddr>);

impl Client {
    pub fn of(
        parts_headers: &http::HeaderMap,
        extensions: &http::Extensions,
        app: &AppState,
    ) -> Client {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Client(peer.map(|p| client_ip(p, parts_headers, &app.trusted_proxies)))
    }

    /// The address as the audit log and the logs write it.
    pub fn label(self) -> String {
        self.0.map_or_else(|| "unknown".into(), |ip| ip.to_string())
    }
}

impl FromRequestParts<Arc<AppState>> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Client, Infallible> {
        Ok(Client::of(&parts.headers, &parts.extensions, app))
    }
}
