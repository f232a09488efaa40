use std::time::Duration;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "MIST_SECRET" => Some("s3cret-value".into()),
        "NEXT" => Some("next-secret".into()),
        _ => None,
    }
}

#[test]
fn the_design_example_loads_with_secrets_expanded() {
    let text = r#"
listen = "127.0.0.1:9090"
data_dir = "/var/lib/mistgate"

[[sources]]
name = "hq"
secrets = ["${MIST_SECRET}", "${NEXT}"]   # rotation: ${UNSET} in a comment is fine
accept_v1_signature = true

[delivery]
allow_private_targets = false
"#;
    let c = Config::from_toml(text, "test.toml", &env).unwrap();
    assert_eq!(c.listen.port(), 9090);
    assert_eq!(c.sources[0].secrets, vec!["s3cret-value", "next-secret"]);
    assert!(c.sources[0].accept_v1_signature);
    assert_eq!(c.ingest.max_body_bytes, 16 * 1024 * 1024);
    assert_eq!(c.ingest.dedup_window, Duration::from_secs(86_400));
    assert!(
        !format!("{:?}", c).contains("s3cret"),
        "secrets must not show in Debug"
    );
}

#[test]
fn a_missing_variable_names_its_line() {
    let err = Config::from_toml(
        "\n[[sources]]\nname = \"a\"\nsecrets = [\"${NOPE}\"]\n",
        "f.toml",
        &env,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "f.toml:4: environment variable NOPE is not set"
    );
}

#[test]
fn delivery_settings_are_read_and_checked() {
    let c = Config::from_toml(
        "[delivery]\nretry_delays = [\"1s\", \"1m\"]\ntimeout = \"30s\"\nmax_in_flight = 2\n",
        "f.toml",
        &env,
    )
    .unwrap();
    let settings = c.delivery.settings();
    assert_eq!(settings.retry.delays_us, [1_000_000, 60_000_000]);
    assert_eq!(settings.client.timeout, Duration::from_secs(30));
    assert_eq!(settings.max_in_flight, 2);
    assert!(
        !settings.client.allow_private_targets,
        "the SSRF guard is on by default"
    );
    let defaults = DeliveryConfig::default().settings();
    assert_eq!(defaults.retry, deliver::RetryPolicy::default());
    assert_eq!(defaults.breaker, deliver::BreakerPolicy::default());
    for (bad, needle) in [
        ("timeout = \"31s\"", "at most 30s"),
        ("timeout = \"0s\"", "at most 30s"),
        ("max_batch_events = 0", "max_batch_events"),
        ("max_in_flight = 0", "max_in_flight"),
        ("retry_delays = []", "retry_delays"),
        ("retry_delays = [\"soon\"]", "soon"),
        ("breaker_failures = 0", "breaker_failures"),
    ] {
        let err = Config::from_toml(&format!("[delivery]\n{bad}\n"), "f.toml", &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn errors_say_where() {
    let err =
        Config::from_toml("[ingest]\nmax_body_bytes = \"big\"\n", "f.toml", &env).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 2"), "{msg}");
    let err = Config::from_toml(
        "[[sources]]\nname = \"a\"\nsecret = \"x\"\n",
        "f.toml",
        &env,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `secret`"), "{err}");
    let three = "[[sources]]\nname = \"a\"\nsecrets = [\"a\", \"b\", \"c\"]\n";
    assert!(
        Config::from_toml(three, "f", &env)
            .unwrap_err()
            .to_string()
            .contains("at most two")
    );
    let dup = "[[sources]]\nname = \"a\"\n[[sources]]\nname = \"a\"\n";
    assert!(
        Config::from_toml(dup, "f", &env)
            .unwrap_err()
            .to_string()
            .contains("already defined")
    );
    let bad_name = "[[sources]]\nname = \"a/b\"\n";
    assert!(
        Config::from_toml(bad_name, "f", &env)
            .unwrap_err()
            .to_string()
            .contains("URL path")
    );
}

#[test]
fn environment_overrides_the_file() {
    let mut c = Config::from_toml("[ingest]\ndedup_window = \"1h\"\n", "f", &env).unwrap();
    let vars = |name: &str| match name {
        "MISTGATE_DEDUP_WINDOW" => Some("0s".to_string()),
        "MISTGATE_MAX_BODY_BYTES" => Some("1024".to_string()),
        "MISTGATE_SYNCHRONOUS" => Some("normal".to_string()),
        _ => None,
    };
    c.apply_env(&vars).unwrap();
    assert_eq!(c.ingest.dedup_window, Duration::ZERO);
    assert_eq!(c.ingest.max_body_bytes, 1024);
    assert_eq!(c.storage.synchronous, Synchronous::Normal);
    let bad = |name: &str| (name == "MISTGATE_SYNCHRONOUS").then(|| "sometimes".to_string());
    assert!(
        c.apply_env(&bad)
            .unwrap_err()
            .to_string()
            .contains("MISTGATE_SYNCHRONOUS")
    );
}

fn secrets_env(name: &str) -> Option<String> {
    match name {
        "S1" => Some("TopSecretValue123".into()),
        "S2" => Some("NextSecret456".into()),
        "ODD" => Some("a\"b\\c'd\n#e ${S1}".into()),
        _ => None,
    }
}

#[test]
fn a_syntax_error_quotes_the_file_as_written_not_the_secrets() {
    let text = "[[sources]]\nname = \"hq\"\nsecrets = [\"${S1}\" \"${S2}\"]\n";
    let err = Config::from_toml(text, "bad.toml", &secrets_env)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("TopSecretValue123"), "{err}");
    assert!(!err.contains("NextSecret456"), "{err}");
    assert!(
        err.contains("${S1}"),
        "the error quotes the line as written: {err}"
    );
    assert!(err.starts_with("bad.toml"), "{err}");
}

#[test]
fn any_secret_value_works_quotes_backslashes_and_all() {
    let text = "[[sources]]\nname = \"hq\"\nsecrets = [\"${ODD}\", \"pre-${S1}-post\"]\n";
    let c = Config::from_toml(text, "f.toml", &secrets_env).unwrap();
    // Expanded once: a value that looks like a reference stays as it is.
    assert_eq!(c.sources[0].secrets[0], "a\"b\\c'd\n#e ${S1}");
    assert_eq!(c.sources[0].secrets[1], "pre-TopSecretValue123-post");
}

#[test]
fn an_expanded_value_that_is_wrong_is_named_by_its_reference() {
    // A duration field from a variable that is no duration: the error says `${S1}`.
    let text = "[ingest]\nrequest_timeout = \"${S1}\"\n";
    let err = Config::from_toml(text, "f.toml", &secrets_env)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("TopSecretValue123"), "{err}");
    assert!(err.contains("${S1}"), "{err}");
    // A check after parsing (a public_url that is no URL) is scrubbed too.
    let text = "[routing]\npublic_url = \"${S2}\"\n";
    let err = Config::from_toml(text, "f.toml", &secrets_env)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("NextSecret456"), "{err}");
    assert!(err.contains("${S2}"), "{err}");
    // A mistake in the file itself still names its line.
    let text = "[ingest]\nmax_body_bytes = \"lots\"\nrequest_timeout = \"${S1}\"\n";
    let err = Config::from_toml(text, "f.toml", &secrets_env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("f.toml"), "{err}");
    assert!(!err.contains("TopSecretValue123"), "{err}");
}

#[test]
fn tls_files_come_in_pairs_from_the_file_or_the_environment() {
    let c = Config::from_toml(
        "[server]\ntls_cert = \"/etc/m/cert.pem\"\ntls_key = \"/etc/m/key.pem\"\nredirect_http = \"0.0.0.0:80\"\n",
        "t.toml",
        &env,
    )
    .unwrap();
    assert!(c.server.tls());
    assert_eq!(c.server.redirect_http, Some("0.0.0.0:80".parse().unwrap()));
    for (text, says) in [
        (
            "[server]\ntls_cert = \"/c.pem\"\n",
            "tls_cert is set but tls_key is not",
        ),
        (
            "[server]\ntls_key = \"/k.pem\"\n",
            "tls_key is set but tls_cert is not",
        ),
        (
            "[server]\nredirect_http = \"0.0.0.0:80\"\n",
            "redirect_http needs tls_cert and tls_key",
        ),
        ("[server]\ntls = true\n", "unknown field `tls`"),
    ] {
        let err = Config::from_toml(text, "t.toml", &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{text}: {err}");
    }
    let mut c = Config::default();
    let one = |name: &str| (name == "MISTGATE_TLS_CERT").then(|| "/c.pem".to_string());
    assert!(
        c.apply_env(&one)
            .unwrap_err()
            .to_string()
            .contains("give both or neither")
    );
    let both = |name: &str| match name {
        "MISTGATE_TLS_CERT" => Some("/c.pem".to_string()),
        "MISTGATE_TLS_KEY" => Some("/k.pem".to_string()),
        _ => None,
    };
    let mut c = Config::default();
    c.apply_env(&both).unwrap();
    assert_eq!(
        c.server.tls_key.as_deref(),
        Some(std::path::Path::new("/k.pem"))
    );
}

#[test]
fn mist_needs_its_three_keys_together_and_a_sane_refresh() {
    let load = |text: &str| Config::from_toml(text, "m.toml", &env);
    let ok = load(
        "[mist]\napi_url = \"https://api.eu.mist.com\"\napi_token = \"${MIST_SECRET}\"\norg_ids = [\"o1\"]\n",
    )
    .unwrap();
    assert!(ok.mist.enabled());
    assert_eq!(ok.mist.refresh, Duration::from_secs(900));
    assert!(
        !format!("{:?}", ok.mist).contains("s3cret-value"),
        "the token is hidden"
    );
    let half = load("[mist]\napi_url = \"https://api.eu.mist.com\"\n").unwrap_err();
    assert!(half.to_string().contains("together"), "{half}");
    let fast = load(
        "[mist]\napi_url = \"https://x\"\napi_token = \"t\"\norg_ids = [\"o\"]\nrefresh = \"5s\"\n",
    )
    .unwrap_err();
    assert!(fast.to_string().contains("at least 1m"), "{fast}");
    assert!(ok.mist.backfill);
    assert_eq!(ok.mist.backfill_interval, Duration::from_secs(900));
    let base = "[mist]\napi_url = \"https://x\"\napi_token = \"t\"\norg_ids = [\"o\"]\n";
    let fast = load(&format!("{base}backfill_interval = \"10s\"\n")).unwrap_err();
    assert!(
        fast.to_string()
            .contains("backfill_interval must be at least 1m"),
        "{fast}"
    );
    let short = load(&format!(
        "{base}backfill_overlap = \"2h\"\nbackfill_max_age = \"1h\"\n"
    ))
    .unwrap_err();
    assert!(short.to_string().contains("backfill_max_age"), "{short}");
    let taken = load("[[sources]]\nname = \"mist-api\"\n").unwrap_err();
    assert!(taken.to_string().contains("backfill"), "{taken}");
    let off = load(&format!("{base}backfill = false\n")).unwrap();
    assert!(!off.mist.backfill);
}

#[test]
fn a_database_url_comes_from_the_file_or_the_environment_and_hides_its_password() {
    let c = Config::from_toml(
        "[storage]\nurl = \"postgres://gate:s3cret-pw@db.example.net:5432/mistgate\"\n",
        "f",
        &env,
    )
    .unwrap();
    assert_eq!(
        c.storage.postgres_url(),
        Some("postgres://gate:s3cret-pw@db.example.net:5432/mistgate")
    );
    let shown = format!("{:?}", c.storage);
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(
        shown.contains("postgres://gate:***@db.example.net"),
        "{shown}"
    );
    assert_eq!(
        super::sections::redacted_url("postgres://gate@h/db"),
        "postgres://gate@h/db"
    );
    let none = Config::from_toml("", "f", &env).unwrap();
    assert_eq!(none.storage.postgres_url(), None);
    let mut c = Config::from_toml("", "f", &env).unwrap();
    c.apply_env(&|name: &str| {
        (name == "MISTGATE_DATABASE_URL").then(|| "postgresql://u@h/d".to_string())
    })
    .unwrap();
    assert_eq!(c.storage.postgres_url(), Some("postgresql://u@h/d"));
}
