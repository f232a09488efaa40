//! Sources added at run time through `/api/v1/sources`: accepted at once with no restart,
//! kept across restarts with their secrets sealed, and the config file's left alone.

mod support;

use serde_json::{Value, json};
use support::{Server, alarm_body, headers, signed};

const CONFIG: &str = "[[sources]]\nname = \"hq\"\nsecrets = [\"hq-secret-1\"]\n";
const SECRET: &str = "branch-secret-7731";

async fn call(server: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, answer, _) = server.call(method, path, Some(body.to_string())).await;
    (status, answer)
}

#[tokio::test]
async fn a_source_added_through_the_api_takes_webhooks_at_once_and_after_a_restart() {
    let mut server = Server::start_with(Some(CONFIG));
    let body = alarm_body("b1");
    // Unknown before it is added.
    let (status, _) = server.ingest("branch", body.clone(), &[]).await;
    assert_eq!(status, 404);

    let (status, added) = call(
        &server,
        "POST",
        "/sources",
        json!({"name": "branch", "secrets": [SECRET], "allow_ips": ["127.0.0.1"]}),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(
        added,
        json!({"name": "branch", "origin": "api", "secrets": 1,
        "accept_v1_signature": false, "allow_ips": ["127.0.0.1"]})
    );
    assert!(!added.to_string().contains(SECRET));
    // At once: signed is accepted, unsigned refused.
    let sig = signed(SECRET, &body);
    let (status, answer) = server.ingest("branch", body.clone(), &headers(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = server.ingest("branch", alarm_body("b2"), &[]).await;
    assert_eq!(status, 401);

    let list = server.api_ok("/sources").await;
    let origins: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["origin"].as_str().unwrap()))
        .collect();
    assert_eq!(origins, [("branch", "api"), ("hq", "config")]);

    // Kept across a restart (even a SIGKILL), and sealed at rest.
    server.restart();
    let body = alarm_body("b3");
    let sig = signed(SECRET, &body);
    let (status, answer) = server.ingest("branch", body, &headers(&sig)).await;
    assert_eq!(status, 200, "after a restart: {answer}");
    for file in ["mistgate.db", "mistgate.db-wal"] {
        if let Ok(bytes) = std::fs::read(server.data_dir.join(file)) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the secret in clear in {file}"
            );
        }
    }

    // A change keeps the secret when it names none; the audit log has the before.
    let (status, changed) = call(
        &server,
        "PUT",
        "/sources/branch",
        json!({"accept_v1_signature": true}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["secrets"], 1);
    assert_eq!(changed["allow_ips"], json!([]));
    let body = alarm_body("b4");
    let sig = signed(SECRET, &body);
    assert_eq!(server.ingest("branch", body, &headers(&sig)).await.0, 200);
    let audit = server
        .api_ok("/audit?action=PUT%20%2Fsources%2F%7Bname%7D")
        .await;
    assert_eq!(
        audit["items"][0]["before"]["allow_ips"],
        json!(["127.0.0.1"])
    );

    // Removed: 404 from then on, and after a restart.
    let (status, removed) = call(&server, "DELETE", "/sources/branch", json!(null)).await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(server.ingest("branch", alarm_body("b5"), &[]).await.0, 404);
    server.restart();
    assert_eq!(server.ingest("branch", alarm_body("b6"), &[]).await.0, 404);
}

#[tokio::test]
async fn the_config_files_sources_are_read_only_and_bad_sources_are_refused() {
    let server = Server::start_with(Some(CONFIG));
    let (status, body) = call(&server, "POST", "/sources", json!({"name": "hq"})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    // The name backfill stores what it reads from Mist's API under is taken.
    let (status, body) = call(&server, "POST", "/sources", json!({"name": "mist-api"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("backfill"),
        "{body}"
    );
    let (status, body) = call(&server, "PUT", "/sources/hq", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("config file"));
    let (status, _) = call(&server, "DELETE", "/sources/hq", json!(null)).await;
    assert_eq!(status, 409);
    let (status, _) = call(&server, "PUT", "/sources/nope", json!({})).await;
    assert_eq!(status, 404);
    for bad in [
        json!({"name": "has space"}),
        json!({"name": "x", "secrets": [""]}),
        json!({"name": "x", "secrets": ["a", "b", "c"]}),
        json!({"name": "x", "allow_ips": ["mist:mars01"]}),
        json!({"name": "x", "unknown": 1}),
        json!({"secrets": ["a"]}),
    ] {
        let (status, body) = call(&server, "POST", "/sources", bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_body", "{bad}");
    }
    let (status, _, _) = server.call("POST", "/sources", Some("{".into())).await;
    assert_eq!(status, 400);
    let list = server.api_ok("/sources").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing bad was added"
    );
}
