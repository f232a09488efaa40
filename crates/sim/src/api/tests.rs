//! The cloud's pure parts without a server: which webhooks get which events, and Mist's
//! checks on webhook bodies.

use bytes::Bytes;
use mist::Topic;
use serde_json::json;

use super::webhooks::{Scope, add};
use super::{ApiError, ApiSettings, Cloud};
use crate::plan::Message;
use crate::topics::Truth;
use crate::{Org, OrgSpec};

fn cloud() -> Cloud {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Cloud::new(Org::generate(&OrgSpec::default(), 5), ApiSettings::new("t")).expect("a cloud")
}

/// One `alarms` message with an event at each site.
fn message(cloud: &Cloud) -> Message {
    let sites: Vec<String> = cloud.org().sites.iter().map(|s| s.id.clone()).collect();
    let events: Vec<String> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": format!("a{i}"), "site_id": s, "timestamp": 1}).to_string())
        .collect();
    Message {
        seq: 0,
        due_us: 0,
        topic: Topic::Alarms,
        body: Bytes::from(mist::write_envelope("alarms", &events)),
        truths: sites
            .iter()
            .map(|s| Truth {
                site_id: Some(s.clone()),
                ..Truth::default()
            })
            .collect(),
    }
}

fn hook(cloud: &Cloud, scope: Scope, body: serde_json::Value) -> Result<String, ApiError> {
    add(cloud, scope, body.to_string().as_bytes()).map(|h| h.id)
}

#[test]
fn org_webhooks_get_every_site_and_site_webhooks_their_own() {
    let cloud = cloud();
    let m = message(&cloud);
    let envelope = mist::parse_envelope(&m.body).unwrap();
    let site1 = cloud.org().sites[1].id.clone();
    let url = "http://127.0.0.1:9/x";
    let org = hook(
        &cloud,
        Scope::Org,
        json!({"url": url, "topics": ["alarms"]}),
    )
    .unwrap();
    let site = hook(
        &cloud,
        Scope::Site(site1.clone()),
        json!({"url": url, "topics": ["alarms"]}),
    )
    .unwrap();
    let single = hook(
        &cloud,
        Scope::Org,
        json!({"url": url, "topics": ["alarms"], "single_event_per_message": true}),
    )
    .unwrap();
    hook(
        &cloud,
        Scope::Org,
        json!({"url": url, "topics": ["alarms"], "enabled": false}),
    )
    .unwrap();
    hook(
        &cloud,
        Scope::Org,
        json!({"url": url, "topics": ["audits"]}),
    )
    .unwrap();
    let routes = cloud.routes(&m, &envelope.events);
    let to = |id: &str| {
        routes
            .iter()
            .filter(|r| r.hook.as_ref().is_some_and(|h| h.id == id))
            .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        routes.len(),
        1 + 1 + 2,
        "the disabled and the audits webhooks get nothing"
    );
    assert_eq!(to(&org).len(), 1);
    assert_eq!(to(&org)[0]["events"].as_array().unwrap().len(), 2);
    let theirs = to(&site);
    assert_eq!(theirs[0]["topic"], "alarms");
    assert_eq!(
        theirs[0]["events"],
        json!([{"id": "a1", "site_id": site1, "timestamp": 1}])
    );
    assert_eq!(to(&single).len(), 2);
}

#[test]
fn webhook_bodies_are_checked_as_mist_checks_them() {
    let cloud = cloud();
    let url = "https://example.com/hook";
    let refused = |scope: Scope, body: serde_json::Value| match hook(&cloud, scope, body) {
        Err(ApiError::BadWebhook { reason, .. }) => reason,
        other => panic!("accepted: {other:?}"),
    };
    assert_eq!(
        refused(Scope::Org, json!({"url": url, "topics": ["zone"]})),
        "topics"
    );
    assert_eq!(
        refused(Scope::Org, json!({"url": "ftp://x", "topics": ["alarms"]})),
        "url"
    );
    assert_eq!(
        refused(Scope::Org, json!({"url": url, "topics": []})),
        "topics"
    );
    assert_eq!(
        refused(
            Scope::Org,
            json!({"url": url, "topics": ["alarms"], "type": "aws-sns"})
        ),
        "type"
    );
    assert_eq!(
        refused(Scope::Org, json!({"url": url, "topics": "alarms"})),
        "body"
    );
    let site = cloud.org().sites[0].id.clone();
    let id = hook(
        &cloud,
        Scope::Site(site),
        json!({"url": url, "topics": ["zone", "device_events"], "secret": "s"}),
    )
    .unwrap();
    let kept = super::lock(&cloud.inner.webhooks)[&id].clone();
    let view = kept.view(&cloud.org().id);
    assert_eq!(
        view["topics"],
        json!(["zone", "device-events"]),
        "Mist's spelling"
    );
    assert_eq!(view["secret"], "s");
    assert_eq!(view["for_site"], true);
    assert!(view.get("name").is_none());
}
