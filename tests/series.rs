//! `GET /api/v1/stats/series` against the real binary: events per bucket and topic by
//! receive time, duplicates not counted, the filters, the defaults, the token and the
//! 400s.

mod support;

use serde_json::{Value, json};
use support::{Server, TOKEN};

const CONFIG: &str = r#"
[[sources]]
name = "default"

[[sources]]
name = "lab"
"#;

/// An envelope of `n` distinct events of `topic`, told apart by `tag`.
fn body(topic: &str, tag: &str, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..n)
        .map(
            |i| json!({"type": "TEST", "id": format!("{tag}-{i}"), "timestamp": 1_749_998_000 + i}),
        )
        .collect();
    serde_json::to_vec(&json!({"topic": topic, "events": events})).unwrap()
}

async fn ingest(server: &Server, source: &str, body: Vec<u8>) -> i64 {
    let (status, answer) = server.ingest(source, body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    answer["accepted"].as_i64().unwrap()
}

/// Per topic, the events of every point, summed; every point checked for its shape.
fn totals(answer: &Value, step_seconds: i64) -> Vec<(String, i64)> {
    assert_eq!(answer["step_seconds"], step_seconds, "{answer}");
    let since = seconds(&answer["since"]);
    let until = seconds(&answer["until"]);
    assert_eq!(since % step_seconds, 0, "{answer}");
    assert_eq!(until % step_seconds, 0, "{answer}");
    let mut out = Vec::new();
    for s in answer["series"].as_array().unwrap() {
        let mut sum = 0;
        let mut last = i64::MIN;
        for p in s["points"].as_array().unwrap() {
            let t = seconds(&p["t"]);
            assert!(t > last, "points oldest first: {s}");
            assert_eq!(t % step_seconds, 0, "aligned: {s}");
            assert!((since..until).contains(&t), "within the range: {answer}");
            let n = p["events"].as_i64().unwrap();
            assert!(n > 0, "only buckets with events: {s}");
            sum += n;
            last = t;
        }
        out.push((s["topic"].as_str().unwrap().to_string(), sum));
    }
    out
}

/// A bucket time as the API writes it (`YYYY-MM-DDTHH:MM:SS.000000Z`, whole seconds) as
/// epoch seconds.
fn seconds(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert_eq!(s.len(), 27, "{s}");
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    assert_eq!(&s[19..], ".000000Z", "{s}");
    days * 86_400 + n(11, 13) * 3_600 + n(14, 16) * 60 + n(17, 19)
}

fn pairs(p: &[(&str, i64)]) -> Vec<(String, i64)> {
    p.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

#[tokio::test]
async fn the_series_counts_stored_events_per_topic_by_receive_time() {
    let server = Server::start_with(Some(CONFIG));
    assert_eq!(ingest(&server, "default", body("alarms", "a", 3)).await, 3);
    assert_eq!(
        ingest(&server, "default", body("device-events", "d", 2)).await,
        2
    );
    assert_eq!(ingest(&server, "lab", body("alarms", "l", 4)).await, 4);
    // Duplicates are not stored, so not counted.
    assert_eq!(ingest(&server, "default", body("alarms", "a", 3)).await, 0);

    // The defaults: the last hour by minute, every topic and source.
    let all = server.api_ok("/stats/series").await;
    assert_eq!(
        totals(&all, 60),
        pairs(&[("alarms", 7), ("device-events", 2)])
    );
    assert_eq!(seconds(&all["until"]) - seconds(&all["since"]), 61 * 60);
    // Filters: the topic in any spelling, the source.
    let alarms = server.api_ok("/stats/series?topic=Alarms&step=1h").await;
    assert_eq!(totals(&alarms, 3_600), pairs(&[("alarms", 7)]));
    let lab = server.api_ok("/stats/series?source=lab&step=5m").await;
    assert_eq!(totals(&lab, 300), pairs(&[("alarms", 4)]));
    let events = server
        .api_ok("/stats/series?topic=device_events&source=default&step=1d")
        .await;
    assert_eq!(totals(&events, 86_400), pairs(&[("device-events", 2)]));
    let nobody = server.api_ok("/stats/series?source=nobody").await;
    assert_eq!(nobody["series"], json!([]));

    // An explicit range that ends before the events were received holds none of them;
    // the answer names the whole buckets that `since` and `until` fall in.
    let (since, until) = ("2025-06-15T14:01:30Z", "2025-06-15T14:58:59.5Z");
    let old = server
        .api_ok(&format!(
            "/stats/series?since={since}&until={until}&step=15m"
        ))
        .await;
    assert_eq!(old["since"], "2025-06-15T14:00:00.000000Z");
    assert_eq!(old["until"], "2025-06-15T15:00:00.000000Z");
    assert_eq!(old["series"], json!([]));
}

#[tokio::test]
async fn the_series_needs_the_token_and_refuses_bad_parameters() {
    let server = Server::start();
    let response = server
        .client
        .get(server.url("/api/v1/stats/series"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let wrong = server
        .client
        .get(server.url("/api/v1/stats/series"))
        .header("authorization", format!("Token {TOKEN}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    for (query, names) in [
        ("step=0m", "step"),
        ("step=90s", "step"),
        ("step=2d", "step"),
        ("step=1441m", "step"),
        ("step=", "step"),
        ("since=yesterday", "since"),
        ("until=", "until"),
        ("since=1749998060&until=1749998000", "since"),
        // 2,001 one-minute buckets.
        ("since=1749990000&until=1750110000", "2001 buckets"),
        ("since=0&step=1d", "buckets"),
    ] {
        let (status, answer) = server.api(&format!("/stats/series?{query}")).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["error"], "invalid_query", "{query}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(names), "{query}: {detail}");
    }
    // The largest range and the widest step pass.
    let (status, answer) = server
        .api("/stats/series?since=1749990000&until=1750109999&step=1m")
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server
        .api("/stats/series?since=0&until=172799&step=1d")
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["since"], "1970-01-01T00:00:00.000000Z");
    assert_eq!(answer["until"], "1970-01-03T00:00:00.000000Z");
}
