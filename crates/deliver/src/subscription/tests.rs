//! Tests of the webhook object: defaults, every validation rule, secrets.

use super::*;
use serde_json::json;

const NOW: f64 = 1_700_000_000.5;

fn org() -> Scope {
    Scope::Org("org-1".into())
}

fn site() -> Scope {
    Scope::Site("site-1".into())
}

fn parse(body: Value, scope: &Scope) -> Result<Subscription, Invalid> {
    parse_request(body.to_string().as_bytes(), scope, "wh-1", NOW, None)
}

#[test]
fn minimal_post_gets_the_defaults() {
    let sub = parse(
        json!({"url": "https://example.com/hook", "topics": ["alarms"]}),
        &org(),
    )
    .unwrap();
    assert_eq!(sub.id, "wh-1");
    assert_eq!(sub.org_id.as_deref(), Some("org-1"));
    assert_eq!(sub.site_id, None);
    assert!(!sub.for_site);
    assert!(sub.enabled);
    assert!(sub.verify_cert);
    assert!(!sub.single_event_per_message);
    assert_eq!(sub.webhook_type, WebhookType::HttpPost);
    assert_eq!(sub.topics, vec!["alarms"]);
    assert_eq!(sub.secret, None);
    assert!(sub.headers.is_empty());
    assert_eq!(sub.created_time, NOW);
    assert_eq!(sub.modified_time, NOW);
}

#[test]
fn read_only_fields_are_ignored_and_scope_wins() {
    let sub = parse(
        json!({"url": "http://h", "topics": ["zone"], "id": "other", "org_id": "x",
               "site_id": "y", "for_site": false, "created_time": 1, "modified_time": 2}),
        &site(),
    )
    .unwrap();
    assert_eq!(sub.id, "wh-1");
    assert_eq!(sub.site_id.as_deref(), Some("site-1"));
    assert_eq!(sub.org_id, None);
    assert!(sub.for_site);
    assert_eq!(sub.created_time, NOW);
}

#[test]
fn not_json_or_not_object_is_400() {
    for body in [&b"{not json"[..], b"[1,2]", b"\"s\"", b""] {
        let err = parse_request(body, &org(), "wh-1", NOW, None).unwrap_err();
        assert_eq!(
            (err.status, err.code, err.field),
            (400, "malformed_json", None)
        );
    }
}

#[test]
fn each_rule_names_its_field() {
    let long = "v".repeat(997); // 3 + 997 = 1000 bytes: not under 1000
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"topics": ["alarms"]}), "url", "invalid_field"),
        (
            json!({"url": "not a url", "topics": ["alarms"]}),
            "url",
            "invalid_field",
        ),
        (
            json!({"url": "ftp://h/x", "topics": ["alarms"]}),
            "url",
            "invalid_field",
        ),
        (
            json!({"url": 5, "topics": ["alarms"]}),
            "url",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "bogus": 1}),
            "bogus",
            "invalid_field",
        ),
        (json!({"url": "http://h"}), "topics", "invalid_field"),
        (
            json!({"url": "http://h", "topics": []}),
            "topics",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": "alarms"}),
            "topics",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": [1]}),
            "topics",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["no such/topic"]}),
            "topics",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "enabled": "yes"}),
            "enabled",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "verify_cert": 1}),
            "verify_cert",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "name": 3}),
            "name",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "ftp"}),
            "type",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "google-pubsub"}),
            "url",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "aws-sns"}),
            "url",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "secret": ""}),
            "secret",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "secret": 1}),
            "secret",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "headers": {"x": 1}}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "headers": ["x"]}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "headers": {"x-a": long}}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "headers": {"bad name": "v"}}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "headers": {"x": "a\r\nb: c"}}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "splunk", "splunk_token": "t",
                "headers": {"x": "v"}}),
            "headers",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "splunk"}),
            "splunk_token",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2",
                "oauth2_grant_type": "password", "oauth2_username": "u", "oauth2_password": "p"}),
            "oauth2_token_url",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2",
                "oauth2_token_url": "https://idp/token"}),
            "oauth2_grant_type",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "oauth2_grant_type": "implicit"}),
            "oauth2_grant_type",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2", "oauth2_token_url": "https://idp/t",
                "oauth2_grant_type": "client_credentials", "oauth2_client_secret": "s"}),
            "oauth2_client_id",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2", "oauth2_token_url": "https://idp/t",
                "oauth2_grant_type": "client_credentials", "oauth2_client_id": "c"}),
            "oauth2_client_secret",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2", "oauth2_token_url": "https://idp/t",
                "oauth2_grant_type": "password", "oauth2_password": "p"}),
            "oauth2_username",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2", "oauth2_token_url": "https://idp/t",
                "oauth2_grant_type": "password", "oauth2_username": "u"}),
            "oauth2_password",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "type": "oauth2", "oauth2_token_url": "idp",
                "oauth2_grant_type": "password", "oauth2_username": "u", "oauth2_password": "p"}),
            "oauth2_token_url",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "oauth2_scopes": "a b"}),
            "oauth2_scopes",
            "invalid_field",
        ),
        (
            json!({"url": "http://h", "topics": ["alarms"], "assetfilter_ids": ["f1"]}),
            "assetfilter_ids",
            "invalid_field",
        ),
    ];
    for (body, field, code) in cases {
        let err = parse(body.clone(), &site()).expect_err(&body.to_string());
        assert_eq!(err.status, 422, "{body}");
        assert_eq!(err.code, code, "{body}");
        assert_eq!(err.field.as_deref(), Some(field), "{body}: {err}");
    }
}

#[test]
fn valid_splunk_oauth2_and_asset_filter_objects_pass() {
    let splunk = parse(
        json!({"url": "https://splunk:8088/services/collector", "topics": ["audits"],
               "type": "splunk", "splunk_token": "tok"}),
        &org(),
    )
    .unwrap();
    assert_eq!(splunk.webhook_type, WebhookType::Splunk);
    let oauth = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "type": "oauth2",
               "oauth2_token_url": "https://idp/token", "oauth2_grant_type": "client_credentials",
               "oauth2_client_id": "c", "oauth2_client_secret": "s", "oauth2_scopes": ["a"]}),
        &org(),
    )
    .unwrap();
    assert_eq!(
        oauth.oauth2_grant_type,
        Some(Oauth2Grant::ClientCredentials)
    );
    let assets = parse(
        json!({"url": "https://r/x", "topics": ["asset-raw-rssi"], "assetfilter_ids": ["f1"]}),
        &site(),
    )
    .unwrap();
    assert_eq!(assets.assetfilter_ids, vec!["f1"]);
    let headers = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "headers": {"x-a": "b"}}),
        &org(),
    )
    .unwrap();
    assert_eq!(headers.headers.get("x-a").map(String::as_str), Some("b"));
    let at_limit = json!({"url": "https://r/x", "topics": ["alarms"],
                          "headers": {"x-a": "v".repeat(996)}});
    assert!(parse(at_limit, &org()).is_ok(), "999 bytes is under 1000");
}

#[test]
fn site_only_topic_needs_a_site_webhook() {
    let body = json!({"url": "https://r/x", "topics": ["alarms", "location_client"]});
    let err = parse(body.clone(), &org()).unwrap_err();
    assert_eq!((err.status, err.field.as_deref()), (422, Some("topics")));
    let sub = parse(body, &site()).unwrap();
    assert_eq!(sub.topics, vec!["alarms", "location-client"]);
}

/// `aws-sns` and `google-pubsub` name their topic in `url`.
#[test]
fn cloud_types_take_their_topic_in_url() {
    let sns = json!({"url": "arn:aws:sns:eu-west-1:123456789012:mist", "topics": ["alarms"], "type": "aws-sns"});
    assert_eq!(
        parse(sns, &org()).unwrap().webhook_type,
        WebhookType::AwsSns
    );
    let pubsub =
        json!({"url": "projects/p1/topics/mist", "topics": ["alarms"], "type": "google-pubsub"});
    assert_eq!(
        parse(pubsub, &org()).unwrap().webhook_type,
        WebhookType::GooglePubsub
    );
    let err = parse(
        json!({"url": "projects/p1/topics/mist", "topics": ["alarms"]}),
        &org(),
    )
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("url"));
    for t in [
        WebhookType::HttpPost,
        WebhookType::Splunk,
        WebhookType::Oauth2,
        WebhookType::AwsSns,
        WebhookType::GooglePubsub,
    ] {
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
}

/// A topic Mist adds later is subscribed to as it comes, on both levels; the site-only
/// ones are refused on org webhooks.
#[test]
fn new_topics_are_taken_and_site_only_ones_refused_on_orgs() {
    let sub = parse(
        json!({"url": "https://r/x", "topics": ["Wan_Events", "alarms"]}),
        &org(),
    )
    .unwrap();
    assert_eq!(sub.topics, ["wan-events", "alarms"]);
    for topic in [
        "nac-accounting",
        "occupancy-alerts",
        "client-latency",
        "asset-raw-rssi",
        "location",
        "zone",
        "sdkclient_scan_data",
    ] {
        let err = parse(json!({"url": "https://r/x", "topics": [topic]}), &org()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("topics"), "{topic}");
        assert!(
            err.detail.contains("only available on site webhooks"),
            "{topic}: {err}"
        );
        assert!(
            parse(json!({"url": "https://r/x", "topics": [topic]}), &site()).is_ok(),
            "{topic}"
        );
    }
}

#[test]
fn topics_are_canonical_and_deduplicated() {
    let sub = parse(
        json!({"url": "https://r/x",
               "topics": ["Device_Events", "device-events", " device_updowns ", "ALARMS"]}),
        &org(),
    )
    .unwrap();
    assert_eq!(
        sub.topics,
        vec!["device-events", "device-updowns", "alarms"]
    );
}

#[test]
fn public_view_hides_every_secret() {
    let sub = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "type": "oauth2",
               "secret": "SECRET-HMAC", "splunk_token": "SECRET-SPLUNK",
               "oauth2_token_url": "https://idp/token", "oauth2_grant_type": "password",
               "oauth2_username": "u", "oauth2_password": "SECRET-PASSWORD",
               "oauth2_client_secret": "SECRET-CLIENT"}),
        &org(),
    )
    .unwrap();
    let view = sub.public_view();
    let text = view.to_string();
    assert!(!text.contains("SECRET-"), "{text}");
    for (field, flag) in WRITE_ONLY {
        assert!(view.get(field).is_none(), "{field}");
        assert_eq!(view[flag], json!(true), "{flag}");
    }
    assert_eq!(view["type"], json!("oauth2"));
    assert_eq!(view["oauth2_grant_type"], json!("password"));

    let plain = parse(json!({"url": "https://r/x", "topics": ["alarms"]}), &org()).unwrap();
    assert_eq!(plain.public_view()["has_secret"], json!(false));
}

#[test]
fn put_keeps_secret_and_created_time() {
    let first = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "secret": "s3cret", "name": "a"}),
        &org(),
    )
    .unwrap();
    let body = json!({"url": "https://r/y", "topics": ["audits"]}).to_string();
    let later = NOW + 60.0;
    let second = parse_request(body.as_bytes(), &org(), "wh-1", later, Some(&first)).unwrap();
    assert_eq!(second.secret.as_deref(), Some("s3cret"));
    assert_eq!(second.created_time, NOW);
    assert_eq!(second.modified_time, later);
    assert_eq!(second.url, "https://r/y");
    assert_eq!(
        second.name.as_deref(),
        Some("a"),
        "a field left out is kept"
    );

    let clear = json!({"secret": null, "name": null}).to_string();
    let third = parse_request(clear.as_bytes(), &org(), "wh-1", later, Some(&second)).unwrap();
    assert_eq!((third.secret, third.name), (None, None), "null clears");
}

/// Mist's PUT is a partial update: only the changed field is sent, and what a GET
/// showed (the `has_*` flags too) may be sent back whole.
#[test]
fn put_takes_a_partial_update_and_ignores_read_only_fields() {
    let first = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "secret": "s", "name": "n",
               "headers": {"x-a": "1"}, "rate_limit": "5/s"}),
        &org(),
    )
    .unwrap();
    let topics = json!({"topics": ["audits", "device_events"]}).to_string();
    let second = parse_request(topics.as_bytes(), &org(), "wh-1", NOW, Some(&first)).unwrap();
    assert_eq!(second.topics, ["audits", "device-events"]);
    let expected = Subscription {
        topics: second.topics.clone(),
        ..first.clone()
    };
    assert_eq!(second, expected);

    let echoed = first.public_view().to_string();
    let third = parse_request(echoed.as_bytes(), &org(), "wh-1", NOW, Some(&first)).unwrap();
    assert_eq!(third, first);
    // Read-only flags say nothing: `has_secret: false` does not clear the secret.
    let flag = json!({"has_secret": false, "has_oauth2_client_secret": true}).to_string();
    let fourth = parse_request(flag.as_bytes(), &org(), "wh-1", NOW, Some(&first)).unwrap();
    assert_eq!(fourth.secret.as_deref(), Some("s"));
    // The result is checked whole: a partial update can still be refused.
    let bad = json!({"topics": []}).to_string();
    let err = parse_request(bad.as_bytes(), &org(), "wh-1", NOW, Some(&first)).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("topics"));
}

#[test]
fn stored_form_round_trips_through_serde() {
    let sub = parse(
        json!({"url": "https://r/x", "topics": ["alarms"], "secret": "s"}),
        &org(),
    )
    .unwrap();
    let text = serde_json::to_string(&sub).unwrap();
    assert!(text.contains("\"type\":\"http-post\""));
    assert_eq!(serde_json::from_str::<Subscription>(&text).unwrap(), sub);
}

#[test]
fn rate_limit_is_optional_checked_and_shown() {
    let body =
        |limit: Value| json!({"url": "https://r/x", "topics": ["alarms"], "rate_limit": limit});
    let sub = parse(body(json!("30/minute")), &org()).unwrap();
    assert_eq!(sub.rate_limit, Some("30/min".parse().unwrap()));
    assert_eq!(sub.public_view()["rate_limit"], "30/min");
    let text = serde_json::to_string(&sub).unwrap();
    assert_eq!(serde_json::from_str::<Subscription>(&text).unwrap(), sub);

    let unset = parse(body(Value::Null), &org()).unwrap();
    assert_eq!(unset.rate_limit, None);
    assert_eq!(unset.public_view()["rate_limit"], Value::Null);
    // A record stored before the field existed reads as unlimited.
    let mut old = serde_json::to_value(&unset).unwrap();
    old.as_object_mut().unwrap().remove("rate_limit");
    assert_eq!(serde_json::from_value::<Subscription>(old).unwrap(), unset);

    for (bad, says) in [
        (json!("30 per min"), "<count>/<unit>"),
        (json!("0/s"), "at least 1"),
        (json!("abc"), "<count>/<unit>"),
        (json!("5/day"), "unknown unit"),
        (json!(5), "must be a string"),
    ] {
        let err = parse(body(bad.clone()), &org()).unwrap_err();
        assert_eq!(
            (err.status, err.code, err.field.as_deref()),
            (422, "invalid_field", Some("rate_limit")),
            "{bad}"
        );
        assert!(err.detail.contains(says), "{bad}: {err}");
    }
}

/// Request bodies from the fields a client sets, valid or not.
fn arb_request() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let topic = prop_oneof![
        proptest::sample::select(Topic::KNOWN).prop_map(|t| t.as_str().to_string()),
        proptest::sample::select(Topic::KNOWN)
            .prop_map(|t| t.as_str().replace('-', "_").to_uppercase()),
        "\\PC{0,8}",
    ];
    let secret = proptest::option::of(prop_oneof![
        Just(Value::Null),
        "\\PC{0,6}".prop_map(Value::from)
    ]);
    (
        prop_oneof![Just("https://r.example/x"), Just("http://[::1]:8080/a?b"), Just("ftp://h"), Just("no url")],
        proptest::collection::vec(topic, 0..4),
        proptest::sample::select(vec!["http-post", "splunk", "oauth2"]),
        proptest::sample::select(vec!["client_credentials", "password"]),
        proptest::collection::btree_map("[a-zA-Z-]{1,8}", "\\PC{0,8}", 0..3),
        (secret.clone(), secret.clone(), secret.clone(), secret),
        proptest::option::of(any::<bool>()),
        proptest::option::of("\\PC{0,8}"),
        proptest::option::of(proptest::sample::select(vec!["5/s", "30/minute", "0/s", "x"])),
    )
        .prop_map(|(url, topics, kind, grant, headers, secrets, enabled, name, rate_limit)| {
            let mut body = json!({"url": url, "topics": topics, "type": kind, "headers": headers,
                "oauth2_grant_type": grant, "oauth2_token_url": "https://idp/t",
                "oauth2_client_id": "id", "oauth2_username": "u",
                "enabled": enabled, "name": name, "rate_limit": rate_limit});
            if kind != "oauth2" {
                for field in ["oauth2_grant_type", "oauth2_token_url", "oauth2_client_id", "oauth2_username"] {
                    body[field] = Value::Null;
                }
            }
            let (a, b, c, d) = secrets;
            for (field, value) in WRITE_ONLY.iter().map(|(f, _)| *f).zip([a, b, c, d]) {
                if let Some(value) = value {
                    body[field] = value;
                }
            }
            body
        })
}

proptest::proptest! {
    /// Mirrors the `webhook` fuzz target: GET then PUT of what the GET showed changes
    /// nothing, and a refusal names its field.
    #[test]
    fn echoing_the_public_view_changes_nothing(body in arb_request(), on_site in proptest::bool::ANY) {
        let scope = if on_site { site() } else { org() };
        match parse(body, &scope) {
            Err(e) => proptest::prop_assert!(e.status == 422 && e.field.is_some(), "{}", e),
            Ok(sub) => {
                let mut view = sub.public_view();
                let map = view.as_object_mut().unwrap();
                for (_, flag) in WRITE_ONLY {
                    map.remove(flag);
                }
                let echo = parse_request(view.to_string().as_bytes(), &scope, "wh-1", NOW, Some(&sub));
                proptest::prop_assert_eq!(echo, Ok(sub));
            }
        }
    }
}
