//! The OpenAPI document against the real binary: served without a token, describing the
//! routes, while the rest of `/api/v1` still needs the token.

mod support;

use serde_json::Value;
use support::Server;

#[tokio::test]
async fn the_openapi_document_is_open_and_the_api_is_not() {
    let server = Server::start();

    let response = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );

    let events = &doc["paths"]["/api/v1/events"]["get"];
    assert!(
        events.is_object(),
        "no GET /api/v1/events in {}",
        doc["paths"]
    );
    let limit = events["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("GET /api/v1/events documents `limit`");
    assert_eq!(limit["in"], "query");
    assert!(doc["paths"]["/ingest/{source}"]["post"].is_object());

    let response = server
        .client
        .get(server.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}
