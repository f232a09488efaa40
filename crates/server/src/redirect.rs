//! `[server] redirect_http`: a plain HTTP listener whose every answer is a 308 to the
//! same path over HTTPS. It serves nothing else, health included: a probe should check
//! the HTTPS listener that does the work.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use tokio::net::TcpListener;

/// Serves redirects to HTTPS on `https_port` until `stopping` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    https_port: u16,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let app = Router::new().fallback(redirect).with_state(https_port);
    let stopped = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!("the HTTP redirect listener stopped: {e}");
    }
}

async fn redirect(State(https_port): State<u16>, request: Request) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    match host.and_then(|host| location(host, https_port, path)) {
        Some(to) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            "a Host header naming this server is needed to redirect to HTTPS\n",
        )
            .into_response(),
    }
}

/// `https://<host of authority><:port unless 443><path>`; `None` when `authority` is not
/// one.
fn location(authority: &str, https_port: u16, path_and_query: &str) -> Option<String> {
    let authority: http::uri::Authority = authority.parse().ok()?;
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    Some(match https_port {
        443 => format!("https://{host}{path_and_query}"),
        port => format!("https://{host}:{port}{path_and_query}"),
    })
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn keeps_host_and_path_and_swaps_the_port() {
        let to = |authority, port| location(authority, port, "/ingest/hq?x=1");
        assert_eq!(
            to("gate.example.net", 443).as_deref(),
            Some("https://gate.example.net/ingest/hq?x=1")
        );
        assert_eq!(
            to("gate.example.net:80", 8443).as_deref(),
            Some("https://gate.example.net:8443/ingest/hq?x=1")
        );
        assert_eq!(
            to("[2001:db8::1]:8080", 443).as_deref(),
            Some("https://[2001:db8::1]/ingest/hq?x=1")
        );
        assert_eq!(
            to("user@gate.example.net", 443).as_deref(),
            Some("https://gate.example.net/ingest/hq?x=1")
        );
    }

    #[test]
    fn refuses_what_is_not_an_authority() {
        for bad in ["", "gate.example.net/evil", "a b", "[::1", ":80"] {
            assert_eq!(location(bad, 443, "/"), None, "{bad:?}");
        }
    }
}
