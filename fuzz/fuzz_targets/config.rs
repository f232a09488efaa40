//! The configuration loader: any text as `mistgate.toml`, with `${VAR}` expansion.
//!
//! The environment knows only variables whose names start with `SET` (their value is a
//! non-empty string that is valid inside a TOML string); every other name is unset.
//!
//! Asserts: loading never panics and gives the same outcome twice; a variable that is
//! needed and unset is always the error `MissingVar` naming it and its line, never an
//! empty value, and no other outcome names an unset variable; a loaded config passes its
//! own checks (validation again through `apply_env` with an empty environment, every
//! target's `check`, the routes compiled against the targets, the engine settings); every
//! error has a message naming the origin.

#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use server::config::{Config, ConfigError};

const ORIGIN: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let asked: RefCell<Vec<(String, bool)>> = RefCell::new(Vec::new());
    let env = |name: &str| {
        let set = name.starts_with("SET");
        asked.borrow_mut().push((name.to_string(), set));
        set.then(|| format!("value-of-{name}-0123456789"))
    };
    let result = Config::from_toml(text, ORIGIN, &env);
    let asked = asked.into_inner();

    if !text.contains("${") {
        assert!(
            asked.is_empty(),
            "expansion asked for {asked:?} without any ${{"
        );
    }
    let first_unset = asked
        .iter()
        .find(|(_, set)| !set)
        .map(|(name, _)| name.clone());
    match (&result, &first_unset) {
        (Err(ConfigError::MissingVar { name, line, path }), Some(unset)) => {
            assert_eq!(name, unset, "the error names another variable");
            assert_eq!(path, ORIGIN);
            assert!(
                *line >= 1 && *line <= text.lines().count().max(1),
                "line {line} is not in the text"
            );
        }
        (Err(ConfigError::MissingVar { name, .. }), None) => {
            panic!("MissingVar {name} for a variable that is not unset")
        }
        (_, Some(unset)) => panic!(
            "variable {unset} is unset but loading went on: ok = {}",
            result.is_ok()
        ),
        _ => {}
    }
    // The closure is only called for names that are letters, digits and `_`.
    for (name, _) in &asked {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "asked for {name:?}"
        );
    }

    let again = Config::from_toml(text, ORIGIN, &|name: &str| {
        name.starts_with("SET")
            .then(|| format!("value-of-{name}-0123456789"))
    });
    assert_eq!(
        again.is_ok(),
        result.is_ok(),
        "loading is not a function of the text"
    );

    match result {
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(ORIGIN),
                "error without its origin: {message}"
            );
            assert_eq!(
                message,
                again.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
        Ok(config) => check_loaded(config),
    }
});

fn check_loaded(config: Config) {
    for (name, target) in &config.targets {
        assert!(
            target.check().is_ok(),
            "target {name} loaded but fails its check"
        );
        let _ = target.batching();
    }
    config.compiled_routes().expect("loaded routes compile");
    let settings = config.engine_settings().expect("loaded engine settings");
    assert_eq!(settings.targets.len(), config.targets.len());
    let _ = config.correlation.settings();
    for source in &config.sources {
        assert!(source.secrets.len() <= 2 && source.secrets.iter().all(|s| !s.is_empty()));
    }
    let mut reloaded = config.clone();
    reloaded
        .apply_env(&|_| None)
        .expect("a loaded config passes validation again");
}
