//! Secrets at rest, end to end (issue 14, part 5): every secret the API accepts (webhook
//! secrets, Splunk tokens, OAuth2 client secrets and passwords, credentials in custom
//! headers and in a URL, API tokens) is set to a distinctive value, and the data dir's files are
//! scanned for each of them after a clean stop and after a kill (WAL included): none is
//! found. The data dir is private; another key or none is refused with a clear error;
//! the right key delivers as before, signed with the original secret.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Answer, Received, Receiver, python_hmac};
use support::{Server, TOKEN, serve_refused_env};

const ORG: &str = "5e3c1b2a-0000-4000-8000-00000000aaaa";
const SITE: &str = "5e3c1b2a-0000-4000-8000-00000000bbbb";
const WAIT: Duration = Duration::from_secs(30);
const KEY_ENV: &str = "MISTGATE_SECRET_KEY";

/// Each secret has an alphanumeric core that any encoding keeps (JSON, a form, a URL)
/// and characters that JSON or a form would escape around it.
const HMAC_SECRET: &str = "hmacCoreQ7x2 \"quoted\" é";
const HEADER_TOKEN: &str = "hdrCoreB81k\\slash";
const API_KEY: &str = "apikeyCoreM4z0";
const SPLUNK_TOKEN: &str = "splunkCoreW3v9-0000-1111";
const CLIENT_SECRET: &str = "clientCoreT6p4&=+";
const PASSWORD: &str = "passwordCoreJ2n8 \"x\"";
/// A password in a webhook's URL (`http://user:password@host/`).
const URL_PASSWORD: &str = "urlCoreK5d7";

fn config() -> String {
    r#"
[[sources]]
name = "default"

[delivery]
allow_private_targets = true
aggregation_window = "200ms"
retry_delays = ["200ms"]
retry_min_delay = "50ms"
timeout = "2s"
"#
    .to_string()
}

/// The receivers of the four webhooks: a signed `http-post` with credentials in custom
/// headers, a Splunk HEC, and OAuth2 with each grant (each answers its token request).
struct Receivers {
    post: Receiver,
    splunk: Receiver,
    client: Receiver,
    password: Receiver,
}

impl Receivers {
    async fn start() -> Receivers {
        let token_then_ok = |token_path: &'static str| {
            move |r: &Received| {
                Some(if r.path == token_path {
                    Answer::status(200)
                        .header("content-type", "application/json")
                        .body(
                            r#"{"access_token":"issued","token_type":"Bearer","expires_in":3600}"#,
                        )
                } else {
                    Answer::status(200)
                })
            }
        };
        let receivers = Receivers {
            post: Receiver::start().await,
            splunk: Receiver::start().await,
            client: Receiver::start().await,
            password: Receiver::start().await,
        };
        receivers.client.respond_with(token_then_ok("/token"));
        receivers.password.respond_with(token_then_ok("/token"));
        receivers
    }

    /// Creates the four webhooks through the API.
    async fn subscribe(&self, server: &Server) {
        let scope = format!("/orgs/{ORG}/webhooks");
        let hooks = [
            json!({"name": "signed", "url": self.post.url("/mist"), "topics": ["alarms"],
                   "secret": HMAC_SECRET,
                   "headers": {"Authorization": format!("Bearer {HEADER_TOKEN}"), "X-Api-Key": API_KEY}}),
            json!({"type": "splunk", "url": self.splunk.url("/services/collector/event"),
                   "splunk_token": SPLUNK_TOKEN, "topics": ["alarms"]}),
            json!({"type": "oauth2", "url": self.client.url("/hook"), "topics": ["alarms"],
                   "oauth2_grant_type": "client_credentials", "oauth2_client_id": "mistgate",
                   "oauth2_client_secret": CLIENT_SECRET, "oauth2_token_url": self.client.url("/token")}),
            json!({"type": "oauth2", "topics": ["alarms"],
                   "url": self.password.url("/hook").replacen("://", &format!("://noc:{URL_PASSWORD}@"), 1),
                   "oauth2_grant_type": "password", "oauth2_username": "noc",
                   "oauth2_password": PASSWORD, "oauth2_client_id": "cli",
                   "oauth2_token_url": self.password.url("/token")}),
        ];
        for hook in hooks {
            let (status, _, text) = server.call("POST", &scope, Some(hook.to_string())).await;
            assert_eq!(status, 200, "{text}");
        }
    }

    /// Ingests an alarm marked `marker` and waits until every webhook delivered it, each
    /// with its credentials: the `http-post` signed with the HMAC secret (checked with
    /// Python's hmac) and carrying its headers, Splunk with its token, OAuth2 after a token
    /// request with the client secret or the password.
    async fn deliver(&self, server: &Server, marker: &str) {
        let body = format!(
            r#"{{"topic":"alarms","events":[{{"id":"{marker}","org_id":"{ORG}","site_id":"{SITE}","type":"device_down","aps":["5c5b350e0001"],"count":1,"timestamp":1749998077}}]}}"#
        );
        let (status, answer) = server.ingest("default", body, &[]).await;
        assert_eq!(status, 200, "{answer}");
        let carries = |r: &Received| String::from_utf8_lossy(&r.body).contains(marker);

        let got = self
            .post
            .wait_until(WAIT, "the signed delivery", |r| r.iter().any(carries))
            .await;
        let r = got.iter().find(|r| carries(r)).unwrap();
        assert_eq!(
            r.header("x-mist-signature-v2"),
            Some(python_hmac(HMAC_SECRET, &r.body, "sha256").as_str()),
            "signed with the secret given at creation"
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {HEADER_TOKEN}").as_str())
        );
        assert_eq!(r.header("x-api-key"), Some(API_KEY));

        let got = self
            .splunk
            .wait_until(WAIT, "the Splunk delivery", |r| r.iter().any(carries))
            .await;
        let r = got.iter().find(|r| carries(r)).unwrap();
        assert_eq!(
            r.header("authorization"),
            Some(format!("Splunk {SPLUNK_TOKEN}").as_str())
        );

        for (rx, field, value) in [
            (&self.client, "client_secret", CLIENT_SECRET),
            (&self.password, "password", PASSWORD),
        ] {
            let got = rx
                .wait_until(WAIT, "the OAuth2 delivery", |r| r.iter().any(carries))
                .await;
            let token = got.iter().rfind(|r| r.path == "/token").unwrap();
            let form: Vec<(String, String)> = form_urlencoded::parse(&token.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert!(
                form.contains(&(field.to_string(), value.to_string())),
                "{form:?}"
            );
        }
    }
}

/// Creates an API token through the API; returns its value.
async fn api_token(server: &Server) -> String {
    let body = json!({"name": "scanner", "role": "read"}).to_string();
    let (status, created, text) = server.call("POST", "/tokens", Some(body)).await;
    assert_eq!(status, 201, "{text}");
    created["token"].as_str().unwrap().to_string()
}

/// The ways a secret could be written down: as it is, JSON-escaped, and its
/// alphanumeric core (the longest run of letters and digits), which survives any
/// escaping.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let core = secret
        .split(|c: char| !c.is_ascii_alphanumeric())
        .max_by_key(|part| part.len())
        .unwrap()
        .to_string();
    assert!(core.len() >= 10, "a distinctive core: {core}");
    vec![
        secret.to_string(),
        json[1..json.len() - 1].to_string(),
        core,
    ]
}

/// Every form of every secret found in any file of the data dir (the key file aside).
fn found_in_data_dir(dir: &Path, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "secret.key" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            for form in forms(secret) {
                if bytes.windows(form.len()).any(|w| w == form.as_bytes()) {
                    found.push(format!("{form:?} in {}", path.display()));
                }
            }
        }
    }
    found
}

fn secrets_set(api_token: &str) -> Vec<String> {
    [
        HMAC_SECRET,
        HEADER_TOKEN,
        API_KEY,
        SPLUNK_TOKEN,
        CLIENT_SECRET,
        PASSWORD,
        URL_PASSWORD,
        TOKEN,
        api_token,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The webhooks as the API lists them say they have their secrets (without showing them).
async fn secrets_are_kept(server: &Server) {
    let listed = server.api_ok(&format!("/orgs/{ORG}/webhooks")).await;
    let hooks = listed.as_array().cloned().unwrap_or_else(|| {
        listed["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{listed}"))
    });
    assert_eq!(hooks.len(), 4, "{listed}");
    let flags: Vec<&Value> = hooks
        .iter()
        .flat_map(|h| {
            [
                "has_secret",
                "has_splunk_token",
                "has_oauth2_client_secret",
                "has_oauth2_password",
            ]
            .into_iter()
            .filter_map(|f| h.get(f).filter(|v| **v == true))
        })
        .collect();
    assert_eq!(flags.len(), 4, "one secret each: {listed}");
}

fn refused_for(stderr: &str, secrets: &[String], key: &str) {
    for secret in secrets {
        assert!(!stderr.contains(secret.as_str()), "{stderr}");
    }
    assert!(!stderr.contains(key), "the key is never shown: {stderr}");
    assert!(
        stderr.contains("without that key the webhook subscriptions' secrets cannot be read"),
        "{stderr}"
    );
}

/// The key file made at the first start, a clean stop: no secret in the files; the data
/// dir private; another key refused; the right one delivers as before.
#[tokio::test]
async fn after_a_clean_stop_no_secret_is_in_the_files_and_the_key_file_opens_them() {
    let receivers = Receivers::start().await;
    // An empty variable counts as unset: the key file is used.
    let mut server = Server::start_env(Some(&config()), &[(KEY_ENV, "")]);
    receivers.subscribe(&server).await;
    let token = api_token(&server).await;
    receivers.deliver(&server, "first-alarm").await;
    let secrets = secrets_set(&token);

    assert!(server.terminate(WAIT).success());
    let dir = server.data_dir.clone();
    assert_eq!(found_in_data_dir(&dir, &secrets), Vec::<String>::new());
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700);
        for file in ["mistgate.db", "secret.key", "mistgate.db.lock"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    }
    let key_file = std::fs::read_to_string(dir.join("secret.key")).unwrap();
    let key = key_file.trim();
    assert_eq!(key.len(), 64);

    // Another key: refused, saying which key and what to do, showing neither key.
    let other = "ab".repeat(32);
    let (status, _, stderr) = serve_refused_env(&dir, &[], &[(KEY_ENV, &other)]);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("sealed with another key than the one in MISTGATE_SECRET_KEY"),
        "{stderr}"
    );
    refused_for(&stderr, &secrets, &other);
    assert!(!stderr.contains(key), "{stderr}");

    // The key file's text works as the variable too.
    server.envs = vec![(KEY_ENV.into(), key.into())];
    server.restart();
    secrets_are_kept(&server).await;
    receivers.deliver(&server, "second-alarm").await;
    assert!(server.terminate(WAIT).success());

    // And the key file again, the variable unset.
    server.envs = vec![(KEY_ENV.into(), String::new())];
    server.restart();
    receivers.deliver(&server, "third-alarm").await;
    assert!(server.terminate(WAIT).success());
    assert_eq!(found_in_data_dir(&dir, &secrets), Vec::<String>::new());
}

/// The key from the variable, a kill (the WAL and its index left as they are): no secret
/// in any file; without the variable the start is refused and no key file is left.
#[tokio::test]
async fn after_a_kill_no_secret_is_in_the_wal_and_a_missing_key_is_refused() {
    let receivers = Receivers::start().await;
    let key = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
    let mut server = Server::start_env(Some(&config()), &[(KEY_ENV, key)]);
    receivers.subscribe(&server).await;
    let token = api_token(&server).await;
    receivers.deliver(&server, "before-kill").await;
    let secrets = secrets_set(&token);

    server.kill();
    let dir = server.data_dir.clone();
    let wal = std::fs::metadata(dir.join("mistgate.db-wal")).map(|m| m.len());
    assert!(
        wal.as_ref().is_ok_and(|len| *len > 0),
        "the kill leaves a WAL to scan: {wal:?}"
    );
    assert_eq!(found_in_data_dir(&dir, &secrets), Vec::<String>::new());
    assert!(
        !dir.join("secret.key").exists(),
        "the variable's key is used"
    );
    #[cfg(unix)]
    for file in ["mistgate.db", "mistgate.db-wal", "mistgate.db-shm"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }

    // No variable: a new key file would be made, but the database was sealed with
    // another key; refused, and the new file is not left to be mistaken for the key.
    let (status, _, stderr) = serve_refused_env(&dir, &[], &[(KEY_ENV, "")]);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("secret.key was missing"), "{stderr}");
    refused_for(&stderr, &secrets, key);
    assert!(!dir.join("secret.key").exists());

    // A malformed variable: refused without showing it.
    let (status, _, stderr) = serve_refused_env(&dir, &[], &[(KEY_ENV, "hunter2-not-a-key")]);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("MISTGATE_SECRET_KEY must be 32 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");

    server.restart();
    secrets_are_kept(&server).await;
    receivers.deliver(&server, "after-kill").await;
    server.kill();
    assert_eq!(found_in_data_dir(&dir, &secrets), Vec::<String>::new());
}
