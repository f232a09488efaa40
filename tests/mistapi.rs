//! Juniper's own Python SDK for Mist's API, `mistapi` (PyPI), against mistgate's
//! Mist-compatible endpoints over HTTPS, unchanged, as a new user would use it: `/self`,
//! then create, list (paged), get, update (partial, and what GET answered sent back),
//! ping and delete org and site webhooks, and search and count their delivery results
//! with Mist's relative times. The checks are in `tests/mistapi_client.py`; this test
//! starts mistgate with a certificate of a throwaway CA and a receiver for the pings.
//! `scripts/test.sh` installs the pinned `mistapi` when it is missing.

mod support;

use std::process::Command;

use serde_json::json;
use support::receiver::Receiver;
use support::tls::TestCa;
use support::{Server, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";

#[tokio::test]
async fn mists_python_sdk_works_unchanged_against_mistgate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let leaf = ca.issue("mistgate", "mistgate");
    let config = format!(
        "[[sources]]\nname = \"default\"\n[server]\ntls_cert = {:?}\ntls_key = {:?}\n[delivery]\nallow_private_targets = true\n",
        leaf.cert, leaf.key
    );
    let mut server = Server::start_with(Some(&config));
    let ca_pem = reqwest::Certificate::from_pem(&std::fs::read(&ca.ca_file).unwrap()).unwrap();
    server.client = reqwest::Client::builder()
        .tls_certs_only([ca_pem])
        .build()
        .unwrap();
    let receiver = Receiver::start().await;

    // An event of the site, so that mistgate knows the site's org (Mist knows it from
    // the site itself).
    let alarm = site_alarm(
        ORG,
        SITE,
        "device_down",
        &["5c5b350e0001"],
        1.75e9,
        json!({}),
    );
    let (status, _) = server.ingest("default", alarm, &[]).await;
    assert_eq!(status, 200);

    // A token of its own, so that `/self` answers its name.
    let (status, created, text) = server
        .call(
            "POST",
            "/tokens",
            Some(json!({"name": "mistapi-test", "role": "admin"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let token = created["token"].as_str().unwrap();

    let host = server
        .base
        .strip_prefix("https://")
        .expect("mistgate serves HTTPS")
        .to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mistapi_client.py");
    let out = tokio::task::spawn_blocking({
        let (ca_file, receiver_url) = (ca.ca_file.clone(), receiver.url(""));
        let token = token.to_string();
        move || {
            Command::new("python3")
                .arg(script)
                .env("MISTGATE_HOST", host)
                .env("MISTGATE_TOKEN", token)
                .env("MIST_ORG", ORG)
                .env("MIST_SITE", SITE)
                .env("RECEIVER_URL", receiver_url)
                .env("REQUESTS_CA_BUNDLE", ca_file)
                .env("NO_PROXY", "127.0.0.1,localhost")
                .env("HOME", std::env::temp_dir())
                .output()
                .expect("python3 runs")
        }
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "mistapi against mistgate failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("every check passed"), "{stdout}");
    assert!(
        receiver.received().len() >= 2,
        "the org and site pings arrived"
    );
}
