use super::*;
use crate::client::HttpAnswer;
use crate::schedule::Outcome;
use crate::targets::template::tests::incident;
use crate::targets::{Message, local_failure};

fn config() -> Config {
    Config {
        rate_limit: None,
        url: "https://prod-01.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=secret".into(),
        title_template: None,
        text_template: None,
    }
}

#[test]
fn a_config_names_the_field_it_gets_wrong() {
    assert!(config().check().is_ok());
    let bad = Config {
        url: "teams".into(),
        ..config()
    };
    assert!(bad.check().unwrap_err().starts_with("url"));
    let bad = Config {
        text_template: Some("{% if %}".into()),
        ..config()
    };
    assert!(bad.check().unwrap_err().starts_with("text_template"));
    assert!(!format!("{:?}", config()).contains("secret"));
}

#[test]
fn a_huge_incident_still_fits_in_a_teams_message() {
    let Message::Incident(mut m) = incident("opened") else {
        unreachable!()
    };
    m.incident.summary = "€".repeat(20_000);
    m.incident.devices = (0..2_000).map(|i| format!("5c5b350e{i:04}")).collect();
    let message = Message::Incident(m);
    let request = encode(
        &Config {
            text_template: Some("{{ summary }} {{ devices }}".into()),
            ..config()
        },
        &message,
    );
    assert!(
        request.body.len() <= MAX_BODY_BYTES,
        "{}",
        request.body.len()
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let content = &body["attachments"][0]["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["body"][1]["type"], "FactSet");
}

#[test]
fn resolutions_are_green_and_critical_openings_red() {
    let opened = card(&config(), &incident("opened"));
    assert_eq!(opened["body"][0]["color"], "Attention");
    let resolved = card(&config(), &incident("resolved"));
    assert_eq!(resolved["body"][0]["color"], "Good");
    assert_eq!(
        resolved["actions"][0]["url"],
        "https://mistgate.example.net/api/v1/incidents/3"
    );
}

#[test]
fn workflow_errors_are_named() {
    let mut exchange = local_failure(
        Outcome::Status {
            code: 404,
            retry_after_us: None,
        },
        "HTTP 404",
    );
    let answer = HttpAnswer {
        status: 404,
        headers: Default::default(),
        body: br#"{"error":{"code":"WorkflowNotFound","message":"The workflow was not found."}}"#
            .to_vec()
            .into(),
    };
    send::explain(&mut exchange, &answer);
    assert_eq!(
        exchange.error.as_deref(),
        Some("HTTP 404: WorkflowNotFound The workflow was not found.")
    );
}
