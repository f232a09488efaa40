use super::*;
use crate::targets::{EventMessage, Message, template};

fn config(transport: &str) -> Config {
    serde_json::from_value(serde_json::json!({
        "address": "logs.example.net:514",
        "transport": transport,
    }))
    .unwrap()
}

fn event(severity: Option<&str>) -> Message {
    Message::Event(EventMessage {
        id: 42,
        topic: "alarms".into(),
        org_id: Some("o-1".into()),
        site_id: Some("s-1".into()),
        event_type: Some("device_down".into()),
        mac: Some("5c5b350e0001".into()),
        severity: severity.map(mist::Severity::parse),
        time: 1_749_998_077_621_725,
        received_at: 1_749_998_078_000_000,
        source: "default".into(),
        raw: serde_json::json!({}),
        site_name: Some("HQ \"main\" [1]".into()),
        device_name: Some("ap-lobby".into()),
    })
}

#[test]
fn defaults_and_checks_name_the_field() {
    let c = config("udp");
    c.check().unwrap();
    assert_eq!(c.transport, Transport::Udp);
    assert_eq!(c.max_bytes(), 2_048);
    assert_eq!(config("tcp").max_bytes(), 8_192);
    let bad = |f: &dyn Fn(&mut Config)| {
        let mut c = config("tcp");
        f(&mut c);
        c.check().unwrap_err()
    };
    assert!(bad(&|c| c.address = "logs.example.net".into()).starts_with("address"));
    assert!(bad(&|c| c.address = "logs:0".into()).starts_with("address"));
    assert!(bad(&|c| c.address = "::1:514".into()).starts_with("address"));
    assert!(bad(&|c| c.facility = "local8".into()).starts_with("facility"));
    assert!(bad(&|c| c.facility = "24".into()).starts_with("facility"));
    assert!(bad(&|c| c.hostname = "two words".into()).starts_with("hostname"));
    assert!(bad(&|c| c.app_name = "x".repeat(49)).starts_with("app_name"));
    assert!(bad(&|c| c.sd_id = "mistgate".into()).starts_with("sd_id"));
    assert!(bad(&|c| c.sd_id = "mist=gate@1".into()).starts_with("sd_id"));
    assert!(bad(&|c| c.template = Some("{{ open".into())).starts_with("template"));
    assert!(bad(&|c| c.max_message_bytes = Some(100)).starts_with("max_message_bytes"));
    assert!(bad(&|c| c.ca_file = Some("/nonexistent.pem".into())).starts_with("ca_file"));
    let mut v6 = config("tcp");
    v6.address = "[::1]:6514".into();
    v6.check().unwrap();
    assert_eq!(
        split_address(&v6.address).unwrap(),
        ("::1".to_string(), 6514)
    );
    assert!(
        serde_json::from_value::<Config>(
            serde_json::json!({"address": "a:1", "transport": "relp"})
        )
        .is_err()
    );
}

#[test]
fn facilities_by_name_and_number() {
    assert_eq!(facility_code("local0"), Some(16));
    assert_eq!(facility_code("LOCAL7"), Some(23));
    assert_eq!(facility_code("daemon"), Some(3));
    assert_eq!(facility_code("4"), Some(4));
    assert_eq!(facility_code("local9"), None);
}

#[test]
fn mist_severities_map_to_syslog_severities() {
    let cases = [
        (Some("critical"), 2),
        (Some("major"), 3),
        (Some("minor"), 4),
        (Some("warn"), 4),
        (Some("WARNING"), 4),
        (Some("notice"), 5),
        (Some("info"), 6),
        (Some("whatever"), 6),
        (None, 6),
    ];
    for (severity, expected) in cases {
        assert_eq!(syslog_severity(&event(severity)), expected, "{severity:?}");
    }
    // A critical incident opens at crit; its end is a notice.
    assert_eq!(syslog_severity(&template::tests::incident("opened")), 2);
    assert_eq!(syslog_severity(&template::tests::incident("updated")), 2);
    assert_eq!(
        syslog_severity(&template::tests::incident("acknowledged")),
        5
    );
    assert_eq!(syslog_severity(&template::tests::incident("resolved")), 5);
}

#[test]
fn pri_timestamp_and_escaped_structured_data() {
    let c = config("udp");
    let text = line(&c, 16, &event(Some("major")));
    // local0 (16) * 8 + err (3) = 131.
    assert!(
        text.starts_with(
            "<131>1 2025-06-15T14:34:37.621725Z mistgate mistgate - alarms [mistgate@32473 id=\"42\" topic=\"alarms\""
        ),
        "{text}"
    );
    assert!(text.contains(r#" site="HQ \"main\" [1\]""#), "{text}");
    assert!(
        text.ends_with("] device_down at HQ \"main\" [1] (ap-lobby)"),
        "{text}"
    );
}

#[test]
fn tcp_frames_are_octet_counted_and_long_messages_cut() {
    let text = "<134>1 - - - - - - é";
    assert_eq!(frame(Transport::Udp, text), text.as_bytes());
    let framed = frame(Transport::Tcp, text);
    assert_eq!(framed, format!("{} {text}", text.len()).into_bytes());
    assert_eq!(
        (text.len(), text.chars().count()),
        (21, 20),
        "the length counts bytes, not characters"
    );
    assert!(framed.starts_with(b"21 <134>1"));

    let mut c = config("udp");
    c.max_message_bytes = Some(480);
    c.template = Some("{{ 'é' * 400 }}".into());
    let cut = line(&c, 16, &event(None));
    assert!(cut.len() <= 480 && cut.len() >= 478, "{}", cut.len());
    assert!(cut.ends_with('é'));
}
