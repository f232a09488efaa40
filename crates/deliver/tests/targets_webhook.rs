//! The Standard Webhooks target: encoder snapshots over Mist samples and incidents.

mod support;

use deliver::targets::standard_webhooks;

#[test]
fn encoder_snapshots() {
    let config: standard_webhooks::Config = serde_json::from_value(serde_json::json!({
        "url": "https://hooks.example.net/mistgate",
        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    }))
    .unwrap();
    config.check().unwrap();
    for (name, message) in support::snapshot_messages() {
        // A fixed id and time make the signature part of the snapshot.
        let request =
            standard_webhooks::encode(&config, &message, "msg_2pQp6yHn0dGqk4", 1_749_998_000)
                .unwrap();
        insta::assert_snapshot!(format!("webhook_{name}"), support::shown_request(&request));
    }
}
