//! The Mist-compatible webhook subscriptions API against the real binary.

mod support;

use serde_json::{Value, json};
use support::{Server, TOKEN};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const SECRET: &str = "do-not-show-me-0xBEEF";

async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    server
        .call(method.as_str(), path, body.map(|b| b.to_string()))
        .await
}

#[tokio::test]
async fn webhooks_are_created_read_updated_and_deleted_at_both_scopes() {
    use reqwest::Method;
    let server = Server::start();
    let org_path = format!("/orgs/{ORG}/webhooks");
    let body = json!({"name": "noc", "url": "https://noc.example.net/hook", "topics": ["alarms", "device_events"],
                      "secret": SECRET, "headers": {"x-team": "noc"}});
    let (status, created, text) = call(&server, Method::POST, &org_path, Some(body)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        !text.contains(SECRET),
        "the secret is never returned: {text}"
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["type"], "http-post");
    assert_eq!(created["verify_cert"], true);
    assert_eq!(created["for_site"], false);
    assert_eq!(created["org_id"], ORG);
    assert_eq!(created["topics"], json!(["alarms", "device-events"]));
    assert_eq!(created["has_secret"], true);
    let id = created["id"].as_str().unwrap().to_string();

    let (status, listed, text) = call(&server, Method::GET, &org_path, None).await;
    assert_eq!(status, 200);
    assert!(!text.contains(SECRET));
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "a bare array, as Mist answers"
    );
    let (status, one, _) = call(&server, Method::GET, &format!("{org_path}/{id}"), None).await;
    assert_eq!((status, one["id"].as_str()), (200, Some(id.as_str())));

    // Another org, or the site scope, does not see it.
    let (status, _, _) = call(
        &server,
        Method::GET,
        &format!("/orgs/other/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = call(
        &server,
        Method::GET,
        &format!("/sites/{SITE}/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Update: replaced by the body; the secret, not echoed back, is kept.
    let change = json!({"name": "noc-2", "url": "https://noc.example.net/hook2", "topics": ["alarms"], "enabled": false});
    let (status, updated, text) = call(
        &server,
        Method::PUT,
        &format!("{org_path}/{id}"),
        Some(change),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        (updated["name"].as_str(), updated["enabled"].as_bool()),
        (Some("noc-2"), Some(false))
    );
    assert_eq!(updated["has_secret"], true);
    assert_eq!(updated["created_time"], created["created_time"]);

    // A site webhook may take site-only topics.
    let site_path = format!("/sites/{SITE}/webhooks");
    let site_body = json!({"url": "http://10.0.0.5:9000/in", "topics": ["location", "zone"]});
    let (status, site_hook, text) = call(&server, Method::POST, &site_path, Some(site_body)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        (
            site_hook["for_site"].as_bool(),
            site_hook["site_id"].as_str()
        ),
        (Some(true), Some(SITE))
    );

    let (status, _, _) = call(&server, Method::DELETE, &format!("{org_path}/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, answer, _) = call(&server, Method::GET, &format!("{org_path}/{id}"), None).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn invalid_webhooks_are_refused_with_the_field_named_and_change_nothing() {
    use reqwest::Method;
    let server = Server::start();
    let org_path = format!("/orgs/{ORG}/webhooks");
    let ok = json!({"url": "https://a.example/h", "topics": ["alarms"]});
    let (status, _, _) = call(&server, Method::POST, &org_path, Some(ok)).await;
    assert_eq!(status, 200);

    let big_headers: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("x-header-{i}"), Value::String("v".repeat(60))))
        .collect();
    let cases = [
        (json!({"topics": ["alarms"]}), 422, "url"),
        (
            json!({"url": "ftp://a.example/h", "topics": ["alarms"]}),
            422,
            "url",
        ),
        (
            json!({"url": "https://a.example/h", "topics": []}),
            422,
            "topics",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["location"]}),
            422,
            "topics",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["no such topic"]}),
            422,
            "topics",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "type": "google-pubsub"}),
            422,
            "url",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "headers": big_headers}),
            422,
            "headers",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "enabled": "yes please"}),
            422,
            "enabled",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "type": "splunk"}),
            422,
            "splunk_token",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "type": "oauth2"}),
            422,
            "oauth2",
        ),
        (
            json!({"url": "https://a.example/h", "topics": ["alarms"], "colour": "blue"}),
            422,
            "colour",
        ),
    ];
    for (body, want, field) in cases {
        let (status, answer, text) =
            call(&server, Method::POST, &org_path, Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {text}");
        assert!(answer["error"].is_string(), "{text}");
        assert!(
            answer["detail"].as_str().unwrap_or("").contains(field),
            "{body}: the detail names `{field}`: {text}"
        );
    }
    let response = server
        .client
        .post(server.url(&format!("/api/v1{org_path}")))
        .header("authorization", format!("Token {TOKEN}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, answer) = support::answer(response).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("malformed_json"))
    );

    let (_, listed, _) = call(&server, Method::GET, &org_path, None).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only the valid one was created"
    );
}
