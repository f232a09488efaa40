//! Sends a batch: UDP datagrams, or one TCP/TLS connection carrying every frame.
//!
//! Syslog has no acknowledgement: success means every datagram left, or every byte was
//! written and the connection closed cleanly. Connection failures, resets and timeouts
//! are retried; an address the SSRF guard forbids, or a bad config, is not.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::rustls;

use super::{Config, Transport, encode, split_address};
use crate::client::{Exchange, reachable};
use crate::schedule::Outcome;
use crate::targets::{Context, Message, local_failure};

pub async fn send(config: &Config, messages: &[Message], ctx: &Context<'_>) -> Exchange {
    let started = Instant::now();
    if messages.is_empty() {
        return local_failure(Outcome::Success, "an empty batch");
    }
    let frames = match encode(config, messages) {
        Ok(f) => f,
        Err(e) => return local_failure(Outcome::Refused(e.clone()), e),
    };
    let settings = ctx.client.settings();
    let shown = serde_json::json!({
        "Syslog-Transport": [config.transport.as_str()],
        "Syslog-Address": [config.address],
        "Syslog-Messages": [frames.len().to_string()],
    })
    .to_string();
    let joined: Vec<u8> = frames.join(&b'\n');
    let exchange = |outcome: Outcome, error: Option<String>| Exchange {
        outcome,
        status_code: None,
        latency: started.elapsed(),
        error,
        request_headers: shown.clone(),
        request_body: recorded(&joined, settings.record_body_bytes),
        response_headers: "{}".into(),
        response_body: String::new(),
    };
    let work = async {
        let (host, port) = split_address(&config.address)
            .map_err(|e| (Outcome::Refused(e.0.clone()), format!("address: {e}")))?;
        let addrs = guarded_addrs(&host, port, settings.allow_private_targets).await?;
        match config.transport {
            Transport::Udp => send_udp(&addrs, &frames).await,
            Transport::Tcp => {
                let tcp = connect(&addrs).await?;
                write_all(tcp, &frames).await
            }
            Transport::Tls => {
                let tls_config = client_config(config.ca_file.as_deref())
                    .map_err(|e| (Outcome::Refused(e.clone()), e))?;
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| (Outcome::Refused(e.to_string()), format!("address: {e}")))?;
                let tcp = connect(&addrs).await?;
                let tls = tokio_rustls::TlsConnector::from(tls_config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| (Outcome::Connect, format!("TLS handshake: {e}")))?;
                write_all(tls, &frames).await
            }
        }
    };
    match tokio::time::timeout(settings.timeout, work).await {
        Ok(Ok(())) => exchange(Outcome::Success, None),
        Ok(Err((outcome, error))) => exchange(outcome, Some(error)),
        Err(_) => exchange(
            Outcome::Timeout,
            Some(format!("no completion within {:?}", settings.timeout)),
        ),
    }
}

type Failure = (Outcome, String);

/// What an IO error means for the retry schedule.
fn io_failure(what: &str, e: std::io::Error) -> Failure {
    use std::io::ErrorKind::*;
    let outcome = match e.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected
        | HostUnreachable | NetworkUnreachable | AddrNotAvailable => Outcome::Connect,
        TimedOut => Outcome::Timeout,
        _ => Outcome::Other(format!("{what}: {e}")),
    };
    (outcome, format!("{what}: {e}"))
}

/// The addresses of `host`, all of them allowed by the SSRF guard (a forbidden one
/// refuses the whole answer, as for HTTP targets); connections use exactly these.
pub(crate) async fn guarded_addrs(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| (Outcome::Dns, format!("DNS lookup failed: {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err((
            Outcome::Dns,
            format!("DNS lookup failed: {host}: no addresses"),
        ));
    }
    if let Some(a) = addrs.iter().find(|a| !reachable(a.ip(), allow_private)) {
        let why = format!("refused by the SSRF guard: {} may not be reached", a.ip());
        return Err((Outcome::Refused(why.clone()), why));
    }
    Ok(addrs)
}

/// The first `limit` bytes of what was sent, as text, marked when cut.
pub(crate) fn recorded(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!(
        "{}…[{} bytes in all]",
        String::from_utf8_lossy(&bytes[..limit]),
        bytes.len()
    )
}

async fn send_udp(addrs: &[SocketAddr], frames: &[Vec<u8>]) -> Result<(), Failure> {
    let to = addrs[0];
    let local: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| io_failure("UDP socket", e))?;
    socket
        .connect(to)
        .await
        .map_err(|e| io_failure("UDP connect", e))?;
    for frame in frames {
        socket
            .send(frame)
            .await
            .map_err(|e| io_failure("UDP send", e))?;
    }
    Ok(())
}

/// Connects to the first address that answers.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(io_failure(&format!("connect to {addr}"), e)),
        }
    }
    Err(last.expect("at least one address"))
}

/// Writes every frame, then closes the sending side (for TLS with a close_notify) so
/// the collector sees a clean end.
async fn write_all<S: AsyncWrite + Unpin>(
    mut stream: S,
    frames: &[Vec<u8>],
) -> Result<(), Failure> {
    for frame in frames {
        stream
            .write_all(frame)
            .await
            .map_err(|e| io_failure("write", e))?;
    }
    stream.flush().await.map_err(|e| io_failure("flush", e))?;
    stream.shutdown().await.map_err(|e| io_failure("close", e))
}

/// The certificates of a PEM file (at least one).
pub(crate) fn read_roots(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

/// The TLS client settings for a CA file (or the system's roots), built once each.
fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    static CACHE: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>> =
        OnceLock::new();
    let key = ca_file.map(Path::to_path_buf);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("TLS config cache").get(&key) {
        return Ok(c.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_roots(path).map_err(|e| format!("ca_file: {e}"))? {
                roots
                    .add(cert)
                    .map_err(|e| format!("ca_file: {}: {e}", path.display()))?;
            }
        }
        None => {
            // Unreadable entries of the system store are skipped, as browsers do.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let config = Arc::new(config);
    cache
        .lock()
        .expect("TLS config cache")
        .insert(key, config.clone());
    Ok(config)
}
