use super::*;
use crate::targets::template;

fn config() -> Config {
    serde_json::from_value(serde_json::json!({
        "url": "https://splunk.example.net:8088",
        "token": "11111111-2222-3333-4444-555555555555",
    }))
    .unwrap()
}

#[test]
fn defaults_and_the_event_path() {
    let c = config();
    assert_eq!(c.source, "mistgate");
    assert_eq!(c.batch_size, 100);
    assert!(c.verify_cert);
    c.check().unwrap();
    assert_eq!(
        endpoint(&c),
        "https://splunk.example.net:8088/services/collector/event"
    );
    let full = Config {
        url: "https://http-inputs-acme.splunkcloud.com/services/collector/event".into(),
        ..config()
    };
    full.check().unwrap();
    assert_eq!(endpoint(&full), full.url);
}

#[test]
fn checks_name_the_field() {
    let bad = |f: &dyn Fn(&mut Config)| {
        let mut c = config();
        f(&mut c);
        c.check().unwrap_err()
    };
    assert!(bad(&|c| c.url = "splunk:8088".into()).starts_with("url"));
    assert!(bad(&|c| c.url = "https://s:8088/services/collector/raw".into()).starts_with("url"));
    assert!(bad(&|c| c.token = " ".into()).starts_with("token"));
    assert!(bad(&|c| c.token = "a b".into()).starts_with("token"));
    assert!(bad(&|c| c.index = Some("".into())).starts_with("index"));
    assert!(bad(&|c| c.batch_size = 0).starts_with("batch_size"));
    assert!(bad(&|c| c.batch_size = MAX_BATCH + 1).starts_with("batch_size"));
    let unknown = serde_json::from_value::<Config>(serde_json::json!({
        "url": "https://s", "token": "t", "indexes": "main"
    }));
    assert!(unknown.is_err());
}

#[test]
fn the_token_is_never_shown() {
    let c = config();
    let shown = format!("{c:?}");
    assert!(!shown.contains(&c.token), "{shown}");
    let request = encode(&c, &[template::tests::incident("opened")]).unwrap();
    let auth = ("Authorization".to_string(), format!("Splunk {}", c.token));
    assert!(request.headers.contains(&auth));
    assert!(!String::from_utf8_lossy(&request.body).contains(&c.token));
}

#[test]
fn time_is_seconds_with_milliseconds_and_configured_fields_are_set() {
    let mut c = config();
    c.index = Some("network".into());
    c.host = Some("mistgate-1".into());
    c.sourcetype = Some("mist:json".into());
    let message = template::tests::incident("resolved");
    let mut body = Vec::new();
    push_message(&mut body, &c, &message);
    let text = String::from_utf8(body).unwrap();
    // The change happened at 1_700_000_600_000_000 µs.
    assert!(text.starts_with(r#"{"time":1700000600.000,"#), "{text}");
    let event: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["index"], "network");
    assert_eq!(event["host"], "mistgate-1");
    assert_eq!(event["sourcetype"], "mist:json");
    assert_eq!(event["fields"]["severity"], "critical");
    assert_eq!(event["fields"]["site_name"], "HQ");
    assert_eq!(event["event"]["incident"]["state"], "resolved");
    // Unset options are left out, so HEC applies the token's defaults.
    let mut plain = Vec::new();
    push_message(&mut plain, &config(), &message);
    let plain: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert!(plain.get("index").is_none() && plain.get("host").is_none());
    assert_eq!(plain["sourcetype"], "mistgate:incident");
}

#[test]
fn hec_answers_are_read_for_the_record() {
    assert_eq!(
        send::hec_answer(br#"{"text":"Invalid token","code":4}"#).as_deref(),
        Some("Invalid token (HEC code 4)")
    );
    assert_eq!(send::hec_answer(b"<html>"), None);
}
