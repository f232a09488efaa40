//! The command line: sign, verify, check-config, send.

mod support;

use std::process::{Command, Output};

use support::Server;

fn mistgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(args)
        .env_remove("MISTGATE_SECRET")
        .output()
        .expect("run mistgate")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sample(name: &str) -> String {
    support::shared_dir()
        .join("mist/samples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn sign_prints_both_headers_and_verify_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, br#"{"topic":"ping","events":[]}"#).unwrap();
    let file = file.to_str().unwrap();
    let out = mistgate(&["sign", "--secret", "k3y", file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // Known answers, computed independently (Python's hmac module).
    assert_eq!(
        lines,
        [
            "X-Mist-Signature-v2: 243687dbb4dcc2682de7d9efa2f52f8a5bf9d989cc89dc5100faccaf2f0c1fb2",
            "X-Mist-Signature: 0fc4e818a8b3610991dcf353386ae09bef18c0b6",
        ]
    );
    let v2 = lines[0].split_once(": ").unwrap().1;
    let v1 = lines[1].split_once(": ").unwrap().1;

    let ok = mistgate(&["verify", "--secret", "k3y", "--signature", v2, file]);
    assert!(ok.status.success());
    assert!(stdout(&ok).starts_with("valid X-Mist-Signature-v2"));
    let ok = mistgate(&["verify", "--v1", "--secret", "k3y", "--signature", v1, file]);
    assert!(ok.status.success());
    let bad = mistgate(&["verify", "--secret", "other", "--signature", v2, file]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).starts_with("INVALID"));
    let upper = mistgate(&[
        "verify",
        "--secret",
        "k3y",
        "--signature",
        &v2.to_uppercase(),
        file,
    ]);
    assert_eq!(upper.status.code(), Some(1));
}

#[test]
fn check_config_accepts_good_files_and_points_at_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:9000\"\n[[sources]]\nname = \"hq\"\nsecrets = [\"${CLI_TEST_SECRET}\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(["check-config", good.to_str().unwrap()])
        .env("CLI_TEST_SECRET", "abc")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok") && stdout(&out).contains("hq (1 secret)"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("abc"), "secrets are never printed");

    // Unset variable: named with its line.
    let out = mistgate(&["check-config", good.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("good.toml:4: environment variable CLI_TEST_SECRET is not set"),
        "{}",
        stderr(&out)
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[ingest]\nmax_body_bytes = 10\ndedup_window = \"forever\"\n",
    )
    .unwrap();
    let out = mistgate(&["check-config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("dedup_window"),
        "{err}"
    );

    // A syntax error quotes the file as written: never the secrets its variables hold.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[[sources]]\nname = \"hq\"\nsecrets = [\"${S1}\" \"${S2}\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mistgate"))
        .args(["check-config", broken.to_str().unwrap()])
        .env("S1", "TopSecretValue123")
        .env("S2", "NextSecret456")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let (err, text) = (stderr(&out), stdout(&out));
    assert!(err.contains("${S1}"), "{err}");
    for secret in ["TopSecretValue123", "NextSecret456"] {
        assert!(
            !err.contains(secret) && !text.contains(secret),
            "{err}{text}"
        );
    }

    let missing = mistgate(&["check-config", "/nonexistent/mistgate.toml"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("cannot read /nonexistent/mistgate.toml"));
}

#[tokio::test]
async fn send_posts_samples_signed_and_reports_each_answer() {
    let server = Server::start_with(Some(
        "[[sources]]\nname = \"hq\"\nsecrets = [\"cli-secret\"]\n",
    ));
    let url = server.url("/ingest/hq");
    let bare = sample("alarms__device-restarted_lukeroberson.json");
    let envelope = sample("device-events__rrm-action-and-configured_pradeepgadde.json");
    let out = tokio::task::spawn_blocking({
        let (url, bare, envelope) = (url.clone(), bare.clone(), envelope.clone());
        move || {
            mistgate(&[
                "send",
                "--to",
                &url,
                "--secret",
                "cli-secret",
                &bare,
                &envelope,
            ])
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("{bare} -> 200")), "{text}");
    assert!(text.contains(r#""accepted":3"#), "{text}");
    let alarms = server.all_events("&topic=alarms").await;
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0]["type"], "device_restarted");

    // Unsigned to a signed source: the 401 is reported and the exit code says so.
    let out = tokio::task::spawn_blocking(move || mistgate(&["send", "--to", &url, &bare]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("-> 401"), "{}", stdout(&out));

    // A bare event without a topic in its name needs --topic.
    let dir = tempfile::tempdir().unwrap();
    let anonymous = dir.path().join("event.json");
    std::fs::write(&anonymous, "{\"type\": \"x\"}").unwrap();
    let out = mistgate(&[
        "send",
        "--to",
        "http://127.0.0.1:9/ingest/x",
        anonymous.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--topic"), "{}", stderr(&out));
}

#[test]
fn replay_refuses_bad_times_and_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = mistgate(&[
        "replay",
        "--since",
        "yesterday",
        "--dry-run",
        "--data-dir",
        data,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--since `yesterday`"),
        "{}",
        stderr(&out)
    );
    let out = mistgate(&[
        "replay",
        "--since",
        "2025-01-01T00:00:00Z",
        "--dry-run",
        "--data-dir",
        data,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no mistgate data"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("mistgate.db").exists(),
        "a failed replay creates nothing"
    );
}

/// `check-config` checks `MISTGATE_SECRET_KEY` as `serve` would, without showing it.
#[test]
fn check_config_checks_the_secret_key_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(&file, "[[sources]]\nname = \"hq\"\nsecrets = [\"s\"]\n").unwrap();
    let run = |key: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mistgate"));
        c.args(["check-config", file.to_str().unwrap()]);
        match key {
            Some(k) => c.env("MISTGATE_SECRET_KEY", k),
            None => c.env_remove("MISTGATE_SECRET_KEY"),
        };
        c.output().expect("run mistgate")
    };
    let bad = run(Some("not-a-key-9431"));
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("MISTGATE_SECRET_KEY must be 32 bytes"),
        "{}",
        stderr(&bad)
    );
    assert!(!stderr(&bad).contains("9431") && !stdout(&bad).contains("9431"));
    let good = run(Some(&"ab".repeat(32)));
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(stdout(&good).contains("secret key: MISTGATE_SECRET_KEY (well formed)"));
    assert!(!stdout(&good).contains(&"ab".repeat(32)));
    let default = run(None);
    assert!(stdout(&default).contains("secret.key (made at the first start when missing)"));
}
