//! The pure cores stay pure by construction: no module listed here may name the IO
//! shell (tokio, reqwest, rusqlite, the store, the HTTP client, the engine) or read the
//! clock. Their unit tests (the `#[cfg(test)]` module at the end of a file) may.
//!
//! The crate-level half (mist and correlate do not depend on tokio, reqwest or rusqlite
//! at all) is checked by `scripts/lint.sh` with `cargo tree`.

use std::path::{Path, PathBuf};

/// What a pure module may not mention outside its tests.
const FORBIDDEN: [&str; 11] = [
    "tokio",
    "reqwest",
    "rusqlite",
    "store::",
    "crate::client",
    "crate::engine",
    "crate::registry",
    "crate::supervise",
    "SystemTime::now",
    "Instant::now",
    "std::fs",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pure modules: deliver's cores and target encoders, and all of mist and correlate.
fn pure_files() -> Vec<PathBuf> {
    let root = root();
    let mut files: Vec<PathBuf> = [
        "schedule.rs",
        "aggregate.rs",
        "breaker.rs",
        "rate_limit.rs",
        "headers.rs",
        "hec.rs",
        "ssrf.rs",
        "route.rs",
        "request.rs",
        "publish/mod.rs",
        "publish/sns.rs",
        "publish/pubsub.rs",
        "targets/message.rs",
        "targets/template.rs",
        "targets/facts.rs",
    ]
    .iter()
    .map(|f| root.join("crates/deliver/src").join(f))
    .collect();
    files.extend(rust_files(&root.join("crates/deliver/src/subscription")));
    for target in std::fs::read_dir(root.join("crates/deliver/src/targets")).unwrap() {
        let dir = target.unwrap().path();
        if dir.is_dir() {
            files.push(dir.join("encode.rs"));
            files.push(dir.join("mod.rs"));
        }
    }
    files.extend(rust_files(&root.join("crates/mist/src")));
    files.extend(rust_files(&root.join("crates/correlate/src")));
    files
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its test module and comments.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pure_modules_name_no_io() {
    let files = pure_files();
    assert!(
        files.len() > 40,
        "the list found only {} files",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        if file.ends_with("tests.rs") || file.ends_with("test_support.rs") {
            continue;
        }
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let code = code(&text);
        for word in FORBIDDEN {
            if code.contains(word) {
                found.push(format!("{} mentions `{word}`", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "pure modules touching IO:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_can_fail() {
    let io = "use tokio::sync::Notify;\nfn f() {}\n#[cfg(test)]\nmod tests {}\n";
    assert!(code(io).contains("tokio"));
    let tested = "fn f() {}\n#[cfg(test)]\nmod tests { use tokio; }\n";
    assert!(!code(tested).contains("tokio"));
}
