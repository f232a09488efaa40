use super::*;
use crate::targets::template;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config(secrets: &[&str]) -> Config {
    Config {
        rate_limit: None,
        url: "https://hooks.example.net/mistgate".into(),
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
        headers: [("X-Api-Key".to_string(), "k".to_string())].into(),
        verify_cert: true,
    }
}

#[test]
fn the_signature_matches_the_spec_example() {
    // The example of the Standard Webhooks specification.
    let body = br#"{"test": 2432232314}"#;
    let signature = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn requests_carry_the_three_headers_and_every_rotation_signature() {
    let message = template::tests::incident("opened");
    let request = encode(
        &config(&[SECRET, "whsec_c2Vjb25k"]),
        &message,
        "d-1",
        1_700_000_000,
    )
    .unwrap();
    let header = |n: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("webhook-id"), "d-1");
    assert_eq!(header("webhook-timestamp"), "1700000000");
    let signatures: Vec<String> = header("webhook-signature")
        .split(' ')
        .map(str::to_string)
        .collect();
    assert_eq!(signatures.len(), 2);
    assert_eq!(
        signatures[0],
        sign(SECRET, "d-1", 1_700_000_000, &request.body).unwrap()
    );
    assert_eq!(request.redact, ["X-Api-Key"]);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["flow"], "incident");
    assert_eq!(body["incident"]["kind"], "device_down");
    assert_eq!(body["site_name"], "HQ");
}

#[test]
fn secrets_must_be_whsec_base64() {
    assert!(
        config(&["plain"])
            .check()
            .unwrap_err()
            .contains("secrets[0]")
    );
    assert!(
        config(&["whsec_!!"])
            .check()
            .unwrap_err()
            .contains("base64")
    );
    let mut bad_url = config(&[]);
    bad_url.url = "ftp://x".into();
    assert!(bad_url.check().unwrap_err().starts_with("url"));
}
