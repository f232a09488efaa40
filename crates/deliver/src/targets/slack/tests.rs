use super::send::{ApiAnswer, api_answer};
use super::*;
use crate::client::HttpAnswer;
use crate::rate_limit::RateLimit;
use crate::schedule::{Class, Outcome, classify};
use crate::targets::template::tests::incident;
use crate::targets::{Message, local_failure};

fn webhook() -> Config {
    Config {
        rate_limit: None,
        webhook_url: Some("https://hooks.slack.com/services/T0/B0/secret".into()),
        token: None,
        channel: None,
        api_url: DEFAULT_API_URL.into(),
        title_template: None,
        text_template: None,
    }
}

fn bot() -> Config {
    Config {
        webhook_url: None,
        token: Some("xoxb-1-2-secret".into()),
        channel: Some("#noc".into()),
        ..webhook()
    }
}

#[test]
fn a_config_names_the_field_it_lacks() {
    assert!(webhook().check().is_ok());
    assert!(bot().check().is_ok());
    let both = Config {
        webhook_url: webhook().webhook_url,
        ..bot()
    };
    assert!(both.check().unwrap_err().contains("not both"));
    let neither = Config {
        token: None,
        ..bot()
    };
    assert!(neither.check().unwrap_err().starts_with("webhook_url"));
    let no_channel = Config {
        channel: Some(" ".into()),
        ..bot()
    };
    assert!(no_channel.check().unwrap_err().starts_with("channel"));
    let bad_token = Config {
        token: Some("secret".into()),
        ..bot()
    };
    assert!(bad_token.check().unwrap_err().starts_with("token"));
    let bad_template = Config {
        title_template: Some("{{ oops".into()),
        ..webhook()
    };
    assert!(
        bad_template
            .check()
            .unwrap_err()
            .starts_with("title_template")
    );
    let bad_url = Config {
        webhook_url: Some("hooks.slack.com/x".into()),
        ..webhook()
    };
    assert!(bad_url.check().unwrap_err().starts_with("webhook_url"));
}

#[test]
fn debug_hides_the_webhook_url_and_the_token() {
    let shown = format!("{:?} {:?}", webhook(), bot());
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("#noc"));
}

#[test]
fn slack_is_one_message_a_second_unless_configured() {
    use crate::targets::TargetConfig;
    let target = |extra: serde_json::Value| -> TargetConfig {
        let mut config = serde_json::json!({
            "type": "slack",
            "webhook_url": "https://hooks.slack.com/services/T/B/x",
        });
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(config).unwrap()
    };
    assert_eq!(
        target(serde_json::json!({})).rate_limit(),
        Some(RateLimit::per_second(1))
    );
    assert_eq!(
        target(serde_json::json!({"rate_limit": "20/min"})).rate_limit(),
        Some("20/min".parse().unwrap())
    );
    // Other targets have no limit of their own.
    let webhook: TargetConfig =
        serde_json::from_value(serde_json::json!({"type": "webhook", "url": "https://x.example"}))
            .unwrap();
    assert_eq!(webhook.rate_limit(), None);
}

#[test]
fn names_from_mist_cannot_mention_or_link() {
    let Message::Incident(mut m) = incident("opened") else {
        unreachable!()
    };
    m.site_name = Some("<!channel> & <https://evil.example|HQ>".into());
    let body = payload(&webhook(), &Message::Incident(m));
    let text = format!("{} {}", body["blocks"][1], body["text"]);
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|HQ&gt;"));
    // The header is plain text: shown as written, never parsed.
    assert!(
        body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("<!channel>")
    );
}

#[test]
fn long_text_stays_within_block_kit_limits() {
    let Message::Incident(mut m) = incident("opened") else {
        unreachable!()
    };
    m.incident.summary = "x&".repeat(3_000);
    m.incident.devices = (0..500).map(|i| format!("5c5b350e{i:04}")).collect();
    let body = payload(&webhook(), &Message::Incident(m));
    let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(header.chars().count() <= 150);
    for field in body["blocks"][1]["fields"].as_array().unwrap() {
        let text = field["text"].as_str().unwrap();
        assert!(text.chars().count() <= 2000, "{}", text.len());
        // Never cut inside an entity.
        assert!(!text.ends_with("&amp…") && !text.contains("&…"), "{text}");
    }
    assert!(body["text"].as_str().unwrap().chars().count() <= 3000);
}

fn answer(status: u16, body: &str) -> HttpAnswer {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("retry-after", "30".parse().unwrap());
    HttpAnswer {
        status,
        headers,
        body: body.as_bytes().to_vec().into(),
    }
}

fn answered(status: u16, body: &str) -> (ApiAnswer, Outcome) {
    let mut exchange = local_failure(
        if status == 200 {
            Outcome::Success
        } else {
            Outcome::Status {
                code: status,
                retry_after_us: None,
            }
        },
        "",
    );
    let read = api_answer(&mut exchange, &answer(status, body), 0);
    (read, exchange.outcome)
}

#[test]
fn web_api_errors_are_retried_or_dead_as_slack_means_them() {
    let (meaning, outcome) = answered(200, r#"{"ok":true,"channel":"C1","ts":"1.2"}"#);
    assert_eq!(
        meaning,
        ApiAnswer::Done(Some(Posted {
            channel: "C1".into(),
            ts: "1.2".into()
        }))
    );
    assert_eq!(outcome, Outcome::Success);

    let (_, outcome) = answered(200, r#"{"ok":false,"error":"channel_not_found"}"#);
    assert_eq!(classify(&outcome), Class::Fail);
    let (_, outcome) = answered(200, r#"{"ok":false,"error":"invalid_auth"}"#);
    assert_eq!(classify(&outcome), Class::Fail);
    let (_, outcome) = answered(200, r#"{"ok":false,"error":"internal_error"}"#);
    assert_eq!(classify(&outcome), Class::Retry);
    let (_, outcome) = answered(200, r#"{"ok":false,"error":"ratelimited"}"#);
    assert_eq!(
        outcome,
        Outcome::Status {
            code: 429,
            retry_after_us: Some(30_000_000)
        }
    );
    let (meaning, outcome) = answered(200, r#"{"ok":false,"error":"message_not_found"}"#);
    assert_eq!(meaning, ApiAnswer::Gone);
    assert_eq!(classify(&outcome), Class::Fail);
    let (_, outcome) = answered(200, "<html>proxy</html>");
    assert_eq!(classify(&outcome), Class::Retry);
    let (meaning, _) = answered(503, r#"{"ok":false,"error":"service_unavailable"}"#);
    assert_eq!(meaning, ApiAnswer::Failed);
}
