//! The `aws-sns` and `google-pubsub` webhook types against local stand-ins of SNS and
//! Pub/Sub: what arrives is checked against each service's documented request by
//! `tests/cloud_standins.py` (the SNS request's Signature Version 4 recomputed by AWS's
//! algorithm with hashlib and hmac; the service account's token assertion verified RS256
//! with `cryptography`), and the messages carry the Mist-format bodies.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::receiver::{Answer, Received, Receiver};
use support::{Server, site_alarm};

const ORG: &str = "2818e386-8dec-2562-9ede-5b8a0fbbdc71";
const SITE: &str = "4ac1dcf4-9d8b-7211-65c4-057819f0862b";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:mist-events";
const PUBSUB_TOPIC: &str = "projects/mist-project/topics/mist-events";
const WAIT: Duration = Duration::from_secs(30);

/// Runs a check of `tests/cloud_standins.py` with `input` on its standard input.
fn check(args: &[&str], input: &[u8]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cloud_standins.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn form(r: &Received) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// An RSA key pair made with `openssl`, and a service account key file around it whose
/// `token_uri` is `token_uri`; returns the key file and the public key's paths.
fn service_account(dir: &std::path::Path, token_uri: &str) -> (String, String) {
    let key = dir.join("key.pem");
    let public = dir.join("public.pem");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            key.to_str().unwrap(),
        ],
        vec![
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    ] {
        assert!(
            Command::new("openssl")
                .args(&args)
                .status()
                .unwrap()
                .success()
        );
    }
    let file = dir.join("service-account.json");
    let account = json!({"type": "service_account", "project_id": "mist-project",
        "private_key_id": "k1", "private_key": std::fs::read_to_string(&key).unwrap(),
        "client_email": "mistgate@mist-project.iam.gserviceaccount.com",
        "token_uri": token_uri});
    std::fs::write(&file, account.to_string()).unwrap();
    (
        file.to_str().unwrap().to_string(),
        public.to_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn sns_and_pubsub_get_the_requests_their_services_document() {
    let sns = Receiver::start().await;
    sns.respond_with(|_| {
        Some(Answer::status(200).header("content-type", "text/xml").body(
            "<PublishResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
             <MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>\
             </PublishResponse>",
        ))
    });
    let google = Receiver::start().await;
    google.respond_with(|r| {
        let body = if r.path == "/token" {
            r#"{"access_token": "ya29.stand-in", "expires_in": 3599, "token_type": "Bearer"}"#
        } else {
            r#"{"messageIds": ["2"]}"#
        };
        Some(
            Answer::status(200)
                .header("content-type", "application/json")
                .body(body),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let token_uri = google.url("/token");
    let (account, public) = service_account(dir.path(), &token_uri);
    let config = "[[sources]]\nname = \"default\"\n[delivery]\nallow_private_targets = true\n\
                  aggregation_window = \"200ms\"\n";
    let sns_endpoint = sns.url("/");
    let pubsub_endpoint = google.url("");
    let server = Server::start_env(
        Some(config),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_ENDPOINT_URL_SNS", &sns_endpoint),
            ("GOOGLE_APPLICATION_CREDENTIALS", &account),
            ("MISTGATE_PUBSUB_ENDPOINT", &pubsub_endpoint),
        ],
    );

    for (kind, url) in [("aws-sns", TOPIC_ARN), ("google-pubsub", PUBSUB_TOPIC)] {
        let body = json!({"name": kind, "type": kind, "url": url, "topics": ["alarms"]});
        let (status, created, text) = server
            .call(
                "POST",
                &format!("/orgs/{ORG}/webhooks"),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            (created["type"].as_str(), created["url"].as_str()),
            (Some(kind), Some(url))
        );
    }
    let alarm = site_alarm(
        ORG,
        SITE,
        "device_down",
        &["5c5b350e0001"],
        1.75e9,
        json!({}),
    );
    let (status, _) = server.ingest("default", alarm, &[]).await;
    assert_eq!(status, 200);

    // SNS: a form-encoded Publish to the topic, signed as AWS documents.
    let received = sns
        .wait_until(WAIT, "the SNS Publish", |r| !r.is_empty())
        .await;
    let publish = &received[0];
    assert_eq!(
        (publish.method.as_str(), publish.path.as_str()),
        ("POST", "/")
    );
    assert!(
        publish
            .header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let headers: serde_json::Map<String, Value> = publish
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), Value::from(v.to_str().unwrap())))
        .collect();
    let request = json!({"method": "POST", "path": "/", "headers": headers,
                         "body_b64": STANDARD.encode(&publish.body)});
    let scope = check(&["sigv4", SECRET_KEY], request.to_string().as_bytes());
    assert_eq!(scope, json!({"region": "eu-west-1", "service": "sns"}));
    let form = form(publish);
    assert_eq!(field(&form, "Action"), Some("Publish"));
    assert_eq!(field(&form, "Version"), Some("2010-03-31"));
    assert_eq!(field(&form, "TopicArn"), Some(TOPIC_ARN));
    let message: Value = serde_json::from_str(field(&form, "Message").unwrap()).unwrap();
    assert_eq!(message["topic"], "alarms");
    assert_eq!(message["events"][0]["type"], "device_down");
    assert_eq!(
        field(&form, "MessageAttributes.entry.1.Name"),
        Some("mistgate_delivery_id")
    );

    // Pub/Sub: a token for the service account, then a publish with it.
    let received = google
        .wait_until(WAIT, "the token request and the publish", |r| r.len() >= 2)
        .await;
    let token = &received[0];
    assert_eq!(token.path, "/token");
    let grant = url::form_urlencoded::parse(&token.body)
        .into_owned()
        .collect::<Vec<_>>();
    assert_eq!(
        field(&grant, "grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let who = check(
        &["jwt", &public, &token_uri],
        field(&grant, "assertion").unwrap().as_bytes(),
    );
    assert_eq!(who["iss"], "mistgate@mist-project.iam.gserviceaccount.com");
    let publish = &received[1];
    assert_eq!(publish.path, format!("/v1/{PUBSUB_TOPIC}:publish"));
    assert_eq!(
        publish.header("authorization"),
        Some("Bearer ya29.stand-in")
    );
    let body = publish.json();
    let data = STANDARD
        .decode(body["messages"][0]["data"].as_str().unwrap())
        .unwrap();
    let message: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(message["topic"], "alarms");
    assert_eq!(message["events"][0]["type"], "device_down");
    assert!(body["messages"][0]["attributes"]["mistgate_delivery_id"].is_string());

    // Both attempts are recorded as successes, as any webhook's.
    let (_, hooks) = server.api(&format!("/orgs/{ORG}/webhooks")).await;
    for hook in hooks.as_array().unwrap() {
        let search = format!(
            "/orgs/{ORG}/webhooks/{}/events/search",
            hook["id"].as_str().unwrap()
        );
        let results = support::eventually(WAIT, "a delivery result", || async {
            let (_, found) = server.api(&search).await;
            found["results"]
                .as_array()
                .filter(|r| !r.is_empty())
                .cloned()
        })
        .await;
        assert_eq!(
            results[0]["status"], "success",
            "{}: {results:?}",
            hook["type"]
        );
        let shown = results[0]["req_headers"].as_str().unwrap();
        assert!(
            !shown.contains(SECRET_KEY) && !shown.contains("ya29.stand-in"),
            "{shown}"
        );
    }
}

/// Without credentials in its environment the attempt fails, says why, and is retried.
#[tokio::test]
async fn missing_credentials_are_named_in_the_delivery_result() {
    let config = "[[sources]]\nname = \"default\"\n[delivery]\naggregation_window = \"200ms\"\n";
    let server = Server::start_env(
        Some(config),
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("GOOGLE_APPLICATION_CREDENTIALS", ""),
        ],
    );
    let body = json!({"type": "aws-sns", "url": TOPIC_ARN, "topics": ["alarms"]});
    let (status, hook, text) = server
        .call(
            "POST",
            &format!("/orgs/{ORG}/webhooks"),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let id = hook["id"].as_str().unwrap();
    let (status, _, _) = server
        .call("POST", &format!("/orgs/{ORG}/webhooks/{id}/ping"), None)
        .await;
    assert_eq!(status, 200);
    let search = format!("/orgs/{ORG}/webhooks/{id}/events/search");
    let results = support::eventually(WAIT, "a delivery result", || async {
        let (_, found) = server.api(&search).await;
        found["results"]
            .as_array()
            .filter(|r| !r.is_empty())
            .cloned()
    })
    .await;
    assert_eq!(results[0]["status"], "failure");
    assert_eq!(results[0]["batch_state"], "pending", "retried");
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .contains("AWS_ACCESS_KEY_ID"),
        "{results:?}"
    );

    for (kind, url) in [
        ("aws-sns", "https://sns.example.com/"),
        ("google-pubsub", "projects/p/topics/x y"),
    ] {
        let body = json!({"type": kind, "url": url, "topics": ["alarms"]});
        let (status, answer, _) = server
            .call(
                "POST",
                &format!("/orgs/{ORG}/webhooks"),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(status, 422, "{kind}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().starts_with("`url`"),
            "{answer}"
        );
    }
}
