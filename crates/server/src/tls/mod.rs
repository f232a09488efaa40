//! HTTPS with rustls (ring): the certificate chain and key from `[server] tls_cert` and
//! `tls_key`, served through a resolver whose certificate a reload swaps. A reload only
//! changes what new handshakes get: connections already open keep theirs.

mod describe;
mod listener;
mod reload;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;

pub use describe::CertInfo;
pub(crate) use listener::TlsListener;
pub(crate) use reload::{Hangups, spawn_reloader};

use crate::config::ServerConfig;

/// The two PEM files of `[server]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files, when both are configured.
    pub fn of(server: &ServerConfig) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: server.tls_cert.clone()?,
            key: server.tls_key.clone()?,
        })
    }
}

/// Why the certificate or key cannot be served. Names the file and the `[server]` key it
/// came from, never anything the file holds.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("tls_cert {0}: cannot read it: {1}")]
    ReadCert(String, std::io::Error),
    #[error("tls_key {0}: cannot read it: {1}")]
    ReadKey(String, std::io::Error),
    #[error("tls_cert {0}: no certificate found (expected a PEM CERTIFICATE block)")]
    NoCertificate(String),
    #[error("tls_cert {0}: {1}")]
    BadCertPem(String, &'static str),
    #[error(
        "tls_key {0}: no private key found (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"
    )]
    NoKey(String),
    #[error(
        "tls_key {0}: the key is encrypted (ENCRYPTED PRIVATE KEY); give it unencrypted, readable only by mistgate"
    )]
    EncryptedKey(String),
    #[error("tls_key {0}: {1}")]
    BadKeyPem(String, &'static str),
    #[error("tls_key {0}: the key cannot be used: {1}")]
    UnusableKey(String, String),
    #[error("tls_cert {0}: the certificate cannot be used: {1}")]
    UnusableCertificate(String, String),
    #[error("tls_key {key} does not match the certificate of tls_cert {cert}")]
    Mismatch { cert: String, key: String },
}

/// A certificate and key read from their files, ready to serve.
pub struct Loaded {
    key: Arc<CertifiedKey>,
    /// What the leaf says, for the log (`None` when it could not be read for that).
    pub info: Option<CertInfo>,
}

/// Reads and checks the chain and key: PEM, a usable key, and the key the leaf names.
pub fn load(files: &TlsFiles) -> Result<Loaded, TlsError> {
    let cert_name = files.cert.display().to_string();
    let key_name = files.key.display().to_string();
    let chain = read_chain(&files.cert, &cert_name)?;
    let key = read_key(&files.key, &key_name)?;
    let info = describe::describe(&chain[0]);
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: cert_name.clone(),
            key: key_name.clone(),
        },
        rustls::Error::InvalidCertificate(e) => {
            TlsError::UnusableCertificate(cert_name.clone(), e.to_string())
        }
        other => TlsError::UnusableKey(key_name.clone(), other.to_string()),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

fn read_chain(path: &Path, name: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::ReadCert(name.into(), e))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertPem(name.into(), pem_problem(&e)))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(name.into()));
    }
    Ok(chain)
}

fn read_key(path: &Path, name: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::ReadKey(name.into(), e))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound if contains(&bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY") => {
            TlsError::EncryptedKey(name.into())
        }
        pem::Error::NoItemsFound => TlsError::NoKey(name.into()),
        other => TlsError::BadKeyPem(name.into(), pem_problem(&other)),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A PEM error in words, without the bytes some of its variants carry (a key file's
/// line must never reach a log).
fn pem_problem(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => {
            "malformed PEM: a BEGIN line without its END line (is the file complete?)"
        }
        pem::Error::IllegalSectionStart { .. } => "malformed PEM: a damaged BEGIN line",
        pem::Error::Base64Decode(_) => "malformed PEM: a block is not valid base64",
        pem::Error::SectionTooLarge => "malformed PEM: a block is larger than 256 MB",
        _ => "malformed PEM",
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate in force, swapped whole by a reload.
#[derive(Debug)]
pub(crate) struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Resolver {
    fn swap(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// HTTPS for one listener: the files, the resolver a reload swaps, and the rustls
/// configuration every handshake uses (TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`).
pub(crate) struct Tls {
    files: TlsFiles,
    /// The files' metadata from just before they were first read.
    read_at_start: reload::Stamps,
    resolver: Arc<Resolver>,
    config: Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Loads the files; an error here stops the start.
    pub fn new(files: TlsFiles) -> anyhow::Result<Tls> {
        let read_at_start = reload::Stamps::of(&files);
        let loaded = load(&files)?;
        log_in_force(&files, &loaded, "serving HTTPS");
        let resolver = Arc::new(Resolver {
            current: RwLock::new(loaded.key),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            read_at_start,
            resolver,
            config: Arc::new(config),
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// Reads the files again; on success new handshakes get the new certificate, on
    /// failure the old one stays in force and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.files)?;
        self.resolver.swap(loaded.key.clone());
        log_in_force(&self.files, &loaded, "new TLS certificate in force");
        Ok(())
    }
}

fn log_in_force(files: &TlsFiles, loaded: &Loaded, what: &str) {
    let cert = files.cert.display();
    match &loaded.info {
        Some(info) => {
            tracing::info!(%cert, certificate = %info, "{what}");
            if info
                .not_after
                .is_some_and(|end| end < time::OffsetDateTime::now_utc())
            {
                tracing::warn!(%cert, certificate = %info, "the TLS certificate has expired: clients will refuse it");
            }
        }
        None => tracing::info!(%cert, "{what}"),
    }
}
