//! The syslog target: encoder snapshots over Mist samples, and real UDP, TCP and TLS
//! listeners that read RFC 5424 messages (RFC 6587 octet counting on streams).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use deliver::schedule::{Class, classify};
use deliver::targets::{Message, syslog};
use support::Harness;
use tokio::io::AsyncReadExt;

fn config(address: &str, transport: &str) -> syslog::Config {
    serde_json::from_value(serde_json::json!({"address": address, "transport": transport})).unwrap()
}

fn messages() -> Vec<(String, Message)> {
    let mut all: Vec<(String, Message)> = support::SNAPSHOT_SAMPLES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.split_once('_').unwrap().0.to_string();
            (name, support::sample_event(f, 100 + i as i64))
        })
        .collect();
    all.push(("incident-opened".into(), support::incident("opened")));
    all.push(("incident-resolved".into(), support::incident("resolved")));
    all
}

/// A message read back by the grammar of RFC 5424 section 6.
#[derive(Debug)]
struct Parsed {
    facility: u8,
    severity: u8,
    timestamp: String,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
    sd_id: String,
    params: BTreeMap<String, String>,
    msg: String,
}

fn parse(line: &str) -> Parsed {
    let rest = line.strip_prefix('<').expect("PRI opens with <");
    let (pri, rest) = rest.split_once('>').expect("PRI closes with >");
    assert!(
        (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    let pri: u8 = pri.parse().unwrap();
    assert!(pri <= 191);
    let mut fields = rest.splitn(7, ' ');
    let mut next = || fields.next().expect("a header field").to_string();
    assert_eq!(next(), "1", "VERSION");
    let timestamp = next();
    time::OffsetDateTime::parse(&timestamp, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("TIMESTAMP {timestamp}: {e}"));
    let (hostname, app_name, procid, msgid) = (next(), next(), next(), next());
    for (value, max) in [
        (&hostname, 255),
        (&app_name, 48),
        (&procid, 128),
        (&msgid, 32),
    ] {
        assert!(
            !value.is_empty()
                && value.len() <= max
                && value.bytes().all(|b| (33..=126).contains(&b))
        );
    }
    let rest = next();
    // One SD-ELEMENT: [SD-ID *(SP PARAM-NAME="PARAM-VALUE")], values with \" \\ \] escapes.
    let mut chars = rest.strip_prefix('[').expect("an SD-ELEMENT").chars();
    let sd_id: String = chars
        .by_ref()
        .take_while(|c| *c != ' ' && *c != ']')
        .collect();
    let mut params = BTreeMap::new();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().unwrap()),
                '"' => break,
                ']' => panic!("an unescaped ] in {line}"),
                c => value.push(c),
            }
        }
        params.insert(name, value);
        match chars.next() {
            Some(' ') => continue,
            Some(']') => break,
            other => panic!("{other:?} after a PARAM in {line}"),
        }
    }
    let rest: String = chars.collect();
    let msg = rest.strip_prefix(' ').expect("SP before MSG").to_string();
    Parsed {
        facility: pri / 8,
        severity: pri % 8,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        sd_id,
        params,
        msg,
    }
}

/// RFC 6587 octet-counted frames: `MSG-LEN SP SYSLOG-MSG`, repeated.
fn unframe(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|b| *b == b' ').expect("MSG-LEN SP");
        let len: usize = std::str::from_utf8(&bytes[..space])
            .unwrap()
            .parse()
            .unwrap();
        assert!(bytes[0] != b'0', "MSG-LEN has no leading zero");
        let message = &bytes[space + 1..space + 1 + len];
        out.push(String::from_utf8(message.to_vec()).unwrap());
        bytes = &bytes[space + 1 + len..];
    }
    out
}

/// What each message must look like; `expected` is its syslog severity.
fn check(lines: &[String], expected: &[(String, Message)]) {
    assert_eq!(lines.len(), expected.len());
    let severities = [6, 6, 6, 6, 2, 5];
    for ((line, (name, message)), severity) in lines.iter().zip(expected).zip(severities) {
        let p = parse(line);
        assert_eq!((p.facility, p.severity), (16, severity), "{name}: {line}");
        assert_eq!(
            (p.hostname.as_str(), p.app_name.as_str(), p.procid.as_str()),
            ("mistgate", "mistgate", "-")
        );
        assert_eq!(p.sd_id, "mistgate@32473");
        match message {
            Message::Event(e) => {
                assert_eq!(p.msgid, e.topic.as_str());
                assert_eq!(p.params["id"], e.id.to_string());
                assert_eq!(p.params.get("site_id"), e.site_id.as_ref());
                let seconds = time::OffsetDateTime::parse(
                    &p.timestamp,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap();
                assert_eq!(
                    (seconds.unix_timestamp_nanos() / 1_000) as i64,
                    e.time,
                    "{name}"
                );
            }
            Message::Incident(m) => {
                assert_eq!(p.msgid, "incident");
                assert_eq!(p.params["change"], m.change.as_str());
                assert_eq!(p.params["devices"], "sw-core-1");
                assert!(p.msg.contains("Switch sw-core-1 is down"), "{}", p.msg);
            }
        }
    }
}

#[test]
fn encoder_snapshots() {
    let cfg = config("logs.example.net:514", "udp");
    for (name, message) in messages() {
        let line = syslog::line(&cfg, 16, &message);
        parse(&line);
        insta::assert_snapshot!(format!("syslog_{name}"), line);
    }
}

#[tokio::test]
async fn udp_sends_one_rfc5424_datagram_per_message() {
    let harness = Harness::new(Duration::from_secs(5));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(&socket.local_addr().unwrap().to_string(), "udp");
    cfg.check().unwrap();
    let expected = messages();
    let batch: Vec<Message> = expected.iter().map(|(_, m)| m.clone()).collect();
    let sent = syslog::send(&cfg, &batch, &harness.ctx("syslog", "d-1")).await;
    assert_eq!(sent.outcome, deliver::Outcome::Success, "{:?}", sent.error);
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..batch.len() {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .expect("a datagram")
            .unwrap();
        lines.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    check(&lines, &expected);
    assert!(sent.request_body.contains(&lines[0]));
}

/// Accepts one connection and reads it to its end.
async fn read_one(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Vec<u8> {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut bytes = Vec::new();
    match tls {
        None => {
            let mut tcp = tcp;
            tcp.read_to_end(&mut bytes).await.unwrap();
        }
        Some(acceptor) => {
            let mut stream = acceptor.accept(tcp).await.unwrap();
            stream.read_to_end(&mut bytes).await.unwrap();
        }
    }
    bytes
}

#[tokio::test]
async fn tcp_sends_octet_counted_frames_on_one_connection() {
    let harness = Harness::new(Duration::from_secs(5));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(&listener.local_addr().unwrap().to_string(), "tcp");
    let read = tokio::spawn(read_one(listener, None));
    let expected = messages();
    let batch: Vec<Message> = expected.iter().map(|(_, m)| m.clone()).collect();
    let sent = syslog::send(&cfg, &batch, &harness.ctx("syslog", "d-1")).await;
    assert_eq!(sent.outcome, deliver::Outcome::Success, "{:?}", sent.error);
    let bytes = read.await.unwrap();
    check(&unframe(&bytes), &expected);

    // Nobody listening: retried.
    let gone = config(&support::closed_port().to_string(), "tcp");
    let e = syslog::send(&gone, &batch, &harness.ctx("syslog", "d-2")).await;
    assert_eq!(e.outcome, deliver::Outcome::Connect, "{:?}", e.error);
    assert_eq!(classify(&e.outcome), Class::Retry);
}

#[tokio::test]
async fn tls_verifies_the_collector_against_the_ca_file() {
    let harness = Harness::new(Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let ca = support::TestCa::new(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut cfg = config(&address, "tls");
    cfg.ca_file = Some(ca.ca_file.clone());
    cfg.check().unwrap();
    let read = tokio::spawn(read_one(listener, Some(ca.acceptor.clone())));
    let expected = messages();
    let batch: Vec<Message> = expected.iter().map(|(_, m)| m.clone()).collect();
    let sent = syslog::send(&cfg, &batch, &harness.ctx("syslog", "d-1")).await;
    assert_eq!(sent.outcome, deliver::Outcome::Success, "{:?}", sent.error);
    check(&unframe(&read.await.unwrap()), &expected);

    // Without the CA the system's roots do not know the collector: no message leaves,
    // and the batch is retried (the certificate may be fixed).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let untrusting = config(&listener.local_addr().unwrap().to_string(), "tls");
    let acceptor = ca.acceptor.clone();
    let refused = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.is_err()
    });
    let e = syslog::send(&untrusting, &batch, &harness.ctx("syslog", "d-2")).await;
    assert_eq!(classify(&e.outcome), Class::Retry, "{:?}", e.outcome);
    assert!(e.error.unwrap_or_default().contains("TLS handshake"));
    assert!(
        refused.await.unwrap(),
        "the handshake failed on the collector's side too"
    );
}
