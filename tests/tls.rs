//! HTTPS against the real binary: TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN, the
//! certificate reloaded when its files change (certbot's symlinks) and on SIGHUP while
//! open connections keep going, a bad reload that keeps the certificate in force, clear
//! start-up errors, and the redirect from plain HTTP. Certificates come from a throwaway
//! CA made with the `openssl` command.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::version::{TLS12, TLS13};
use support::tls::{Leaf, TestCa};
use support::{Server, TOKEN, alarm_body, eventually};

/// A CA, two certificates it signed (`a` and `b`, for 127.0.0.1), and the paths the
/// server is configured with.
struct Certs {
    ca: TestCa,
    a: Leaf,
    b: Leaf,
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Certs {
    /// The server's paths hold `a` as plain files.
    fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(dir.path());
        let (a, b) = (ca.issue("a", "mistgate-a"), ca.issue("b", "mistgate-b"));
        let certs = Certs {
            cert: dir.path().join("live-cert.pem"),
            key: dir.path().join("live-key.pem"),
            ca,
            a,
            b,
            _dir: dir,
        };
        std::fs::copy(&certs.a.cert, &certs.cert).unwrap();
        std::fs::copy(&certs.a.key, &certs.key).unwrap();
        certs
    }

    fn config(&self, more: &str) -> String {
        format!(
            "[server]\ntls_cert = {:?}\ntls_key = {:?}\n{more}",
            self.cert, self.key
        )
    }

    /// An HTTPS client trusting the CA, which reports the certificate each answer came
    /// over (`TlsInfo`).
    fn client(
        &self,
        build: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&self.ca.ca_file).unwrap()).unwrap();
        build(
            reqwest::Client::builder()
                .tls_certs_only([ca])
                .tls_info(true)
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap()
    }

    /// Starts `mistgate serve` with `more` config, its client trusting the CA.
    fn serve(&self, more: &str) -> Server {
        let mut server = Server::start_with(Some(&self.config(more)));
        server.client = self.client(|b| b);
        server
    }
}

fn der(leaf_pem: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(leaf_pem).unwrap().to_vec()
}

fn addr_of(server: &Server) -> SocketAddr {
    server
        .base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not an https base: {}", server.base))
        .parse()
        .unwrap()
}

/// What one fresh handshake agreed on.
struct Handshake {
    version: rustls::ProtocolVersion,
    alpn: Option<String>,
    leaf: Vec<u8>,
}

async fn handshake(
    addr: SocketAddr,
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&str],
) -> std::io::Result<Handshake> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let (_, conn) = tls.get_ref();
    Ok(Handshake {
        version: conn.protocol_version().unwrap(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        leaf: conn.peer_certificates().unwrap()[0].to_vec(),
    })
}

/// The certificate a new connection is given.
async fn served(server: &Server, certs: &Certs) -> Vec<u8> {
    handshake(addr_of(server), &certs.ca.ca_file, &[&TLS13], &["http/1.1"])
        .await
        .expect("handshake")
        .leaf
}

/// The leaf certificate an answer came over.
fn came_over(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

/// Waits until new connections get `leaf` (at most 10 s).
async fn until_served(server: &Server, certs: &Certs, leaf: &Path, what: &str) {
    let wanted = der(leaf);
    eventually(Duration::from_secs(10), what, || async {
        (served(server, certs).await == wanted).then_some(())
    })
    .await;
}

/// Writes `contents` beside `path` and renames it over `path`, as a careful renewal does.
fn replace(path: &Path, contents: &[u8]) {
    let staged = path.with_extension("new");
    std::fs::write(&staged, contents).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[tokio::test]
async fn https_with_tls_1_3_and_1_2_stores_webhooks_and_marks_cookies_secure() {
    let certs = Certs::new();
    // allow_ips read the connection's peer: over TLS too.
    let server = certs.serve(
        "[[sources]]\nname = \"hq\"\nallow_ips = [\"127.0.0.1\"]\n\
         [[sources]]\nname = \"elsewhere\"\nallow_ips = [\"192.0.2.0/24\"]\n",
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let addr = addr_of(&server);
    // A client that connects and never says anything holds up no one else's handshake
    // (each has 10 s to finish, on its own).
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    for (versions, expected) in [(&[&TLS13], TLS13.version), (&[&TLS12], TLS12.version)] {
        let agreed = tokio::time::timeout(
            Duration::from_secs(5),
            handshake(addr, &certs.ca.ca_file, versions, &["http/1.1"]),
        )
        .await
        .expect("a handshake waited for the silent client")
        .unwrap();
        assert_eq!(agreed.version, expected);
        assert_eq!(agreed.leaf, der(&certs.a.cert));
    }
    for version in [
        reqwest::tls::Version::TLS_1_3,
        reqwest::tls::Version::TLS_1_2,
    ] {
        let client = certs.client(|b| b.tls_version_min(version).tls_version_max(version));
        let r = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{version:?}");
    }

    let (status, answer) = server.ingest("hq", alarm_body("over-tls"), &[]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.ingest("elsewhere", alarm_body("refused"), &[]).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("forbidden_address"))
    );
    let events = server.all_events("").await;
    assert!(
        events.iter().any(|e| e.to_string().contains("over-tls")),
        "{events:?}"
    );

    // The console's session cookie is Secure without any proxy header.
    let r = certs
        .client(|b| b.redirect(reqwest::redirect::Policy::none()))
        .post(server.url("/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");

    // Plain HTTP on the HTTPS port gets no answer.
    let plain = support::client()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
}

#[tokio::test]
async fn http2_and_http1_by_alpn() {
    let certs = Certs::new();
    // The flags instead of the file.
    let mut server = Server::start_with_args(
        None,
        &[
            "--tls-cert",
            certs.cert.to_str().unwrap(),
            "--tls-key",
            certs.key.to_str().unwrap(),
        ],
    );
    server.client = certs.client(|b| b);
    let addr = addr_of(&server);
    for (offered, agreed) in [
        (&["h2", "http/1.1"][..], "h2"),
        (&["h2"][..], "h2"),
        (&["http/1.1"][..], "http/1.1"),
    ] {
        let hs = handshake(addr, &certs.ca.ca_file, &[&TLS13], offered)
            .await
            .unwrap();
        assert_eq!(hs.alpn.as_deref(), Some(agreed), "{offered:?}");
    }

    let r = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );
    let h2_only = certs.client(|b| b.http2_prior_knowledge());
    let r = h2_only.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );
    let h1 = certs.client(|b| b.http1_only());
    let r = h1.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_11)
    );
    let (status, body) = server.api("/stats").await;
    assert_eq!(status, 200, "{body}");

    // SIGTERM with HTTP/2 and HTTP/1.1 connections open: the graceful shutdown closes
    // them (HTTP/2's GOAWAY waits for the client's answer to its PING, so the clients'
    // connections keep running here meanwhile) and the process ends cleanly, well inside
    // its grace period.
    let started = std::time::Instant::now();
    let exit = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop((h2_only, h1));
}

#[tokio::test]
async fn a_renewal_that_moves_symlinks_is_served_and_open_connections_keep_going() {
    let certs = Certs::new();
    // certbot's layout: live/ holds symlinks into archive/, and a renewal points them at
    // new files.
    let link = |target: &Path, link: &Path| {
        let staged = link.with_extension("link");
        std::os::unix::fs::symlink(target, &staged).unwrap();
        std::fs::rename(&staged, link).unwrap();
    };
    link(&certs.a.cert, &certs.cert);
    link(&certs.a.key, &certs.key);
    let server = certs.serve("");
    let open = certs.client(|b| b);
    let r = open.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );
    assert_eq!(came_over(&r), der(&certs.a.cert));

    link(&certs.b.cert, &certs.cert);
    link(&certs.b.key, &certs.key);
    until_served(
        &server,
        &certs,
        &certs.b.cert,
        "certificate b after the links moved",
    )
    .await;

    // The connection opened before the renewal is still the one used, and still answers.
    let r = open.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        came_over(&r),
        der(&certs.a.cert),
        "a new connection was made"
    );
    let fresh = certs.client(|b| b.http1_only());
    let r = fresh.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(came_over(&r), der(&certs.b.cert));
}

/// Overwrites `path` in place with `contents` of the same length and puts its
/// modification time back: the metadata the server polls stays the same, so that only a
/// SIGHUP can make it read the file again.
fn overwrite_unnoticed(path: &Path, contents: &[u8]) {
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(before.len(), contents.len() as u64);
    let mut file = std::fs::File::options().write(true).open(path).unwrap();
    std::io::Write::write_all(&mut file, contents).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    drop(file);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(
        (after.modified().unwrap(), after.len()),
        (before.modified().unwrap(), before.len())
    );
}

#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let certs = Certs::new();
    // Both certificates padded to one length, so that b can replace a unnoticed.
    let read = |path: &Path| std::fs::read(path).unwrap();
    let (cert_a, cert_b) = (read(&certs.a.cert), read(&certs.b.cert));
    let (key_a, key_b) = (read(&certs.a.key), read(&certs.b.key));
    // PEM readers skip the blank lines after a block.
    let pad = |mut v: Vec<u8>, to: usize| {
        v.resize(to, b'\n');
        v
    };
    let cert_len = cert_a.len().max(cert_b.len()) + 1;
    let key_len = key_a.len().max(key_b.len()) + 1;
    std::fs::write(&certs.cert, pad(cert_a, cert_len)).unwrap();
    std::fs::write(&certs.key, pad(key_a, key_len)).unwrap();
    let server = certs.serve("");
    assert_eq!(served(&server, &certs).await, der(&certs.a.cert));

    overwrite_unnoticed(&certs.cert, &pad(cert_b, cert_len));
    overwrite_unnoticed(&certs.key, &pad(key_b, key_len));
    server.signal("HUP");
    until_served(&server, &certs, &certs.b.cert, "certificate b after SIGHUP").await;
    // The process is still the one serving.
    let r = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_bad_reload_keeps_the_certificate_in_force() {
    let certs = Certs::new();
    let mut server = Server::start_logged(Some(&certs.config("")), &[]);
    server.client = certs.client(|b| b);
    let key_a = std::fs::read_to_string(&certs.a.key).unwrap();
    let open = certs.client(|b| b);
    assert_eq!(
        open.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A key file that is not one, read on SIGHUP.
    replace(&certs.key, b"not a key\n");
    server.signal("HUP");
    let warning = format!("tls_key {}: no private key found", certs.key.display());
    eventually(
        Duration::from_secs(10),
        "the warning about the key",
        || async { server.log().contains(&warning).then_some(()) },
    )
    .await;
    assert_eq!(served(&server, &certs).await, der(&certs.a.cert));

    // A renewal caught half way: b's certificate with a's key, seen by polling.
    replace(&certs.key, key_a.as_bytes());
    replace(&certs.cert, &std::fs::read(&certs.b.cert).unwrap());
    eventually(
        Duration::from_secs(10),
        "the warning about the mismatch",
        || async {
            server
                .log()
                .contains("does not match the certificate")
                .then_some(())
        },
    )
    .await;
    assert_eq!(served(&server, &certs).await, der(&certs.a.cert));
    let r = open.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The renewal completes.
    replace(&certs.key, &std::fs::read(&certs.b.key).unwrap());
    until_served(
        &server,
        &certs,
        &certs.b.cert,
        "certificate b once the key came",
    )
    .await;

    let log = server.log();
    assert!(log.contains("the previous one stays in force"), "{log}");
    for line in key_a.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "the log shows key material: {log}");
    }
}

/// Runs `mistgate check-config` on `config` with `env`; exit success and output.
fn check_config(dir: &Path, config: &str, env: &[(&str, &Path)]) -> (bool, String) {
    let path = dir.join("check.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mistgate"));
    cmd.arg("check-config").arg(&path);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn unusable_files_stop_the_start_with_a_clear_error() {
    let certs = Certs::new();
    let dir = certs.cert.parent().unwrap().to_path_buf();
    let garbage = dir.join("garbage.key");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let encrypted = dir.join("encrypted.key");
    let made = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-passout", "pass:secret", "-in"])
        .arg(&certs.a.key)
        .arg("-out")
        .arg(&encrypted)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let missing = dir.join("missing.pem");
    let data_dir = tempfile::tempdir().unwrap();
    let cases: [(&Path, &Path, String); 5] = [
        (
            &certs.a.cert,
            &garbage,
            format!(
                "tls_key {}: no private key found (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)",
                garbage.display()
            ),
        ),
        (
            &certs.a.cert,
            &certs.b.key,
            format!(
                "tls_key {} does not match the certificate of tls_cert {}",
                certs.b.key.display(),
                certs.a.cert.display()
            ),
        ),
        (
            &certs.a.cert,
            &encrypted,
            format!("tls_key {}: the key is encrypted", encrypted.display()),
        ),
        (
            &missing,
            &certs.a.key,
            format!("tls_cert {}: cannot read it", missing.display()),
        ),
        (
            &certs.a.key,
            &certs.a.key,
            format!("tls_cert {}: no certificate found", certs.a.key.display()),
        ),
    ];
    for (cert, key, expected) in &cases {
        let (status, stdout, stderr) = support::serve_refused_with(
            data_dir.path(),
            &[
                "--tls-cert".as_ref(),
                cert.as_os_str(),
                "--tls-key".as_ref(),
                key.as_os_str(),
            ],
        );
        assert!(!status.success(), "served with {key:?}");
        assert!(!stdout.contains("listening on"), "{stdout}");
        assert!(
            stderr.contains(expected.as_str()),
            "expected {expected:?} in: {stderr}"
        );
        let config = format!("[server]\ntls_cert = {cert:?}\ntls_key = {key:?}\n");
        let (ok, out) = check_config(&dir, &config, &[]);
        assert!(
            !ok && out.contains(expected.as_str()),
            "check-config: {out}"
        );
    }
    for key_material in ["AAAA", "BEGIN"] {
        let (_, _, stderr) = support::serve_refused_with(
            data_dir.path(),
            &[
                "--tls-cert".as_ref(),
                certs.a.cert.as_os_str(),
                "--tls-key".as_ref(),
                garbage.as_os_str(),
            ],
        );
        assert!(!stderr.contains(key_material), "{stderr}");
    }

    let (ok, out) = check_config(&dir, "[server]\ntls_cert = \"/x/cert.pem\"\n", &[]);
    assert!(!ok && out.contains("give both or neither"), "{out}");
    let (ok, out) = check_config(&dir, "[server]\nredirect_http = \"127.0.0.1:8081\"\n", &[]);
    assert!(
        !ok && out.contains("redirect_http needs tls_cert and tls_key"),
        "{out}"
    );
    // From the environment, and what check-config tells of good files.
    let (ok, out) = check_config(
        &dir,
        "listen = \"127.0.0.1:8443\"\n",
        &[
            ("MISTGATE_TLS_CERT", &certs.a.cert),
            ("MISTGATE_TLS_KEY", &certs.a.key),
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "https: {} (CN=mistgate-a, names 127.0.0.1",
            certs.a.cert.display()
        )),
        "{out}"
    );
}

#[tokio::test]
async fn redirect_http_sends_plain_requests_to_https() {
    let certs = Certs::new();
    let server = certs.serve("redirect_http = \"127.0.0.1:0\"\n");
    let line = server.stdout_line(Duration::from_secs(10));
    let redirect: SocketAddr = line
        .strip_prefix("redirecting http://")
        .and_then(|rest| rest.strip_suffix(" to https"))
        .unwrap_or_else(|| panic!("unexpected line: {line}"))
        .parse()
        .unwrap();
    let https_port = addr_of(&server).port();

    let no_follow = certs.client(|b| b.redirect(reqwest::redirect::Policy::none()));
    let r = no_follow
        .post(format!("http://{redirect}/ingest/default?x=1"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://127.0.0.1:{https_port}/ingest/default?x=1").as_str()
    );
    // Followed, a browser lands on the HTTPS listener.
    let r = certs
        .client(|b| b)
        .get(format!("http://{redirect}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.url().as_str(),
        format!("https://127.0.0.1:{https_port}/healthz")
    );
    // Nothing but redirects there, and none without a host to send to.
    let (status, _) = support::raw_http(
        &format!("http://{redirect}"),
        b"GET /healthz HTTP/1.0\r\n\r\n",
    );
    assert_eq!(status, 400);
}
