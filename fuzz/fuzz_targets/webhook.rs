//! The Mist `webhook` object: any bytes as the body of a subscriptions POST or PUT.
//!
//! The first byte picks the scope (org or site) and whether it is a PUT over a stored
//! subscription that has every secret set; the rest is the body.
//!
//! Asserts: `parse_request` never panics; a refusal is 400 `malformed_json` without a
//! field exactly when the body is not a JSON object, else 422 naming the field; an
//! accepted subscription is in normal form (canonical, distinct topics; an http(s) URL;
//! the scope's ids; the times given); its public view holds no secret and says which are
//! set; echoing the public view back as a PUT gives the same subscription (GET then PUT
//! changes nothing); echoing it as a POST gives it without its secrets; the stored form
//! (serde) round-trips.

#![no_main]

use std::sync::OnceLock;

use deliver::{Scope, Subscription, parse_request};
use fuzz_support::Cursor;
use libfuzzer_sys::fuzz_target;
use mist::Topic;
use serde_json::Value;

const NOW: f64 = 1_750_000_000.25;
const LATER: f64 = 1_750_000_100.5;
const SECRETS: [&str; 4] = [
    "secret",
    "splunk_token",
    "oauth2_client_secret",
    "oauth2_password",
];

/// A stored subscription with every write-only secret set, for PUTs.
fn stored() -> &'static Subscription {
    static STORED: OnceLock<Subscription> = OnceLock::new();
    STORED.get_or_init(|| {
        let body = br#"{"url":"https://stored.example/hook","topics":["alarms"],"secret":"s1",
            "splunk_token":"t1","oauth2_client_secret":"c1","oauth2_password":"p1"}"#;
        parse_request(body, &Scope::Org("org-1".into()), "wh-1", NOW, None)
            .expect("the stored subscription is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let mode = input.byte();
    let scope = if mode & 1 == 0 {
        Scope::Org("org-1".into())
    } else {
        Scope::Site("site-1".into())
    };
    let previous = (mode & 2 != 0).then(stored);
    let body = input.rest();

    let sub = match parse_request(body, &scope, "wh-1", LATER, previous) {
        Ok(sub) => sub,
        Err(e) => {
            let is_object = matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_)));
            if e.status == 400 {
                assert!(
                    !is_object && e.code == "malformed_json" && e.field.is_none(),
                    "{e}"
                );
            } else {
                assert!(is_object && e.status == 422, "{e}");
                assert!(e.code == "invalid_field", "{e}");
                // The field is named, even when its name is the empty string.
                assert!(e.field.is_some(), "{e}");
            }
            assert!(!e.detail.is_empty());
            return;
        }
    };

    check_normal_form(&sub, &scope, previous);

    let view = sub.public_view();
    let mut echo = view.as_object().expect("the view is an object").clone();
    for secret in SECRETS {
        assert!(!echo.contains_key(secret), "the view shows {secret}");
        let flag = echo.remove(&format!("has_{secret}"));
        let stored_secret = serde_json::to_value(&sub).unwrap()[secret].clone();
        assert_eq!(
            flag,
            Some(Value::Bool(!stored_secret.is_null())),
            "has_{secret} is wrong"
        );
    }
    let echo = serde_json::to_vec(&echo).unwrap();

    let put = parse_request(&echo, &scope, &sub.id, sub.modified_time, Some(&sub))
        .unwrap_or_else(|e| panic!("the public view does not re-parse as a PUT: {e}"));
    assert_eq!(put, sub, "GET then PUT changed the subscription");

    match parse_request(&echo, &scope, &sub.id, sub.created_time, None) {
        Ok(post) => {
            let mut without = sub.clone();
            without.secret = None;
            without.splunk_token = None;
            without.oauth2_client_secret = None;
            without.oauth2_password = None;
            without.modified_time = sub.created_time;
            assert_eq!(post, without, "the public view as a POST");
        }
        // Splunk and OAuth2 subscriptions need their secrets.
        Err(e) => assert!(
            matches!(
                e.field.as_deref(),
                Some("splunk_token" | "oauth2_client_secret" | "oauth2_password")
            ),
            "the public view as a POST: {e}"
        ),
    }

    let stored_form = serde_json::to_vec(&sub).unwrap();
    let back: Subscription =
        serde_json::from_slice(&stored_form).expect("the stored form reads back");
    assert_eq!(back, sub, "the stored form does not round-trip");
});

fn check_normal_form(sub: &Subscription, scope: &Scope, previous: Option<&Subscription>) {
    assert_eq!(sub.id, "wh-1");
    match scope {
        Scope::Org(org) => {
            assert!(sub.org_id.as_ref() == Some(org) && sub.site_id.is_none() && !sub.for_site)
        }
        Scope::Site(site) => {
            assert!(sub.site_id.as_ref() == Some(site) && sub.org_id.is_none() && sub.for_site)
        }
    }
    assert_eq!(sub.created_time, previous.map_or(LATER, |p| p.created_time));
    assert_eq!(sub.modified_time, LATER);
    assert!(!sub.topics.is_empty());
    for (i, topic) in sub.topics.iter().enumerate() {
        let parsed = Topic::parse(topic);
        // Known topics and the ones Mist adds later alike are stored in normal form.
        assert!(parsed.as_str() == topic, "topic {topic:?} not canonical");
        assert!(!sub.topics[..i].contains(topic), "topic {topic:?} twice");
        assert!(
            sub.for_site || !parsed.is_site_only(),
            "site-only topic {topic} on an org webhook"
        );
    }
    assert!(!sub.url.is_empty());
    for secret in [
        &sub.secret,
        &sub.splunk_token,
        &sub.oauth2_client_secret,
        &sub.oauth2_password,
    ] {
        assert!(
            secret.as_deref().is_none_or(|s| !s.is_empty()),
            "an empty secret was stored"
        );
    }
}
