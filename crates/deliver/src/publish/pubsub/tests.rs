use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use super::*;

/// A service account key file around a fresh RSA key (made with the `openssl` command).
fn key_file(token_uri: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mistgate-pubsub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.pem");
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .status()
        .expect("openssl runs");
    assert!(ok.success());
    let pem = std::fs::read_to_string(&path).unwrap();
    serde_json::json!({"type": "service_account", "client_email": "mist@p.iam.gserviceaccount.com",
                       "private_key": pem, "private_key_id": "k1", "token_uri": token_uri})
    .to_string()
}

#[test]
fn topics_are_checked() {
    assert!(
        "projects/my-proj/topics/mist-events"
            .parse::<TopicPath>()
            .is_ok()
    );
    assert!(
        "projects/example.com:proj/topics/abc"
            .parse::<TopicPath>()
            .is_ok()
    );
    for bad in [
        "",
        "projects/p/topics/",
        "projects/p/topics/ab",
        "projects/p/topics/goog-x",
        "projects/P Q/topics/abc",
        "projects/p/subscriptions/abc",
        "https://pubsub.googleapis.com/v1/projects/p/topics/abc",
    ] {
        assert!(bad.parse::<TopicPath>().is_err(), "{bad}");
    }
}

#[test]
fn the_token_request_asserts_the_account_signed_rs256() {
    let account = ServiceAccount::from_json(&key_file("http://127.0.0.1:9/token")).unwrap();
    assert!(!format!("{account:?}").contains("PRIVATE"));
    let req = account.token_request(1_750_000_000).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/token");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    assert_eq!(form[0].1, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let jwt = &form[1].1;
    let parts: Vec<&str> = jwt.split('.').collect();
    let decode = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    assert_eq!(
        decode(parts[0]),
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
    );
    let claims = decode(parts[1]);
    assert_eq!(claims["iss"], "mist@p.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], "http://127.0.0.1:9/token");
    assert_eq!(claims["scope"], SCOPE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3_600
    );
    let public = UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        account.key.public_key().as_ref(),
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the account's public key");
    assert!(ServiceAccount::from_json(r#"{"client_email": "x", "private_key": "nope"}"#).is_err());
}

#[test]
fn publish_carries_the_body_as_data_and_the_token() {
    let topic: TopicPath = "projects/p1/topics/mist".parse().unwrap();
    let req = publish(
        &topic,
        "http://127.0.0.1:9/",
        "tok",
        br#"{"topic":"alarms"}"#,
        "d-1",
    );
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v1/projects/p1/topics/mist:publish"
    );
    assert!(
        req.headers
            .contains(&("Authorization".into(), "Bearer tok".into()))
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let data = STANDARD
        .decode(body["messages"][0]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, br#"{"topic":"alarms"}"#);
    assert_eq!(
        body["messages"][0]["attributes"][DELIVERY_ID_ATTRIBUTE],
        "d-1"
    );
    assert_eq!(
        token_answer(br#"{"access_token": "a", "expires_in": 60}"#).unwrap(),
        ("a".into(), 60)
    );
    assert!(token_answer(b"{}").is_err());
}
