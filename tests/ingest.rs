//! `POST /ingest/{source}` against the real binary: bad input of every kind gets its
//! status and JSON error, lands in quarantine where it should, and changes nothing that
//! was accepted before; signatures; duplicates.

mod support;

use base64::Engine;
use serde_json::{Value, json};
use support::{Server, alarm_body, headers, raw_http, signed};

const CONFIG: &str = r#"
[[sources]]
name = "hq"
secrets = ["old-secret-1", "new-secret-2"]

[[sources]]
name = "legacy"
secrets = ["sha1-secret"]
accept_v1_signature = true

[[sources]]
name = "open"

[ingest]
max_body_bytes = 4096
"#;

/// What the log holds, to compare before and after bad input.
async fn snapshot(server: &Server) -> (Vec<Value>, Value) {
    let stats = server.stats().await;
    (server.all_events("").await, stats["totals"].clone())
}

async fn quarantine_newest(server: &Server) -> Value {
    let page = server.api_ok("/quarantine?limit=1").await;
    page["items"][0].clone()
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], want_code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail missing: {body}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let server = Server::start_with(Some(CONFIG));
    // Accepted traffic that must survive everything below untouched.
    let good = alarm_body("before-1");
    let (status, ok) = server.ingest("open", good.clone(), &[]).await;
    assert_eq!(status, 200, "{ok}");
    let sig = signed("old-secret-1", &alarm_body("before-2"));
    let (status, _) = server
        .ingest("hq", alarm_body("before-2"), &headers(&sig))
        .await;
    assert_eq!(status, 200);
    let before = snapshot(&server).await;
    assert_eq!(before.0.len(), 2);
    let mut quarantined = 0;

    // Unknown source: 404.
    let (status, body) = server.ingest("nope", good.clone(), &[]).await;
    assert_error(status, &body, 404, "unknown_source");

    // Over the limit, declared by Content-Length: 413 (before reading it).
    let big = format!(
        r#"{{"topic":"alarms","events":[{{"pad":"{}"}}]}}"#,
        "x".repeat(5000)
    );
    let (status, body) = server.ingest("open", big.clone(), &[]).await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");

    // Over the limit, chunked with no length: 413 once the limit is crossed.
    let chunk = "y".repeat(3000);
    let chunked = format!(
        "POST /ingest/open HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    let (status, text) = raw_http(&server.base, chunked.as_bytes());
    let body: Value = serde_json::from_str(&text).expect("JSON error body");
    assert_error(status, &body, 413, "payload_too_large");

    // Too large wins over a wrong content type (the order of checks).
    let response = server
        .client
        .post(server.url("/ingest/open"))
        .header("content-type", "text/plain")
        .body(big)
        .send()
        .await
        .unwrap();
    let (status, body) = support::answer(response).await;
    assert_error(status, &body, 413, "payload_too_large");

    // Content type present and not JSON: 415.
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = server
            .client
            .post(server.url("/ingest/open"))
            .header("content-type", ct)
            .body(alarm_body("ct"))
            .send()
            .await
            .unwrap();
        let (status, body) = support::answer(response).await;
        assert_error(status, &body, 415, "unsupported_media_type");
    }

    // A signed source: no signature, or a wrong one, is 401 even when the body is not
    // JSON; such bodies are never stored.
    let (status, body) = server.ingest("hq", b"{not json".to_vec(), &[]).await;
    assert_error(status, &body, 401, "missing_signature");
    let (status, body) = server
        .ingest(
            "hq",
            b"{not json".to_vec(),
            &[("X-Mist-Signature-v2", &"0".repeat(64))],
        )
        .await;
    assert_error(status, &body, 401, "invalid_signature");

    // Not JSON: 400 with line and column, and quarantined byte for byte.
    let broken = b"{\n  \"topic\": \"alarms\",\n  \"events\": [ {\"a\": 1,, } ]\n}".to_vec();
    let (status, body) = server.ingest("open", broken.clone(), &[]).await;
    assert_error(status, &body, 400, "malformed_json");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("line 3") && detail.contains("column"),
        "{detail}"
    );
    quarantined += 1;
    let q = quarantine_newest(&server).await;
    assert_eq!(q["id"], body["quarantine_id"]);
    assert_eq!(q["reason"], "malformed_json");
    assert_eq!(q["source"], "open");
    assert_eq!(q["body"].as_str().unwrap().as_bytes(), &broken[..]);

    // Not UTF-8, and empty: 400, kept losslessly (base64).
    for bytes in [vec![0xff, 0xfe, b'{', 0x80], Vec::new()] {
        let (status, body) = server.ingest("open", bytes.clone(), &[]).await;
        assert_error(status, &body, 400, "malformed_json");
        quarantined += 1;
        let q = quarantine_newest(&server).await;
        let kept = base64::engine::general_purpose::STANDARD
            .decode(q["body_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(kept, bytes);
    }

    // JSON that is not an envelope: 422, quarantined, with the problem named.
    let invalid: [(&str, &str); 6] = [
        ("[1, 2]", "object"),
        (r#"{"events": []}"#, "topic"),
        (r#"{"topic": 7, "events": []}"#, "topic"),
        (r#"{"topic": "alarms"}"#, "events"),
        (r#"{"topic": "alarms", "events": {"a": 1}}"#, "events"),
        (
            r#"{"topic": "alarms", "events": [{"a": 1}, "oops"]}"#,
            "events[1]",
        ),
    ];
    for (text, names) in invalid {
        let (status, body) = server.ingest("open", text.as_bytes().to_vec(), &[]).await;
        assert_error(status, &body, 422, "invalid_envelope");
        assert!(
            body["detail"].as_str().unwrap().contains(names),
            "{text}: {body}"
        );
        quarantined += 1;
        let q = quarantine_newest(&server).await;
        assert_eq!(q["reason"], "invalid_envelope");
        assert_eq!(q["body"], text);
    }

    // A signed source quarantines too, once the signature is right.
    let bad_envelope = br#"{"topic": "alarms", "events": 3}"#.to_vec();
    let sig = signed("new-secret-2", &bad_envelope);
    let (status, body) = server.ingest("hq", bad_envelope, &headers(&sig)).await;
    assert_error(status, &body, 422, "invalid_envelope");
    quarantined += 1;

    // Nothing accepted before was lost or altered, and only 400/422 were quarantined.
    let after = snapshot(&server).await;
    assert_eq!(after.0, before.0, "accepted events changed");
    assert_eq!(after.1["events"], before.1["events"]);
    assert_eq!(after.1["requests"], before.1["requests"]);
    assert_eq!(after.1["quarantined"], json!(quarantined));
    let listed = server.api_ok("/quarantine?limit=100").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        quarantined as usize
    );

    // And the server still takes good traffic.
    let (status, body) = server.ingest("open", alarm_body("after"), &[]).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn the_default_body_limit_is_16_mib() {
    let server = Server::start();
    // Declared one byte over: refused from the headers alone, before any body is read.
    let request = format!(
        "POST /ingest/default HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        16 * 1024 * 1024 + 1
    );
    let (status, text) = raw_http(&server.base, request.as_bytes());
    let answer: Value = serde_json::from_str(&text).expect("JSON error body");
    assert_error(status, &answer, 413, "payload_too_large");
    assert!(
        answer["detail"].as_str().unwrap().contains("16777216"),
        "{answer}"
    );
    // Just under the limit is fine.
    let pad = "z".repeat(16 * 1024 * 1024 - 100);
    let body = format!(r#"{{"topic":"alarms","events":[{{"pad":"{pad}"}}]}}"#);
    let (status, answer) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200, "{answer}");
}

/// A case of the signature test: name, body, headers, expected error code.
type Rejected<'a> = (&'a str, Vec<u8>, Vec<(&'a str, String)>, &'a str);

#[tokio::test]
async fn signatures_are_verified_with_rotation_and_v1_only_where_allowed() {
    let server = Server::start_with(Some(CONFIG));
    let body = alarm_body("sig");
    let verdict_of = |answer: Value| {
        let server = &server;
        async move {
            let id = answer["request_id"].as_i64().expect("request id");
            server.api_ok(&format!("/requests/{id}")).await["verdict"].clone()
        }
    };

    // Valid v2 with either secret (rotation).
    for (i, secret) in ["old-secret-1", "new-secret-2"].iter().enumerate() {
        let body = alarm_body(&format!("rotation-{i}"));
        let sig = signed(secret, &body);
        let (status, answer) = server.ingest("hq", body, &headers(&sig)).await;
        assert_eq!(status, 200, "{secret}: {answer}");
        assert_eq!(verdict_of(answer).await, "valid_v2");
    }

    let v2 = signed("old-secret-1", &body)[0].1.clone();
    let v1 = signed("old-secret-1", &body)[1].1.clone();
    let rejected: Vec<Rejected> = vec![
        (
            "tampered body",
            alarm_body("sig!"),
            vec![("X-Mist-Signature-v2", v2.clone())],
            "invalid_signature",
        ),
        (
            "wrong secret",
            body.clone(),
            vec![("X-Mist-Signature-v2", signed("other", &body)[0].1.clone())],
            "invalid_signature",
        ),
        ("missing header", body.clone(), vec![], "missing_signature"),
        (
            "uppercase hex",
            body.clone(),
            vec![("X-Mist-Signature-v2", v2.to_uppercase())],
            "invalid_signature",
        ),
        (
            "truncated",
            body.clone(),
            vec![("X-Mist-Signature-v2", v2[..40].to_string())],
            "invalid_signature",
        ),
        (
            "v1 only where not allowed",
            body.clone(),
            vec![("X-Mist-Signature", v1.clone())],
            "missing_signature",
        ),
    ];
    for (case, body, hs, code) in rejected {
        let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, answer) = server.ingest("hq", body, &hs).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert_eq!(answer["error"], code, "{case}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(
            !detail.contains("old-secret-1") && !detail.contains(&v2),
            "{case}: detail leaks: {detail}"
        );
    }

    // v1 where allowed: accepted when right, refused when wrong.
    let legacy_body = alarm_body("legacy");
    let sha1 = signed("sha1-secret", &legacy_body)[1].1.clone();
    let (status, answer) = server
        .ingest(
            "legacy",
            legacy_body.clone(),
            &[("X-Mist-Signature", &sha1)],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(verdict_of(answer).await, "valid_v1");
    let (status, answer) = server
        .ingest(
            "legacy",
            alarm_body("legacy-2"),
            &[("X-Mist-Signature", &sha1)],
        )
        .await;
    assert_error(status, &answer, 401, "invalid_signature");

    // 401s are counted, never stored.
    let stats = server.stats().await;
    assert_eq!(stats["totals"]["requests"], 3);
    assert_eq!(stats["totals"]["quarantined"], 0);
    let metrics = server.text("/metrics", false).await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("mistgate_ingest_requests_total")
                && l.contains("source=\"hq\"")
                && l.contains("invalid_signature")
        })
        .unwrap_or_else(|| panic!("no invalid_signature counter in:\n{metrics}"));
    assert!(line.ends_with(" 4"), "{line}");
}

#[tokio::test]
async fn the_same_message_twice_stores_its_events_once() {
    let server = Server::start();
    // As Mist sends it when the topic is enabled at org and site level.
    let body = br#"{"topic": "device-events", "events": [
        {"type": "AP_DISCONNECTED", "mac": "5c5b350e55c8", "org_id": "o1", "site_id": "s1", "timestamp": 1749080793, "ev_type": "WARN"},
        {"type": "AP_CONNECTED", "mac": "5c5b350e55c8", "org_id": "o1", "site_id": "s1", "timestamp": 1749080893, "ev_type": "NOTICE"}
    ]}"#
    .to_vec();
    let (status, first) = server.ingest("default", body.clone(), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let (status, second) = server.ingest("default", body, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        (second["accepted"].as_u64(), second["duplicates"].as_u64()),
        (Some(0), Some(2))
    );

    // The same event with keys in another order and other whitespace is the same event;
    // a changed value is not.
    let reordered = br#"{"events":[{"timestamp":1749080893,"site_id":"s1","org_id":"o1","mac":"5c5b350e55c8","type":"AP_CONNECTED","ev_type":"NOTICE"},
        {"type":"AP_CONNECTED","mac":"5c5b350e55c8","org_id":"o1","site_id":"s1","timestamp":1749080894,"ev_type":"NOTICE"}],"topic":"device_events"}"#
        .to_vec();
    let (status, third) = server.ingest("default", reordered, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        (third["accepted"].as_u64(), third["duplicates"].as_u64()),
        (Some(1), Some(1))
    );

    let events = server.all_events("&topic=device-events").await;
    assert_eq!(events.len(), 3, "stored once each");

    // The site-level copy of an alarm carries `for_site: true`; it is still the same alarm.
    let org_copy = alarm_body("org-and-site");
    let site_copy = String::from_utf8(org_copy.clone())
        .unwrap()
        .replace(r#""count":1,"#, r#""count":1,"for_site":true,"#);
    assert_ne!(site_copy.as_bytes(), &org_copy[..]);
    let (_, org) = server.ingest("default", org_copy, &[]).await;
    let (_, site) = server.ingest("default", site_copy, &[]).await;
    assert_eq!(org["accepted"], 1);
    assert_eq!(
        (site["accepted"].as_u64(), site["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let first_detail = server
        .api_ok(&format!("/requests/{}", first["request_id"]))
        .await;
    let second_detail = server
        .api_ok(&format!("/requests/{}", second["request_id"]))
        .await;
    assert_eq!(second_detail["events"], json!([]));
    assert_eq!(
        second_detail["duplicate_of"], first_detail["events"],
        "the request log says what it repeated"
    );
    assert_eq!(second_detail["duplicates"], 2);
    let requests = server.api_ok("/requests").await;
    assert_eq!(
        requests["items"].as_array().unwrap().len(),
        5,
        "every arrival is in the request log"
    );
    let stats = server.stats().await;
    assert_eq!(stats["totals"]["duplicates"], 4);
    assert_eq!(stats["totals"]["events"], 4);
}

#[tokio::test]
async fn a_sender_that_stalls_gets_408_and_is_not_stored() {
    let server = Server::start_with(Some(
        "[[sources]]\nname = \"default\"\n[ingest]\nrequest_timeout = \"1s\"\n",
    ));
    // Ten bytes of a declared hundred, then nothing.
    let partial = "POST /ingest/default HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"topic\":";
    let base = server.base.clone();
    let (status, text) = tokio::task::spawn_blocking(move || raw_http(&base, partial.as_bytes()))
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).expect("JSON error body");
    assert_error(status, &body, 408, "request_timeout");
    let stats = server.stats().await;
    assert_eq!(stats["totals"]["requests"], 0);
    assert_eq!(stats["totals"]["quarantined"], 0);
    // The server is fine afterwards.
    let (status, _) = server
        .ingest("default", alarm_body("after-stall"), &[])
        .await;
    assert_eq!(status, 200);
}
