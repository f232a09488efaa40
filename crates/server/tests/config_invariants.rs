//! The configuration loader against arbitrary text: the property-test mirror of the
//! `config` fuzz target (`fuzz/fuzz_targets/config.rs`), so that `cargo test` checks the
//! same invariants on every change.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::sample::select;
use server::config::{Config, ConfigError};

/// Only variables whose names start with `SET` are set.
fn env_value(name: &str) -> Option<String> {
    name.starts_with("SET")
        .then(|| format!("value-of-{name}-0123456789"))
}

/// Text shaped like `mistgate.toml`: tables, keys of the file with plausible and
/// implausible values, `${VAR}` references (set, unset, in comments), and noise.
fn arb_config_text() -> impl Strategy<Value = String> {
    const TABLES: &[&str] = &[
        "[[sources]]",
        "[ingest]",
        "[storage]",
        "[delivery]",
        "[correlation]",
        "[routing]",
        "[targets.a]",
        "[[routes]]",
    ];
    const KEYS: &[&str] = &[
        "name",
        "secrets",
        "api_token",
        "listen",
        "max_body_bytes",
        "dedup_window",
        "retention_days",
        "timeout",
        "retry_delays",
        "type",
        "url",
        "targets",
        "flow",
        "severity",
        "public_url",
    ];
    const VALUES: &[&str] = &[
        "\"hq\"",
        "\"${SET_A}\"",
        "\"${UNSET}\"",
        "[\"${SET_S}\", \"${SET_T}\"]",
        "[\"${SET_S}\", \"${UNSET}\"]",
        "\"x\" # ${UNSET} in a comment",
        "\"a#${SET_B}\"",
        "\"${}\"",
        "\"${bad name}\"",
        "1",
        "0",
        "18446744073709551616",
        "\"1h\"",
        "[\"1s\"]",
        "[\"a\"]",
        "\"webhook\"",
        "\"https://h.example/x\"",
        "\"incident\"",
        "\"major\"",
    ];
    let line = prop_oneof![
        select(TABLES).prop_map(str::to_string),
        (select(KEYS), select(VALUES)).prop_map(|(k, v)| format!("{k} = {v}")),
        "\\PC{0,30}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    /// Loading never panics; a needed variable that is unset is always `MissingVar`
    /// naming it, never an empty value; a loaded config passes its own checks.
    #[test]
    fn loading_any_text_is_total_and_never_expands_a_missing_variable(text in arb_config_text()) {
        let asked = RefCell::new(Vec::new());
        let env = |name: &str| {
            let value = env_value(name);
            asked.borrow_mut().push((name.to_string(), value.is_some()));
            value
        };
        let result = Config::from_toml(&text, "p.toml", &env);
        let unset = asked.borrow().iter().find(|(_, set)| !set).map(|(n, _)| n.clone());
        match (&result, unset) {
            (Err(ConfigError::MissingVar { name, .. }), Some(unset)) => prop_assert_eq!(name, &unset),
            (Err(ConfigError::MissingVar { name, .. }), None) => {
                prop_assert!(false, "MissingVar {} for a set variable", name)
            }
            (_, Some(unset)) => prop_assert!(false, "{} is unset but loading went on", unset),
            (Err(e), None) => prop_assert!(e.to_string().contains("p.toml"), "{}", e),
            (Ok(config), None) => {
                prop_assert!(config.compiled_routes().is_ok());
                prop_assert!(config.engine_settings().is_ok());
                prop_assert!(config.clone().apply_env(&|_| None).is_ok());
            }
        }
    }
}
