//! Source allow-lists and trusted proxies, end to end: an allowed address is stored, any
//! other gets 403 `forbidden_address` before its body is read (counted, nothing stored),
//! `mist:<cloud>` presets expand to Juniper's published addresses, and `X-Forwarded-For`
//! is believed from trusted proxies only.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::{Server, alarm_body};

const CONFIG: &str = r#"
[server]
trusted_proxies = ["127.0.0.2/32"]

[[sources]]
name = "local"
allow_ips = ["127.0.0.1", "203.0.113.0/24"]

[[sources]]
name = "mist"
allow_ips = ["mist:global01", "mist:emea01"]

[[sources]]
name = "open"
"#;

async fn stored_events(server: &Server) -> i64 {
    let stats = server.stats().await;
    stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["events"].as_i64().unwrap())
        .sum()
}

fn refused_count(metrics: &str, source: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("mistgate_ingest_requests_total")
                && l.contains(&format!("source=\"{source}\""))
                && l.contains("verdict=\"forbidden_address\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn allowed_addresses_post_others_are_refused_before_the_body_and_nothing_is_stored() {
    let server = Server::start_logged(Some(CONFIG), &[]);
    // 127.0.0.1 is listed for `local`, and `open` lists nobody.
    let (status, body) = server.ingest("local", alarm_body("a1"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.ingest("open", alarm_body("a2"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_events(&server).await, 2);

    // `mist` allows Mist's Global 01 and EMEA 01 clouds only.
    let (status, body) = server.ingest("mist", alarm_body("a3"), &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "forbidden_address");
    assert!(
        body["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
    // A spoofed X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    let (status, body) = server
        .ingest(
            "mist",
            alarm_body("a4"),
            &[("x-forwarded-for", "54.193.71.17")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = server
        .ingest(
            "mist",
            alarm_body("a5"),
            &[("forwarded", "for=54.193.71.17")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        stored_events(&server).await,
        2,
        "a refused request stored something"
    );
    let quarantine = server.api_ok("/quarantine").await;
    assert_eq!(
        quarantine["items"],
        serde_json::json!([]),
        "refused bodies are not kept"
    );
    let requests = server.api_ok("/requests?source=mist").await;
    assert_eq!(requests["items"], serde_json::json!([]));

    // Refused before the body is read: the answer comes while the body is still owed.
    let addr = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"POST /ingest/mist HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"topic\":",
        )
        .unwrap();
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .expect("an answer before the body was sent");
    assert_eq!(&head, b"HTTP/1.1 403");

    let metrics = server.text("/metrics", false).await;
    assert_eq!(refused_count(&metrics, "mist"), 4, "refusals are counted");
    assert_eq!(refused_count(&metrics, "local"), 0);
    let log = server.log();
    assert!(log.contains("allow_ips"), "refusals are logged: {log}");
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_and_only_its_rightmost_untrusted_hop_counts() {
    // The proxy is 127.0.0.2 (trusted); the test connects from it.
    let server = Server::start_logged(Some(CONFIG), &[]);
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let post = |xff: &'static str| {
        let url = format!("http://127.0.0.1:{port}/ingest/mist");
        let client = client.clone();
        async move {
            let mut req = client
                .post(url)
                .header("content-type", "application/json")
                .body(alarm_body(xff));
            if !xff.is_empty() {
                req = req.header("x-forwarded-for", xff);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    // Mist's EMEA 01 address, forwarded by the trusted proxy: allowed.
    assert_eq!(post("3.122.172.223").await, 200);
    // Global 01's second address: the preset holds every address Juniper lists.
    assert_eq!(post("54.215.237.20").await, 200);
    // A client that puts Mist's address in front of its own: its own address is the
    // rightmost untrusted hop, and it is refused.
    assert_eq!(post("54.193.71.17, 198.51.100.7").await, 403);
    // The proxy itself, forwarding nothing, is not Mist.
    assert_eq!(post("").await, 403);
    // Garbage in the chain: the walk stops at the proxy.
    assert_eq!(post("54.193.71.17, not-an-address").await, 403);
    assert_eq!(stored_events(&server).await, 2);
}

#[test]
fn check_config_names_a_wrong_allow_list_entry() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        (
            "[[sources]]\nname = \"hq\"\nallow_ips = [\"mist:mars01\"]\n",
            "unknown Mist cloud `mars01`",
        ),
        (
            "[[sources]]\nname = \"hq\"\nallow_ips = [\"300.1.1.1\"]\n",
            "`300.1.1.1` is not an IP address or a CIDR block",
        ),
        (
            "[server]\ntrusted_proxies = [\"mist:global01\"]\n\n[[sources]]\nname = \"hq\"\n",
            "trusted_proxies",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mistgate"))
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
}
