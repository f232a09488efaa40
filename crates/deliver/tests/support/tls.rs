//! A throwaway certificate authority for TLS test listeners, made with the `openssl`
//! command. Shared by the deliver crate's target tests and, through `#[path]`, by the
//! end-to-end tests' HTTPS receiver.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A throwaway CA and a server certificate it signed for 127.0.0.1 (made with the
/// `openssl` command), for TLS listeners a client verifies; it issues more on demand.
pub struct TestCa {
    pub ca_file: PathBuf,
    /// Serves the first certificate (`leaf.pem`).
    pub acceptor: tokio_rustls::TlsAcceptor,
}

impl TestCa {
    pub fn new(dir: &Path) -> TestCa {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        openssl(
            dir,
            &[
                &["req", "-x509"][..],
                &EC_KEY,
                &[
                    "-days",
                    "1",
                    "-subj",
                    "/CN=mistgate test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        let leaf = issue(dir, "leaf", "127.0.0.1");
        let certs = CertificateDer::pem_file_iter(&leaf.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&leaf.key).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        TestCa {
            ca_file: dir.join("ca.pem"),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }

    /// A certificate for 127.0.0.1 with common name `cn` and a key of its own, signed by
    /// this CA: `<name>.pem` and `<name>.key` beside the CA's files.
    pub fn issue(&self, name: &str, cn: &str) -> Leaf {
        issue(self.ca_file.parent().expect("the CA's folder"), name, cn)
    }
}

fn issue(dir: &Path, name: &str, cn: &str) -> Leaf {
    let (key, csr, ext, cert) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &EC_KEY,
            &["-subj", &format!("/CN={cn}"), "-keyout", &key, "-out", &csr],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join(&ext),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    );
    Leaf {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// A certificate and its key, as PEM files.
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
