use super::*;
use crate::targets::{EventMessage, Message, template};

fn config() -> Config {
    serde_json::from_value(serde_json::json!({"url": "nats://127.0.0.1:4222"})).unwrap()
}

fn event(org: Option<&str>, site: Option<&str>, topic: &str) -> Message {
    Message::Event(EventMessage {
        id: 9,
        topic: topic.into(),
        org_id: org.map(str::to_string),
        site_id: site.map(str::to_string),
        event_type: None,
        mac: None,
        severity: None,
        time: 0,
        received_at: 0,
        source: "default".into(),
        raw: serde_json::json!({}),
        site_name: None,
        device_name: None,
    })
}

#[test]
fn defaults_and_checks_name_the_field() {
    let c = config();
    c.check().unwrap();
    assert_eq!(c.stream, "MISTGATE");
    assert_eq!(c.duplicate_window, std::time::Duration::from_secs(600));
    assert_eq!(
        c.retention,
        async_nats::jetstream::stream::RetentionPolicy::Limits
    );
    let bad = |f: &dyn Fn(&mut Config)| {
        let mut c = config();
        f(&mut c);
        c.check().unwrap_err()
    };
    assert!(bad(&|c| c.url = "http://127.0.0.1:4222".into()).starts_with("url"));
    assert!(bad(&|c| c.url = "nats://u:p@127.0.0.1".into()).starts_with("url"));
    assert!(bad(&|c| c.stream = "MIST.GATE".into()).starts_with("stream"));
    assert!(bad(&|c| c.subject_prefix = "mist.*".into()).starts_with("subject_prefix"));
    assert!(bad(&|c| c.incident_prefix = "mist.incidents".into()).starts_with("incident_prefix"));
    assert!(bad(&|c| c.user = Some("u".into())).starts_with("password"));
    assert!(
        bad(&|c| {
            c.token = Some("t".into());
            c.user = Some("u".into());
            c.password = Some("p".into());
        })
        .starts_with("token")
    );
    assert!(bad(&|c| c.replicas = 0).starts_with("replicas"));
    assert!(
        bad(&|c| c.duplicate_window = std::time::Duration::ZERO).starts_with("duplicate_window")
    );
    let written: Config = serde_json::from_value(serde_json::json!({
        "url": "tls://nats.example.net", "retention": "workqueue", "storage": "memory",
        "max_age": "1d", "duplicate_window": "2m"
    }))
    .unwrap();
    written.check().unwrap();
    assert_eq!(
        server_address(&written.url).unwrap(),
        ("nats.example.net".to_string(), 4222)
    );
    assert_eq!(written.max_age, std::time::Duration::from_secs(86_400));
}

#[test]
fn secrets_are_not_shown() {
    let mut c = config();
    c.token = Some("s3cret-token".into());
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn subjects_name_org_site_and_topic_and_never_add_tokens() {
    let c = config();
    assert_eq!(
        subject(&c, &event(Some("o-1"), Some("s-1"), "alarms")),
        "mist.o-1.s-1.alarms"
    );
    // An org-level audit has no site.
    assert_eq!(
        subject(&c, &event(Some("o-1"), None, "audits")),
        "mist.o-1._.audits"
    );
    assert_eq!(subject(&c, &event(None, None, "ping")), "mist._._.ping");
    assert_eq!(
        subject(&c, &event(Some("a.b"), Some("*"), "x >y")),
        "mist.a_b._.x__y"
    );
    assert_eq!(
        subject(&c, &template::tests::incident("opened")),
        "mistgate.incidents.device_down"
    );
    assert_eq!(msg_id(&event(None, None, "alarms")), "event-9");
    assert_eq!(
        msg_id(&template::tests::incident("opened")),
        "incident-change-7"
    );
}

#[test]
fn a_created_stream_takes_both_prefixes_with_the_configured_retention() {
    let mut c = config();
    c.retention = async_nats::jetstream::stream::RetentionPolicy::Interest;
    let s = send::stream_config(&c);
    assert_eq!(s.name, "MISTGATE");
    assert_eq!(s.subjects, ["mist.>", "mistgate.incidents.>"]);
    assert_eq!(
        s.retention,
        async_nats::jetstream::stream::RetentionPolicy::Interest
    );
    assert_eq!(s.duplicate_window, c.duplicate_window);
}
