use super::send::{RATE_LIMIT_WAIT_US, recorded, refine};
use super::*;
use crate::client::HttpAnswer;
use crate::schedule::{Class, Outcome, classify};
use crate::targets::template::tests::incident;
use crate::targets::{Message, local_failure};

const KEY: &str = "R0123456789abcdef0123456789ABCDE";

fn config() -> Config {
    Config {
        rate_limit: None,
        routing_key: KEY.into(),
        url: DEFAULT_URL.into(),
        summary_template: None,
    }
}

fn body(message: &Message) -> serde_json::Value {
    serde_json::from_slice(&encode(&config(), message).body).unwrap()
}

#[test]
fn a_config_names_the_field_it_gets_wrong() {
    assert!(config().check().is_ok());
    let short = Config {
        routing_key: "abc".into(),
        ..config()
    };
    assert!(short.check().unwrap_err().starts_with("routing_key"));
    let bad = Config {
        summary_template: Some("{{".into()),
        ..config()
    };
    assert!(bad.check().unwrap_err().starts_with("summary_template"));
    assert!(!format!("{:?}", config()).contains(KEY));
}

#[test]
fn mist_severities_map_to_the_four_of_pagerduty() {
    let mapped: Vec<&str> = ["critical", "major", "minor", "warn", "info", "", "Critical"]
        .iter()
        .map(|s| pd_severity(&mist::Severity::parse(s)))
        .collect();
    assert_eq!(
        mapped,
        [
            "critical", "error", "warning", "warning", "info", "info", "critical"
        ]
    );
}

#[test]
fn changes_map_to_actions_under_one_dedup_key() {
    let actions: Vec<(String, String)> = [
        "opened",
        "updated",
        "acknowledged",
        "resolved",
        "suppressed",
    ]
    .iter()
    .map(|c| {
        let b = body(&incident(c));
        (
            b["event_action"].as_str().unwrap().to_string(),
            b["dedup_key"].as_str().unwrap().to_string(),
        )
    })
    .collect();
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["trigger", "trigger", "acknowledge", "resolve", "resolve"]
    );
    assert!(
        actions
            .iter()
            .all(|(_, k)| k == "mistgate:device_down:o:5c5b350e0001:3")
    );
    // Acknowledge and resolve carry nothing but the three documented fields.
    let resolve = body(&incident("resolved"));
    let mut fields: Vec<&String> = resolve.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["dedup_key", "event_action", "routing_key"]);
}

#[test]
fn long_keys_and_summaries_fit_the_limits() {
    let key = dedup_key(&"k".repeat(400), 9);
    assert!(key.len() <= 255 && key.ends_with(":9"), "{key}");
    assert_ne!(key, dedup_key(&"j".repeat(400), 9));
    let Message::Incident(mut m) = incident("opened") else {
        unreachable!()
    };
    m.incident.summary = "ü".repeat(5_000);
    let b = body(&Message::Incident(m));
    let summary = b["payload"]["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), SUMMARY_CHARS);
}

#[test]
fn records_never_show_the_routing_key() {
    let request = encode(&config(), &incident("opened"));
    assert!(String::from_utf8_lossy(&request.body).contains(KEY));
    let shown = recorded(&request.body, KEY, 4096);
    assert!(!shown.contains(KEY) && shown.starts_with(r#"{"routing_key":"<redacted>""#));
    let cut = recorded(&request.body, KEY, 40);
    assert!(
        !cut.contains(&KEY[..8]) && cut.contains("bytes in all"),
        "{cut}"
    );
}

fn answer(status: u16, body: &str) -> HttpAnswer {
    HttpAnswer {
        status,
        headers: Default::default(),
        body: body.as_bytes().to_vec().into(),
    }
}

#[test]
fn answers_are_explained_and_a_bare_429_waits_as_advised() {
    let mut exchange = local_failure(
        Outcome::Status {
            code: 429,
            retry_after_us: None,
        },
        "HTTP 429",
    );
    refine(&mut exchange, &answer(429, ""));
    assert_eq!(
        exchange.outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(RATE_LIMIT_WAIT_US)
        }
    );
    let mut exchange = local_failure(
        Outcome::Status {
            code: 400,
            retry_after_us: None,
        },
        "HTTP 400",
    );
    refine(
        &mut exchange,
        &answer(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.source' is missing"]}"#,
        ),
    );
    assert_eq!(classify(&exchange.outcome), Class::Fail);
    assert_eq!(
        exchange.error.as_deref(),
        Some("HTTP 400: Event object is invalid 'payload.source' is missing")
    );
}
